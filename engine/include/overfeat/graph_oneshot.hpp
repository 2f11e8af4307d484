// SPDX-License-Identifier: MIT
// One-shot learning with a classic network (graph_model.hpp: ResNet, VGG, GoogLeNet, ... from an
// ONNX file): the same stores, recognition and linear classifier as oneshot.hpp, with embeddings
// from a node of the graph, by default its last pooling (ResNet's global average pooling, VGG's
// pool5), averaged over the node's cells and L2-normalized.
//
//   const GraphModel model = load_graph_model("resnet50.onnx");
//   const std::string fp = graph_model_fingerprint(model);
//   OneShotStore store = graph_store(model, fp, graph_feature_node(model, ""));
//   GraphDenseEvaluator dense(ctx, model);
//   GraphEmbedder embedder(dense, model);
//   store.add_example("mug", embedder.make_example(store, frame, box, "camera"));
//   const Recognition r = recognize(store, embedder.embed(frame, std::nullopt, store));
//
// A store's identity holds the node's index (StoreIdentity::feature_layer) and name
// (layer_name); its fingerprint covers the graph, the input size, the preprocessing and every
// weight, so a store of one network is refused by another.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "overfeat/device.hpp"
#include "overfeat/graph_dense.hpp"
#include "overfeat/graph_model.hpp"
#include "overfeat/oneshot.hpp"

namespace overfeat {

/// model_fingerprint() for a classic network: XXH64 of every node's operation, inputs and
/// parameters, the input size, the preprocessing, the class names and every weight and bias bit
/// for bit; not the file's name or path. 16 lowercase hex digits.
std::string graph_model_fingerprint(const GraphModel& model);

/// The node whose map gives embeddings: the node called `name`, or with an empty name the
/// model's default (GraphModel::feature_node, its last pooling). Throws Error naming the
/// default and the last nodes of the graph when there is no such node or it is the input.
int graph_feature_node(const GraphModel& model, const std::string& name);

/// An empty store for a classic network, its embeddings from `node` (graph_feature_node), made
/// with `options.framing` and `options.context` (options.feature_layer is not used).
OneShotStore graph_store(const GraphModel& model, const std::string& fingerprint, int node,
                         const EmbedOptions& options = {});

/// Embeddings of a classic network, by its dense evaluator (one copy of the weights on the
/// device for both). Not thread-safe.
class GraphEmbedder {
 public:
  /// `dense` (of `model`) and `model` must outlive the embedder.
  GraphEmbedder(GraphDenseEvaluator& dense, const GraphModel& model);

  /// The region of `rgb` (embedding_region: the box grown by options.context, or the whole
  /// image) framed as options.framing says (Fit: its smaller side resized to the model's input
  /// size, the longer side at most 4 input sizes; Square: resized to the input size exactly),
  /// preprocessed as the model expects, run up to `node`, whose map is averaged over its cells
  /// and L2-normalized (a global average pooling's output is that mean already; a global max
  /// pooling gives the mean of the map it pools, as the dense evaluation does). Throws Error
  /// when the node is invalid or the region too small for it.
  std::vector<float> embed(const Tensor& rgb, const std::optional<Box>& box, int node,
                           const EmbedOptions& options);
  /// As the store's examples were made (its node, framing and context).
  std::vector<float> embed(const Tensor& rgb, const std::optional<Box>& box,
                           const OneShotStore& store);
  /// An example for the store: its embedding, a thumbnail, the source and the time.
  LearnedExample make_example(const OneShotStore& store, const Tensor& rgb,
                              const std::optional<Box>& box, const std::string& source);
  const GraphModel& model() const { return *model_; }

 private:
  GraphDenseEvaluator* dense_;
  const GraphModel* model_;
};

/// recognize_frame() of oneshot.hpp with a classic network: the whole region's embedding and
/// its best window at `scales` (parse_scales of the region; the dense evaluation with the
/// store's node as features, coarse stride).
FrameAnswer recognize_frame(GraphEmbedder& embedder, GraphDenseEvaluator& dense,
                            const OneShotStore& store, const Tensor& rgb,
                            const std::optional<Box>& box, const std::string& scales,
                            std::optional<float> threshold = std::nullopt);

/// frame_windows() of oneshot.hpp with a classic network (coarse stride).
DenseResult frame_windows(GraphEmbedder& embedder, GraphDenseEvaluator& dense,
                          const OneShotStore& store, const Tensor& rgb,
                          const std::optional<Box>& box, const std::string& scales);

/// detect_taught() of oneshot.hpp with a classic network: the taught classes as its classes.
DetectResult detect_taught(GraphDenseEvaluator& dense, const OneShotStore& store, const Tensor& rgb,
                           const std::vector<InputSize>& sizes, DetectOptions options,
                           std::optional<float> threshold = std::nullopt);

}  // namespace overfeat
