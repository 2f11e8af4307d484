// SPDX-License-Identifier: MIT
// Softmax over channels (the graph ops, graph_ops.cpp, hold the others).
#include "ops/ops.hpp"
#include "overfeat/error.hpp"

namespace overfeat::ops {
namespace {

constexpr uint32_t kLocal = 64;
constexpr VkDescriptorType kTexel = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
constexpr VkDescriptorType kStorage = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;

uint32_t groups(size_t n) {
  return static_cast<uint32_t>((n + kLocal - 1) / kLocal);
}

vk::PipelineDesc desc(ShaderId id, uint32_t push_bytes, std::vector<int32_t> constants = {}) {
  vk::PipelineDesc d;
  d.shader = id;
  d.bindings = {kTexel, kStorage};
  d.push_bytes = push_bytes;
  d.local_size = {kLocal, 1, 1};
  d.constants = std::move(constants);
  return d;
}

struct SoftmaxPush {
  int32_t npix, c;
};

}  // namespace

Softmax::Softmax(PipelineLibrary& lib)
    : pipeline_(&lib.get(desc(ShaderId::softmax, sizeof(SoftmaxPush)))) {}

void Softmax::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in,
                     const Blob& out) const {
  SoftmaxPush push{in.h * in.w, in.c};
  VkDescriptorSet set = arena.allocate(*pipeline_, {{in.buffer, true}, {out.buffer}});
  rec.dispatch(*pipeline_, set, &push, sizeof(push), groups(push.npix), 1, 1);
}

}  // namespace overfeat::ops
