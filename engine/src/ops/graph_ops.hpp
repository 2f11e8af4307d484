// SPDX-License-Identifier: MIT
// The graph ops (graph.hpp) as Vulkan compute operations on NC4HW4 blobs, like ops.hpp: each
// owns its uploaded parameters and has a const record(). Shapes come from Graph::shapes.
#pragma once
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "ops/ops.hpp"
#include "overfeat/graph.hpp"

namespace overfeat::ops {

/// Convolution with any ConvParams and a fused activation. Plain convolutions (one group, no
/// dilation; any kernel, strides and pads) use the tuned conv.comp / fc.comp; the rest
/// conv_general.comp.
class GraphConv {
 public:
  GraphConv(PipelineLibrary& lib, const graph::ConvParams& p, const graph::Activation& act);
  /// With the weights and biases given apart (p's own are not read): a caller that keeps them
  /// elsewhere lends them without a copy.
  GraphConv(PipelineLibrary& lib, const graph::ConvParams& p, const graph::Activation& act,
            std::span<const float> weights, std::span<const float> bias);
  ~GraphConv();
  /// With `activation` false, the map before the fused activation (for a layer that asks for
  /// it), from the same device weights; prepare_without_activation() must have run first.
  /// A Winograd convolution (winograd()) needs `scratch` of scratch_bytes() for this input.
  void record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out,
              bool activation = true, const WinogradConv::ScratchBuffers& scratch = {}) const;
  /// A Winograd convolution (winograd()) of several inputs at once, with the products of all
  /// in one dispatch (WinogradConv::record_batch); `scratch` of scratch_bytes() for them all.
  /// `input_ready` as WinogradConv::record_batch has it.
  void record_batch(vk::Recorder& rec, vk::DescriptorArena& arena, std::span<const Blob> ins,
                    std::span<const Blob> outs, bool activation,
                    const WinogradConv::ScratchBuffers& scratch, bool input_ready = false) const;
  /// Both Winograd convolutions whose input transforms are the same (WinogradConv's
  /// shares_input_transform).
  bool shares_input_transform(const GraphConv& other) const;
  void prepare_without_activation();
  uint64_t weight_bytes() const;
  bool general() const;   ///< true when conv_general.comp runs it
  bool winograd() const;  ///< true when WinogradConv runs it
  /// The scratch a Winograd convolution needs for an input of in_h x in_w (0 for the others).
  WinogradConv::Scratch scratch_bytes(int in_h, int in_w) const;
  /// The same for a batch of inputs, each {h, w}.
  WinogradConv::Scratch scratch_bytes(std::span<const std::pair<int, int>> inputs) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Pool {
 public:
  Pool(PipelineLibrary& lib, const graph::PoolParams& p);
  void record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out) const;

 private:
  const vk::Context* ctx_;
  const vk::ComputePipeline* pipeline_;
  graph::PoolParams p_;
};

class GlobalPool {
 public:
  GlobalPool(PipelineLibrary& lib, graph::PoolParams::Kind kind);
  void record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out) const;

 private:
  const vk::Context* ctx_;
  const vk::ComputePipeline* pipeline_;
};

class Lrn {
 public:
  Lrn(PipelineLibrary& lib, const graph::LrnParams& p);
  void record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out) const;

 private:
  const vk::Context* ctx_;
  const vk::ComputePipeline* pipeline_;
  graph::LrnParams p_;
};

/// out = act(a + b).
class Add {
 public:
  Add(PipelineLibrary& lib, const graph::Activation& act);
  void record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& a, const Blob& b,
              const Blob& out) const;

 private:
  const vk::Context* ctx_;
  const vk::ComputePipeline* pipeline_;
};

/// out = act(in), element-wise.
class ActivationOp {
 public:
  ActivationOp(PipelineLibrary& lib, const graph::Activation& act);
  void record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out) const;

 private:
  const vk::Context* ctx_;
  const vk::ComputePipeline* pipeline_;
};

/// Concat: copies `in`'s channels into `out` starting at channel `offset` (any offset, not only
/// multiples of 4; the other channels of `out` are left as they are).
class ChannelCopy {
 public:
  explicit ChannelCopy(PipelineLibrary& lib);
  void record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out,
              int offset) const;

 private:
  const vk::Context* ctx_;
  const vk::ComputePipeline* pipeline_;
};

/// graph::Activation as the tuned Conv's FusedActivation.
FusedActivation fused_activation(const graph::Activation& act);

/// One-op runs for tests: upload, record, submit, download. The output starts as NaN, and the
/// runs throw Error when an op left a padding channel (past c in the last texel) other than 0.
Tensor run_graph_conv(PipelineLibrary& lib, const Tensor& in, const graph::ConvParams& p,
                      const graph::Activation& act = {});
Tensor run_pool(PipelineLibrary& lib, const Tensor& in, const graph::PoolParams& p);
Tensor run_global_pool(PipelineLibrary& lib, const Tensor& in, graph::PoolParams::Kind kind);
Tensor run_lrn(PipelineLibrary& lib, const Tensor& in, const graph::LrnParams& p);
Tensor run_add(PipelineLibrary& lib, const Tensor& a, const Tensor& b,
               const graph::Activation& act = {});
Tensor run_activation(PipelineLibrary& lib, const Tensor& in, const graph::Activation& act);
Tensor run_concat(PipelineLibrary& lib, const std::vector<Tensor>& inputs);

}  // namespace overfeat::ops
