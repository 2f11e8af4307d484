// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <vector>

namespace overfeat {

/// A dense float map in planar CHW order (channel-major, then rows, then columns): the order the
/// original release prints features in.
struct Tensor {
  int c = 0, h = 0, w = 0;
  std::vector<float> data;

  Tensor() = default;
  Tensor(int c_, int h_, int w_, float fill = 0.0f)
      : c(c_), h(h_), w(w_), data(static_cast<std::size_t>(c_) * h_ * w_, fill) {}
  std::size_t size() const { return data.size(); }
  float& at(int ci, int y, int x) { return data[(static_cast<std::size_t>(ci) * h + y) * w + x]; }
  float at(int ci, int y, int x) const {
    return data[(static_cast<std::size_t>(ci) * h + y) * w + x];
  }
};

}  // namespace overfeat
