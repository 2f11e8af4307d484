// SPDX-License-Identifier: MIT
#include "overfeat/reference.hpp"

#include <algorithm>
#include <cmath>

#include "overfeat/error.hpp"

namespace overfeat::ref {

Tensor normalize(const Tensor& in, float mean, float stddev) {
  Tensor out = in;
  for (float& v : out.data) v = (v - mean) / stddev;
  return out;
}

Tensor conv(const Tensor& in, const ConvWeights& wt, int stride, int pad_px, bool relu_after) {
  const Tensor src = pad_px ? pad(in, pad_px) : in;
  if (src.c != wt.in)
    throw Error("ref::conv: input has " + std::to_string(src.c) + " channels, weights expect " +
                std::to_string(wt.in));
  const int oh = src.h < wt.k ? 0 : (src.h - wt.k) / stride + 1;
  const int ow = src.w < wt.k ? 0 : (src.w - wt.k) / stride + 1;
  Tensor out(wt.out, oh, ow);
  for (int o = 0; o < wt.out; ++o) {
    float* dst = &out.data[static_cast<size_t>(o) * oh * ow];
    std::fill(dst, dst + static_cast<size_t>(oh) * ow, wt.b[o]);
    for (int i = 0; i < wt.in; ++i)
      for (int ky = 0; ky < wt.k; ++ky)
        for (int kx = 0; kx < wt.k; ++kx) {
          const float w = wt.w[((static_cast<size_t>(o) * wt.in + i) * wt.k + ky) * wt.k + kx];
          for (int y = 0; y < oh; ++y) {
            const float* row =
                &src.data[(static_cast<size_t>(i) * src.h + y * stride + ky) * src.w + kx];
            float* orow = dst + static_cast<size_t>(y) * ow;
            for (int x = 0; x < ow; ++x) orow[x] += w * row[x * stride];
          }
        }
  }
  return relu_after ? relu(out) : out;
}

Tensor relu(const Tensor& in) {
  Tensor out = in;
  for (float& v : out.data) v = std::max(v, 0.0f);
  return out;
}

Tensor pad(const Tensor& in, int p) {
  Tensor out(in.c, in.h + 2 * p, in.w + 2 * p);
  for (int c = 0; c < in.c; ++c)
    for (int y = 0; y < in.h; ++y)
      std::copy_n(&in.data[(static_cast<size_t>(c) * in.h + y) * in.w], in.w, &out.at(c, y + p, p));
  return out;
}

Tensor maxpool(const Tensor& in, int k, int dx, int dy) {
  const int oh = std::max(0, (in.h - dy) / k), ow = std::max(0, (in.w - dx) / k);
  Tensor out(in.c, oh, ow);
  for (int c = 0; c < in.c; ++c)
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x) {
        float m = in.at(c, y * k + dy, x * k + dx);
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx)
            m = std::max(m, in.at(c, y * k + dy + ky, x * k + dx + kx));
        out.at(c, y, x) = m;
      }
  return out;
}

Tensor softmax(const Tensor& in) {
  Tensor out = in;
  const size_t npix = static_cast<size_t>(in.h) * in.w;
  for (size_t q = 0; q < npix; ++q) {
    float m = -INFINITY;
    for (int c = 0; c < in.c; ++c) m = std::max(m, in.data[c * npix + q]);
    double s = 0;
    for (int c = 0; c < in.c; ++c) s += std::exp(static_cast<double>(in.data[c * npix + q] - m));
    for (int c = 0; c < in.c; ++c)
      out.data[c * npix + q] =
          static_cast<float>(std::exp(static_cast<double>(in.data[c * npix + q] - m)) / s);
  }
  return out;
}

std::vector<Tensor> forward_all(const NetSpec& spec, const Weights& weights, const Tensor& rgb) {
  std::vector<Tensor> outs;
  outs.push_back(normalize(rgb, spec.mean, spec.stddev));
  size_t conv_index = 0;
  for (const Module& m : spec.modules) {
    const Tensor& x = outs.back();
    switch (m.kind) {
      case ModuleKind::Conv:
        outs.push_back(conv(x, weights.convs.at(conv_index++), m.stride, 0, false));
        break;
      case ModuleKind::Relu:
        outs.push_back(relu(x));
        break;
      case ModuleKind::MaxPool:
        outs.push_back(maxpool(x, m.kernel));
        break;
      case ModuleKind::Pad:
        outs.push_back(pad(x, m.pad));
        break;
    }
    if (outs.back().h <= 0 || outs.back().w <= 0)
      throw Error("ref::forward_all: input too small for layer " + m.name);
  }
  return outs;
}

}  // namespace overfeat::ref
