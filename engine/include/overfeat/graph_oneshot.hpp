// SPDX-License-Identifier: MIT
// One-shot learning with a classic network (graph_model.hpp: ResNet, VGG, GoogLeNet, ... from an
// ONNX file): the same stores, recognition and linear classifier as oneshot.hpp, with embeddings
// from a node of the graph, by default its last pooling (ResNet's global average pooling, VGG's
// pool5), averaged over the node's cells and L2-normalized.
//
//   const GraphModel model = load_graph_model("resnet50.onnx");
//   const std::string fp = graph_model_fingerprint(model);
//   OneShotStore store = graph_store(model, fp, graph_feature_node(model, ""));
//   GraphEmbedder embedder(ctx, model);
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

#include "overfeat/graph_model.hpp"
#include "overfeat/oneshot.hpp"
#include "overfeat/vk/context.hpp"

namespace overfeat {

class GraphExecutor;

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

/// Embeddings of a classic network on a Vulkan device (its own copy of the weights there).
/// Not thread-safe.
class GraphEmbedder {
 public:
  /// `model` must outlive the embedder.
  GraphEmbedder(const vk::Context& ctx, const GraphModel& model);
  ~GraphEmbedder();
  GraphEmbedder(const GraphEmbedder&) = delete;
  GraphEmbedder& operator=(const GraphEmbedder&) = delete;

  /// The region of `rgb` (embedding_region: the box grown by options.context, or the whole
  /// image) framed as options.framing says (Fit: its smaller side resized to the model's input
  /// size, the longer side at most 4 input sizes; Square: resized to the input size exactly),
  /// preprocessed as the model expects, run up to `node`, whose map is averaged over its cells
  /// and L2-normalized. Throws Error when the node is invalid or the region too small for it.
  std::vector<float> embed(const Tensor& rgb, const std::optional<Box>& box, int node,
                           const EmbedOptions& options);
  /// As the store's examples were made (its node, framing and context).
  std::vector<float> embed(const Tensor& rgb, const std::optional<Box>& box,
                           const OneShotStore& store);
  /// An example for the store: its embedding, a thumbnail, the source and the time.
  LearnedExample make_example(const OneShotStore& store, const Tensor& rgb,
                              const std::optional<Box>& box, const std::string& source);

 private:
  const GraphModel* model_;
  std::unique_ptr<GraphExecutor> exec_;
};

}  // namespace overfeat
