// SPDX-License-Identifier: MIT
// The one-op runs of the tests and tools (ops.hpp, graph_ops.hpp): one command buffer, the
// buffers it needs, one submit. Internal to the engine.
#pragma once
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "ops/ops.hpp"
#include "overfeat/error.hpp"

namespace overfeat::ops {

struct OneShot {
  PipelineLibrary& lib;
  vk::Recorder rec{lib.context(), 0};
  vk::DescriptorArena arena{lib.context()};
  std::vector<std::unique_ptr<vk::Buffer>> buffers;

  explicit OneShot(PipelineLibrary& l) : lib(l) { rec.begin(); }
  Blob upload(const Tensor& t) {
    auto data = to_nc4hw4(t);
    buffers.push_back(std::make_unique<vk::Buffer>(lib.context(), data.size() * 4));
    buffers.back()->upload(data);
    return {buffers.back().get(), t.c, t.h, t.w};
  }
  /// Filled with NaN, so a test sees any value (padding channels included) an op forgot to
  /// write.
  Blob output(int c, int h, int w) {
    if (c <= 0 || h <= 0 || w <= 0) throw Error("one-op run: input too small for this op");
    Blob b{nullptr, c, h, w};
    buffers.push_back(std::make_unique<vk::Buffer>(lib.context(), b.floats() * 4));
    buffers.back()->upload(std::vector<float>(b.floats(), std::numeric_limits<float>::quiet_NaN()));
    b.buffer = buffers.back().get();
    return b;
  }
  /// A device buffer of `bytes` (an op's scratch).
  const vk::Buffer* scratch(uint64_t bytes) {
    buffers.push_back(std::make_unique<vk::Buffer>(lib.context(), bytes));
    return buffers.back().get();
  }
  /// Downloads `out`; throws when a padding channel is not 0.
  Tensor finish(const Blob& out) {
    rec.end();
    rec.submit();
    std::vector<float> raw(out.floats());
    out.buffer->download(raw);
    const size_t npix = static_cast<size_t>(out.h) * out.w;
    for (int c = out.c; c < out.c4() * 4; ++c)
      for (size_t q = 0; q < npix; ++q)
        if (raw[((c / 4) * npix + q) * 4 + c % 4] != 0.0f)
          throw Error("one-op run: padding channel " + std::to_string(c) + " is not 0");
    return from_nc4hw4(raw, out.c, out.h, out.w);
  }
};

}  // namespace overfeat::ops
