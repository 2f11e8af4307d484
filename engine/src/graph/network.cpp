// SPDX-License-Identifier: MIT
// The release's module list as a graph: padding folded into the next convolution, ReLUs and
// poolings as nodes (the executor fuses each ReLU into its convolution unless a layer asks for
// the map before it), a softmax node after the last layer. Layer numbers map onto nodes.
#include "overfeat/network.hpp"

#include "overfeat/error.hpp"
#include "overfeat/reference.hpp"

namespace overfeat {

std::vector<int> append_modules(graph::Graph& g, int from, const std::vector<Module>& modules,
                                int first, int last, std::vector<ConvWeights>& weights,
                                size_t& next, int& channels, const std::string& prefix) {
  std::vector<int> node_of;
  int prev = from, pending_pad = 0;
  for (int i = first; i < last; ++i) {
    const Module& m = modules[i];
    if (m.kind == ModuleKind::Pad) {  // folded into the next conv; padded on the host if asked
      pending_pad += m.pad;
      node_of.push_back(prev);
      continue;
    }
    graph::Node n;
    n.name = prefix + m.name;
    n.inputs = {prev};
    if (m.kind == ModuleKind::Conv) {
      if (next >= weights.size())
        throw WeightFileError("The weights hold fewer convolutions than the modules (at " + m.name +
                              ")");
      ConvWeights& w = weights[next++];
      if (w.in != channels)
        throw WeightFileError("The weights of " + m.name + " take " + std::to_string(w.in) +
                              " channels, the layer before gives " + std::to_string(channels));
      n.op = graph::OpKind::Conv;
      n.conv.out_channels = w.out;
      n.conv.in_channels = w.in;
      n.conv.kh = n.conv.kw = w.k;
      n.conv.stride_h = n.conv.stride_w = m.stride;
      n.conv.pads = {pending_pad, pending_pad, pending_pad, pending_pad};
      n.conv.weights = std::move(w.w);
      n.conv.bias = std::move(w.b);
      channels = w.out;
      pending_pad = 0;
    } else if (m.kind == ModuleKind::Relu) {
      n.op = graph::OpKind::Activation;
      n.act.kind = graph::Activation::Kind::Relu;
    } else {
      n.op = graph::OpKind::Pool;
      n.pool.kh = n.pool.kw = n.pool.stride_h = n.pool.stride_w = m.kernel;
    }
    g.nodes.push_back(std::move(n));
    prev = static_cast<int>(g.nodes.size()) - 1;
    node_of.push_back(prev);
  }
  return node_of;
}

Tensor normalize_input(const NetSpec& spec, const Tensor& rgb) {
  // As normalize.comp computed it on the device.
  Tensor input = rgb;
  const float inv_std = 1.0f / spec.stddev;
  for (float& v : input.data) v = (v - spec.mean) * inv_std;
  return input;
}

Network::Network(const vk::Context& ctx, NetSpec spec, Weights weights)
    : ctx_(&ctx), spec_(std::move(spec)) {
  graph::Graph g;
  g.input_channels = spec_.input_channels;
  g.nodes.push_back({});
  g.nodes[0].name = "input";
  size_t next = 0;
  int channels = spec_.input_channels;
  layer_node_ = {0};
  for (int n :
       append_modules(g, 0, spec_.modules, 0, spec_.num_layers(), weights.convs, next, channels))
    layer_node_.push_back(n);
  if (next != weights.convs.size())
    throw WeightFileError("The weights hold more convolutions than the network " + spec_.name);
  g.output = static_cast<int>(g.nodes.size()) - 1;
  graph::Node softmax;
  softmax.name = "softmax";
  softmax.op = graph::OpKind::Softmax;
  softmax.inputs = {g.output};
  g.nodes.push_back(softmax);
  softmax_node_ = static_cast<int>(g.nodes.size()) - 1;
  exec_ = std::make_unique<GraphExecutor>(ctx, std::move(g));
}

Network::~Network() = default;

uint64_t Network::activation_bytes() const {
  return exec_->activation_bytes();
}
uint64_t Network::weight_bytes() const {
  return exec_->weight_bytes();
}

ForwardResult Network::forward(const Tensor& rgb, const std::set<int>& layers, bool softmax) {
  if (rgb.c != 3) throw ImageError("The network expects an RGB image (3 channels)");
  for (int l : layers)
    if (l < 0 || l > spec_.num_layers())
      throw Error("Layer " + std::to_string(l) + " does not exist: the " + spec_.name +
                  " network has layers 0 to " + std::to_string(spec_.num_layers()));
  for (int l = 1; l <= spec_.num_layers(); ++l) {
    int c, h, w;
    spec_.layer_shape(l, rgb.h, rgb.w, c, h, w);
    if (h <= 0 || w <= 0)
      throw ImageError("The input (" + std::to_string(rgb.w) + "x" + std::to_string(rgb.h) +
                       ") is too small for the " + spec_.name + " network at layer " +
                       spec_.modules[l - 1].name + ": it needs at least " +
                       std::to_string(spec_.window) + "x" + std::to_string(spec_.window) +
                       " pixels.");
  }
  const Tensor input = normalize_input(spec_, rgb);

  std::vector<int> nodes;
  for (int l : layers)
    if (layer_node_[l] != 0) nodes.push_back(layer_node_[l]);
  if (softmax) nodes.push_back(softmax_node_);
  if (nodes.empty()) nodes.push_back(layer_node_.back());
  std::map<int, Tensor> maps = exec_->run(input, nodes);

  ForwardResult result;
  result.stages = exec_->last_stage_times();
  result.gpu_ms = exec_->last_gpu_ms();
  for (int l : layers) {
    int pads = 0;
    for (int base = l; base > 0 && spec_.modules[base - 1].kind == ModuleKind::Pad; --base)
      pads += spec_.modules[base - 1].pad;
    const Tensor& t = layer_node_[l] == 0 ? input : maps.at(layer_node_[l]);
    result.layers[l] = pads ? ref::pad(t, pads) : t;
  }
  if (softmax) result.layers[-1] = maps.at(softmax_node_);
  return result;
}

}  // namespace overfeat
