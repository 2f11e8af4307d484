// SPDX-License-Identifier: MIT
// Dense evaluation of graph models: the classifier at every cell, at several scales.
#include "overfeat/graph_dense.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "overfeat/error.hpp"
#include "overfeat/graph_executor.hpp"
#include "overfeat/image.hpp"

namespace overfeat {

using graph::OpKind;

graph::Graph dense_graph(const graph::Graph& g, int* removed) {
  graph::Graph out = g;
  int count = 0;
  for (size_t i = 0; i < out.nodes.size(); ++i) {
    if (out.nodes[i].op != OpKind::GlobalPool) continue;
    std::vector<size_t> readers;
    bool only_1x1 = static_cast<int>(i) != out.output;
    for (size_t r = i + 1; r < out.nodes.size(); ++r) {
      const graph::Node& n = out.nodes[r];
      if (std::find(n.inputs.begin(), n.inputs.end(), static_cast<int>(i)) == n.inputs.end())
        continue;
      readers.push_back(r);
      only_1x1 &= n.op == OpKind::Conv && n.conv.kh == 1 && n.conv.kw == 1 &&
                  n.conv.stride_h == 1 && n.conv.stride_w == 1 && n.conv.pads.top == 0 &&
                  n.conv.pads.left == 0 && n.conv.pads.bottom == 0 && n.conv.pads.right == 0;
    }
    if (!only_1x1 || readers.empty()) continue;
    // The pooling stays as a node nobody reads (indices keep their meaning); its readers skip it.
    for (size_t r : readers)
      for (int& in : out.nodes[r].inputs)
        if (in == static_cast<int>(i)) in = out.nodes[i].inputs.at(0);
    ++count;
  }
  if (removed) *removed = count;
  return out;
}

CellGeometry cell_geometry(const graph::Graph& g, int node) {
  std::vector<int> chain;
  for (int n = node; n > 0; n = g.nodes.at(n).inputs.at(0)) chain.push_back(n);
  CellGeometry c;
  double field = 1;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const graph::Node& n = g.nodes[*it];
    int k = 1, stride = 1, pad = 0;
    if (n.op == OpKind::Conv) {
      k = (n.conv.kh - 1) * n.conv.dilation_h + 1;
      stride = n.conv.stride_h;
      pad = n.conv.pads.top;
    } else if (n.op == OpKind::Pool) {
      k = n.pool.kh;
      stride = n.pool.stride_h;
      pad = n.pool.pads.top;
    } else {
      continue;
    }
    c.center0 += ((k - 1) / 2.0 - pad) * c.stride;
    field += (k - 1) * c.stride;
    c.stride *= stride;
  }
  c.field = static_cast<int>(field);
  return c;
}

NetSpec graph_net_spec(const GraphModel& model) {
  NetSpec spec;
  spec.name = model.name;
  spec.window = std::min(model.input_h, model.input_w);
  return spec;
}

struct GraphDenseEvaluator::Impl {
  Impl(const vk::Context& ctx, graph::Graph g) : exec(ctx, std::move(g)) {}
  GraphExecutor exec;
  CellGeometry cells;
};

GraphDenseEvaluator::GraphDenseEvaluator(const vk::Context& ctx, const GraphModel& model)
    : model_(&model) {
  graph::Graph dense = dense_graph(model.graph, &removed_);
  const CellGeometry cells = cell_geometry(dense, dense.output);
  impl_ = std::make_unique<Impl>(ctx, std::move(dense));
  impl_->cells = cells;
}

GraphDenseEvaluator::~GraphDenseEvaluator() = default;

int GraphDenseEvaluator::cell_stride() const {
  return impl_->cells.stride;
}

uint64_t GraphDenseEvaluator::activation_bytes() const {
  return impl_->exec.activation_bytes();
}

namespace {

// A global pooling dense_graph() removed (nobody reads it) stands for the map it pooled.
int dense_feature_node(const graph::Graph& g, int node) {
  if (node <= 0 || node >= static_cast<int>(g.nodes.size()))
    throw Error("The network has no node " + std::to_string(node) + " to take features from");
  if (g.nodes[node].op != OpKind::GlobalPool || node == g.output) return node;
  for (const graph::Node& n : g.nodes)
    if (std::find(n.inputs.begin(), n.inputs.end(), node) != n.inputs.end()) return node;
  return g.nodes[node].inputs.at(0);
}

}  // namespace

Tensor GraphDenseEvaluator::feature_map(const Tensor& input, int node) {
  const int n = dense_feature_node(impl_->exec.graph(), node);
  return impl_->exec.run(input, {n}).at(n);
}

DenseResult GraphDenseEvaluator::evaluate(const Tensor& rgb, const std::vector<InputSize>& sizes,
                                          bool flip, int feature_node) {
  using clock = std::chrono::steady_clock;
  auto ms = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  DenseResult result;
  const int output = impl_->exec.graph().output;
  const CellGeometry& cells = impl_->cells;
  for (int mirror = 0; mirror <= (flip ? 1 : 0); ++mirror) {
    for (size_t s = 0; s < sizes.size(); ++s) {
      const auto t0 = clock::now();
      Tensor in = sizes[s].h == rgb.h && sizes[s].w == rgb.w
                      ? rgb
                      : image::resize(rgb, sizes[s].h, sizes[s].w);
      if (mirror) in = image::flip_horizontal(in);
      const Tensor input = preprocess(model_->pre, in);
      const auto t1 = clock::now();
      const int features =
          feature_node < 0 ? -1 : dense_feature_node(impl_->exec.graph(), feature_node);
      auto maps =
          features < 0 ? impl_->exec.run(input) : impl_->exec.run(input, {output, features});
      Tensor out = std::move(maps.at(output));
      const auto t2 = clock::now();
      if (!model_->ends_in_softmax()) {
        const size_t plane = static_cast<size_t>(out.h) * out.w;
        for (size_t q = 0; q < plane; ++q) {
          float top = -INFINITY;
          for (int c = 0; c < out.c; ++c) top = std::max(top, out.data[c * plane + q]);
          double sum = 0;
          for (int c = 0; c < out.c; ++c) sum += std::exp(out.data[c * plane + q] - top);
          for (int c = 0; c < out.c; ++c)
            out.data[c * plane + q] =
                static_cast<float>(std::exp(out.data[c * plane + q] - top) / sum);
        }
      }
      ScaleMap m;
      m.scale = static_cast<int>(s);
      m.flipped = mirror != 0;
      m.input = sizes[s];
      m.image_h = rgb.h;
      m.image_w = rgb.w;
      m.geometry.h = out.h;
      m.geometry.w = out.w;
      m.geometry.stride = cells.stride;
      // ScaleMap puts cell x's window at [x * stride, + window), centred at x * stride +
      // window / 2. Networks that slide a fully connected layer (VGG, AlexNet) have their
      // window's centre well inside: window = 2 * centre, about their input size. Networks whose
      // padding keeps every map "same" (ResNet, MobileNet, ...) have cell 0 centred on pixel 0,
      // which would make a 1-pixel window: there each cell is the stride-sized tile it stands
      // for, as class activation maps are conventionally drawn (upsampled 7x7 over 224x224).
      m.geometry.window = std::max(cells.stride, static_cast<int>(std::lround(2 * cells.center0)));
      m.geometry.offsets = 1;
      m.probs = std::move(out);
      if (features >= 0) m.features = std::move(maps.at(features));
      result.maps.push_back(std::move(m));
      const auto t3 = clock::now();
      result.timings.prepare_ms += ms(t0, t1);
      result.timings.network_ms += ms(t1, t2);
      result.timings.collect_ms += ms(t2, t3);
    }
  }
  // Scale-major, unflipped before flipped, as DenseEvaluator orders them.
  std::stable_sort(result.maps.begin(), result.maps.end(),
                   [](const ScaleMap& a, const ScaleMap& b) { return a.scale < b.scale; });
  return result;
}

}  // namespace overfeat
