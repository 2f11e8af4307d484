// SPDX-License-Identifier: MIT
// A whole network on a Vulkan device: the release's module list as a graph (graph.hpp) run by
// the graph executor, addressed by the release's layer numbering.
#pragma once
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "overfeat/device.hpp"
#include "overfeat/graph_executor.hpp"
#include "overfeat/netspec.hpp"
#include "overfeat/tensor.hpp"
#include "overfeat/weights.hpp"

namespace overfeat {

struct ForwardResult {
  std::map<int, Tensor> layers;  ///< requested layers, by release number
  std::vector<StageTime> stages;
  double gpu_ms = 0;  ///< first to last timestamp (0 when the device has no timestamps)
};

/// Appends modules [first, last) of a release module list to `g`, the first reading node
/// `from` (whose map has `channels` channels; updated to the last module's): padding folded
/// into the next convolution, each ReLU and max pooling a node, nodes named `prefix` + the
/// module's name. The convolutions' weights are moved out of `weights`, from `*next` on.
/// Returns the node of each module (index i - first; a padding: the node it pads). Throws
/// WeightFileError when the weights run out or do not chain.
std::vector<int> append_modules(graph::Graph& g, int from, const std::vector<Module>& modules,
                                int first, int last, std::vector<ConvWeights>& weights,
                                size_t& next, int& channels, const std::string& prefix = {});

/// The network's input from raw RGB (0..255): (v - mean) * (1 / stddev), as the release does.
Tensor normalize_input(const NetSpec& spec, const Tensor& rgb);

class Network {
 public:
  /// Uploads the weights. Pass them with std::move where the caller no longer needs them: each
  /// layer's host copy is then freed as soon as it is on the device, so loading a 580 MB file
  /// holds one host copy at most instead of two.
  Network(const vk::Context& ctx, NetSpec spec, Weights weights);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const NetSpec& spec() const { return spec_; }
  const vk::Context& context() const { return *ctx_; }

  /// Runs the network on raw RGB (values 0..255, CHW, at least the window size) and returns the
  /// requested layers by the release's numbering (0 = normalized input). With `softmax`, the
  /// result also holds key -1: the softmax of the last layer over channels.
  ForwardResult forward(const Tensor& rgb, const std::set<int>& layers, bool softmax = false);

  /// Device memory held for activations (weights excluded); bounded by the largest input seen.
  uint64_t activation_bytes() const;
  uint64_t weight_bytes() const;

 private:
  const vk::Context* ctx_;
  NetSpec spec_;
  std::unique_ptr<GraphExecutor> exec_;
  std::vector<int> layer_node_;  // release layer -> graph node (a pad layer: the node it pads)
  int softmax_node_ = 0;
};

}  // namespace overfeat
