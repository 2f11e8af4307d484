// SPDX-License-Identifier: MIT
// Dense evaluation of graph models: the classifier at every cell, at several scales.
#include "overfeat/graph_dense.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <map>

#include "overfeat/error.hpp"
#include "overfeat/graph_executor.hpp"
#include "overfeat/image.hpp"
#include "overfeat/reference.hpp"

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

namespace {

// A pooling offset pooling can shift: a square kernel equal to its stride, no pads, no ceil
// mode, not shifted already.
bool shiftable(const graph::PoolParams& q) {
  return q.kh == q.kw && q.stride_h == q.kh && q.stride_w == q.kw && !q.ceil_mode && !q.pads.top &&
         !q.pads.left && !q.pads.bottom && !q.pads.right && !q.offset_y && !q.offset_x;
}

}  // namespace

int offset_pooling_node(const graph::Graph& g) {
  int pool = -1;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const graph::Node& n = g.nodes[i];
    const graph::PoolParams& q = n.pool;
    // An identity pooling (torchvision's VGG exports its AdaptiveAvgPool2d(7) at 224 as a 1x1
    // AveragePool) does not count: the one before it is the last.
    const bool identity = q.kh == 1 && q.kw == 1 && q.stride_h == 1 && q.stride_w == 1 &&
                          !q.pads.top && !q.pads.left && !q.pads.bottom && !q.pads.right;
    if (n.op == OpKind::Pool && !identity) pool = static_cast<int>(i);
  }
  if (pool < 0 || pool >= g.output) return -1;
  const graph::Node& p = g.nodes[pool];
  const graph::PoolParams& q = p.pool;
  if (p.inputs.size() != 1 || q.kh < 2 || !shiftable(q)) return -1;
  for (size_t i = pool + 1; i < g.nodes.size(); ++i) {
    const graph::Node& n = g.nodes[i];
    for (int in : n.inputs)
      if (in < pool) return -1;  // a branch around the pooling
    if (n.op != OpKind::GlobalPool) continue;
    bool read = static_cast<int>(i) == g.output;  // a global pooling still in use
    for (const graph::Node& r : g.nodes)
      read |= std::find(r.inputs.begin(), r.inputs.end(), static_cast<int>(i)) != r.inputs.end();
    if (read) return -1;
  }
  return pool;
}

OffsetGraph offset_graph(graph::Graph g, int pool) {
  OffsetGraph out;
  const int n = static_cast<int>(g.nodes.size());
  if (pool < 0) {
    out.node.emplace_back(n);
    for (int i = 0; i < n; ++i) out.node[0][i] = i;
    out.graph = std::move(g);
    return out;
  }
  const graph::Node& p = g.nodes.at(pool);
  const graph::PoolParams& q = p.pool;
  if (p.op != OpKind::Pool || !shiftable(q))
    throw Error("Offset pooling needs a pooling whose kernel equals its stride, without pads; " +
                p.name + " is not one");
  out.k = q.kh;
  std::vector<bool> depends(n, false);
  depends[pool] = true;
  for (int i = pool + 1; i < n; ++i) {
    const auto& ins = g.nodes[i].inputs;
    const bool any = std::any_of(ins.begin(), ins.end(), [&](int in) { return depends[in]; });
    if (!any) continue;
    for (int in : ins)
      if (!depends[in])
        throw Error("Offset pooling: " + g.nodes[i].name + " reads both the pooling " + p.name +
                    " and a map that does not shift with it (" + g.nodes[in].name + ")");
    depends[i] = true;
  }
  out.node.assign(static_cast<size_t>(out.k) * out.k, std::vector<int>(n));
  for (int i = 0; i < n; ++i) out.node[0][i] = i;
  for (int o = 1; o < out.k * out.k; ++o) {
    std::vector<int>& map = out.node[o];
    for (int i = 0; i < n; ++i) {
      if (!depends[i]) {
        map[i] = i;
        continue;
      }
      graph::Node copy;
      const graph::Node& orig = g.nodes[i];
      copy.name = orig.name;  // a stage's name: timings sum over offsets
      copy.op = orig.op;
      copy.pool = orig.pool;
      copy.lrn = orig.lrn;
      copy.act = orig.act;
      for (int in : orig.inputs) copy.inputs.push_back(map[in]);
      if (orig.op == OpKind::Conv) {
        copy.conv = orig.conv.geometry();
        copy.shares = orig.shares >= 0 ? orig.shares : i;
      }
      if (i == pool) {
        copy.pool.offset_y = o / out.k;
        copy.pool.offset_x = o % out.k;
      }
      map[i] = static_cast<int>(g.nodes.size());
      g.nodes.push_back(std::move(copy));
    }
  }
  out.graph = std::move(g);
  return out;
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

// The dense graph with the last pooling at every offset (offset_graph) where offset pooling is
// possible: one executor, one pass per scale computes the trunk once and every offset's head.
struct GraphDenseEvaluator::Impl {
  std::unique_ptr<GraphExecutor> exec;  // its graph() is the structure (weights on the device)
  std::vector<std::vector<int>> node;   // offset_graph's: [offset][dense graph node]
  int pool = -1, k = 1;                 // the pooling offset pooling shifts, its kernel
  CellGeometry cells;                   // of the output, coarse
  int pre_stride = 1;                   // input pixels between cells of the pooling's input map

  // Runs `nodes` (of the dense graph) for a network input with the pooling at each of the k x k
  // offsets (k = 1: offset 0 alone). An offset whose map is too small for the output gives
  // nothing (offset 0 then throws ImageError).
  std::vector<std::pair<std::array<int, 2>, std::map<int, Tensor>>> run_offsets(
      const Tensor& input, const std::vector<int>& nodes, int offsets) {
    const graph::Graph& g = exec->graph();
    const std::vector<graph::Shape> shapes = g.shapes(input.h, input.w);
    std::vector<int> used, want;
    for (int o = 0; o < offsets * offsets; ++o) {
      const int at = (o / offsets) * k + o % offsets;  // offsets < k: coarse is offset 0 alone
      if (o > 0 && !shapes[node[at][g.output]].valid()) continue;
      used.push_back(at);
      for (int n : nodes) want.push_back(node[at][n]);
    }
    std::map<int, Tensor> maps = exec->run(input, want);
    std::vector<std::pair<std::array<int, 2>, std::map<int, Tensor>>> parts;
    for (int at : used) {
      std::map<int, Tensor> part;
      for (int n : nodes) part[n] = maps.at(node[at][n]);
      parts.push_back({{at / k, at % k}, std::move(part)});
    }
    return parts;
  }
};

GraphDenseEvaluator::GraphDenseEvaluator(const vk::Context& ctx, const GraphModel& model)
    : model_(&model), impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  // The structure only: the model lends its weights to the executor as it uploads them.
  graph::Graph dense = dense_graph(model.graph.structure(), &removed_);
  m.cells = cell_geometry(dense, dense.output);
  m.pool = offset_pooling_node(dense);
  if (m.pool >= 0) m.pre_stride = cell_geometry(dense, dense.nodes[m.pool].inputs[0]).stride;
  OffsetGraph offsets = offset_graph(std::move(dense), m.pool);
  m.k = offsets.k;
  m.node = std::move(offsets.node);
  m.exec = std::make_unique<GraphExecutor>(ctx, std::move(offsets.graph),
                                           GraphExecutor::lending(model.graph));
}

GraphDenseEvaluator::~GraphDenseEvaluator() = default;

int GraphDenseEvaluator::cell_stride() const {
  return impl_->cells.stride;
}

int GraphDenseEvaluator::offsets() const {
  return impl_->k;
}

uint64_t GraphDenseEvaluator::activation_bytes() const {
  return impl_->exec->activation_bytes();
}

uint64_t GraphDenseEvaluator::weight_bytes() const {
  return impl_->exec->weight_bytes();
}

DenseResult GraphDenseEvaluator::evaluate(const Tensor& rgb, const std::vector<InputSize>& sizes,
                                          bool flip, int feature_node, bool fine) {
  using clock = std::chrono::steady_clock;
  auto ms = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  Impl& im = *impl_;
  DenseResult result;
  const int output = im.exec->graph().output;
  const CellGeometry& cells = im.cells;
  const int k = fine ? im.k : 1;
  const int features = feature_node < 0 ? -1 : dense_feature_node(im.exec->graph(), feature_node);
  if (features >= 0 && k > 1 && features < im.pool)
    throw Error(
        "Features of a node before the last pooling have no fine-stride map: take them "
        "at coarse stride, or from the pooling on");
  std::vector<int> wanted{output};
  if (features >= 0) wanted.push_back(features);
  for (int mirror = 0; mirror <= (flip ? 1 : 0); ++mirror) {
    for (size_t s = 0; s < sizes.size(); ++s) {
      const auto t0 = clock::now();
      Tensor in = sizes[s].h == rgb.h && sizes[s].w == rgb.w
                      ? rgb
                      : image::resize(rgb, sizes[s].h, sizes[s].w);
      if (mirror) in = image::flip_horizontal(in);
      const Tensor input = preprocess(model_->pre, in);
      const auto t1 = clock::now();
      // Offset (dy, dx)'s cell (i, j) is fine cell (i * k + dy, j * k + dx), as DenseEvaluator
      // interleaves them; an offset whose map is too small for the classifier adds nothing.
      auto parts = im.run_offsets(input, wanted, k);
      const auto t2 = clock::now();
      auto interleave = [&](int node) {
        int c = 0, h = 0, w = 0;
        for (const auto& [d, maps] : parts) {
          const Tensor& t = maps.at(node);
          c = t.c;
          h = std::max(h, (t.h - 1) * k + d[0] + 1);
          w = std::max(w, (t.w - 1) * k + d[1] + 1);
        }
        Tensor fine_map(c, h, w, 0.0f);
        for (const auto& [d, maps] : parts)
          interleave_offset(maps.at(node), k, d[0], d[1], fine_map);
        return fine_map;
      };
      // Features first: they may be the output's own map.
      Tensor feature_map = features < 0 ? Tensor()
                           : k == 1     ? parts.front().second.at(features)
                                        : interleave(features);
      Tensor out = k == 1 ? std::move(parts.front().second.at(output)) : interleave(output);
      if (!model_->ends_in_softmax()) out = ref::softmax(out);
      ScaleMap m;
      m.scale = static_cast<int>(s);
      m.flipped = mirror != 0;
      m.input = sizes[s];
      m.image_h = rgb.h;
      m.image_w = rgb.w;
      m.geometry.h = out.h;
      m.geometry.w = out.w;
      m.geometry.stride = k == 1 ? cells.stride : im.pre_stride;
      // ScaleMap puts cell x's window at [x * stride, + window), centred at x * stride +
      // window / 2. Networks that slide a fully connected layer (VGG, AlexNet) have their
      // window's centre well inside: window = 2 * centre, about their input size. Networks whose
      // padding keeps every map "same" (ResNet, MobileNet, ...) have cell 0 centred on pixel 0,
      // which would make a 1-pixel window: there each cell is the stride-sized tile it stands
      // for, as class activation maps are conventionally drawn (upsampled 7x7 over 224x224).
      m.geometry.window = std::max(cells.stride, static_cast<int>(std::lround(2 * cells.center0)));
      m.geometry.offsets = k;
      m.probs = std::move(out);
      m.features = std::move(feature_map);
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
