// SPDX-License-Identifier: MIT
// Pipeline sharing, layout conversion and the one-op runners used by tests.
#include <algorithm>

#include "one_shot.hpp"
#include "ops/ops.hpp"
#include "overfeat/error.hpp"

namespace overfeat::ops {

const vk::ComputePipeline& PipelineLibrary::get(const vk::PipelineDesc& desc) {
  std::lock_guard lock(mutex_);
  Key key{static_cast<int>(desc.shader), desc.constants, desc.local_size[0], desc.local_size[1],
          desc.local_size[2]};
  auto it = pipelines_.find(key);
  if (it != pipelines_.end()) return *it->second;
  it = pipelines_.emplace(key, std::make_unique<vk::ComputePipeline>(*ctx_, desc)).first;
  if (workers_.empty()) {
    const unsigned n = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
    for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
  }
  queue_.push_back(it->second.get());
  wake_.notify_one();
  return *it->second;
}

void PipelineLibrary::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;  // the pipelines left are being destroyed unused
    vk::ComputePipeline* p = queue_.front();
    queue_.pop_front();
    lock.unlock();
    p->compile();  // errors are kept for ComputePipeline::pipeline()
    lock.lock();
  }
}

PipelineLibrary::~PipelineLibrary() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

std::vector<float> to_nc4hw4(const Tensor& t) {
  const size_t npix = static_cast<size_t>(t.h) * t.w;
  const int c4 = (t.c + 3) / 4;
  std::vector<float> out(static_cast<size_t>(c4) * npix * 4, 0.0f);
  for (int c = 0; c < t.c; ++c)
    for (size_t q = 0; q < npix; ++q)
      out[((c / 4) * npix + q) * 4 + (c % 4)] = t.data[c * npix + q];
  return out;
}

Tensor from_nc4hw4(const std::vector<float>& data, int c, int h, int w) {
  Tensor t(c, h, w);
  const size_t npix = static_cast<size_t>(h) * w;
  for (int ci = 0; ci < c; ++ci)
    for (size_t q = 0; q < npix; ++q)
      t.data[ci * npix + q] = data[((ci / 4) * npix + q) * 4 + (ci % 4)];
  return t;
}

void check_fits(const vk::Context& ctx, const Blob& shape, const std::string& what) {
  const uint64_t bytes = static_cast<uint64_t>(shape.floats()) * 4;
  const auto& lim = ctx.limits();
  if (bytes <= lim.maxStorageBufferRange && shape.floats() / 4 <= lim.maxTexelBufferElements)
    return;
  throw OutOfDeviceMemory("The input is too large for this device: " + what + " (" +
                          std::to_string(shape.c) + "x" + std::to_string(shape.h) + "x" +
                          std::to_string(shape.w) + ", " + std::to_string(bytes >> 20) +
                          " MiB) exceeds its largest bindable buffer (" +
                          std::to_string(lim.maxStorageBufferRange >> 20) +
                          " MiB). Use a smaller input or smaller scales (--scales).");
}

Tensor download(const Blob& blob) {
  std::vector<float> raw(blob.floats());
  blob.buffer->download(raw);
  return from_nc4hw4(raw, blob.c, blob.h, blob.w);
}

Tensor run_conv(PipelineLibrary& lib, const Tensor& in, const ConvWeights& w, int stride, int pad,
                bool relu, Conv::Variant variant, std::optional<Conv::TileShape> tile) {
  OneShot run(lib);
  Conv op(lib, w, stride, pad);
  if (tile) op.set_tile(tile->ocb, tile->pix, tile->split);
  Blob src = run.upload(in);
  Blob dst = run.output(w.out, op.out_size(in.h), op.out_size(in.w));
  op.record(run.rec, run.arena, src, dst, relu, variant);
  return run.finish(dst);
}

// Ops whose output has the input's shape.
template <typename Op>
Tensor run_same_shape(PipelineLibrary& lib, const Tensor& in) {
  OneShot run(lib);
  Op op(lib);
  Blob src = run.upload(in);
  Blob dst = run.output(in.c, in.h, in.w);
  op.record(run.rec, run.arena, src, dst);
  return run.finish(dst);
}

Tensor run_softmax(PipelineLibrary& lib, const Tensor& in) {
  return run_same_shape<Softmax>(lib, in);
}

}  // namespace overfeat::ops
