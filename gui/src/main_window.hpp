// SPDX-License-Identifier: MIT
// The main window: sources (images, folders, video files, cameras), the three modes (Classify,
// Detect, Heat maps), the model and device, the analysis settings, saving and copying results,
// and every error shown in a banner inside the window. Capture and inference run on their own
// threads (CaptureSource, InferenceWorker); this class only routes frames and draws results.
#pragma once
#include <QElapsedTimer>
#include <QMainWindow>
#include <QPointer>
#include <QStringList>

#include <memory>
#include <mutex>

#include "capture.hpp"
#include "inference.hpp"
#include "settings.hpp"

class QAction;
class QActionGroup;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QListWidget;
class QMenu;
class QProgressBar;
class QSettings;
class QSpinBox;
class QStackedWidget;
class QTreeWidget;
class QToolButton;

class QSlider;

namespace overfeat::studio {

class ClassifyPanel;
class HeatmapInspector;
class ImageCanvas;
class TeachPanel;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  /// Reads the settings and starts loading the model they name.
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  // What the menus do, callable directly (the tests drive the window through these).
  /// Images, folders (their images, as a browsable list) and video files.
  void openPaths(const QStringList& paths);
  /// Plays a video file as a live source (looping, paced at its frame rate).
  void openVideo(const QString& path);
  /// Opens a camera: a /dev/videoN path or an index.
  void openCamera(const QString& location, const QString& name);
  /// Opens the first camera found, or says there is none.
  void openDefaultCamera();
  void stopSource();
  void setMode(Mode mode);
  Mode mode() const { return settings_.mode; }
  void loadModel(const ModelRequest& request);
  /// The dialog that explains, checks and installs the official weights.
  void openWeightsDialog();
  /// On the very first run without a bundled model: the weights dialog, once.
  void showFirstRunHelp();
  /// Uses the official weights in `dir` (fast net, else accurate); explains what is missing.
  void useWeightsFolder(const QString& dir);
  void showImage(int index);
  bool saveAnnotatedImage(const QString& path);
  bool saveDetections(const QString& path);
  void copyToClipboard();
  /// Teaches `name` from the picture shown now (the box dragged on it, if any).
  void teach(const QString& name);
  /// Teaches `count` examples of `name` from the next frames of the live source, one every few
  /// frames (the box dragged on the picture, if any, for all of them). Live sources only.
  void teachBurst(const QString& name, int count);
  int burstLeft() const { return burst_left_; }
  /// Applies changed analysis settings (re-runs the current still).
  void setAnalysisSettings(const StudioSettings& settings);

  // State, for the status bar and the tests.
  const StudioSettings& settings() const { return settings_; }
  InferenceWorker& worker() { return *worker_; }
  CaptureSource& capture() { return *capture_; }
  QAction* pauseAction() const { return pause_action_; }
  QAction* halfWeightsAction() const { return half_action_; }
  class LayerView* layerView() const {
    return layer_view_;
  }
  QDockWidget* layerDock() const { return layer_dock_; }
  QAction* stepAction() const { return step_action_; }
  QSlider* seekSlider() const { return seek_slider_; }
  ImageCanvas* canvas() const { return canvas_; }
  ClassifyPanel* classifyPanel() const { return classify_; }
  HeatmapInspector* inspector() const { return inspector_; }
  TeachPanel* teachPanel() const { return teach_; }
  StoreSnapshotPtr learnedClasses() const { return store_; }
  ResultPtr lastResult() const { return last_result_; }
  QString errorText() const;
  /// The text of the Model menu's checked entry (the loaded model's), empty when none.
  QString checkedModelEntry() const;
  QString statsText() const;
  /// The Timing dock: its rows (stage, ms, %), slowest first, and its summary line.
  QStringList timingRows() const;
  QString timingSummary() const;
  int imageCount() const { return static_cast<int>(images_.size()); }
  bool liveActive() const { return live_active_; }
  qint64 framesDisplayed() const { return frames_displayed_; }

 signals:
  void resultShown(overfeat::studio::ResultPtr result);
  void modelChanged(bool loaded);
  void errorShown(const QString& message);
  void learnedClassesChanged(overfeat::studio::StoreSnapshotPtr snapshot);

 public:
  /// What an error in the banner is about, so that only news about the same thing clears it: a
  /// model that loads clears a model error, a still that loads clears an unreadable still's, and
  /// nothing else clears the rest (a missing file named on the command line once vanished when
  /// the model finished loading).
  enum class ErrorScope { General, Model, Still };

 public slots:
  void showError(const QString& message);
  void showScopedError(const QString& message, ErrorScope scope);
  void clearError();

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private slots:
  void displayResult(overfeat::studio::ResultPtr result);
  void displayLiveFrame();
  void displayModelReady(overfeat::studio::ModelInfoPtr info);
  void displayModelFailed(const QString& message);
  void displayModelLoading(int percent, const QString& step);
  void displayCaptureError(const QString& message);
  void displayAnalysisError(const QString& message, const QString& source);
  void updateDevices(const QStringList& devices);
  void updateStats();
  void updateCameraMenu();
  void displayStore(overfeat::studio::StoreSnapshotPtr snapshot);
  void displayTaught(const QString& name, int examples);

 private:
  void createActions();
  void createMenus();
  void createSettingsDock();
  void createStatusBar();
  void syncSettingsWidgets();
  void enableBoxWidgets();
  void readSettingsWidgets();
  void saveSettings();
  void submitStill();
  /// Plays a camera or video: frames to the screen and, newest first, to the network.
  void startLive(const SourceSpec& spec);
  void stillLoaded(int index, quint64 generation, const QImage& image, const QString& error);
  void updateLiveRequest();
  void showResultInViews(const ResultPtr& r);
  void showOneShot(ImageCanvas& canvas, const Result& r) const;
  void createTeachDock();
  void createTimingDock();
  void createLayerDock();
  /// The layer the layer view wants computed with each frame: 0 while its dock is hidden.
  int wantedLayer() const;
  void showTiming(const Result& r);
  QImage annotatedImage() const;
  void chooseModelFile();
  void chooseWeightsFolder();
  /// Writes `text` to `path` atomically; on failure shows why and returns false.
  bool writeTextFile(const QString& path, const std::string& text);
  QString askSavePath(const QString& title, const QString& suffix, const QString& filter);
  void saveImageDialog();
  void openStoreDialog();
  void saveStoreDialog();
  void saveDetectionsDialog();
  void openDialog();
  void openFolderDialog();
  void openVideoDialog();

  StudioSettings settings_;
  std::unique_ptr<QSettings> qsettings_;
  std::unique_ptr<InferenceWorker> worker_;
  std::unique_ptr<CaptureSource> capture_;
  ModelInfoPtr model_;
  ModelRequest loading_;
  bool model_loading_ = false;

  // Stills: the list, the one shown, and the request whose result is awaited.
  QStringList images_;
  int current_ = -1;
  quint64 still_generation_ = 0;
  quint64 still_serial_ = 0;
  Frame still_;

  // Live: what the capture thread submits with each frame (read on that thread).
  std::mutex live_mutex_;
  struct LiveRequest {
    bool enabled = false;
    Mode mode = Mode::Detect;
    DetectOptions options;
    double target_fps = 8;
    int layer = 0;
    bool taught = false;
  } live_request_;
  bool live_active_ = false;
  QString live_source_;
  qint64 frames_displayed_ = 0;
  quint64 dropped_at_start_ = 0;

  ResultPtr last_result_;
  StoreSnapshotPtr store_;

  // Widgets.
  QStackedWidget* pages_ = nullptr;
  ImageCanvas* canvas_ = nullptr;
  ClassifyPanel* classify_ = nullptr;
  HeatmapInspector* inspector_ = nullptr;
  TeachPanel* teach_ = nullptr;
  QDockWidget* teach_dock_ = nullptr;
  QDockWidget* analysis_dock_ = nullptr;
  QWidget* banner_ = nullptr;
  QLabel* banner_text_ = nullptr;
  ErrorScope error_scope_ = ErrorScope::General;
  QListWidget* image_list_ = nullptr;
  QDockWidget* image_dock_ = nullptr;
  QLabel* model_label_ = nullptr;
  QLabel* stats_label_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QMenu* camera_menu_ = nullptr;
  QMenu* device_menu_ = nullptr;
  QActionGroup* mode_group_ = nullptr;
  QActionGroup* device_group_ = nullptr;
  QActionGroup* model_group_ = nullptr;
  /// The Model menu's choices ("" default, "bundled", "fast", "accurate") and, for any model
  /// file, model_file_action_; the loaded one is checked (markModelChoice).
  std::vector<std::pair<QString, QAction*>> model_actions_;
  QAction* model_file_action_ = nullptr;
  void markModelChoice();
  QAction* mode_actions_[kModeCount] = {};
  QAction* stop_action_ = nullptr;
  QString burst_name_;  ///< the class a burst teaches, while burst_left_ > 0
  int burst_left_ = 0;
  int burst_gap_ = 0;  ///< frames to skip before the next example (views that differ)
  class LayerView* layer_view_ = nullptr;
  QDockWidget* layer_dock_ = nullptr;
  QAction* half_action_ = nullptr;   ///< Model > Weights in 16 bits
  QAction* pause_action_ = nullptr;  ///< video files: pause / play (Space)
  QAction* step_action_ = nullptr;   ///< video files, paused: the next frame (.)
  QSlider* seek_slider_ = nullptr;   ///< video files: where in the file; drag to jump
  QAction* seek_action_ = nullptr;   ///< the slider's place in the tool bar
  void updateVideoControls();
  QAction* save_image_action_ = nullptr;
  QAction* save_json_action_ = nullptr;
  QAction* copy_action_ = nullptr;
  QComboBox* scales_ = nullptr;
  QComboBox* live_scales_ = nullptr;
  QSpinBox* live_target_fps_ = nullptr;
  QDockWidget* timing_dock_ = nullptr;
  QTreeWidget* timing_ = nullptr;
  QLabel* timing_summary_ = nullptr;
  QElapsedTimer timing_clock_;
  QCheckBox* fine_ = nullptr;
  QCheckBox* flip_ = nullptr;
  QDoubleSpinBox* min_confidence_ = nullptr;
  QSpinBox* min_box_confidence_ = nullptr;  ///< in %
  /// The merged boxes drawn: those at or above the minimum box confidence.
  std::vector<Detection> shownBoxes(const DetectResult& r) const;
  QComboBox* merge_ = nullptr;
  QDoubleSpinBox* threshold_ = nullptr;
  QSpinBox* max_detections_ = nullptr;
  QCheckBox* show_raw_ = nullptr;
  QCheckBox* one_label_ = nullptr;
  bool syncing_ = false;
};

}  // namespace overfeat::studio
