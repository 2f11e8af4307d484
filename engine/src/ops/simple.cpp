// SPDX-License-Identifier: MIT
// The element-wise and pooling ops: normalization, max pooling, ReLU, softmax.
#include "overfeat/error.hpp"
#include "overfeat/ops.hpp"

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

struct NormalizePush {
  int32_t w, h;
  float mean, inv_std;
};
struct PoolPush {
  int32_t iw, ih, c4, ow, oh, dx, dy;
};
struct CountPush {
  int32_t n;
};
struct SoftmaxPush {
  int32_t npix, c;
};

}  // namespace

Normalize::Normalize(PipelineLibrary& lib, float mean, float stddev)
    : pipeline_(&lib.get(desc(ShaderId::normalize, sizeof(NormalizePush)))),
      mean_(mean),
      inv_std_(1.0f / stddev) {}

void Normalize::record(vk::Recorder& rec, vk::DescriptorArena& arena, const vk::Buffer& rgb, int h,
                       int w, const Blob& out) const {
  if (out.h != h || out.w != w || out.c4() != 1) throw Error("Normalize: wrong output shape");
  NormalizePush push{w, h, mean_, inv_std_};
  VkDescriptorSet set = arena.allocate(*pipeline_, {{&rgb, false}, {out.buffer}});
  rec.dispatch(*pipeline_, set, &push, sizeof(push), groups(static_cast<size_t>(w) * h), 1, 1);
}

MaxPool::MaxPool(PipelineLibrary& lib, int k)
    : pipeline_(&lib.get(desc(ShaderId::maxpool, sizeof(PoolPush), {k}))), k_(k) {}

void MaxPool::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out,
                     int dx, int dy) const {
  if (dx < 0 || dy < 0 || dx >= k_ || dy >= k_) throw Error("MaxPool: offset outside 0..k-1");
  if (out.h != out_size(in.h, dy) || out.w != out_size(in.w, dx) || out.c != in.c)
    throw Error("MaxPool: wrong output shape");
  PoolPush push{in.w, in.h, in.c4(), out.w, out.h, dx, dy};
  VkDescriptorSet set = arena.allocate(*pipeline_, {{in.buffer, true}, {out.buffer}});
  rec.dispatch(*pipeline_, set, &push, sizeof(push),
               groups(static_cast<size_t>(out.c4()) * out.h * out.w), 1, 1);
}

Relu::Relu(PipelineLibrary& lib) : pipeline_(&lib.get(desc(ShaderId::relu, sizeof(CountPush)))) {}

void Relu::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in,
                  const Blob& out) const {
  CountPush push{static_cast<int32_t>(in.floats() / 4)};
  VkDescriptorSet set = arena.allocate(*pipeline_, {{in.buffer, true}, {out.buffer}});
  rec.dispatch(*pipeline_, set, &push, sizeof(push), groups(push.n), 1, 1);
}

Softmax::Softmax(PipelineLibrary& lib)
    : pipeline_(&lib.get(desc(ShaderId::softmax, sizeof(SoftmaxPush)))) {}

void Softmax::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in,
                     const Blob& out) const {
  SoftmaxPush push{in.h * in.w, in.c};
  VkDescriptorSet set = arena.allocate(*pipeline_, {{in.buffer, true}, {out.buffer}});
  rec.dispatch(*pipeline_, set, &push, sizeof(push), groups(push.npix), 1, 1);
}

}  // namespace overfeat::ops
