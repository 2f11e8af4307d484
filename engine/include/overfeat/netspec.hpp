// SPDX-License-Identifier: MIT
// Networks as data: the release's module list (conv, relu, pool, pad) with its numbering, so
// the official nets and the project's own trained nets run through the same code.
#pragma once
#include <string>
#include <vector>

namespace overfeat {

enum class ModuleKind { Conv, Relu, MaxPool, Pad };

/// One module of the release's list. Module i (1-based) is layer i of `-L i`; layer 0 is the
/// normalized input.
struct Module {
  ModuleKind kind = ModuleKind::Conv;
  std::string name;  ///< conv1, relu1, pool1, pad3, ...
  int kernel = 1;    ///< conv: kernel size; pool: kernel = stride
  int stride = 1;    ///< conv stride
  int pad = 0;       ///< pad: pixels of zeros on every side
  int out_channels = 0;
};

/// Side length after modules [first, last) for an input side `s` (0 when too small).
int output_side(const std::vector<Module>& modules, int first, int last, int s);
/// Product of the strides of modules [first, last) (convolutions and poolings).
int output_stride(const std::vector<Module>& modules, int first, int last);

/// A whole network: its modules and input conventions.
struct NetSpec {
  std::string name;             ///< "fast", "accurate", or a trained model's name
  std::vector<Module> modules;  ///< in release order
  int input_channels = 3;
  int window = 231;  ///< smallest input that gives a 1x1 output
  int default_feature_layer = 19;
  /// The model's own scale list for detecting in a still (a model file's
  /// overfeat.detection_scales, chosen on validation images), what the scale list "model" means;
  /// empty: the paper's scales.
  std::string detection_scales;
  float mean = 118.380948f;  ///< input normalization: (v - mean) / stddev, v in 0..255
  float stddev = 61.896913f;

  /// Parses a compact description, one module per token separated by spaces or newlines:
  /// `conv:OUT:K:S` (conv with OUT channels, KxK kernel, stride S), `relu`, `pool:K`, `pad:P`.
  static NetSpec parse(const std::string& name, const std::string& text);
  /// The official OverFeat networks, net index 0 (fast) and 1 (accurate).
  static NetSpec official(int net_index);

  int num_layers() const { return static_cast<int>(modules.size()); }
  /// Output (channels, height, width) of layer `layer` (release numbering) for an HxW input;
  /// height or width <= 0 means the input is too small.
  void layer_shape(int layer, int in_h, int in_w, int& c, int& h, int& w) const;
  /// The input pixels cell (y, x) of layer `layer` (release numbering) sees, its receptive
  /// field: rows [y0, y1) and columns [x0, x1) of the network's input, unclamped (a padding
  /// layer's cells see beyond the input's edge).
  void receptive_field(int layer, int y, int x, int& y0, int& y1, int& x0, int& x1) const;
  /// Floats of all conv weights and biases, in file order.
  long long parameter_count() const;
  /// Total stride of the whole network (32 fast, 36 accurate).
  int total_stride() const;
  /// Index (0-based) of the last max-pooling module: where fine-stride offsets apply.
  int last_pool_index() const;
};

}  // namespace overfeat
