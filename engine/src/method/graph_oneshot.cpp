// SPDX-License-Identifier: MIT
#include "overfeat/graph_oneshot.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <sstream>

#include "overfeat/error.hpp"
#include "overfeat/image.hpp"
#include "overfeat/pipeline.hpp"

namespace overfeat {

uint64_t xxh64(const void* data, size_t len, uint64_t seed);  // oneshot.cpp

namespace {

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint32_t bits(float v) {
  return std::bit_cast<uint32_t>(v);
}

void describe(std::ostream& d, const graph::Pads& p) {
  d << p.top << "," << p.left << "," << p.bottom << "," << p.right;
}

}  // namespace

std::string graph_model_fingerprint(const GraphModel& model) {
  // The description: everything but the weights that changes what a node's map is.
  std::ostringstream d;
  const graph::Graph& g = model.graph;
  d << "overfeat-graph-fingerprint-1\n"
    << g.input_channels << " " << model.input_h << " " << model.input_w << " " << g.output << "\n";
  const Preprocessing& pre = model.pre;
  for (int c = 0; c < 3; ++c) d << bits(pre.mean[c]) << " " << bits(pre.std[c]) << " ";
  d << bits(pre.range) << " " << pre.bgr << "\n";
  std::vector<uint64_t> parts;
  for (const graph::Node& n : g.nodes) {
    d << static_cast<int>(n.op) << " <";
    for (int in : n.inputs) d << in << ",";
    d << "> ";
    const graph::Activation& a = n.act;
    d << "act " << static_cast<int>(a.kind) << " " << bits(a.lo) << " " << bits(a.hi) << " "
      << bits(a.alpha) << " ";
    switch (n.op) {
      case graph::OpKind::Conv: {
        const graph::ConvParams& p = n.conv;
        d << p.out_channels << " " << p.in_channels << " " << p.groups << " " << p.kh << " " << p.kw
          << " " << p.stride_h << " " << p.stride_w << " " << p.dilation_h << " " << p.dilation_w
          << " ";
        describe(d, p.pads);
        parts.push_back(xxh64(p.weights.data(), p.weights.size() * sizeof(float), 0));
        parts.push_back(xxh64(p.bias.data(), p.bias.size() * sizeof(float), 0));
        break;
      }
      case graph::OpKind::Pool:
      case graph::OpKind::GlobalPool: {
        const graph::PoolParams& p = n.pool;
        d << static_cast<int>(p.kind) << " " << p.kh << " " << p.kw << " " << p.stride_h << " "
          << p.stride_w << " " << p.ceil_mode << " " << p.count_include_pad << " ";
        describe(d, p.pads);
        break;
      }
      case graph::OpKind::Lrn:
        d << n.lrn.size << " " << bits(n.lrn.alpha) << " " << bits(n.lrn.beta) << " "
          << bits(n.lrn.bias);
        break;
      default:
        break;
    }
    d << "\n";
  }
  for (const std::string& c : model.classes) d << c.size() << ":" << c << "\n";
  const std::string text = d.str();
  parts.insert(parts.begin(), xxh64(text.data(), text.size(), 0));
  return hex16(xxh64(parts.data(), parts.size() * sizeof(uint64_t), 0));
}

int graph_feature_node(const GraphModel& model, const std::string& name) {
  const graph::Graph& g = model.graph;
  const int node = name.empty() ? model.feature_node : g.find(name);
  if (node > 0 && node < static_cast<int>(g.nodes.size())) return node;
  std::string last;
  const int n = static_cast<int>(g.nodes.size());
  for (int i = std::max(1, n - 6); i < n; ++i) last += (last.empty() ? "" : ", ") + g.nodes[i].name;
  const std::string fallback =
      model.feature_node > 0 ? g.nodes[model.feature_node].name : std::string("none");
  throw Error((name.empty() ? std::string("The network ") + model.name + " has no pooling"
                            : "The network " + model.name + " has no node '" + name + "'") +
              " to take features from: name one of its nodes with --layer (its last ones: " + last +
              "; the default is its last pooling, " + fallback + ")");
}

OneShotStore graph_store(const GraphModel& model, const std::string& fingerprint, int node,
                         const EmbedOptions& options) {
  if (node <= 0 || node >= static_cast<int>(model.graph.nodes.size()))
    throw Error("graph_store: node " + std::to_string(node) + " is not a node of " + model.name);
  StoreIdentity id;
  id.model_name = model.name;
  id.fingerprint = fingerprint;
  id.feature_layer = node;
  id.layer_name = model.graph.nodes[node].name + " (node " + std::to_string(node) + ")";
  id.framing = options.framing;
  id.context = options.context;
  return OneShotStore(std::move(id));
}

GraphEmbedder::GraphEmbedder(GraphDenseEvaluator& dense, const GraphModel& model)
    : dense_(&dense), model_(&model) {}

std::vector<float> GraphEmbedder::embed(const Tensor& rgb, const std::optional<Box>& box, int node,
                                        const EmbedOptions& options) {
  const GraphModel& m = *model_;
  if (rgb.c != 3 || rgb.h <= 0 || rgb.w <= 0)
    throw ImageError("An embedding needs an RGB image (got " + std::to_string(rgb.c) + "x" +
                     std::to_string(rgb.h) + "x" + std::to_string(rgb.w) + ")");
  // As the OverFeat models' embed(): the side is the one the network was trained at.
  const Tensor region = region_pixels(rgb, box, options.context);
  const InputSize size =
      framed_size(region.h, region.w, std::min(m.input_h, m.input_w), options.framing);
  return overfeat::embed(dense_->evaluate(region, {size}, false, node));
}

std::vector<float> GraphEmbedder::embed(const Tensor& rgb, const std::optional<Box>& box,
                                        const OneShotStore& store) {
  return embed(rgb, box, store.identity().feature_layer, store.embed_options());
}

LearnedExample GraphEmbedder::make_example(const OneShotStore& store, const Tensor& rgb,
                                           const std::optional<Box>& box,
                                           const std::string& source) {
  return overfeat::make_example(embed(rgb, box, store), rgb, box, source);
}

FrameAnswer recognize_frame(GraphEmbedder& embedder, GraphDenseEvaluator& dense,
                            const OneShotStore& store, const Tensor& rgb,
                            const std::optional<Box>& box, const std::string& scales,
                            std::optional<float> threshold) {
  if (store.empty()) {
    FrameAnswer a;
    a.recognition = recognize_similarities(store, {}, threshold);
    return a;
  }
  const Recognition whole = recognize(store, embedder.embed(rgb, box, store), threshold);
  // The windows of the box alone, then back to image pixels.
  const Box offset = embedding_region(rgb, box, 0);
  return recognize_frame(store, whole, frame_windows(embedder, dense, store, rgb, box, scales),
                         offset.x1, offset.y1, threshold);
}

DenseResult frame_windows(GraphEmbedder& embedder, GraphDenseEvaluator& dense,
                          const OneShotStore& store, const Tensor& rgb,
                          const std::optional<Box>& box, const std::string& scales) {
  const Tensor region = region_pixels(rgb, box, 0);
  const auto sizes = parse_scales(scales, graph_net_spec(embedder.model()), region.h, region.w);
  return dense.evaluate(region, sizes, false, store.identity().feature_layer);
}

DetectResult detect_taught(GraphDenseEvaluator& dense, const OneShotStore& store, const Tensor& rgb,
                           const std::vector<InputSize>& sizes, DetectOptions options,
                           std::optional<float> threshold) {
  if (store.empty()) throw Error("Nothing taught yet: teach a class first");
  options.dense.boxes = false;
  const DenseResult maps = dense.evaluate(rgb, sizes, options.dense.flip,
                                          store.identity().feature_layer, options.dense.fine);
  return detect_in_maps(taught_class_maps(store, maps, threshold), {}, options);
}

}  // namespace overfeat
