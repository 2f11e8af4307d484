// SPDX-License-Identifier: MIT
#include "overfeat/netspec.hpp"

#include <algorithm>
#include <sstream>

#include "overfeat/error.hpp"

namespace overfeat {
namespace {

// The official networks, in the release's module order (see docs: layer numbering).
const char* kFastNet =
    "conv:96:11:4 relu pool:2 conv:256:5:1 relu pool:2 "
    "pad:1 conv:512:3:1 relu pad:1 conv:1024:3:1 relu pad:1 conv:1024:3:1 relu pool:2 "
    "conv:3072:6:1 relu conv:4096:1:1 relu conv:1000:1:1";
const char* kAccurateNet =
    "conv:96:7:2 relu pool:3 conv:256:7:1 relu pool:2 "
    "pad:1 conv:512:3:1 relu pad:1 conv:512:3:1 relu pad:1 conv:1024:3:1 relu "
    "pad:1 conv:1024:3:1 relu pool:3 conv:4096:5:1 relu conv:4096:1:1 relu conv:1000:1:1";

std::vector<int> split_ints(const std::string& token, std::string& head) {
  std::vector<int> values;
  std::stringstream ss(token);
  std::string part;
  std::getline(ss, head, ':');
  while (std::getline(ss, part, ':')) {
    try {
      size_t used = 0;
      values.push_back(std::stoi(part, &used));
      if (used != part.size()) throw std::invalid_argument(part);
    } catch (const std::exception&) {
      throw Error("Network description: '" + token + "' has a non-integer field '" + part + "'");
    }
  }
  return values;
}

}  // namespace

NetSpec NetSpec::parse(const std::string& name, const std::string& text) {
  NetSpec spec;
  spec.name = name;
  std::stringstream ss(text);
  std::string token;
  int convs = 0, pools = 0;
  while (ss >> token) {
    std::string head;
    auto v = split_ints(token, head);
    Module m;
    auto need = [&](size_t n) {
      if (v.size() != n)
        throw Error("Network description: '" + token + "' needs " + std::to_string(n) + " numbers");
    };
    if (head == "conv") {
      need(3);
      m.kind = ModuleKind::Conv;
      m.out_channels = v[0];
      m.kernel = v[1];
      m.stride = v[2];
      m.name = "conv" + std::to_string(++convs);
      if (m.out_channels <= 0 || m.kernel <= 0 || m.stride <= 0)
        throw Error("Network description: '" + token + "' must have positive fields");
    } else if (head == "relu") {
      need(0);
      m.kind = ModuleKind::Relu;
      m.name = "relu" + std::to_string(convs);
    } else if (head == "pool") {
      need(1);
      m.kind = ModuleKind::MaxPool;
      m.kernel = v[0];
      m.stride = v[0];
      m.name = "pool" + std::to_string(++pools);
      if (m.kernel <= 0) throw Error("Network description: pool kernel must be positive");
    } else if (head == "pad") {
      need(1);
      m.kind = ModuleKind::Pad;
      m.pad = v[0];
      m.name = "pad" + std::to_string(convs + 1);
      if (m.pad < 0) throw Error("Network description: negative padding");
    } else {
      throw Error("Network description: unknown module '" + token + "'");
    }
    spec.modules.push_back(m);
  }
  if (convs == 0) throw Error("Network description '" + name + "' has no convolution");
  // The window is the smallest square input whose output is 1x1.
  spec.window = 0;
  for (int s = 1; s <= 4096 && spec.window == 0; ++s) {
    int c, h, w;
    spec.layer_shape(spec.num_layers(), s, s, c, h, w);
    if (h >= 1) spec.window = s;
  }
  spec.default_feature_layer = spec.num_layers();
  return spec;
}

NetSpec NetSpec::official(int net_index) {
  if (net_index != 0 && net_index != 1)
    throw Error("Official network index must be 0 (fast) or 1 (accurate)");
  NetSpec spec =
      parse(net_index == 0 ? "fast" : "accurate", net_index == 0 ? kFastNet : kAccurateNet);
  spec.default_feature_layer = net_index == 0 ? 19 : 22;
  return spec;
}

int output_side(const std::vector<Module>& modules, int first, int last, int s) {
  for (int i = first; i < last && s > 0; ++i) {
    const Module& m = modules[i];
    if (m.kind == ModuleKind::Pad) s += 2 * m.pad;
    if (m.kind == ModuleKind::MaxPool) s /= m.kernel;
    if (m.kind == ModuleKind::Conv) s = s < m.kernel ? 0 : (s - m.kernel) / m.stride + 1;
  }
  return s > 0 ? s : 0;
}

int output_stride(const std::vector<Module>& modules, int first, int last) {
  int s = 1;
  for (int i = first; i < last; ++i)
    if (modules[i].kind == ModuleKind::Conv || modules[i].kind == ModuleKind::MaxPool)
      s *= modules[i].stride;
  return s;
}

void NetSpec::layer_shape(int layer, int in_h, int in_w, int& c, int& h, int& w) const {
  const int last = std::min(layer, num_layers());
  c = input_channels;
  for (int i = 0; i < last; ++i)
    if (modules[i].kind == ModuleKind::Conv) c = modules[i].out_channels;
  h = output_side(modules, 0, last, in_h);
  w = output_side(modules, 0, last, in_w);
  if (h <= 0 || w <= 0) h = w = 0;
}

void NetSpec::receptive_field(int layer, int y, int x, int& y0, int& y1, int& x0, int& x1) const {
  // Back from the layer to the input, one module at a time: a conv or pooling of kernel k and
  // stride s sees [a s, b s + k - 1] of its input; padding shifts by its width.
  y0 = y1 = y;
  x0 = x1 = x;
  for (int i = std::min(layer, num_layers()) - 1; i >= 0; --i) {
    const Module& m = modules[i];
    if (m.kind == ModuleKind::Pad) {
      y0 -= m.pad, y1 -= m.pad, x0 -= m.pad, x1 -= m.pad;
    } else if (m.kind == ModuleKind::Conv || m.kind == ModuleKind::MaxPool) {
      const int s = m.kind == ModuleKind::Conv ? m.stride : m.kernel;
      y0 *= s, x0 *= s;
      y1 = y1 * s + m.kernel - 1, x1 = x1 * s + m.kernel - 1;
    }
  }
  ++y1, ++x1;  // half-open
}

long long NetSpec::parameter_count() const {
  long long n = 0;
  int c = input_channels;
  for (const Module& m : modules)
    if (m.kind == ModuleKind::Conv) {
      n += static_cast<long long>(m.out_channels) * c * m.kernel * m.kernel + m.out_channels;
      c = m.out_channels;
    }
  return n;
}

int NetSpec::total_stride() const {
  return output_stride(modules, 0, num_layers());
}

int NetSpec::last_pool_index() const {
  for (int i = num_layers() - 1; i >= 0; --i)
    if (modules[i].kind == ModuleKind::MaxPool) return i;
  return -1;
}

}  // namespace overfeat
