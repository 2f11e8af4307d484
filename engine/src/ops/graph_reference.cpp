// SPDX-License-Identifier: MIT
// Plain C++ references of the graph ops, with ONNX's (and PyTorch's) semantics. Written for
// clarity; the loops are ordered so that whole networks still run in seconds in the tests.
#include "overfeat/graph_reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "overfeat/error.hpp"

namespace overfeat::graph::ref {
namespace {

std::string dims(const Tensor& t) {
  return std::to_string(t.c) + "x" + std::to_string(t.h) + "x" + std::to_string(t.w);
}

/// The first output index o >= 0 whose input position o * stride + offset is >= 0, and one past
/// the last whose position is < size: the outputs whose tap lands inside the input.
void inside_range(int out, int stride, int offset, int size, int& first, int& end) {
  // position(o) = o * stride + offset; want 0 <= position(o) < size.
  first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  end = size - offset <= 0 ? 0 : (size - offset + stride - 1) / stride;
  first = std::min(first, out);
  end = std::clamp(end, first, out);
}

}  // namespace

Tensor conv(const Tensor& in, const ConvParams& p, const Activation& act) {
  if (in.c != p.in_channels)
    throw Error("graph::ref::conv: input has " + std::to_string(in.c) +
                " channels, the convolution takes " + std::to_string(p.in_channels));
  if (p.groups <= 0 || p.in_channels % p.groups || p.out_channels % p.groups ||
      p.weights.size() !=
          static_cast<size_t>(p.out_channels) * (p.in_channels / p.groups) * p.kh * p.kw ||
      p.bias.size() != static_cast<size_t>(p.out_channels))
    throw Error("graph::ref::conv: the weights or biases do not match the parameters");
  const int oh =
      window_output(in.h, p.kh, p.stride_h, p.dilation_h, p.pads.top, p.pads.bottom, false);
  const int ow =
      window_output(in.w, p.kw, p.stride_w, p.dilation_w, p.pads.left, p.pads.right, false);
  const int in_per_group = p.in_channels / p.groups, out_per_group = p.out_channels / p.groups;
  Tensor out(p.out_channels, oh, ow);
  for (int o = 0; o < p.out_channels; ++o) {
    float* dst = &out.data[static_cast<size_t>(o) * oh * ow];
    std::fill(dst, dst + static_cast<size_t>(oh) * ow, p.bias[o]);
    const int first_in = (o / out_per_group) * in_per_group;
    for (int i = 0; i < in_per_group; ++i)
      for (int ky = 0; ky < p.kh; ++ky) {
        // Output rows y read input row y * stride_h - top + ky * dilation_h.
        int y0, y1;
        inside_range(oh, p.stride_h, ky * p.dilation_h - p.pads.top, in.h, y0, y1);
        for (int kx = 0; kx < p.kw; ++kx) {
          const float w =
              p.weights[((static_cast<size_t>(o) * in_per_group + i) * p.kh + ky) * p.kw + kx];
          const int x_offset = kx * p.dilation_w - p.pads.left;
          int x0, x1;
          inside_range(ow, p.stride_w, x_offset, in.w, x0, x1);
          for (int y = y0; y < y1; ++y) {
            const int iy = y * p.stride_h + ky * p.dilation_h - p.pads.top;
            const float* row = &in.data[(static_cast<size_t>(first_in + i) * in.h + iy) * in.w];
            float* orow = dst + static_cast<size_t>(y) * ow;
            for (int x = x0; x < x1; ++x) orow[x] += w * row[x * p.stride_w + x_offset];
          }
        }
      }
  }
  return act.kind == Activation::Kind::None ? out : activation(out, act);
}

Tensor activation(const Tensor& in, const Activation& act) {
  Tensor out = in;
  for (float& v : out.data) v = act.apply(v);
  return out;
}

Tensor pool(const Tensor& in, const PoolParams& p) {
  const int oh = pool_output(p, in.h, true), ow = pool_output(p, in.w, false);
  Tensor out(in.c, oh, ow);
  for (int c = 0; c < in.c; ++c)
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x) {
        // The window in padded coordinates, cut at the trailing pad (ceil mode's overhang past
        // it never counts), then at the input.
        const int ys = y * p.stride_h - p.pads.top + p.offset_y;
        const int xs = x * p.stride_w - p.pads.left + p.offset_x;
        const int ye = std::min(ys + p.kh, in.h + p.pads.bottom);
        const int xe = std::min(xs + p.kw, in.w + p.pads.right);
        const int padded_count = (ye - ys) * (xe - xs);
        const int y0 = std::max(ys, 0), y1 = std::min(ye, in.h);
        const int x0 = std::max(xs, 0), x1 = std::min(xe, in.w);
        float result;
        if (p.kind == PoolParams::Kind::Max) {
          // Pads are ignored: only input pixels compete.
          float m = -std::numeric_limits<float>::infinity();
          for (int iy = y0; iy < y1; ++iy)
            for (int ix = x0; ix < x1; ++ix) m = std::max(m, in.at(c, iy, ix));
          result = m;
        } else {
          double sum = 0;
          for (int iy = y0; iy < y1; ++iy)
            for (int ix = x0; ix < x1; ++ix) sum += in.at(c, iy, ix);
          const int count =
              p.count_include_pad ? padded_count : std::max(0, y1 - y0) * std::max(0, x1 - x0);
          result = count > 0 ? static_cast<float>(sum / count) : 0.0f;
        }
        out.at(c, y, x) = result;
      }
  return out;
}

Tensor global_pool(const Tensor& in, PoolParams::Kind kind) {
  Tensor out(in.c, 1, 1);
  const size_t n = static_cast<size_t>(in.h) * in.w;
  for (int c = 0; c < in.c; ++c) {
    const float* src = &in.data[c * n];
    if (kind == PoolParams::Kind::Max) {
      float m = -std::numeric_limits<float>::infinity();
      for (size_t i = 0; i < n; ++i) m = std::max(m, src[i]);
      out.data[c] = m;
    } else {
      double sum = 0;
      for (size_t i = 0; i < n; ++i) sum += src[i];
      out.data[c] = n ? static_cast<float>(sum / static_cast<double>(n)) : 0.0f;
    }
  }
  return out;
}

Tensor lrn(const Tensor& in, const LrnParams& p) {
  // ONNX: the window of channel c is c - floor((size-1)/2) .. c + ceil((size-1)/2), cut at the
  // first and last channel; the divisor keeps `size` even where the window is cut.
  const int before = (p.size - 1) / 2, after = p.size / 2;
  Tensor out(in.c, in.h, in.w);
  const size_t n = static_cast<size_t>(in.h) * in.w;
  for (int c = 0; c < in.c; ++c)
    for (size_t q = 0; q < n; ++q) {
      double sum = 0;
      for (int k = std::max(0, c - before); k <= std::min(in.c - 1, c + after); ++k) {
        const double v = in.data[k * n + q];
        sum += v * v;
      }
      const double scale = p.bias + p.alpha / p.size * sum;
      out.data[c * n + q] = static_cast<float>(in.data[c * n + q] / std::pow(scale, p.beta));
    }
  return out;
}

Tensor add(const Tensor& a, const Tensor& b, const Activation& act) {
  if (a.c != b.c || a.h != b.h || a.w != b.w)
    throw Error("graph::ref::add: maps of " + dims(a) + " and " + dims(b) + " differ in shape");
  Tensor out(a.c, a.h, a.w);
  for (size_t i = 0; i < a.data.size(); ++i) out.data[i] = act.apply(a.data[i] + b.data[i]);
  return out;
}

Tensor concat(const std::vector<const Tensor*>& inputs) {
  if (inputs.empty()) throw Error("graph::ref::concat: no inputs");
  int c = 0;
  for (const Tensor* t : inputs) {
    if (t->h != inputs[0]->h || t->w != inputs[0]->w)
      throw Error("graph::ref::concat: maps of " + dims(*inputs[0]) + " and " + dims(*t) +
                  " differ in size");
    c += t->c;
  }
  Tensor out(c, inputs[0]->h, inputs[0]->w);
  size_t at = 0;  // CHW: each input's channels follow the previous input's
  for (const Tensor* t : inputs) {
    std::copy(t->data.begin(), t->data.end(), out.data.begin() + static_cast<std::ptrdiff_t>(at));
    at += t->data.size();
  }
  return out;
}

Tensor softmax(const Tensor& in) {
  Tensor out(in.c, in.h, in.w);
  const size_t n = static_cast<size_t>(in.h) * in.w;
  for (size_t q = 0; q < n; ++q) {
    float m = -std::numeric_limits<float>::infinity();
    for (int c = 0; c < in.c; ++c) m = std::max(m, in.data[c * n + q]);
    double sum = 0;
    for (int c = 0; c < in.c; ++c) sum += std::exp(static_cast<double>(in.data[c * n + q]) - m);
    for (int c = 0; c < in.c; ++c)
      out.data[c * n + q] =
          static_cast<float>(std::exp(static_cast<double>(in.data[c * n + q]) - m) / sum);
  }
  return out;
}

std::vector<Tensor> run(const Graph& g, const Tensor& input) {
  g.validate();
  if (input.c != g.input_channels ||
      input.size() != static_cast<size_t>(input.c) * input.h * input.w)
    throw Error("graph::ref::run: the input is " + dims(input) + "; the graph takes " +
                std::to_string(g.input_channels) + " channels");
  const std::vector<Shape> shapes = g.shapes(input.h, input.w);
  std::vector<Tensor> outs(g.nodes.size());
  outs[0] = input;
  for (size_t i = 1; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!shapes[i].valid())
      throw ImageError("The input of " + std::to_string(input.h) + "x" + std::to_string(input.w) +
                       " pixels is too small for graph node '" + n.name + "'; use a larger image");
    const Tensor& x = outs[static_cast<size_t>(n.inputs[0])];
    switch (n.op) {
      case OpKind::Input:
        break;  // validate() allows only node 0
      case OpKind::Conv:
        outs[i] =
            conv(x, n.shares >= 0 ? g.nodes[static_cast<size_t>(n.shares)].conv : n.conv, n.act);
        break;
      case OpKind::Activation:
        outs[i] = activation(x, n.act);
        break;
      case OpKind::Pool:
        outs[i] = pool(x, n.pool);
        break;
      case OpKind::GlobalPool:
        outs[i] = global_pool(x, n.pool.kind);
        break;
      case OpKind::Lrn:
        outs[i] = lrn(x, n.lrn);
        break;
      case OpKind::Add:
        outs[i] = add(x, outs[static_cast<size_t>(n.inputs[1])], n.act);
        break;
      case OpKind::Concat: {
        std::vector<const Tensor*> ins;
        for (int k : n.inputs) ins.push_back(&outs[static_cast<size_t>(k)]);
        outs[i] = concat(ins);
        break;
      }
      case OpKind::Softmax:
        outs[i] = softmax(x);
        break;
    }
  }
  return outs;
}

}  // namespace overfeat::graph::ref
