// SPDX-License-Identifier: MIT
// Compute pipelines built from the embedded SPIR-V, descriptor sets, and command recording.
#pragma once
#include <vulkan/vulkan.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <future>
#include <string>
#include <vector>

#include "overfeat/shader_registry.hpp"
#include "vk/buffer.hpp"
#include "vk/context.hpp"

namespace overfeat::vk {

/// What a pipeline is made of. Shaders declare `local_size_{x,y,z}_id = 0, 1, 2`; layer settings
/// that never change (kernel, stride, padding, activation) are specialization constants 3, 4, ...
/// and shapes that change with every input size are push constants, so one pipeline serves every
/// input size.
struct PipelineDesc {
  ShaderId shader{};
  std::vector<VkDescriptorType> bindings;  ///< binding i has type bindings[i]
  uint32_t push_bytes = 0;
  std::array<uint32_t, 3> local_size{64, 1, 1};
  std::vector<int32_t> constants;  ///< specialization constants 3, 4, ...
};

/// A compute pipeline. The constructor makes its layouts; compile() builds the pipeline itself
/// (the expensive part: lavapipe compiles the shader with LLVM, tens of milliseconds) and may run
/// on another thread, so that a plan's pipelines compile in parallel while it is recorded.
/// pipeline() waits for compile() and rethrows its error.
class ComputePipeline {
 public:
  ComputePipeline(const Context& ctx, const PipelineDesc& desc);
  ~ComputePipeline();
  ComputePipeline(const ComputePipeline&) = delete;
  ComputePipeline& operator=(const ComputePipeline&) = delete;

  /// Builds the pipeline; call once, from any thread.
  void compile();
  VkPipeline pipeline() const;
  VkPipelineLayout layout() const { return layout_; }
  VkDescriptorSetLayout set_layout() const { return set_layout_; }
  const PipelineDesc& desc() const { return desc_; }

 private:
  const Context* ctx_ = nullptr;
  PipelineDesc desc_;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;  // written by compile() before done_ is set
  std::promise<void> done_;
  std::shared_future<void> ready_;
};

/// One resource bound to a shader: a texel view read through samplerBuffer, or a storage buffer.
struct Resource {
  const Buffer* buffer = nullptr;
  bool rgba = false;    ///< for texel views: RGBA32F instead of R32F
  bool half = false;    ///< with rgba: the buffer's RGBA16F view (Buffer(..., half_view))
  bool packed = false;  ///< the same buffer's RGBA32UI view: 16-bit floats, 8 to a texel
};

/// Allocates descriptor sets for a plan; everything is freed at once by reset().
class DescriptorArena {
 public:
  explicit DescriptorArena(const Context& ctx) : ctx_(&ctx) {}
  ~DescriptorArena();
  DescriptorArena(const DescriptorArena&) = delete;
  DescriptorArena& operator=(const DescriptorArena&) = delete;

  VkDescriptorSet allocate(const ComputePipeline& pipeline, const std::vector<Resource>& resources);
  void reset();

 private:
  void grow();
  const Context* ctx_;
  std::vector<VkDescriptorPool> pools_;
  uint32_t used_in_last_ = 0;
};

/// Records a whole pass into one command buffer, with a compute barrier between dependent
/// dispatches and optional timestamps, then submits it once. The commands are kept until end(),
/// which writes them into the command buffer: until then the pipelines they use may still be
/// compiling (ComputePipeline::compile on the library's threads).
class Recorder {
 public:
  Recorder(const Context& ctx, uint32_t max_timestamps);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  void begin();
  void dispatch(const ComputePipeline& p, VkDescriptorSet set, const void* push,
                uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz);
  /// Makes the writes of earlier dispatches visible to later ones.
  void barrier();
  /// Writes a timestamp; returns its index, or -1 when timestamps are unavailable or exhausted.
  int timestamp();
  void end();
  void submit();
  /// Elapsed milliseconds between timestamps a and b of the last submitted pass.
  double elapsed_ms(int a, int b) const;
  bool recorded() const { return recorded_; }
  void invalidate() { recorded_ = false; }

 private:
  struct Command {
    enum Kind { Dispatch, Barrier, Timestamp } kind;
    const ComputePipeline* pipeline = nullptr;
    VkDescriptorSet set = VK_NULL_HANDLE;
    uint32_t push_offset = 0, push_bytes = 0;  // in push_data_
    uint32_t gx = 0, gy = 0, gz = 0;
    uint32_t query = 0;
  };
  const Context* ctx_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkQueryPool queries_ = VK_NULL_HANDLE;
  uint32_t max_timestamps_ = 0;
  uint32_t used_timestamps_ = 0;
  std::vector<uint64_t> ticks_;
  std::vector<Command> commands_;
  std::vector<std::byte> push_data_;
  bool recorded_ = false;
};

}  // namespace overfeat::vk
