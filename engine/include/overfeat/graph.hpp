// SPDX-License-Identifier: MIT
// Networks as graphs: the classic ImageNet networks (AlexNet, VGG, GoogLeNet, ResNet,
// SqueezeNet, MobileNet, DenseNet) as a DAG of a few image-to-image operations on one image
// (batch 1, CHW maps). "Fully connected" layers are convolutions, as OverFeat ran them, so every
// graph slides over a larger input. Importers (ONNX) fold batch normalization into convolutions,
// drop Dropout and Identity, and turn Flatten/Reshape + Gemm/MatMul into convolutions; what
// remains is this closed set of ops, each with a plain C++ reference (graph_reference.hpp) and a
// Vulkan shader.
#pragma once
#include <string>
#include <vector>

namespace overfeat::graph {

enum class OpKind {
  Input,       ///< the graph's one input (node 0)
  Conv,        ///< convolution: groups (incl. depthwise), stride, dilation, asymmetric pads, bias
  Activation,  ///< Relu, Clip (ReLU6) or LeakyRelu, element-wise
  Pool,        ///< max or average pooling: any kernel and stride, pads, ceil mode
  GlobalPool,  ///< global average or max pooling: C x 1 x 1
  Lrn,         ///< local response normalization across channels (AlexNet, GoogLeNet)
  Add,         ///< element-wise sum of two maps of the same shape
  Concat,      ///< concatenation along channels, inputs in order
  Softmax,     ///< softmax over channels at every pixel
};

/// An element-wise activation; kind None is the identity. Conv and Add may carry one (fused).
struct Activation {
  enum class Kind { None, Relu, Clip, LeakyRelu };
  Kind kind = Kind::None;
  float lo = 0, hi = 0;  ///< Clip: min(max(x, lo), hi)
  float alpha = 0.01f;   ///< LeakyRelu: x < 0 ? alpha * x : x
  bool operator==(const Activation&) const = default;
  float apply(float x) const {
    switch (kind) {
      case Kind::None:
        return x;
      case Kind::Relu:
        return x > 0 ? x : 0;
      case Kind::Clip:
        return x < lo ? lo : (x > hi ? hi : x);
      case Kind::LeakyRelu:
        return x < 0 ? alpha * x : x;
    }
    return x;
  }
};

/// Zero (Conv) or ignored (Pool) border, pixels per side.
struct Pads {
  int top = 0, left = 0, bottom = 0, right = 0;
};

struct ConvParams {
  int out_channels = 0, in_channels = 0, groups = 1;
  int kh = 1, kw = 1;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  Pads pads;
  std::vector<float> weights;  ///< [out][in / groups][kh][kw]
  std::vector<float> bias;     ///< [out] (zeros when the file has none)
  /// These parameters without the weights and biases (no copy of them is made).
  ConvParams geometry() const;
};

struct PoolParams {
  enum class Kind { Max, Average };
  Kind kind = Kind::Max;
  int kh = 1, kw = 1, stride_h = 1, stride_w = 1;
  Pads pads;
  /// Output size rounds up (PyTorch's rule: the last window must start inside the input or the
  /// leading pad).
  bool ceil_mode = false;
  /// Average: the divisor counts padded positions (ONNX count_include_pad). Positions past the
  /// input and the pads (ceil mode) never count.
  bool count_include_pad = false;
  /// The windows start this many input pixels down and right (OverFeat's offset pooling, paper
  /// section 3.3: the same pooling shifted by each offset below its kernel gives a finer
  /// stride); only without pads and ceil mode. The output is the pooling of the input cropped
  /// at (offset_y, offset_x).
  int offset_y = 0, offset_x = 0;
};

struct LrnParams {
  int size = 5;  ///< channels in the window, centred: c - (size-1)/2 .. c + size/2
  float alpha = 1e-4f, beta = 0.75f, bias = 1.0f;
  // y = x / (bias + alpha / size * sum of x^2 over the window) ^ beta
};

struct Node {
  std::string name;  ///< the producing node's name in the file (messages, features by name)
  OpKind op = OpKind::Input;
  std::vector<int> inputs;  ///< indices of earlier nodes
  ConvParams conv;          ///< Conv
  PoolParams pool;          ///< Pool; GlobalPool uses pool.kind only
  LrnParams lrn;            ///< Lrn
  Activation act;           ///< Activation; fused activation of Conv and Add
  /// Conv: runs node `shares`'s weights (an earlier Conv with the same parameters, its own
  /// weights and bias left empty), as the offset copies of a head do (offset_graph); -1: its own.
  int shares = -1;
};

/// A map's shape; h or w <= 0 when the input is too small for the node.
struct Shape {
  int c = 0, h = 0, w = 0;
  bool valid() const { return c > 0 && h > 0 && w > 0; }
};

/// Output size of a pooling or convolution window along one axis (0 when it does not fit).
int window_output(int in, int kernel, int stride, int dilation, int pad_begin, int pad_end,
                  bool ceil_mode);

/// Output size of pooling `p` along one axis (`vertical`: rows) of an input side `in`: its
/// offset, pads and ceil mode included (0 when it does not fit).
int pool_output(const PoolParams& p, int in, bool vertical);

struct Graph {
  std::vector<Node> nodes;  ///< topologically ordered; node 0 is the Input
  int output = 0;           ///< the node whose map is the graph's result
  int input_channels = 3;

  /// Every node's output shape for an input of h x w (invalid shapes where too small).
  /// Throws Error when shapes disagree (Add of different shapes, Concat of different sizes,
  /// conv input channels).
  std::vector<Shape> shapes(int h, int w) const;
  /// The graph without its convolutions' weights and biases (no copy of them is made): for a
  /// graph that an executor uploads from this one (GraphExecutor::lending).
  Graph structure() const;
  /// Index of the node named `name`, or -1.
  int find(const std::string& name) const;
  /// Throws Error naming the node when the graph is malformed (inputs not earlier, wrong input
  /// counts, and with `weights`, weight sizes that do not match the parameters; without, the
  /// structure only, as for a graph whose weights are on the device).
  void validate(bool weights = true) const;
};

}  // namespace overfeat::graph
