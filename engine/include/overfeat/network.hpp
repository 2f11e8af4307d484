// SPDX-License-Identifier: MIT
// A whole network on a Vulkan device: the release's module list compiled into fused stages,
// recorded once per input size and submitted once per image.
#pragma once
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "overfeat/netspec.hpp"
#include "overfeat/ops.hpp"
#include "overfeat/tensor.hpp"
#include "overfeat/vk/context.hpp"
#include "overfeat/weights.hpp"

namespace overfeat {

/// GPU time of one stage of the last pass (a stage is a conv with its fused ReLU, a pool, ...).
struct StageTime {
  std::string name;
  double ms = 0;
};

struct ForwardResult {
  std::map<int, Tensor> layers;  ///< requested layers, by release number
  std::vector<StageTime> stages;
  double gpu_ms = 0;  ///< first to last timestamp (0 when the device has no timestamps)
};

class Network {
 public:
  /// Uploads the weights; the host copy can be dropped afterwards.
  Network(const vk::Context& ctx, NetSpec spec, const Weights& weights);
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
  struct Stage;
  struct Plan;
  Plan& plan_for(int h, int w, const std::set<int>& layers, bool softmax);
  void build(Plan& plan);

  const vk::Context* ctx_;
  NetSpec spec_;
  std::unique_ptr<ops::PipelineLibrary> lib_;
  std::unique_ptr<ops::Normalize> normalize_;
  std::vector<std::unique_ptr<ops::Conv>> convs_;       // one per conv module, in order
  std::map<int, std::unique_ptr<ops::MaxPool>> pools_;  // by kernel
  std::unique_ptr<ops::Relu> relu_;
  std::unique_ptr<ops::Softmax> softmax_;
  vk::GrowingBuffer input_;
  std::vector<vk::GrowingBuffer> buffers_;    // one per stage slot
  uint64_t generation_ = 0;                   // bumped whenever a buffer is reallocated
  std::vector<std::unique_ptr<Plan>> plans_;  // most recently used last
};

}  // namespace overfeat
