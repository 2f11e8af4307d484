// SPDX-License-Identifier: MIT
// One executor for graphs (graph.hpp) on a Vulkan device: stages in topological order with
// activations fused into the convolution or sum before them, buffers assigned by lifetime and
// reused, one recorded command buffer per input size (a small plan cache), one submit per run.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "overfeat/device.hpp"
#include "overfeat/graph.hpp"
#include "overfeat/tensor.hpp"

namespace overfeat {

/// GPU time of one stage of the last pass (a stage is a conv with its fused ReLU, a pool, ...).
struct StageTime {
  std::string name;
  double ms = 0;
};

class GraphExecutor {
 public:
  /// A convolution's weights and biases, lent while the executor uploads it.
  struct LentWeights {
    std::span<const float> weights, bias;
  };
  /// Lends the weights of conv `node` for a graph built without them: a caller that keeps its
  /// weights elsewhere (a Model) uploads them without a host copy.
  using WeightSource = std::function<LentWeights(int node)>;
  /// Lends the weights of `g`'s convs, for an executor of a graph whose node i is g's node i
  /// (g.structure(), or a transformation that keeps indices: dense_graph, offset_graph). `g`
  /// must outlive the executor's construction.
  static WeightSource lending(const graph::Graph& g);

  /// Uploads the weights (the graph's own, or with `weights` those it lends: the graph is then
  /// checked without weights, and each conv when it takes them).
  GraphExecutor(const vk::Context& ctx, graph::Graph graph, const WeightSource& weights = {});
  ~GraphExecutor();
  GraphExecutor(const GraphExecutor&) = delete;
  GraphExecutor& operator=(const GraphExecutor&) = delete;

  /// The structure it runs; the convolutions' weights are on the device, not here (empty).
  const graph::Graph& graph() const { return graph_; }
  /// Runs on a normalized input (input_channels x h x w) and returns the maps of `nodes` (by
  /// node index; the graph's output when empty). Only the stages those maps need run. A conv or
  /// sum whose activation is fused into it gives its map before the activation when asked for
  /// (that plan then runs the two apart). Throws ImageError when the input is too small.
  std::map<int, Tensor> run(const Tensor& input, const std::vector<int>& nodes = {});
  /// Per stage GPU times of the last run (empty when the device has no timestamps), and the
  /// time from its first to its last stage.
  const std::vector<StageTime>& last_stage_times() const { return last_times_; }
  double last_gpu_ms() const { return last_gpu_ms_; }
  /// Device memory held for activations (weights excluded); bounded by the largest input seen.
  uint64_t activation_bytes() const;
  uint64_t weight_bytes() const;
  /// Buffers the last plan used (after reuse) and its stage count, for tests of the planner.
  int buffers_used() const;
  int stages() const;
  /// Winograd batches of the last plan that took the input transform of the batch before
  /// them (two heads on the same maps), for tests of the planner.
  int shared_input_transforms() const;

 private:
  struct Impl;
  const vk::Context* ctx_;
  graph::Graph graph_;
  std::unique_ptr<Impl> impl_;
  std::vector<StageTime> last_times_;
  double last_gpu_ms_ = 0;
};

}  // namespace overfeat
