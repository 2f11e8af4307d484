// SPDX-License-Identifier: MIT
// Shapes and checks of graphs (graph.hpp). Sizes are computed in 64 bits and checked, because
// graphs come from files (import_onnx) that the project fuzzes.
#include "overfeat/graph.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>

#include "overfeat/error.hpp"

namespace overfeat::graph {
namespace {

const char* op_name(OpKind op) {
  switch (op) {
    case OpKind::Input:
      return "Input";
    case OpKind::Conv:
      return "Conv";
    case OpKind::Activation:
      return "Activation";
    case OpKind::Pool:
      return "Pool";
    case OpKind::GlobalPool:
      return "GlobalPool";
    case OpKind::Lrn:
      return "Lrn";
    case OpKind::Add:
      return "Add";
    case OpKind::Concat:
      return "Concat";
    case OpKind::Softmax:
      return "Softmax";
  }
  return "?";
}

std::string describe(const Graph& g, size_t i) {
  const Node& n = g.nodes[i];
  return "graph node " + std::to_string(i) + " '" + n.name + "' (" + op_name(n.op) + ")";
}

[[noreturn]] void node_fail(const Graph& g, size_t i, const std::string& what) {
  throw Error(describe(g, i) + " " + what);
}

/// Output channels of every node, checking each node's input channels against its producers.
/// Shared by validate() and shapes(), which both need the channel flow (it does not depend on
/// the input size).
std::vector<int> channels_of(const Graph& g) {
  std::vector<int> c(g.nodes.size(), 0);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const auto in = [&](size_t k) { return c[static_cast<size_t>(n.inputs[k])]; };
    switch (n.op) {
      case OpKind::Input:
        c[i] = g.input_channels;
        break;
      case OpKind::Conv:
        if (in(0) != n.conv.in_channels)
          node_fail(g, i,
                    "takes " + std::to_string(n.conv.in_channels) +
                        " input channels but its input has " + std::to_string(in(0)));
        c[i] = n.conv.out_channels;
        break;
      case OpKind::Add:
        if (in(0) != in(1))
          node_fail(g, i,
                    "adds maps of " + std::to_string(in(0)) + " and " + std::to_string(in(1)) +
                        " channels");
        c[i] = in(0);
        break;
      case OpKind::Concat: {
        int64_t sum = 0;
        for (size_t k = 0; k < n.inputs.size(); ++k) sum += in(k);
        if (sum > INT_MAX) node_fail(g, i, "has too many channels");
        c[i] = static_cast<int>(sum);
        break;
      }
      default:
        c[i] = in(0);
        break;
    }
  }
  return c;
}

}  // namespace

int window_output(int in, int kernel, int stride, int dilation, int pad_begin, int pad_end,
                  bool ceil_mode) {
  if (in <= 0 || kernel <= 0 || stride <= 0 || dilation <= 0) return 0;
  const int64_t extent = (static_cast<int64_t>(kernel) - 1) * dilation + 1;
  const int64_t span = static_cast<int64_t>(in) + pad_begin + pad_end - extent;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  // PyTorch's rule: the last window must start inside the input or the leading pad, otherwise
  // it would cover only the trailing pad and beyond.
  if (ceil_mode && (out - 1) * stride >= static_cast<int64_t>(in) + pad_begin) --out;
  return static_cast<int>(std::min<int64_t>(out, INT_MAX));
}

int pool_output(const PoolParams& p, int in, bool vertical) {
  return vertical ? window_output(in - p.offset_y, p.kh, p.stride_h, 1, p.pads.top, p.pads.bottom,
                                  p.ceil_mode)
                  : window_output(in - p.offset_x, p.kw, p.stride_w, 1, p.pads.left, p.pads.right,
                                  p.ceil_mode);
}

std::vector<Shape> Graph::shapes(int h, int w) const {
  validate(false);  // cheap, and shapes() indexes inputs
  const std::vector<int> channels = channels_of(*this);
  std::vector<Shape> s(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    Shape& out = s[i];
    out.c = channels[i];
    if (n.op == OpKind::Input) {
      out.h = h, out.w = w;
      continue;
    }
    const Shape& a = s[static_cast<size_t>(n.inputs.at(0))];
    if (!a.valid()) continue;  // too small upstream: h = w = 0 here too
    switch (n.op) {
      case OpKind::Conv: {
        const ConvParams& p = n.conv;
        out.h =
            window_output(a.h, p.kh, p.stride_h, p.dilation_h, p.pads.top, p.pads.bottom, false);
        out.w =
            window_output(a.w, p.kw, p.stride_w, p.dilation_w, p.pads.left, p.pads.right, false);
        break;
      }
      case OpKind::Pool: {
        out.h = pool_output(n.pool, a.h, true);
        out.w = pool_output(n.pool, a.w, false);
        break;
      }
      case OpKind::GlobalPool:
        out.h = out.w = 1;
        break;
      case OpKind::Add:
      case OpKind::Concat: {
        bool all_valid = true;
        for (int k : n.inputs) {
          const Shape& b = s[static_cast<size_t>(k)];
          if (!b.valid()) {
            all_valid = false;
          } else if (b.h != a.h || b.w != a.w) {
            throw Error(describe(*this, i) + " " + (n.op == OpKind::Add ? "adds" : "concatenates") +
                        " maps of " + std::to_string(a.h) + "x" + std::to_string(a.w) + " and " +
                        std::to_string(b.h) + "x" + std::to_string(b.w) +
                        " pixels for an input of " + std::to_string(h) + "x" + std::to_string(w));
          }
        }
        if (all_valid) out.h = a.h, out.w = a.w;
        break;
      }
      default:
        out.h = a.h, out.w = a.w;
        break;
    }
  }
  return s;
}

ConvParams ConvParams::geometry() const {
  ConvParams p;
  p.out_channels = out_channels;
  p.in_channels = in_channels;
  p.groups = groups;
  p.kh = kh;
  p.kw = kw;
  p.stride_h = stride_h;
  p.stride_w = stride_w;
  p.dilation_h = dilation_h;
  p.dilation_w = dilation_w;
  p.pads = pads;
  return p;
}

Graph Graph::structure() const {
  Graph out;
  out.input_channels = input_channels;
  out.output = output;
  out.nodes.reserve(nodes.size());
  for (const Node& n : nodes) {
    Node copy;
    copy.name = n.name;
    copy.op = n.op;
    copy.inputs = n.inputs;
    copy.conv = n.conv.geometry();
    copy.pool = n.pool;
    copy.lrn = n.lrn;
    copy.act = n.act;
    copy.shares = n.shares;
    out.nodes.push_back(std::move(copy));
  }
  return out;
}

int Graph::find(const std::string& name) const {
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].name == name) return static_cast<int>(i);
  return -1;
}

void Graph::validate(bool weights) const {
  if (nodes.empty() || nodes[0].op != OpKind::Input || !nodes[0].inputs.empty())
    throw Error("graph: node 0 must be the Input, with no inputs");
  if (input_channels <= 0)
    throw Error("graph: the input has " + std::to_string(input_channels) + " channels");
  if (output < 0 || static_cast<size_t>(output) >= nodes.size())
    throw Error("graph: the output node " + std::to_string(output) + " does not exist (" +
                std::to_string(nodes.size()) + " nodes)");
  for (size_t i = 1; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (n.op == OpKind::Input) node_fail(*this, i, "is a second Input; a graph has one");
    const size_t want = n.op == OpKind::Add ? 2 : 1;
    if (n.op == OpKind::Concat ? n.inputs.empty() : n.inputs.size() != want)
      node_fail(*this, i,
                "has " + std::to_string(n.inputs.size()) + " inputs; it needs " +
                    (n.op == OpKind::Concat ? "at least 1" : std::to_string(want)));
    for (int k : n.inputs)
      if (k < 0 || static_cast<size_t>(k) >= i)
        node_fail(*this, i,
                  "reads node " + std::to_string(k) +
                      ", which is not an earlier node (nodes are in topological order)");
    if (n.op == OpKind::Conv) {
      const ConvParams& p = n.conv;
      if (p.out_channels <= 0 || p.in_channels <= 0 || p.groups <= 0 || p.in_channels % p.groups ||
          p.out_channels % p.groups)
        node_fail(*this, i,
                  "has " + std::to_string(p.in_channels) + " input and " +
                      std::to_string(p.out_channels) + " output channels in " +
                      std::to_string(p.groups) + " groups; both must be positive multiples");
      if (p.kh <= 0 || p.kw <= 0 || p.stride_h <= 0 || p.stride_w <= 0 || p.dilation_h <= 0 ||
          p.dilation_w <= 0)
        node_fail(*this, i, "has a kernel, stride or dilation that is not positive");
      if (p.pads.top < 0 || p.pads.left < 0 || p.pads.bottom < 0 || p.pads.right < 0)
        node_fail(*this, i, "has negative pads");
      const uint64_t count = static_cast<uint64_t>(p.out_channels) *
                             static_cast<uint64_t>(p.in_channels / p.groups) *
                             static_cast<uint64_t>(p.kh) * static_cast<uint64_t>(p.kw);
      if (n.shares >= 0) {
        if (n.shares >= static_cast<int>(i) || nodes[n.shares].op != OpKind::Conv ||
            nodes[n.shares].shares >= 0)
          node_fail(*this, i,
                    "shares the weights of a node that is not an earlier Conv of its own");
        const ConvParams& q = nodes[n.shares].conv;
        if (q.out_channels != p.out_channels || q.in_channels != p.in_channels ||
            q.groups != p.groups || q.kh != p.kh || q.kw != p.kw || q.stride_h != p.stride_h ||
            q.stride_w != p.stride_w || q.dilation_h != p.dilation_h ||
            q.dilation_w != p.dilation_w || q.pads.top != p.pads.top ||
            q.pads.left != p.pads.left || q.pads.bottom != p.pads.bottom ||
            q.pads.right != p.pads.right)
          node_fail(*this, i, "shares the weights of a Conv with other parameters");
        if (!p.weights.empty() || !p.bias.empty())
          node_fail(*this, i, "shares another node's weights but has weights of its own");
      } else if (weights && p.weights.size() != count)
        node_fail(*this, i,
                  "has " + std::to_string(p.weights.size()) + " weights; its shape [" +
                      std::to_string(p.out_channels) + ", " +
                      std::to_string(p.in_channels / p.groups) + ", " + std::to_string(p.kh) +
                      ", " + std::to_string(p.kw) + "] needs " + std::to_string(count));
      if (weights && n.shares < 0 && p.bias.size() != static_cast<size_t>(p.out_channels))
        node_fail(*this, i,
                  "has " + std::to_string(p.bias.size()) + " biases for " +
                      std::to_string(p.out_channels) + " output channels");
    }
    if (n.op == OpKind::Pool) {
      const PoolParams& p = n.pool;
      if (p.kh <= 0 || p.kw <= 0 || p.stride_h <= 0 || p.stride_w <= 0)
        node_fail(*this, i, "has a kernel or stride that is not positive");
      // A pad as large as the kernel would give windows of padding only (no value to take).
      if (p.pads.top < 0 || p.pads.bottom < 0 || p.pads.left < 0 || p.pads.right < 0 ||
          p.pads.top >= p.kh || p.pads.bottom >= p.kh || p.pads.left >= p.kw ||
          p.pads.right >= p.kw)
        node_fail(*this, i, "has pads that are negative or not smaller than its kernel");
      if (p.offset_y < 0 || p.offset_x < 0 ||
          ((p.offset_y || p.offset_x) &&
           (p.ceil_mode || p.pads.top || p.pads.left || p.pads.bottom || p.pads.right)))
        node_fail(*this, i, "has a negative offset, or an offset with pads or ceil mode");
    }
    if (n.op != OpKind::Conv && n.shares >= 0)
      node_fail(*this, i, "shares weights, which only a Conv can");
    if (n.op == OpKind::Lrn && n.lrn.size <= 0)
      node_fail(*this, i, "has an LRN size that is not positive");
    if ((n.op == OpKind::Activation || n.op == OpKind::Conv || n.op == OpKind::Add) &&
        n.act.kind == Activation::Kind::Clip && !(n.act.lo <= n.act.hi))
      node_fail(*this, i, "clips to an empty range");
  }
  channels_of(*this);  // throws on channel mismatches
}

}  // namespace overfeat::graph
