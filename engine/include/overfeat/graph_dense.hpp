// SPDX-License-Identifier: MIT
// Dense evaluation of the classic networks, OverFeat-style: the classifier runs at every cell of
// the last map instead of once on the pooled image. "Fully connected" layers are already
// convolutions (graph_onnx.hpp), so VGG and AlexNet slide over a larger input as OverFeat did;
// networks that end in global pooling (ResNet, GoogLeNet, SqueezeNet, MobileNet, DenseNet) have
// it removed, so their classifier gives a class map per cell at every scale (class activation
// maps: for a linear classifier after average pooling, the mean of the cells' logits is exactly
// the network's own logits).
#pragma once
#include <memory>
#include <vector>

#include "overfeat/dense.hpp"
#include "overfeat/device.hpp"
#include "overfeat/graph.hpp"
#include "overfeat/graph_model.hpp"

namespace overfeat {

/// `g` with every global pooling removed whose readers are all 1x1 convolutions (the classifier
/// after it): the readers read the map before the pooling instead. `removed` (optional) counts
/// the poolings removed.
graph::Graph dense_graph(const graph::Graph& g, int* removed = nullptr);

/// Where the cells of `node`'s map lie on the input, following each node's first input back to
/// the input: cell (y, x) is centred on input pixel (center0 + x * stride, center0 + y * stride)
/// (pixel centres at integer + 0.5 are where center0 = 0.5 would put cell 0 on pixel 0), and
/// its receptive field is `field` pixels wide.
struct CellGeometry {
  int stride = 1;
  double center0 = 0.5;
  int field = 1;
};
CellGeometry cell_geometry(const graph::Graph& g, int node);

/// A NetSpec that stands for a graph model where the dense method needs one (name, the window
/// parse_scales raises sizes to, no modules).
NetSpec graph_net_spec(const GraphModel& model);

/// The node of the last pooling that offset pooling can shift (OverFeat's fine stride): a max or
/// average pooling with kernel = stride, no pads, no ceil mode, that everything after it reads
/// through (no branch around it, no global pooling still in use after it), as VGG's pool5 before
/// its fully connected layers (a 1x1 identity pooling after it does not count). -1 when there
/// is none (ResNet, GoogLeNet, ...: their last pooling
/// is global; AlexNet: its pool5 overlaps, kernel 3, stride 2).
int offset_pooling_node(const graph::Graph& g);

/// OverFeat's offset pooling (paper, section 3.3) as one graph: `g` with its pooling node `pool`
/// (kernel = stride = k, no pads) repeated at each of the k x k offsets, and every node that
/// depends on it copied once per offset, the copies' convolutions running the original's
/// weights (Node::shares: the weights are on the device once). Offset (0, 0) is `g`'s own nodes,
/// indices unchanged; nothing before the pooling is repeated, so one pass computes the trunk once
/// and every offset's head. Throws Error when a node after the pooling also reads a node before
/// it (a branch around the pooling, whose map would not shift with it).
struct OffsetGraph {
  graph::Graph graph;
  int k = 1;
  /// node[dy * k + dx][n]: offset (dy, dx)'s copy of `g`'s node n (n itself when n does not
  /// depend on the pooling).
  std::vector<std::vector<int>> node;
};
/// `pool` -1: `g` itself, k = 1.
OffsetGraph offset_graph(graph::Graph g, int pool);

/// Runs a graph model densely at several input sizes on a Vulkan device; maps as DenseEvaluator
/// gives them (ScaleMap::probs: softmax over classes per cell). Fine stride (offset pooling)
/// where offset_pooling_node() finds a pooling to shift (the dense graph then runs as
/// offset_graph(), in one pass per scale); elsewhere coarse.
class GraphDenseEvaluator : public DenseMethod {
 public:
  /// `model` must outlive the evaluator.
  GraphDenseEvaluator(const vk::Context& ctx, const GraphModel& model);
  ~GraphDenseEvaluator();
  GraphDenseEvaluator(const GraphDenseEvaluator&) = delete;
  GraphDenseEvaluator& operator=(const GraphDenseEvaluator&) = delete;

  /// With `feature_node` (a node of the model's graph, graph_oneshot.hpp), every map also holds
  /// that node's map as ScaleMap::features, on the class maps' grid: a global pooling removed
  /// here gives the map it pooled (one feature vector per cell; their mean is the pooling's
  /// output), VGG's pool5 its cells (larger than the class map: cell (y, x) is the top-left of
  /// the 7 x 7 that fc6 reads there, as DenseOptions::feature_layer's are).
  /// With `fine` and offsets() > 1: the k x k offsets of the last pooling interleaved into one
  /// map per scale (ScaleMap::geometry.offsets = k, stride = the pooling's input's); features
  /// then only from the pooling on (Error otherwise).
  DenseResult evaluate(const Tensor& rgb, const std::vector<InputSize>& sizes, bool flip,
                       int feature_node = -1, bool fine = false);
  /// DenseMethod's: evaluate(rgb, sizes, options.flip, options.feature_layer (a node),
  /// options.fine); no regressor, so no boxes.
  DenseResult evaluate(const Tensor& rgb, const std::vector<InputSize>& sizes,
                       const DenseOptions& options = {}) override {
    return evaluate(rgb, sizes, options.flip, options.feature_layer, options.fine);
  }
  /// k of the pooling offset pooling shifts (VGG: 2), 1 when only coarse stride is possible.
  int offsets() const override;
  /// Global poolings removed by dense_graph (0 for VGG and AlexNet).
  int removed_poolings() const { return removed_; }
  /// Input pixels between neighbouring cells of the coarse class maps.
  int cell_stride() const override;
  uint64_t activation_bytes() const override;
  uint64_t weight_bytes() const override;

 private:
  struct Impl;
  const GraphModel* model_;
  int removed_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace overfeat
