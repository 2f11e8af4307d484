// SPDX-License-Identifier: MIT
// The network's thread. It owns the Vulkan context, the model and the dense evaluator; the UI
// asks it to load a model and to analyse frames, and hears back through signals. Requests are
// latest-wins: a frame submitted while another waits replaces it (a dropped frame), so a slow
// network never builds a queue behind a fast camera.
#pragma once
#include <QObject>
#include <QString>
#include <QStringList>

#include <QImage>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "frame.hpp"
#include "latest_slot.hpp"
#include "overfeat/oneshot.hpp"
#include "overfeat/pipeline.hpp"

namespace overfeat::studio {

/// What the user looks at; decides what the network computes. Recognize answers with the classes
/// taught by one-shot learning (the Teach panel) and shows where they match.
enum class Mode { Classify, Detect, Heatmaps, Recognize };
inline constexpr int kModeCount = 4;
QString mode_name(Mode mode);

/// Which model to load and where to run it.
struct ModelRequest {
  /// "" (the default: bundled model, else the official fast net), "bundled", "fast",
  /// "accurate", or a model file's path.
  QString choice;
  QString weights_dir;  ///< folder of the official weights; empty: default_weights_dir()
  QString device;       ///< Vulkan device index or name part; empty: the best one
  /// The large convolutions' weights as 16-bit floats on the device (vk::ContextOptions::
  /// half_weights): half their memory and bytes read, arithmetic in 32 bits.
  bool half_weights = false;
};

/// A layer the layer view can show.
struct LayerEntry {
  int id = 0;     ///< release numbering (OverFeat-style models) or graph node (classic networks)
  QString name;   ///< the module's ("conv2") or the ONNX node's name
  QString shape;  ///< its output for one window (classic networks: their input size)
};

/// A loaded model, as the UI describes it.
struct ModelInfo {
  QString name;               ///< e.g. "overfeat-fast" or the ONNX model's name
  QString summary;            ///< one line: classes, window, stride, regressor
  QString device;             ///< the Vulkan device's capability line
  bool half_weights = false;  ///< large weights stored as fp16 (ModelRequest, or the environment)
  quint64 weight_bytes = 0;   ///< device memory the weights take
  std::vector<std::string> classes;
  int background = -1;
  bool regressor = false;
  /// Fine stride (offset pooling) applies: false for classic networks, which run at their own
  /// stride (graph_dense.hpp).
  bool offset_pooling = true;
  int window = 0, stride = 0;
  /// The layers the layer view can show, in the network's order.
  std::vector<LayerEntry> layers;
  /// OverFeat-style models: their modules (the layer view recomputes shapes for each input).
  NetSpec net;
  bool layer_view = false;  ///< layers is not empty
};
using ModelInfoPtr = std::shared_ptr<const ModelInfo>;

/// The learned classes as the UI shows them (a snapshot: the store itself lives on the network's
/// thread).
struct LearnedSummary {
  QString name;
  int examples = 0;
  QImage thumbnail;                ///< the latest example's
  std::vector<QImage> thumbnails;  ///< every example's, in the store's order (null: none saved)
};
struct StoreSnapshot {
  QString path;         ///< the file it is saved to
  QString identity;     ///< "model X, layer conv7 (layer 19), 4096 values"
  float threshold = 0;  ///< the similarity below which the answer is "unknown"
  /// Which rule answers: the store's linear classifier (OneShotStore::classifier()) or the
  /// prototypes alone.
  bool linear = false;
  std::vector<LearnedSummary> classes;
};
using StoreSnapshotPtr = std::shared_ptr<const StoreSnapshot>;

/// One-shot answer for a frame: the whole frame recognized, and every learned class localized.
struct OneShotAnswer {
  Recognition recognition;                  ///< cls indexes `names`; -1 = unknown
  std::vector<Localization> localizations;  ///< per learned class, store order
  std::vector<std::string> names;           ///< the learned classes' names, store order
};

/// One layer's activations for one frame, as the layer view (Deep Visualization Toolbox style)
/// shows them: the frame (resized when its smaller side is under one window or over one and a
/// half), the network run on it, that layer downloaded.
struct LayerActivations {
  int layer = 0;                                        ///< LayerEntry::id
  QString name;                                         ///< the module's name, e.g. "conv2"
  Tensor maps;                                          ///< channels x h x w
  int input_h = 0, input_w = 0;                         ///< the network's input
  double frame_per_input_x = 1, frame_per_input_y = 1;  ///< frame pixels per input pixel
  /// Where the cells lie on the input: cell (y, x) is centred on (x0 + x * step, y0 + y * step)
  /// (continuous input coordinates) and sees `field` x `field` pixels (its receptive field).
  double x0 = 0.5, y0 = 0.5, step = 1;
  int field = 1;
  double gpu_ms = 0;
};
using LayerActivationsPtr = std::shared_ptr<const LayerActivations>;

/// One frame to analyse, and how.
struct Job {
  Frame frame;
  Mode mode = Mode::Classify;
  DetectOptions options;  ///< scales, fine stride, flips, thresholds
  /// With options.scales "auto" (live frames): the rate the scales are chosen to keep
  /// (LiveScaleGovernor).
  double target_fps = 8;
  /// The layer view is open on this layer (release numbering): also compute its activations.
  /// 0: none.
  int layer = 0;
  /// Classify, Detect and Heat maps answer with the taught classes (the Teach panel's) instead
  /// of the model's: taught_class_maps() over the store's features, then the usual pipeline.
  bool taught = false;
  quint64 serial = 0;  ///< set by submit()
};

/// What came back: the frame, every per-scale map, the classification and the boxes.
struct Result {
  Frame frame;
  Mode mode = Mode::Classify;
  DetectOptions options;     ///< as run: "auto" scales replaced by the list chosen
  bool auto_scales = false;  ///< options.scales were chosen from the frame budget
  DetectResult detect;       ///< dense maps, class_probs, raw and merged boxes, timings
  /// Recognize mode: the learned classes' answer (the maps in `detect` then hold features).
  std::shared_ptr<const OneShotAnswer> oneshot;
  /// The classes are the taught ones (Job::taught): `model` then lists them as its classes.
  bool taught = false;
  LayerActivationsPtr layer;  ///< when the job asked for a layer (null for classic networks)
  QString layer_error;        ///< why there is none, when asked
  ModelInfoPtr model;
  double inference_ms = 0;  ///< network + merge, this frame
  double latency_ms = 0;    ///< from capture (or loading) to the result
  quint64 serial = 0;
};
using ResultPtr = std::shared_ptr<const Result>;

class InferenceWorker : public QObject {
  Q_OBJECT
 public:
  explicit InferenceWorker(QObject* parent = nullptr);
  ~InferenceWorker() override;

  /// Lists the Vulkan devices, then loads the model on the worker thread; progress and the
  /// outcome arrive as modelLoading / modelReady / modelFailed. Frames waiting are dropped.
  void loadModel(const ModelRequest& request);
  /// Queues a frame, replacing one that has not started (counted in dropped()).
  quint64 submit(Job job);
  /// Withdraws a frame that has not started.
  void cancelPending();

  bool modelLoaded() const { return loaded_.load(); }
  bool busy() const { return busy_.load(); }
  quint64 submitted() const { return jobs_.puts(); }
  quint64 dropped() const { return jobs_.dropped(); }
  quint64 completed() const { return completed_.load(); }
  /// Results per second over the last two seconds of work (0 when idle that long).
  double networkFps() const;
  /// Device memory the evaluator holds for activations (bytes), for the memory-bound test.
  quint64 activationBytes() const { return activation_bytes_.load(); }
  /// Messages the Vulkan validation layer has reported on this worker's devices (when it is on:
  /// OVERFEAT_VALIDATION=1), summed over every device opened.
  quint64 validationMessages() const { return validation_messages_.load(); }
  // One-shot learning. The store is the user's file for the loaded model; every change is saved
  // at once. Outcomes arrive as storeChanged / taught / storeFailed.
  /// Teaches `name` from `image` (or the box on it, image pixels).
  void teach(const QImage& image, const std::optional<Box>& box, const QString& name,
             const QString& source);
  void renameLearned(const QString& old_name, const QString& new_name);
  void forgetLearned(const QString& name);
  /// Removes one example (`index` in the class's order); the class goes with its last example.
  void removeExample(const QString& name, int index);
  /// Uses the similarity threshold below which the answer is "unknown" (saved with the store).
  void setOneShotThreshold(float threshold);
  /// Switches to another store file (refused when learned with another model).
  void openStore(const QString& path);
  /// Saves a copy of the store under another name and keeps using it there.
  void saveStoreAs(const QString& path);

  /// Slows every analysis down by this much, to test what happens when the network is slow.
  void setArtificialDelay(int ms) { delay_ms_ = ms; }

 signals:
  void devicesFound(const QStringList& devices);
  void modelLoading(int percent, const QString& step);
  void modelReady(overfeat::studio::ModelInfoPtr info);
  void modelFailed(const QString& message);
  void resultReady(overfeat::studio::ResultPtr result);
  void analysisFailed(const QString& message, const QString& source);
  void storeChanged(overfeat::studio::StoreSnapshotPtr snapshot);
  void taught(const QString& name, int examples);
  void storeFailed(const QString& message);

 private:
  struct Engine;
  void run();
  void load(const ModelRequest& request);
  void analyse(Job job);
  /// Runs `task` on the worker thread, before any waiting frame.
  void post(std::function<void()> task);
  void recognizeFrame(Result& result, const Tensor& rgb);
  void computeLayer(Result& result, const Tensor& rgb, int layer);
  void taughtFrame(Result& result, const Tensor& rgb);
  void loadStore();  // the user's store of the loaded model, or a new one
  void publishStore();
  void saveStore();

  std::mutex model_mutex_;
  std::condition_variable wake_;
  std::optional<ModelRequest> model_request_;
  std::deque<std::function<void()>> tasks_;
  LatestSlot<Job> jobs_;
  std::atomic<bool> stop_{false}, loaded_{false}, busy_{false};
  std::atomic<quint64> serial_{0}, completed_{0}, activation_bytes_{0};
  std::atomic<quint64> validation_messages_{0}, validation_base_{0};
  std::atomic<int> delay_ms_{0};
  mutable std::mutex fps_mutex_;
  std::vector<Clock::time_point> finished_at_;
  std::unique_ptr<Engine> engine_;  // touched only by the worker thread
  QString store_path_;              // likewise
  std::thread thread_;
};

}  // namespace overfeat::studio

Q_DECLARE_METATYPE(overfeat::studio::ModelInfoPtr)
Q_DECLARE_METATYPE(overfeat::studio::ResultPtr)
Q_DECLARE_METATYPE(overfeat::studio::StoreSnapshotPtr)
