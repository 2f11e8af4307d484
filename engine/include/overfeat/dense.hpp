// SPDX-License-Identifier: MIT
// Dense multi-scale evaluation (paper, section 3.3 / docs: overfeat.md section 4): the network
// runs on whole images at several sizes, the last max pooling is applied at every pixel offset
// (fine stride), each head runs on every pooled map, and the outputs are interleaved into maps
// whose cells know the input window they saw, in original image coordinates.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "overfeat/detection.hpp"
#include "overfeat/device.hpp"
#include "overfeat/model.hpp"
#include "overfeat/network.hpp"
#include "overfeat/tensor.hpp"

namespace overfeat {

/// An input size fed to the network (the image is resized to exactly this).
struct InputSize {
  int h = 0, w = 0;
  bool operator==(const InputSize&) const = default;
};

/// The paper's six input sizes (docs: overfeat.md section 4) for the accurate net, and for the
/// fast net the sizes that give the same classifier maps (1x1 ... 7x10 coarse, 3x3 ... 21x30
/// fine): 247x247, 279x311, 311x375, 375x439, 407x471, 439x535. Other nets (a window other
/// than 221 or 231): the accurate net's sizes scaled by window / 221.
std::vector<InputSize> paper_sizes(const NetSpec& net);

/// Input sizes for an image of img_h x img_w from a scale list: "model" (the model's own list,
/// NetSpec::detection_scales, else "paper"), "paper" (the paper's six sizes'
/// smaller sides, aspect kept), "paper-exact" (the table's sizes as they are), "window" (one
/// window-sized square), or a comma-separated list where N makes the smaller side N (aspect
/// kept) and HxW is an exact size. Sizes below the network's window are raised to it. Throws
/// Error on a malformed list.
std::vector<InputSize> parse_scales(const std::string& list, const NetSpec& net, int img_h,
                                    int img_w);

/// Geometry of a network's output maps at one input size.
struct MapGeometry {
  int h = 0, w = 0;                    ///< map size (fine: interleaved)
  int stride = 0;                      ///< input pixels between neighbouring cells
  int window = 0;                      ///< input window of a cell (square)
  int offsets = 1;                     ///< k: offsets per axis of the last pooling (1 when coarse)
  int pre_pool_h = 0, pre_pool_w = 0;  ///< the last pooling's input map
};
/// Offset pooling's interleave: cell (i, j) of offset (dy, dx)'s map `part` is cell
/// (i * k + dy, j * k + dx) of the fine map `fine`.
void interleave_offset(const Tensor& part, int k, int dy, int dx, Tensor& fine);

/// Output map geometry of `model` for an input of h x w, fine (offset pooling) or coarse.
/// h or w is 0 when the input is too small.
MapGeometry map_geometry(const Model& model, int h, int w, bool fine);

/// The outputs of one scale (and one mirror) of a dense evaluation.
struct ScaleMap {
  int scale = 0;                 ///< index into the evaluated sizes
  bool flipped = false;          ///< evaluated on the mirror image (maps stay in mirrored order)
  InputSize input;               ///< size fed to the network
  int image_h = 0, image_w = 0;  ///< original image size
  int background = -1;           ///< the model's background class, or -1
  MapGeometry geometry;
  Tensor probs;  ///< classes x h x w softmax probabilities
  Tensor boxes;  ///< 4 (agnostic) or 4 * classes channels x h x w, window-relative input pixels;
                 ///< empty without a regressor or when boxes were not asked for
  /// DenseOptions::feature_layer's output, C x h x w on the same grid as probs (same stride,
  /// fine maps interleaved the same way, cell (y, x) of both starting at the same input
  /// pixel); empty when not asked for. Layers before the classifier's last spatial conv are
  /// larger than probs: there cell (y, x) is the top-left cell of the features that probs'
  /// cell (y, x) reads. A padding layer's map keeps its zero border (shifted by the padding).
  Tensor features;

  /// The input window of cell (y, x) in original image coordinates (unmirrored).
  Box window_box(int y, int x) const;
  /// The regressed box of class `cls` at cell (y, x) in original image coordinates; the window
  /// itself when the model has no regressor.
  Box box(int cls, int y, int x) const;
  /// Per class, the spatial maximum of the probability map.
  std::vector<float> class_max() const;
  /// The probability map of class `cls` in image order (a flipped map mirrored back), 1 x h x w.
  Tensor class_map(int cls) const;
  /// Where class_map()'s cells lie on the original image: the center of cell (0, 0)'s window and
  /// the spacing between cell centers, in image pixels.
  void cell_centers(double& x0, double& y0, double& step_x, double& step_y) const;
};

/// Time spent in each part of an evaluation (wall clock, milliseconds).
struct DenseTimings {
  double prepare_ms = 0;  ///< resizing and mirroring on the host
  double network_ms = 0;  ///< upload, GPU passes and downloads
  double gpu_ms = 0;      ///< GPU time of the passes (timestamps)
  double collect_ms = 0;  ///< interleaving offsets on the host
  /// GPU time per stage, summed over scales, offsets and flips, in first-run order.
  std::vector<StageTime> stages;
};

struct DenseOptions {
  bool fine = true;   ///< offset pooling (k x k finer stride) or coarse
  bool flip = false;  ///< also evaluate the mirror image at every scale
  bool boxes = true;  ///< run the regressor head (when the model has one)
  /// Also download this layer's output at every cell (release numbering: layer i is module i's
  /// output, see NetSpec), as ScaleMap::features: the last max pooling (the trunk's pooled
  /// features, net.last_pool_index() + 1) or any later classifier layer up to
  /// net.num_layers(), e.g. net.default_feature_layer. A conv followed by a ReLU gives its
  /// output before the ReLU (the ReLU's own layer number gives it after). -1: none; any other
  /// layer throws Error naming the valid range.
  int feature_layer = -1;
};

struct DenseResult {
  std::vector<ScaleMap> maps;  ///< scale-major, unflipped before flipped
  DenseTimings timings;
};

/// What the app and the command line need of a dense evaluator, whichever kind of model it runs:
/// DenseEvaluator (the project's models and the official nets) or GraphDenseEvaluator (the
/// classic networks, graph_dense.hpp).
class DenseMethod {
 public:
  virtual ~DenseMethod() = default;
  /// Evaluates `rgb` resized to each of `sizes`. DenseOptions::feature_layer: a release layer
  /// number for DenseEvaluator, a graph node for GraphDenseEvaluator; `fine` where offsets() >
  /// 1 (else coarse); `boxes` where the model has a regressor.
  virtual DenseResult evaluate(const Tensor& rgb, const std::vector<InputSize>& sizes,
                               const DenseOptions& options = {}) = 0;
  /// k of offset pooling: k x k offsets of the last pooling (1: coarse stride only).
  virtual int offsets() const = 0;
  /// Input pixels between neighbouring cells of the coarse maps.
  virtual int cell_stride() const = 0;
  /// Device memory held for activations (weights excluded), and for the weights.
  virtual uint64_t activation_bytes() const = 0;
  virtual uint64_t weight_bytes() const = 0;
};

/// Runs a model densely on a Vulkan device: the model as one graph with its last pooling at
/// every offset (offset_graph, graph_dense.hpp) on the graph executor, so a scale is one pass
/// (the trunk once, then each offset's classifier and regressor) recorded once per input size
/// and options; device memory is grow-only, bounded by the largest work seen. Not thread-safe:
/// use one evaluator per thread (they can share the context).
class DenseEvaluator : public DenseMethod {
 public:
  /// Uploads the weights; `model` must outlive the evaluator.
  DenseEvaluator(const vk::Context& ctx, const Model& model);
  ~DenseEvaluator();
  DenseEvaluator(const DenseEvaluator&) = delete;
  DenseEvaluator& operator=(const DenseEvaluator&) = delete;

  const Model& model() const { return *model_; }
  /// Evaluates `rgb` (CHW, 0..255) resized to each of `sizes`.
  DenseResult evaluate(const Tensor& rgb, const std::vector<InputSize>& sizes,
                       const DenseOptions& options = {}) override;
  int offsets() const override;
  int cell_stride() const override { return model_->net.total_stride(); }
  /// Evaluates an input exactly as given (no resizing); `image_h/w` and `flipped` only set the
  /// geometry that maps cells back to the original image.
  ScaleMap evaluate_input(const Tensor& input, const DenseOptions& options, int image_h,
                          int image_w, bool flipped, double* gpu_ms = nullptr,
                          double* collect_ms = nullptr);
  /// Device memory held for activations and outputs (weights excluded).
  uint64_t activation_bytes() const override;
  uint64_t weight_bytes() const override;

 private:
  struct Impl;
  const Model* model_;
  std::unique_ptr<Impl> impl_;
  std::vector<StageTime> last_stages_;
};

/// Classification by the paper's rule: per map, each class's spatial maximum, averaged over
/// all maps (scales and flips).
std::vector<float> classify(const DenseResult& result);

/// Classification over 10 views (4 corners and the center, each mirrored) of window-sized crops
/// of the image resized to smaller side 256 (AlexNet style), averaged.
std::vector<float> classify_ten_views(DenseEvaluator& evaluator, const Tensor& rgb);

/// Raw boxes for the greedy merge (paper, section 4.3): for each map, its top `top_classes`
/// classes by spatial maximum (the background class excluded); for each, the box regressed at
/// every cell whose probability is at least `min_confidence`, scored by that probability.
std::vector<Detection> raw_detections(const DenseResult& result, int top_classes,
                                      float min_confidence);

}  // namespace overfeat
