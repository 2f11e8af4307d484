// SPDX-License-Identifier: MIT
// Model: heads, consistency checks and the official networks as models. The ONNX reading and
// writing is in model_onnx.cpp.
#include <cmath>
#include <string>

#include "overfeat/classes.hpp"
#include "overfeat/error.hpp"
#include "overfeat/model.hpp"

namespace overfeat {

int Head::out_channels() const {
  for (auto it = modules.rbegin(); it != modules.rend(); ++it)
    if (it->kind == ModuleKind::Conv) return it->out_channels;
  return 0;
}

int Head::reach() const {
  // Receptive field, in input cells, of one output cell: padding shifts it but does not resize it.
  int r = 1;
  for (auto it = modules.rbegin(); it != modules.rend(); ++it)
    if (it->kind == ModuleKind::Conv || it->kind == ModuleKind::MaxPool)
      r = (r - 1) * it->stride + it->kernel;
  return r;
}

namespace {

[[noreturn]] void invalid(const Model& model, const std::string& what) {
  throw Error("Model '" + model.net.name + "' is inconsistent: " + what);
}

std::string shape_of(const ConvWeights& cw) {
  return std::to_string(cw.out) + "x" + std::to_string(cw.in) + "x" + std::to_string(cw.k) + "x" +
         std::to_string(cw.k);
}

/// Checks one conv module against its weights and the channels coming in.
void check_conv(const Model& model, const Module& m, const ConvWeights& cw, int in_channels) {
  if (m.out_channels <= 0 || m.kernel <= 0 || m.stride <= 0)
    invalid(model, m.name + " must have positive channels, kernel and stride");
  if (cw.out != m.out_channels || cw.in != in_channels || cw.k != m.kernel)
    invalid(model, m.name + " expects weights " + std::to_string(m.out_channels) + "x" +
                       std::to_string(in_channels) + "x" + std::to_string(m.kernel) + "x" +
                       std::to_string(m.kernel) + ", the weights are " + shape_of(cw));
  const size_t w = static_cast<size_t>(cw.out) * cw.in * cw.k * cw.k;
  if (cw.w.size() != w || cw.b.size() != static_cast<size_t>(cw.out))
    invalid(model, m.name + " has " + std::to_string(cw.w.size()) + " weights and " +
                       std::to_string(cw.b.size()) + " biases for a " + shape_of(cw) + " conv");
}

/// Checks a module chain against its convs; returns the channels it outputs.
int check_chain(const Model& model, const std::vector<Module>& modules,
                const std::vector<ConvWeights>& convs, int channels) {
  size_t next = 0;
  for (size_t i = 0; i < modules.size(); ++i) {
    const Module& m = modules[i];
    if (m.kind == ModuleKind::Pad) {
      size_t j = i + 1;
      while (j < modules.size() && modules[j].kind == ModuleKind::Pad) ++j;
      if (m.pad < 0 || j == modules.size() || modules[j].kind != ModuleKind::Conv)
        invalid(model, m.name + " must be a non-negative padding followed by a conv");
    } else if (m.kind == ModuleKind::MaxPool && m.kernel <= 0) {
      invalid(model, m.name + " must have a positive kernel");
    } else if (m.kind == ModuleKind::Conv) {
      if (next >= convs.size())
        invalid(model, "there are fewer weights (" + std::to_string(convs.size()) +
                           " convs) than conv modules");
      check_conv(model, m, convs[next++], channels);
      channels = m.out_channels;
    }
  }
  if (next != convs.size())
    invalid(model, "there are more weights (" + std::to_string(convs.size()) + " convs) than " +
                       std::to_string(next) + " conv modules");
  return channels;
}

/// The largest zero padding a layer may add on each side (the classic networks pad by at most
/// a few pixels).
constexpr int kMaxPad = 64;

/// Output side of a module chain for an input of side n (0 when too small).
int out_side(const std::vector<Module>& modules, int n) {
  for (const Module& m : modules) {
    if (m.kind == ModuleKind::Pad) n += 2 * m.pad;
    if (m.kind == ModuleKind::MaxPool) n /= m.kernel;
    if (m.kind == ModuleKind::Conv) n = n < m.kernel ? 0 : (n - m.kernel) / m.stride + 1;
    if (n <= 0) return 0;
  }
  return n;
}

int trunk_channels(const Model& model) {
  int c = model.net.input_channels;
  for (int i = 0; i <= model.trunk_end(); ++i)
    if (model.net.modules[i].kind == ModuleKind::Conv) c = model.net.modules[i].out_channels;
  return c;
}

void check_net(const Model& model) {
  const NetSpec& net = model.net;
  if (net.input_channels != 3) invalid(model, "the input must have 3 (RGB) channels");
  if (model.trunk_end() < 0)
    invalid(model, "the network has no max pooling, so it has no trunk for the heads");
  if (!std::isfinite(net.mean) || !std::isfinite(net.stddev) || !(net.stddev > 0))
    invalid(model, "the input normalization needs a finite mean and a positive stddev");
  for (const Module& m : net.modules)
    if (m.kind == ModuleKind::Pad && m.pad > kMaxPad)
      invalid(model, m.name + " pads by " + std::to_string(m.pad) + " pixels; pads of at most " +
                         std::to_string(kMaxPad) +
                         " are supported (larger ones make every input's buffers huge)");
  if (net.default_feature_layer < 1 || net.default_feature_layer > net.num_layers())
    invalid(model, "the default feature layer " + std::to_string(net.default_feature_layer) +
                       " is not a layer of the network (1.." + std::to_string(net.num_layers()) +
                       ")");
  const int classes = check_chain(model, net.modules, model.weights.convs, net.input_channels);
  const std::vector<Module> head(net.modules.begin() + model.trunk_end() + 1, net.modules.end());
  if (Head{head, {}}.out_channels() == 0)
    invalid(model, "the classifier (after the last max pooling) has no conv");
  if (static_cast<int>(model.classes.size()) != classes)
    invalid(model, std::to_string(model.classes.size()) + " class names for " +
                       std::to_string(classes) + " classifier outputs");
  int c, h, w;
  net.layer_shape(net.num_layers(), 4096, 4096, c, h, w);
  if (h < 1) invalid(model, "the network gives no output for inputs up to 4096x4096");
}

void check_regressor(const Model& model, const Head& reg) {
  for (const Module& m : reg.modules)
    if (m.kind == ModuleKind::MaxPool) invalid(model, "the regressor cannot hold " + m.name);
  const int out = check_chain(model, reg.modules, reg.convs, trunk_channels(model));
  const int classes = static_cast<int>(model.classes.size());
  if (reg.out_channels() == 0 || (out != 4 && out != 4 * classes))
    invalid(model, "the regressor gives " + std::to_string(out) + " channels, not 4 or 4 * " +
                       std::to_string(classes) + " classes");
  const std::vector<Module> classifier(model.net.modules.begin() + model.trunk_end() + 1,
                                       model.net.modules.end());
  for (int n = 1; n <= 64; ++n)
    if (out_side(classifier, n) != out_side(reg.modules, n))
      invalid(model, "the regressor's map differs in size from the classifier's (on a " +
                         std::to_string(n) + "x" + std::to_string(n) +
                         " pooled map); give both heads the same kernels and strides");
}

}  // namespace

void Model::validate() const {
  check_net(*this);
  if (background < -1 || background >= static_cast<int>(classes.size()))
    invalid(*this, "background index " + std::to_string(background) + " is not a class");
  if (regressor) check_regressor(*this, *regressor);
}

Model official_model(int net_index, const std::filesystem::path& weights_dir) {
  Model model;
  model.net = NetSpec::official(net_index);
  const std::filesystem::path file = official_weight_path(weights_dir, net_index);
  model.weights = load_weights(file, model.net);
  model.classes = official_class_names();
  model.metadata["source"] = file.string();
  model.validate();
  return model;
}

}  // namespace overfeat
