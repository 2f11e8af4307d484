// SPDX-License-Identifier: MIT
// The graph IR's shapes and checks, its C++ references, and the ONNX importer on small models
// written here with the protobuf API (no files from elsewhere): folding, fully connected layers
// as convolutions, pads, and the messages for what it refuses. CPU only.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "onnx_builder.hpp"
#include "overfeat/classes.hpp"
#include "overfeat/error.hpp"
#include "overfeat/graph.hpp"
#include "overfeat/graph_onnx.hpp"
#include "overfeat/graph_reference.hpp"
#include "test_support.hpp"

namespace {

using namespace overfeat;
using namespace overfeat::graph;
using onnx::TensorProto;
using overfeat::testing::OnnxBuilder;

std::vector<float> random_values(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

Tensor random_tensor(int c, int h, int w, unsigned seed) {
  Tensor t(c, h, w);
  t.data = random_values(t.size(), seed);
  return t;
}

void expect_near(const Tensor& got, const Tensor& want, float tol = 1e-4f) {
  ASSERT_EQ(got.c, want.c);
  ASSERT_EQ(got.h, want.h);
  ASSERT_EQ(got.w, want.w);
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got.data[i], want.data[i], tol * (1 + std::abs(want.data[i]))) << "at " << i;
}

/// The message of the WeightFileError that `f` throws ("" when it throws none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const WeightFileError& e) {
    return e.what();
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// graph.cpp
// ---------------------------------------------------------------------------------------------

TEST(GraphShapes, WindowOutputFloorAndCeil) {
  EXPECT_EQ(window_output(6, 3, 2, 1, 1, 1, false), 3);
  EXPECT_EQ(window_output(6, 3, 2, 1, 1, 1, true), 4);
  EXPECT_EQ(window_output(7, 3, 1, 2, 0, 0, false), 3);  // dilated: extent 5
  EXPECT_EQ(window_output(224, 7, 2, 1, 3, 3, false), 112);
  // PyTorch's ceil rule: the last window may not start in the trailing pad (values from torch:
  // max_pool2d(5x5, 2, stride 2, padding 1, ceil_mode) is 3x3, not 4x4).
  EXPECT_EQ(window_output(5, 2, 2, 1, 1, 1, true), 3);
  EXPECT_EQ(window_output(13, 3, 2, 1, 0, 0, true), 6);
  EXPECT_EQ(window_output(112, 3, 2, 1, 0, 0, true), 56);
  EXPECT_EQ(window_output(4, 3, 2, 1, 0, 0, true), 2);
  // Does not fit.
  EXPECT_EQ(window_output(2, 3, 1, 1, 0, 0, false), 0);
  EXPECT_EQ(window_output(2, 3, 1, 1, 0, 0, true), 0);
  EXPECT_EQ(window_output(2, 3, 1, 1, 1, 0, false), 1);
  EXPECT_EQ(window_output(0, 1, 1, 1, 0, 0, false), 0);
}

Node conv_node(int in, int out, int k, int stride, int pad, int input_node) {
  Node n;
  n.op = OpKind::Conv;
  n.name = "conv" + std::to_string(input_node);
  n.inputs = {input_node};
  n.conv.in_channels = in;
  n.conv.out_channels = out;
  n.conv.kh = n.conv.kw = k;
  n.conv.stride_h = n.conv.stride_w = stride;
  n.conv.pads = {pad, pad, pad, pad};
  n.conv.weights.assign(static_cast<size_t>(in) * out * k * k, 0.1f);
  n.conv.bias.assign(out, 0.0f);
  return n;
}

Graph small_graph() {
  Graph g;
  g.nodes.push_back(Node{"input", OpKind::Input});
  g.nodes.push_back(conv_node(3, 4, 3, 2, 1, 0));  // 1
  g.nodes.push_back(conv_node(3, 2, 1, 2, 0, 0));  // 2: same size as 1
  Node cat;
  cat.name = "cat";
  cat.op = OpKind::Concat;
  cat.inputs = {1, 2};
  g.nodes.push_back(cat);  // 3
  Node pool;
  pool.name = "pool";
  pool.op = OpKind::Pool;
  pool.inputs = {3};
  pool.pool.kh = pool.pool.kw = 3;
  pool.pool.stride_h = pool.pool.stride_w = 2;
  pool.pool.ceil_mode = true;
  g.nodes.push_back(pool);  // 4
  g.output = 4;
  return g;
}

TEST(GraphShapes, ShapesFollowTheGraph) {
  const Graph g = small_graph();
  g.validate();
  const auto s = g.shapes(13, 11);
  EXPECT_EQ(s[1].c, 4);
  EXPECT_EQ(s[1].h, 7);
  EXPECT_EQ(s[1].w, 6);
  EXPECT_EQ(s[3].c, 6);
  EXPECT_EQ(s[4].h, 3);  // ceil((7 - 3) / 2) + 1
  EXPECT_EQ(s[4].w, 3);  // ceil((6 - 3) / 2) + 1 = 3; the 4th would start past the input
  EXPECT_EQ(g.find("pool"), 4);
  EXPECT_EQ(g.find("nope"), -1);
  // Too small: invalid from the pooling on, no throw.
  const auto tiny = g.shapes(2, 2);
  EXPECT_TRUE(tiny[1].valid());
  EXPECT_FALSE(tiny[4].valid());
}

TEST(GraphShapes, MismatchesThrowNamingTheNode) {
  Graph g = small_graph();
  g.nodes[2].conv.stride_h = 1;  // 13 -> 13 rows against 7
  try {
    g.shapes(13, 11);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'cat'"), std::string::npos) << e.what();
  }
  Graph bad = small_graph();
  bad.nodes[3].inputs = {1, 5};
  EXPECT_THROW(bad.validate(), Error);
  Graph weights = small_graph();
  weights.nodes[1].conv.weights.pop_back();
  EXPECT_THROW(weights.validate(), Error);
  Graph channels = small_graph();
  channels.nodes[1].conv.in_channels = 2;
  channels.nodes[1].conv.weights.resize(2 * 4 * 9);
  EXPECT_THROW(channels.validate(), Error);
}

// ---------------------------------------------------------------------------------------------
// reference.cpp
// ---------------------------------------------------------------------------------------------

TEST(GraphReference, PoolDivisorsAndCeilMode) {
  Tensor in(1, 3, 3, 1.0f);
  PoolParams p;
  p.kind = PoolParams::Kind::Average;
  p.kh = p.kw = 2;
  p.stride_h = p.stride_w = 2;
  p.pads = {1, 1, 0, 0};
  p.ceil_mode = true;
  // 3 + 1 pad: windows start at -1 and 1; (2-1)*2 = 2 < 3 + 1 keeps 2 outputs.
  Tensor out = ref::pool(in, p);
  ASSERT_EQ(out.h, 2);
  EXPECT_FLOAT_EQ(out.at(0, 0, 0), 1.0f);  // pads excluded
  p.count_include_pad = true;
  out = ref::pool(in, p);
  EXPECT_FLOAT_EQ(out.at(0, 0, 0), 0.25f);  // 1 of 4 positions is the input
  EXPECT_FLOAT_EQ(out.at(0, 1, 1), 1.0f);   // the overhang past the input is not counted
  EXPECT_FLOAT_EQ(out.at(0, 0, 1), 0.5f);
}

TEST(GraphReference, LrnWindowIsOnnxs) {
  // size 4: the window of channel c is c-1 .. c+2.
  Tensor in(5, 1, 1);
  in.data = {1, 2, 3, 4, 5};
  LrnParams p;
  p.size = 4;
  p.alpha = 0.4f;
  p.beta = 1.0f;
  p.bias = 1.0f;
  const Tensor out = ref::lrn(in, p);
  EXPECT_NEAR(out.data[0], 1 / (1 + 0.1 * (1 + 4 + 9)), 1e-6);
  EXPECT_NEAR(out.data[1], 2 / (1 + 0.1 * (1 + 4 + 9 + 16)), 1e-6);
  EXPECT_NEAR(out.data[4], 5 / (1 + 0.1 * (16 + 25)), 1e-6);
}

TEST(GraphReference, ConvPadsEqualAPaddedInput) {
  const Tensor in = random_tensor(4, 7, 6, 1);
  ConvParams p;
  p.in_channels = 4;
  p.out_channels = 6;
  p.groups = 2;
  p.kh = 3;
  p.kw = 2;
  p.stride_h = 2;
  p.dilation_w = 2;
  p.pads = {1, 0, 2, 3};
  p.weights = random_values(6 * 2 * 3 * 2, 2);
  p.bias = random_values(6, 3);
  Tensor padded(4, 7 + 3, 6 + 3);
  for (int c = 0; c < 4; ++c)
    for (int y = 0; y < 7; ++y)
      for (int x = 0; x < 6; ++x) padded.at(c, y + 1, x) = in.at(c, y, x);
  ConvParams unpadded = p;
  unpadded.pads = {};
  expect_near(ref::conv(in, p), ref::conv(padded, unpadded));
}

// ---------------------------------------------------------------------------------------------
// onnx_import.cpp
// ---------------------------------------------------------------------------------------------

TEST(GraphOnnx, ConvBatchNormFoldsAndMatchesTheUnfoldedReference) {
  OnnxBuilder m(13, {1, 3, 6, 6});
  const auto w = random_values(4 * 3 * 3 * 3, 10), b = random_values(4, 11);
  const auto scale = random_values(4, 12, 0.5f, 2.0f), shift = random_values(4, 13);
  const auto mean = random_values(4, 14), var = random_values(4, 15, 0.1f, 2.0f);
  m.floats("w", {4, 3, 3, 3}, w);
  m.floats("b", {4}, b);
  m.floats("scale", {4}, scale);
  m.floats("shift", {4}, shift);
  m.floats("mean", {4}, mean);
  m.floats("var", {4}, var);
  auto* conv = m.node("Conv", {"image", "w", "b"}, {"c1"}, "conv1");
  OnnxBuilder::attr(conv, "pads", std::vector<int64_t>{1, 1, 1, 1});
  auto* bn = m.node("BatchNormalization", {"c1", "scale", "shift", "mean", "var"}, {"bn1"}, "bn1");
  OnnxBuilder::attr_f(bn, "epsilon", 1e-3f);
  m.node("Relu", {"bn1"}, {"out"}, "relu1");
  m.output("out");
  const ImportedGraph ig = m.import();
  const Graph& g = ig.graph;
  ASSERT_EQ(g.nodes.size(), 3u);  // input, conv (with the batch norm), relu
  EXPECT_EQ(g.nodes[1].op, OpKind::Conv);
  EXPECT_EQ(g.nodes[1].name, "bn1");  // the conv now computes the batch norm's output
  EXPECT_EQ(g.nodes[2].name, "relu1");
  EXPECT_EQ(g.find("relu1"), g.output);
  EXPECT_EQ(ig.input_name, "image");
  EXPECT_EQ(ig.output_name, "out");
  EXPECT_EQ(ig.input_h, 6);
  EXPECT_EQ(ig.opset, 13);

  const Tensor in = random_tensor(3, 6, 6, 16);
  ConvParams p;
  p.in_channels = 3;
  p.out_channels = 4;
  p.kh = p.kw = 3;
  p.pads = {1, 1, 1, 1};
  p.weights = w;
  p.bias = b;
  Tensor want = ref::conv(in, p);
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < 36; ++i) {
      float& v = want.data[c * 36 + i];
      v = (v - mean[c]) / std::sqrt(var[c] + 1e-3f) * scale[c] + shift[c];
      v = std::max(v, 0.0f);
    }
  expect_near(ref::run(g, in)[static_cast<size_t>(g.output)], want);
}

TEST(GraphOnnx, BatchNormAfterASharedConvIsADepthwiseConv) {
  OnnxBuilder m(13, {1, 2, 4, 4});
  m.floats("w", {2, 2, 1, 1}, random_values(4, 1));
  m.floats("s", {2}, {2.0f, 3.0f});
  m.floats("t", {2}, {0.5f, -0.5f});
  m.floats("mu", {2}, {1.0f, 0.0f});
  m.floats("var", {2}, {1.0f, 4.0f});
  m.node("Conv", {"image", "w"}, {"c"});  // no bias
  auto* bn = m.node("BatchNormalization", {"c", "s", "t", "mu", "var"}, {"bn"});
  OnnxBuilder::attr_f(bn, "epsilon", 0.0f);
  m.node("Add", {"c", "bn"}, {"out"});
  m.output("out");
  const Graph g = m.import().graph;
  ASSERT_EQ(g.nodes.size(), 4u);
  EXPECT_EQ(g.nodes[2].op, OpKind::Conv);
  EXPECT_EQ(g.nodes[2].conv.groups, 2);
  EXPECT_EQ(g.nodes[2].name, "bn");  // unnamed node: its output's name
  const Tensor in = random_tensor(2, 4, 4, 2);
  const auto outs = ref::run(g, in);
  const Tensor& c = outs[1];
  for (int i = 0; i < 16; ++i) {
    EXPECT_NEAR(outs[3].data[i], c.data[i] + (c.data[i] - 1) * 2 + 0.5f, 1e-5);
    EXPECT_NEAR(outs[3].data[16 + i], c.data[16 + i] + c.data[16 + i] / 2 * 3 - 0.5f, 1e-5);
  }
}

/// Input 3x4x4 -> 1x1 conv to 2 channels -> flatten -> fully connected to 5.
struct Classifier {
  std::vector<float> conv_w = random_values(2 * 3, 20), fc = random_values(5 * 32, 21),
                     bias = random_values(5, 22);

  /// What the file computes: the flattened conv output times the matrix.
  std::vector<float> expected(const Tensor& in) const {
    ConvParams p;
    p.in_channels = 3;
    p.out_channels = 2;
    p.weights = conv_w;
    p.bias = {0, 0};
    const Tensor c = ref::conv(in, p);
    std::vector<float> out(5);
    for (int o = 0; o < 5; ++o) {
      double s = bias[o];
      for (int i = 0; i < 32; ++i) s += double{fc[o * 32 + i]} * c.data[i];
      out[o] = static_cast<float>(s);
    }
    return out;
  }
};

void check_classifier(const OnnxBuilder& m, const Classifier& cl) {
  const Graph g = m.import().graph;
  ASSERT_EQ(g.nodes.size(), 3u);
  const Node& fc = g.nodes[2];
  EXPECT_EQ(fc.op, OpKind::Conv);
  EXPECT_EQ(fc.conv.kh, 4);
  EXPECT_EQ(fc.conv.kw, 4);
  EXPECT_EQ(fc.conv.in_channels, 2);
  const Tensor in = random_tensor(3, 4, 4, 23);
  const Tensor out = ref::run(g, in)[static_cast<size_t>(g.output)];
  ASSERT_EQ(out.c, 5);
  ASSERT_EQ(out.h, 1);
  const auto want = cl.expected(in);
  for (int o = 0; o < 5; ++o) EXPECT_NEAR(out.data[o], want[o], 1e-4) << o;
  // Fully convolutional: a larger input gives a map of scores.
  const auto big = g.shapes(7, 9);
  EXPECT_EQ(big[2].h, 4);
  EXPECT_EQ(big[2].w, 6);
}

TEST(GraphOnnx, GemmAfterFlattenIsAConvolutionOverTheMap) {
  Classifier cl;
  for (int trans_b : {0, 1}) {
    SCOPED_TRACE(trans_b);
    OnnxBuilder m(11, {1, 3, 4, 4});
    m.floats("cw", {2, 3, 1, 1}, cl.conv_w);
    std::vector<float> b = cl.fc;
    if (!trans_b)  // stored [32][5]
      for (int o = 0; o < 5; ++o)
        for (int i = 0; i < 32; ++i) b[i * 5 + o] = cl.fc[o * 32 + i];
    m.floats("fc", trans_b ? std::vector<int64_t>{5, 32} : std::vector<int64_t>{32, 5}, b);
    m.floats("fcb", {5}, cl.bias);
    m.node("Conv", {"image", "cw"}, {"c"});
    m.node("Flatten", {"c"}, {"f"});
    auto* gemm = m.node("Gemm", {"f", "fc", "fcb"}, {"scores"}, "fc8");
    OnnxBuilder::attr(gemm, "transB", int64_t{trans_b});
    m.output("scores");
    check_classifier(m, cl);
  }
}

TEST(GraphOnnx, TorchStyleReshapeThenMatMulAndAddIsOneConvolution) {
  // x.view(x.size(0), -1) exports as Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
  Classifier cl;
  OnnxBuilder m(13, {0, 3, 4, 4});  // symbolic batch
  m.floats("cw", {2, 3, 1, 1}, cl.conv_w);
  std::vector<float> b(32 * 5);
  for (int o = 0; o < 5; ++o)
    for (int i = 0; i < 32; ++i) b[i * 5 + o] = cl.fc[o * 32 + i];
  m.floats("fc", {32, 5}, b);
  m.floats("fcb", {5}, cl.bias);
  m.ints("zero", {}, {0});
  m.ints("axes", {1}, {0});
  m.ints("minus1", {1}, {-1});
  m.node("Conv", {"image", "cw"}, {"c"});
  m.node("Shape", {"c"}, {"shape"});
  m.node("Gather", {"shape", "zero"}, {"n"});
  m.node("Unsqueeze", {"n", "axes"}, {"n1"});
  m.node("Concat", {"n1", "minus1"}, {"target"});
  OnnxBuilder::attr(m.graph().mutable_node(m.graph().node_size() - 1), "axis", int64_t{0});
  m.node("Reshape", {"c", "target"}, {"flat"});
  m.node("MatMul", {"flat", "fc"}, {"mm"});
  m.node("Add", {"mm", "fcb"}, {"scores"});
  m.output("scores");
  check_classifier(m, cl);
  EXPECT_EQ(m.import().graph.nodes[2].name, "scores");  // the bias folded into the MatMul
}

TEST(GraphOnnx, AsymmetricPadsAndAutoPad) {
  const auto pads_of = [](const std::string& auto_pad, std::vector<int64_t> pads, int stride) {
    OnnxBuilder m(11, {1, 1, 6, 7});
    m.floats("w", {1, 1, 3, 3}, random_values(9, 30));
    auto* conv = m.node("Conv", {"image", "w"}, {"out"});
    if (!auto_pad.empty()) OnnxBuilder::attr_s(conv, "auto_pad", auto_pad);
    if (!pads.empty()) OnnxBuilder::attr(conv, "pads", pads);
    OnnxBuilder::attr(conv, "strides", std::vector<int64_t>{stride, stride});
    m.output("out");
    const Graph g = m.import().graph;
    const Pads p = g.nodes[1].conv.pads;
    return std::vector<int>{p.top, p.left, p.bottom, p.right};
  };
  // ONNX orders pads as [top, left, bottom, right].
  EXPECT_EQ(pads_of("", {0, 1, 2, 0}, 1), (std::vector<int>{0, 1, 2, 0}));
  // SAME, stride 2: out = ceil(6/2) = 3 rows need (3-1)*2+3-6 = 1 pad; ceil(7/2) = 4 columns
  // need (4-1)*2+3-7 = 2. UPPER puts the odd one at the end, LOWER at the start.
  EXPECT_EQ(pads_of("SAME_UPPER", {}, 2), (std::vector<int>{0, 1, 1, 1}));
  EXPECT_EQ(pads_of("SAME_LOWER", {}, 2), (std::vector<int>{1, 1, 0, 1}));
  EXPECT_EQ(pads_of("VALID", {}, 1), (std::vector<int>{0, 0, 0, 0}));

  // The asymmetric conv computes what ONNX does: zeros added only where the pads say.
  OnnxBuilder m(11, {1, 1, 5, 5});
  const auto w = random_values(9, 31);
  m.floats("w", {1, 1, 3, 3}, w);
  auto* conv = m.node("Conv", {"image", "w"}, {"out"});
  OnnxBuilder::attr(conv, "pads", std::vector<int64_t>{1, 0, 0, 2});
  m.output("out");
  const Graph g = m.import().graph;
  const Tensor in = random_tensor(1, 5, 5, 32);
  const Tensor out = ref::run(g, in)[1];
  ASSERT_EQ(out.h, 4);  // 5 + 1 - 2
  ASSERT_EQ(out.w, 5);  // 5 + 2 - 2
  // Output (0, 4): rows -1..1, columns 4..6 (5 and 6 are pads).
  float want = 0;
  for (int ky = 0; ky < 3; ++ky)
    for (int kx = 0; kx < 3; ++kx) {
      const int y = ky - 1, x = 4 + kx;
      if (y >= 0 && x < 5) want += w[ky * 3 + kx] * in.at(0, y, x);
    }
  EXPECT_NEAR(out.at(0, 0, 4), want, 1e-5);
}

TEST(GraphOnnx, PadFoldsIntoTheConvOrAveragePoolAfterIt) {
  // torch writes AvgPool2d(count_include_pad=True) as Pad + AveragePool, and ZeroPad2d + Conv.
  OnnxBuilder m(13, {1, 2, 5, 6});
  const auto w = random_values(3 * 2 * 3 * 3, 50);
  m.floats("w", {3, 2, 3, 3}, w);
  m.ints("pads", {8}, {0, 0, 1, 2, 0, 0, 2, 1});  // top 1, left 2, bottom 2, right 1
  m.node("Pad", {"image", "pads"}, {"padded"});
  auto* conv = m.node("Conv", {"padded", "w"}, {"c"}, "conv");
  OnnxBuilder::attr(conv, "pads", std::vector<int64_t>{1, 0, 0, 0});
  auto* pool = m.node("AveragePool", {"padded"}, {"a"}, "avg");
  OnnxBuilder::attr(pool, "kernel_shape", std::vector<int64_t>{3, 3});
  OnnxBuilder::attr(pool, "pads", std::vector<int64_t>{1, 0, 0, 0});
  OnnxBuilder::attr(pool, "count_include_pad", int64_t{1});
  m.node("Concat", {"c", "a"}, {"out"}, "cat");
  OnnxBuilder::attr(m.graph().mutable_node(3), "axis", int64_t{1});
  m.output("out");
  const Graph g = m.import().graph;
  ASSERT_EQ(g.nodes.size(), 4u);
  EXPECT_EQ(g.nodes[1].conv.pads.top, 2);
  EXPECT_EQ(g.nodes[1].conv.pads.left, 2);
  EXPECT_TRUE(g.nodes[2].pool.count_include_pad);  // the Pad's zeros are values

  const Tensor in = random_tensor(2, 5, 6, 51);
  Tensor padded(2, 8, 9);
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 5; ++y)
      for (int x = 0; x < 6; ++x) padded.at(c, y + 1, x + 2) = in.at(c, y, x);
  ConvParams p;
  p.in_channels = 2;
  p.out_channels = 3;
  p.kh = p.kw = 3;
  p.pads = {1, 0, 0, 0};
  p.weights = w;
  p.bias.assign(3, 0.0f);
  PoolParams avg;
  avg.kind = PoolParams::Kind::Average;
  avg.kh = avg.kw = 3;
  avg.pads = {1, 0, 0, 0};
  avg.count_include_pad = true;
  const Tensor c = ref::conv(padded, p), a = ref::pool(padded, avg);
  const auto outs = ref::run(g, in);
  expect_near(outs[1], c);
  expect_near(outs[2], a);
}

TEST(GraphOnnx, PadIsRefusedWhereItsZerosWouldMeanSomethingElse) {
  {
    OnnxBuilder m(11);
    m.ints("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1});
    m.node("Pad", {"image", "pads"}, {"padded"});
    auto* pool = m.node("MaxPool", {"padded"}, {"out"}, "maxpool");
    OnnxBuilder::attr(pool, "kernel_shape", std::vector<int64_t>{3, 3});
    m.output("out");
    const std::string msg = error_of([&] { m.import(); });
    EXPECT_NE(msg.find("'maxpool'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("zero-padded"), std::string::npos) << msg;
  }
  {
    OnnxBuilder m(9);
    auto* pad = m.node("Pad", {"image"}, {"padded"}, "reflect");
    OnnxBuilder::attr(pad, "pads", std::vector<int64_t>{0, 0, 1, 1, 0, 0, 1, 1});
    OnnxBuilder::attr_s(pad, "mode", "reflect");
    m.node("Relu", {"padded"}, {"out"});
    m.output("out");
    EXPECT_NE(error_of([&] { m.import(); }).find("mode 'reflect'"), std::string::npos);
  }
}

TEST(GraphOnnx, LegacyBroadcastBiasFoldsIntoTheConv) {
  // Opset 6 (Caffe2-era files): Add with broadcast 1 and axis 1 adds a bias per channel.
  OnnxBuilder m(6, {1, 3, 4, 4});
  m.floats("w", {2, 3, 1, 1}, random_values(6, 60));
  m.floats("b", {2}, {0.25f, -4.0f});
  m.node("Conv", {"image", "w"}, {"c"}, "conv");
  auto* add = m.node("Add", {"c", "b"}, {"out"}, "bias");
  OnnxBuilder::attr(add, "broadcast", int64_t{1});
  OnnxBuilder::attr(add, "axis", int64_t{1});
  m.output("out");
  auto* meta = m.proto().add_metadata_props();
  meta->set_key("author");
  meta->set_value("test");
  const ImportedGraph ig = m.import();
  ASSERT_EQ(ig.graph.nodes.size(), 2u);
  EXPECT_EQ(ig.graph.nodes[1].conv.bias, (std::vector<float>{0.25f, -4.0f}));
  EXPECT_EQ(ig.graph.nodes[1].name, "bias");
  EXPECT_EQ(ig.opset, 6);
  EXPECT_EQ(ig.metadata.at("author"), "test");
}

TEST(GraphOnnx, OpsetThreeFilesReadLikeTheirModernForm) {
  // The Model Zoo's oldest classics: Reshape's shape as an attribute, Gemm with broadcast.
  const auto fc = random_values(4 * 18, 80);
  const auto build = [&](int opset) {
    OnnxBuilder m(opset, {1, 2, 3, 3});
    m.floats("fc", {4, 18}, fc);
    m.floats("b", {4}, {1, 2, 3, 4});
    onnx::NodeProto* reshape;
    if (opset < 5) {
      reshape = m.node("Reshape", {"image"}, {"f"});
      OnnxBuilder::attr(reshape, "shape", std::vector<int64_t>{1, -1});
    } else {
      m.ints("shape", {2}, {1, -1});
      reshape = m.node("Reshape", {"image", "shape"}, {"f"});
    }
    auto* gemm = m.node("Gemm", {"f", "fc", "b"}, {"g"});
    OnnxBuilder::attr(gemm, "transB", int64_t{1});
    if (opset < 7) OnnxBuilder::attr(gemm, "broadcast", int64_t{1});
    m.node("Softmax", {"g"}, {"p"});
    m.output("p");
    return m.import().graph;
  };
  const Tensor in = random_tensor(2, 3, 3, 81);
  const Graph old = build(3), modern = build(13);
  expect_near(ref::run(old, in)[static_cast<size_t>(old.output)],
              ref::run(modern, in)[static_cast<size_t>(modern.output)]);
}

TEST(GraphOnnx, SoftmaxOverClassesAndNodeNames) {
  // Opset 11: softmax at axis 1 of [N, K] after a Gemm is over the classes; at larger inputs it
  // is a softmax over the channels of every pixel. Nodes of the same name get a suffix.
  OnnxBuilder m(11, {1, 2, 3, 3});
  m.floats("fc", {4, 18}, random_values(72, 70));
  m.node("Flatten", {"image"}, {"f"}, "same");
  m.node("Gemm", {"f", "fc"}, {"g"}, "same");
  OnnxBuilder::attr(m.graph().mutable_node(1), "transB", int64_t{1});
  m.node("Softmax", {"g"}, {"p"}, "same");
  m.output("p");
  const Graph g = m.import().graph;
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[1].name, "same");
  EXPECT_EQ(g.nodes[2].name, "same_2");
  EXPECT_EQ(g.nodes[2].op, OpKind::Softmax);
  const Tensor out = ref::run(g, random_tensor(2, 3, 3, 71))[2];
  float sum = 0;
  for (float v : out.data) sum += v;
  EXPECT_NEAR(sum, 1.0f, 1e-6);
}

TEST(GraphOnnx, UnsupportedNodeIsNamedWithWhatIsSupported) {
  OnnxBuilder m;
  m.node("Relu", {"image"}, {"r"});
  m.node("Sigmoid", {"r"}, {"out"}, "my_sigmoid");
  m.output("out");
  const std::string msg = error_of([&] { m.import(); });
  EXPECT_NE(msg.find("test.onnx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("my_sigmoid"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(Sigmoid)"), std::string::npos) << msg;
  EXPECT_NE(msg.find(supported_onnx_ops()), std::string::npos) << msg;
}

TEST(GraphOnnx, RefusalsSayWhy) {
  {  // dilated pooling
    OnnxBuilder m;
    auto* p = m.node("MaxPool", {"image"}, {"out"}, "pool");
    OnnxBuilder::attr(p, "kernel_shape", std::vector<int64_t>{2, 2});
    OnnxBuilder::attr(p, "dilations", std::vector<int64_t>{2, 2});
    m.output("out");
    EXPECT_NE(error_of([&] { m.import(); }).find("dilation"), std::string::npos);
  }
  {  // softmax over C*H*W before opset 13
    OnnxBuilder m(11);
    m.node("Softmax", {"image"}, {"out"}, "sm");
    m.output("out");
    const std::string msg = error_of([&] { m.import(); });
    EXPECT_NE(msg.find("'sm'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("opset 13"), std::string::npos) << msg;
  }
  {  // broadcasting between maps
    OnnxBuilder m;
    m.node("GlobalAveragePool", {"image"}, {"g"});
    m.node("Add", {"image", "g"}, {"out"}, "bcast");
    m.output("out");
    EXPECT_NE(error_of([&] { m.import(); }).find("broadcasting"), std::string::npos);
  }
  {  // opset out of range
    OnnxBuilder m(18);
    m.node("Relu", {"image"}, {"out"});
    m.output("out");
    EXPECT_NE(error_of([&] { m.import(); }).find("opset 18"), std::string::npos);
  }
  {  // a cycle
    OnnxBuilder m;
    m.node("Add", {"image", "b"}, {"a"});
    m.node("Relu", {"a"}, {"b"});
    m.output("b");
    EXPECT_NE(error_of([&] { m.import(); }).find("cycle"), std::string::npos);
  }
}

TEST(GraphOnnx, OldFilesAndOtherForms) {
  // Opset 9 style: weights listed as inputs, nodes out of order, Clip with attributes, float16
  // weights cast to float, Dropout and Identity vanish, a dead branch is dropped.
  OnnxBuilder m(9, {1, 2, 5, 5}, "data");
  auto* w = m.graph().add_initializer();
  w->set_name("w16");
  w->set_data_type(TensorProto::FLOAT16);
  for (int64_t d : {1, 2, 1, 1}) w->add_dims(d);
  w->add_int32_data(0x3c00);  // 1.0
  w->add_int32_data(0xc000);  // -2.0
  auto* listed = m.graph().add_input();
  listed->set_name("w16");
  auto* clip = m.node("Clip", {"d"}, {"out"}, "relu6");
  OnnxBuilder::attr_f(clip, "min", 0.0f);
  OnnxBuilder::attr_f(clip, "max", 6.0f);
  m.node("Cast", {"w16"}, {"w"});
  OnnxBuilder::attr(m.graph().mutable_node(1), "to", int64_t{TensorProto::FLOAT});
  m.node("Conv", {"data", "w"}, {"c"});
  m.node("Dropout", {"c"}, {"d"});
  m.node("Identity", {"data"}, {"unused"});
  m.output("out");
  const ImportedGraph ig = m.import();
  const Graph& g = ig.graph;
  EXPECT_EQ(ig.input_name, "data");
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[1].conv.weights, (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(g.nodes[2].act.kind, Activation::Kind::Clip);
  EXPECT_EQ(g.nodes[2].act.hi, 6.0f);
  EXPECT_EQ(g.nodes[2].name, "relu6");
}

TEST(GraphOnnx, MissingTruncatedAndEmptyFiles) {
  overfeat::testing::TempDir dir("graph_onnx");
  std::string msg = error_of([&] { import_onnx(dir / "none.onnx"); });
  EXPECT_NE(msg.find("none.onnx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;

  OnnxBuilder m;
  m.floats("w", {8, 3, 3, 3}, random_values(8 * 27, 40));
  m.node("Conv", {"image", "w"}, {"out"});
  m.output("out");
  const std::string bytes = m.bytes();
  const auto cut = dir / "cut.onnx";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  msg = error_of([&] { import_onnx(cut); });
  EXPECT_NE(msg.find("cut.onnx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  const auto empty = dir / "empty.onnx";
  std::ofstream(empty, std::ios::binary).flush();
  EXPECT_NE(error_of([&] { import_onnx(empty); }).find("empty"), std::string::npos);

  const auto whole = dir / "whole.onnx";
  std::ofstream(whole, std::ios::binary) << bytes;
  EXPECT_EQ(import_onnx(whole).graph.nodes.size(), 2u);
}

TEST(GraphOnnx, DamagedShapesAreRefusedNotTrusted) {
  // Weights whose shape claims far more values than the file holds.
  OnnxBuilder m;
  auto* w = m.floats("w", {8, 3, 3, 3}, random_values(8 * 27, 41));
  w->set_dims(0, int64_t{1} << 40);
  m.node("Conv", {"image", "w"}, {"out"});
  m.output("out");
  EXPECT_FALSE(error_of([&] { m.import(); }).empty());
  // An empty constant (a 0 in its shape) whose other axes multiply past 2^63: fuzz_graph found
  // Flatten computing that product with signed overflow; Gather's loops had the same product.
  const int64_t axis16 = int64_t{1} << 16;  // the longest axis a folded constant may have
  const std::vector<std::pair<std::string, std::vector<int64_t>>> cases{
      {"Flatten", {int64_t{1} << 62, 58, 0}}, {"Gather", {axis16, axis16, axis16, axis16, 0}}};
  for (const auto& [op, dims] : cases) {
    OnnxBuilder e;
    e.floats("c", dims, {});
    e.ints("i", {1}, {0});
    auto* node = e.node(
        op, op == "Gather" ? std::vector<std::string>{"c", "i"} : std::vector<std::string>{"c"},
        {"flat"});
    OnnxBuilder::attr(node, "axis", static_cast<int64_t>(dims.size()) - 1);
    e.node("Conv", {"image", "flat"}, {"out"});
    e.output("out");
    const std::string msg = error_of([&] { e.import(); });
    EXPECT_NE(msg.find("too large"), std::string::npos) << op << ": " << msg;
  }
  {  // Reshape of an empty constant to such a shape: the given sizes multiplied with overflow
    OnnxBuilder e;
    e.floats("c", {0}, {});
    e.ints("shape", {5}, {axis16, axis16, axis16, axis16, -1});
    e.node("Reshape", {"c", "shape"}, {"r"});
    e.node("Conv", {"image", "r"}, {"out"});
    e.output("out");
    const std::string msg = error_of([&] { e.import(); });
    EXPECT_NE(msg.find("reshapes a constant to"), std::string::npos) << msg;
  }
  // Every prefix of a valid file: refused or read, never a crash.
  OnnxBuilder ok;
  ok.floats("w", {2, 3, 3, 3}, random_values(54, 42));
  ok.node("Conv", {"image", "w"}, {"out"});
  ok.output("out");
  const std::string bytes = ok.bytes();
  for (size_t n = 0; n < bytes.size(); n += 7) {
    try {
      import_onnx_bytes(bytes.substr(0, n), "prefix.onnx");
    } catch (const WeightFileError&) {
    }
  }
}

// The sorted-synset order of torchvision's networks, mapped onto the official order by name: a
// permutation, names agreeing, the two "crane"s told apart by wnid (the bird among the herons,
// the machine among the tools).
TEST(Synsets, MapOntoTheOfficialOrderOneToOne) {
  const auto& synsets = overfeat::imagenet_synsets();
  const auto& official = overfeat::official_class_names();
  ASSERT_EQ(synsets.size(), 1000u);
  std::vector<int> seen(1000, 0);
  for (const auto& s : synsets) {
    ASSERT_GE(s.official_index, 0);
    ASSERT_LT(s.official_index, 1000);
    ++seen[s.official_index];
    EXPECT_EQ(official[s.official_index], s.name) << s.wnid;
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 1000);
  EXPECT_EQ(synsets.front().wnid, "n01440764");  // tench: sorted order, unlike "kit fox" first
  for (const auto& s : synsets) {
    if (s.wnid == "n02012849") EXPECT_EQ(official[s.official_index - 1], "bittern");
    if (s.wnid == "n03126707") EXPECT_EQ(official[s.official_index + 1].rfind("lighter", 0), 0u);
  }
}

}  // namespace
