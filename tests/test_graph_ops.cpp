// SPDX-License-Identifier: MIT
// The graph ops' shaders (graph_ops.hpp) against the plain C++ references (graph_reference.hpp)
// over the shapes of the classic networks and random ones: groups (depthwise, AlexNet's two),
// dilation, rectangular kernels and strides, asymmetric pads, ceil mode, count_include_pad,
// channel counts that are not multiples of 4, 1x1 maps. The one-op runners fill the output with
// NaN first and check that every padding channel comes back 0. Each failure prints all
// parameters.
#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <utility>

#include "ops/graph_ops.hpp"
#include "ops/one_shot.hpp"
#include "overfeat/graph_reference.hpp"
#include "vulkan_fixture.hpp"

namespace overfeat {
namespace {

using graph::Activation;
using graph::ConvParams;
using graph::LrnParams;
using graph::Pads;
using graph::PoolParams;
using testing::random_tensor;
using testing::relative_error;

Activation relu() {
  Activation a;
  a.kind = Activation::Kind::Relu;
  return a;
}
Activation clip(float lo, float hi) {
  Activation a;
  a.kind = Activation::Kind::Clip;
  a.lo = lo;
  a.hi = hi;
  return a;
}
Activation leaky(float alpha) {
  Activation a;
  a.kind = Activation::Kind::LeakyRelu;
  a.alpha = alpha;
  return a;
}

std::string describe(const Activation& a) {
  switch (a.kind) {
    case Activation::Kind::None:
      return "none";
    case Activation::Kind::Relu:
      return "relu";
    case Activation::Kind::Clip:
      return "clip " + std::to_string(a.lo) + ".." + std::to_string(a.hi);
    case Activation::Kind::LeakyRelu:
      return "leaky " + std::to_string(a.alpha);
  }
  return "?";
}

std::string describe(const Pads& p) {
  return "pads(t" + std::to_string(p.top) + " l" + std::to_string(p.left) + " b" +
         std::to_string(p.bottom) + " r" + std::to_string(p.right) + ")";
}

/// The activations every op with a fused one is tried with; the clip with a positive minimum
/// would turn zero padding channels non-zero if an op did not mask them.
const Activation kActivations[] = {Activation{}, relu(), clip(0, 6), clip(0.25f, 0.75f),
                                   leaky(0.1f)};

struct ConvCase {
  int in_c, out_c, groups, kh, kw, sh, sw, dh, dw;
  Pads pads;
  int h, w;
  Activation act;
};

std::string describe(const ConvCase& c) {
  std::ostringstream s;
  s << "in_c=" << c.in_c << " out_c=" << c.out_c << " groups=" << c.groups << " k=" << c.kh << "x"
    << c.kw << " stride=" << c.sh << "x" << c.sw << " dilation=" << c.dh << "x" << c.dw << " "
    << describe(c.pads) << " input=" << c.h << "x" << c.w << " act=" << describe(c.act);
  return s.str();
}

ConvParams conv_params(const ConvCase& c, std::mt19937& rng) {
  ConvParams p;
  p.out_channels = c.out_c;
  p.in_channels = c.in_c;
  p.groups = c.groups;
  p.kh = c.kh;
  p.kw = c.kw;
  p.stride_h = c.sh;
  p.stride_w = c.sw;
  p.dilation_h = c.dh;
  p.dilation_w = c.dw;
  p.pads = c.pads;
  const int fan_in = c.in_c / c.groups * c.kh * c.kw;
  std::normal_distribution<float> d(0.0f, 1.0f / std::sqrt(static_cast<float>(fan_in)));
  p.weights.resize(static_cast<size_t>(c.out_c) * fan_in);
  for (float& v : p.weights) v = d(rng);
  p.bias.resize(c.out_c);
  for (float& v : p.bias) v = d(rng);
  return p;
}

/// Runs a one-op runner; an exception (the runners throw when a padding channel is not 0) is a
/// failure of this case, reported with the SCOPED_TRACE parameters, and gives an empty tensor.
template <typename F>
Tensor attempt(F&& run) {
  try {
    return run();
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
    return {};
  }
}

class GraphOps : public testing::VulkanTest {
 protected:
  /// Runs the case through GraphConv and the reference; returns whether the general shader ran.
  bool check_conv(const ConvCase& c, std::mt19937& rng, double tolerance = 1e-5) {
    SCOPED_TRACE(describe(c));
    ConvParams p = conv_params(c, rng);
    Tensor in = random_tensor(c.in_c, c.h, c.w, rng);
    Tensor want = graph::ref::conv(in, p, c.act);
    Tensor got = attempt([&] { return ops::run_graph_conv(*lib_, in, p, c.act); });
    EXPECT_EQ(testing::shape(got), testing::shape(want));
    EXPECT_LT(relative_error(got, want), tolerance);
    return ops::GraphConv(*lib_, p, c.act).general();
  }
};

// The classic networks' convolutions, each kind once, on small maps.
TEST_F(GraphOps, ConvMatchesReferenceOnClassicLayers) {
  std::mt19937 rng(2024);
  const Pads p0{}, p1{1, 1, 1, 1}, p2{2, 2, 2, 2}, p3{3, 3, 3, 3};
  const ConvCase cases[] = {
      // AlexNet conv1 (11x11 stride 4) and its two-group conv2 (caffe's), VGG's 3x3
      {3, 8, 1, 11, 11, 4, 4, 1, 1, p2, 27, 31, relu()},
      {8, 12, 2, 5, 5, 1, 1, 1, 1, p2, 7, 6, relu()},   // groups of 4 in, 6 out: scalar
      {16, 24, 2, 3, 3, 1, 1, 1, 1, p1, 6, 5, relu()},  // groups of whole texels
      {5, 9, 1, 3, 3, 1, 1, 1, 1, p1, 9, 8, relu()},
      // ResNet: 7x7 stride 2 pad 3, 1x1 stride 2 projection
      {3, 6, 1, 7, 7, 2, 2, 1, 1, p3, 15, 12, Activation{}},
      {6, 10, 1, 1, 1, 2, 2, 1, 1, p0, 7, 7, Activation{}},
      // MobileNet v2: depthwise 3x3 stride 1 and 2 with ReLU6, pointwise without activation
      {13, 13, 13, 3, 3, 1, 1, 1, 1, p1, 7, 9, clip(0, 6)},
      {16, 16, 16, 3, 3, 2, 2, 1, 1, p1, 8, 7, clip(0, 6)},
      {13, 7, 1, 1, 1, 1, 1, 1, 1, p0, 5, 5, Activation{}},
      // Inception v3's rectangular kernels, TF "SAME" pads (more at the end)
      {6, 5, 1, 1, 7, 1, 1, 1, 1, Pads{0, 3, 0, 3}, 6, 9, relu()},
      {6, 5, 1, 7, 1, 1, 1, 1, 1, Pads{3, 0, 3, 0}, 9, 6, relu()},
      {4, 8, 1, 3, 3, 2, 2, 1, 1, Pads{0, 0, 1, 1}, 8, 8, relu()},
      {4, 8, 1, 3, 3, 2, 2, 1, 1, Pads{1, 0, 1, 2}, 8, 9, leaky(0.2f)},
      // DeepLab-style dilation, with one group and with several
      {7, 5, 1, 3, 3, 1, 1, 2, 2, p2, 9, 9, relu()},
      {8, 8, 2, 3, 3, 1, 1, 2, 3, Pads{2, 3, 2, 3}, 7, 8, Activation{}},
      // a fully connected layer as a convolution over the whole map, and slid over a larger one
      {20, 33, 1, 3, 3, 1, 1, 1, 1, p0, 3, 3, leaky(0.01f)},
      {20, 33, 1, 3, 3, 1, 1, 1, 1, p0, 4, 5, relu()},
      // 1x1 maps
      {9, 10, 1, 1, 1, 1, 1, 1, 1, p0, 1, 1, clip(0.25f, 0.75f)},
      {9, 10, 1, 3, 3, 1, 1, 1, 1, p1, 1, 1, relu()},
      {12, 12, 12, 3, 3, 2, 2, 1, 1, p1, 1, 1, clip(0, 6)},
      // depthwise with a multiplier of 2, and groups that split texels
      {6, 12, 6, 3, 3, 1, 1, 1, 1, p1, 5, 6, relu()},
      {9, 6, 3, 2, 3, 2, 1, 1, 1, Pads{1, 0, 0, 2}, 7, 6, clip(0.25f, 0.75f)},
  };
  for (const ConvCase& c : cases) check_conv(c, rng);
}

// Random shapes and parameters, both shaders.
TEST_F(GraphOps, ConvMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(77);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int general = 0, fast = 0;
  for (int n = 0; n < 40; ++n) {
    ConvCase c{};
    const int kind = pick(0, 3);  // plain, grouped, depthwise, dilated
    const int g = kind == 0 || kind == 3 ? 1 : pick(2, 4);
    c.groups = kind == 2 ? pick(3, 10) : g;
    c.in_c = kind == 2 ? c.groups : c.groups * pick(1, 6);
    c.out_c = kind == 2 ? c.groups * pick(1, 2) : c.groups * pick(1, 6);
    c.kh = pick(1, 4);
    c.kw = pick(1, 4);
    c.sh = pick(1, 3);
    c.sw = pick(1, 3);
    c.dh = kind == 3 ? pick(1, 3) : kind == 0 ? 1 : pick(1, 2);
    c.dw = kind == 3 ? pick(1, 3) : kind == 0 ? 1 : pick(1, 2);
    c.pads = Pads{pick(0, 2), pick(0, 2), pick(0, 2), pick(0, 2)};
    c.h = pick(1, 9);
    c.w = pick(1, 9);
    // Grow the input until at least one output pixel fits.
    while (graph::window_output(c.h, c.kh, c.sh, c.dh, c.pads.top, c.pads.bottom, false) <= 0)
      ++c.h;
    while (graph::window_output(c.w, c.kw, c.sw, c.dw, c.pads.left, c.pads.right, false) <= 0)
      ++c.w;
    c.act = kActivations[pick(0, 4)];
    (check_conv(c, rng) ? general : fast)++;
  }
  EXPECT_GT(general, 10);
  EXPECT_GT(fast, 5);
}

// Plain convolutions (one group, no dilation: any kernel, strides and pads) take the tuned
// shaders; groups and dilation the general one.
TEST_F(GraphOps, ConvPicksTheFastPathForPlainConvolutions) {
  std::mt19937 rng(5);
  auto general = [&](ConvCase c) {
    return ops::GraphConv(*lib_, conv_params(c, rng), {}).general();
  };
  const Pads p1{1, 1, 1, 1};
  EXPECT_FALSE(general({8, 16, 1, 3, 3, 1, 1, 1, 1, p1, 0, 0, {}}));
  EXPECT_FALSE(general({3, 16, 1, 11, 11, 4, 4, 1, 1, Pads{2, 2, 2, 2}, 0, 0, {}}));
  EXPECT_FALSE(general({8, 16, 1, 1, 7, 1, 1, 1, 1, Pads{0, 3, 0, 3}, 0, 0, {}}));
  EXPECT_FALSE(general({8, 16, 1, 3, 3, 2, 1, 1, 1, Pads{0, 1, 2, 0}, 0, 0, {}}));
  EXPECT_FALSE(general({8, 16, 1, 1, 1, 1, 1, 2, 2, Pads{}, 0, 0, {}}));  // 1x1: dilation moot
  EXPECT_TRUE(general({8, 16, 2, 3, 3, 1, 1, 1, 1, p1, 0, 0, {}}));
  EXPECT_TRUE(general({8, 8, 8, 3, 3, 1, 1, 1, 1, p1, 0, 0, {}}));
  EXPECT_TRUE(general({8, 16, 1, 3, 3, 1, 1, 2, 2, Pads{2, 2, 2, 2}, 0, 0, {}}));
  EXPECT_TRUE(general({8, 16, 1, 3, 1, 1, 1, 2, 1, Pads{2, 0, 2, 0}, 0, 0, {}}));
  // A 3x1 kernel dilated along its one-tap axis is a plain convolution.
  EXPECT_FALSE(general({8, 16, 1, 3, 1, 1, 1, 1, 2, Pads{1, 0, 1, 0}, 0, 0, {}}));
}

// The new geometry of the tuned Conv (rectangular kernels, strides, asymmetric pads, fused
// activations) through both of its shaders and several register tiles.
TEST_F(GraphOps, FastConvVariantsMatchReference) {
  std::mt19937 rng(31);
  const ConvCase cases[] = {
      {5, 9, 1, 1, 7, 1, 1, 1, 1, Pads{0, 3, 0, 3}, 5, 8, clip(0.25f, 0.75f)},
      {6, 12, 1, 3, 2, 2, 1, 1, 1, Pads{1, 0, 2, 1}, 7, 6, leaky(0.1f)},
      {4, 3, 1, 2, 3, 1, 3, 1, 1, Pads{0, 2, 1, 0}, 2, 5, clip(0, 6)},
      {7, 20, 1, 3, 3, 2, 2, 1, 1, Pads{1, 1, 0, 0}, 3, 4, relu()},
  };
  struct Run {
    ops::Conv::Variant variant;
    ops::Conv::TileShape tile;
  };
  const Run runs[] = {
      {ops::Conv::Variant::Streaming, {}},    {ops::Conv::Variant::Tiled, {8, 1}},
      {ops::Conv::Variant::Tiled, {4, 3}},    {ops::Conv::Variant::Tiled, {8, 6}},
      {ops::Conv::Variant::Tiled, {8, 2, 4}}, {ops::Conv::Variant::Tiled, {4, 5, 0}}};
  for (const ConvCase& c : cases)
    for (const Run& run : runs) {
      SCOPED_TRACE(describe(c) +
                   (run.variant == ops::Conv::Variant::Tiled ? " tiled " : " streaming ") +
                   std::to_string(run.tile.ocb) + "x" + std::to_string(run.tile.pix));
      ConvParams p = conv_params(c, rng);
      Tensor in = random_tensor(c.in_c, c.h, c.w, rng);
      Tensor want = graph::ref::conv(in, p, c.act);
      ops::ConvGeometry geo{c.kh,       c.kw,        c.sh,          c.sw,
                            c.pads.top, c.pads.left, c.pads.bottom, c.pads.right};
      ops::Conv op(*lib_, c.out_c, c.in_c, geo, p.weights, p.bias);
      op.set_tile(run.tile.ocb, run.tile.pix, run.tile.split);
      ASSERT_EQ(op.out_height(c.h), want.h);
      ASSERT_EQ(op.out_width(c.w), want.w);
      vk::Recorder rec(*ctx_, 0);
      vk::DescriptorArena arena(*ctx_);
      const auto data = ops::to_nc4hw4(in);
      vk::Buffer src(*ctx_, data.size() * 4);
      src.upload(data);
      const ops::Blob in_blob{&src, in.c, in.h, in.w};
      ops::Blob out_blob{nullptr, want.c, want.h, want.w};
      vk::Buffer dst(*ctx_, out_blob.floats() * 4);
      dst.upload(std::vector<float>(out_blob.floats(), NAN));
      out_blob.buffer = &dst;
      const ops::FusedActivation act = ops::fused_activation(c.act);
      rec.begin();
      op.record(rec, arena, in_blob, out_blob, act, run.variant);
      rec.end();
      rec.submit();
      std::vector<float> raw(out_blob.floats());
      dst.download(raw);
      const size_t npix = static_cast<size_t>(want.h) * want.w;
      for (int ch = want.c; ch < out_blob.c4() * 4; ++ch)
        for (size_t q = 0; q < npix; ++q)
          EXPECT_EQ(raw[((ch / 4) * npix + q) * 4 + ch % 4], 0.0f) << "padding channel " << ch;
      EXPECT_LT(relative_error(ops::from_nc4hw4(raw, want.c, want.h, want.w), want), 1e-5);
    }
}

// The Toom-Cook construction: A^T [(G g) * (B^T d)] is the correlation of d with g, for the
// transforms the engine uses and a larger one, on random vectors.
TEST(WinogradMatrices, ComputeTheCorrelation) {
  std::mt19937 rng(4);
  std::normal_distribution<double> normal;
  for (auto [m, r] :
       {std::pair{2, 3}, std::pair{2, 7}, std::pair{4, 3}, std::pair{2, 5}, std::pair{4, 5},
        std::pair{4, 7}, std::pair{6, 7}, std::pair{4, 2}, std::pair{4, 4}, std::pair{5, 5}}) {
    SCOPED_TRACE("F(" + std::to_string(m) + ", " + std::to_string(r) + ")");
    const ops::WinogradMatrices t = ops::winograd_matrices(m, r);
    ASSERT_EQ(t.alpha, m + r - 1);
    const int a = t.alpha;
    std::vector<double> g(r), d(a);
    for (double& v : g) v = normal(rng);
    for (double& v : d) v = normal(rng);
    std::vector<double> prod(a);
    for (int i = 0; i < a; ++i) {
      double gg = 0, bd = 0;
      for (int k = 0; k < r; ++k) gg += t.g[i * r + k] * g[k];
      for (int k = 0; k < a; ++k) bd += t.bt[i * a + k] * d[k];
      prod[i] = gg * bd;
    }
    for (int y = 0; y < m; ++y) {
      double got = 0, want = 0;
      for (int i = 0; i < a; ++i) got += t.at[y * a + i] * prod[i];
      for (int k = 0; k < r; ++k) want += d[y + k] * g[k];
      EXPECT_NEAR(got, want, 1e-9) << "output " << y;
    }
  }
}

// 3x3, 5x5 and 7x7 stride-1 convolutions with 16 or more channels in and out run by Winograd
// F(4x4, r x r), 5x5 by F(5x5, 5x5), 7x7 by F(4x6, 7x7) (ops::WinogradConv; F(2x2, r x r) in the
// ctest run with OVERFEAT_WINOGRAD=2): odd and even map sizes (a last tile half outside), 1x1
// outputs, every pad from 0 to 3 on each side, channel counts that are not multiples of 4 or 8,
// every activation.
TEST_F(GraphOps, WinogradConvMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(909);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int n = 0; n < 24; ++n) {
    ConvCase c{};
    c.groups = 1;
    c.in_c = pick(16, 41);
    c.out_c = pick(16, 45);
    c.kh = c.kw = 3 + 2 * (n % 3);
    c.sh = c.sw = c.dh = c.dw = 1;
    c.pads = Pads{pick(0, 3), pick(0, 3), pick(0, 3), pick(0, 3)};
    c.h = pick(1, 16);
    c.w = pick(1, 16);
    while (c.h + c.pads.top + c.pads.bottom < c.kh) ++c.h;
    while (c.w + c.pads.left + c.pads.right < c.kw) ++c.w;
    c.act = kActivations[pick(0, 4)];
    SCOPED_TRACE(describe(c));
    ConvParams p = conv_params(c, rng);
    ASSERT_TRUE(ops::GraphConv(*lib_, p, c.act).winograd());
    // F(4x6, 7x7)'s and F(5x5, 5x5)'s transforms lose more in fp32 (3-7e-5 and 2-3e-5 here;
    // 3e-4 and 3e-5 over 256 and 48 channels).
    check_conv(c, rng, c.kh == 7 ? 2e-4 : c.kh == 5 ? 5e-5 : 1e-5);
  }
  // An image's strided first layer by its phases: kernels 3 to 11 at strides 2 to 4 (the
  // bundled model's and the accurate net's 7x7/2, the fast net's and AlexNet's 11x11/4,
  // ResNet's 7x7/2 with pads 3), 1 to 4 channels in, maps whose last tiles reach past the edge.
  for (int n = 0; n < 16; ++n) {
    ConvCase c{};
    c.groups = 1;
    c.in_c = pick(1, 4);
    c.out_c = pick(16, 40);
    c.sh = c.sw = 2 + n % 3;
    c.kh = c.kw = std::max(3, pick(c.sh + 1, 11));
    while ((c.kh + c.sh - 1) / c.sh > 5) --c.kh;
    c.dh = c.dw = 1;
    c.pads = n % 2 ? Pads{pick(0, 3), pick(0, 3), pick(0, 3), pick(0, 3)} : Pads{};
    c.h = pick(c.kh, 40);
    c.w = pick(c.kw, 40);
    c.act = kActivations[pick(0, 4)];
    SCOPED_TRACE(describe(c));
    ConvParams p = conv_params(c, rng);
    ASSERT_TRUE(ops::GraphConv(*lib_, p, c.act).winograd());
    check_conv(c, rng, 1e-5);
  }
  // Too few channels on either side, or another stride: the direct shaders.
  auto winograd = [&](ConvCase c) {
    return ops::GraphConv(*lib_, conv_params(c, rng), {}).winograd();
  };
  const Pads p1{1, 1, 1, 1};
  EXPECT_TRUE(winograd({16, 16, 1, 3, 3, 1, 1, 1, 1, p1, 0, 0, {}}));
  EXPECT_FALSE(winograd({15, 64, 1, 3, 3, 1, 1, 1, 1, p1, 0, 0, {}}));
  EXPECT_FALSE(winograd({64, 15, 1, 3, 3, 1, 1, 1, 1, p1, 0, 0, {}}));
  EXPECT_FALSE(winograd({64, 64, 1, 3, 3, 2, 2, 1, 1, p1, 0, 0, {}}));
  EXPECT_TRUE(winograd({3, 48, 1, 7, 7, 2, 2, 1, 1, Pads{}, 0, 0, {}}));
  EXPECT_FALSE(winograd({5, 48, 1, 7, 7, 2, 2, 1, 1, Pads{}, 0, 0, {}}));    // not an image
  EXPECT_FALSE(winograd({3, 48, 1, 7, 7, 2, 1, 1, 1, Pads{}, 0, 0, {}}));    // unequal strides
  EXPECT_FALSE(winograd({3, 48, 1, 11, 11, 2, 2, 1, 1, Pads{}, 0, 0, {}}));  // 6 taps a phase
  EXPECT_FALSE(winograd({64, 64, 1, 3, 3, 1, 1, 2, 2, p1, 0, 0, {}}));
  EXPECT_TRUE(winograd({64, 64, 1, 5, 5, 1, 1, 1, 1, p1, 0, 0, {}}));
  EXPECT_FALSE(winograd({64, 64, 1, 4, 4, 1, 1, 1, 1, p1, 0, 0, {}}));
  EXPECT_TRUE(winograd({256, 512, 1, 7, 7, 1, 1, 1, 1, Pads{}, 0, 0, {}}));
  // A "full" layer with a million channel pairs: transformed weights would take 64/49 of its
  // memory, for single windows.
  EXPECT_FALSE(winograd({1024, 1024, 1, 7, 7, 1, 1, 1, 1, Pads{}, 0, 0, {}}));
}

// The tuned shader's batch (what Winograd's 16 products run as): each of the batch's
// convolutions equals the same convolution run alone, with its own weights and map.
TEST_F(GraphOps, BatchedConvIsEachConvolutionRunAlone) {
  std::mt19937 rng(17);
  const int batch = 3, in_c = 10, out_c = 13, h = 5, w = 7;
  const ConvCase c{in_c, out_c, 1, 3, 3, 1, 1, 1, 1, Pads{1, 0, 1, 2}, h, w, Activation{}};
  std::vector<ConvParams> params;
  std::vector<float> all_weights;
  for (int b = 0; b < batch; ++b) {
    params.push_back(conv_params(c, rng));
    params.back().bias = params.front().bias;  // the batch shares one bias
    all_weights.insert(all_weights.end(), params.back().weights.begin(),
                       params.back().weights.end());
  }
  const ops::ConvGeometry geo{3, 3, 1, 1, 1, 0, 1, 2};
  ops::Conv op(*lib_, out_c, in_c, geo, all_weights, params.front().bias, batch);
  std::vector<Tensor> ins, wants;
  std::vector<float> data;
  for (int b = 0; b < batch; ++b) {
    ins.push_back(random_tensor(in_c, h, w, rng));
    wants.push_back(graph::ref::conv(ins.back(), params[b], {}));
    const auto one = ops::to_nc4hw4(ins.back());
    data.insert(data.end(), one.begin(), one.end());
  }
  const int oh = wants[0].h, ow = wants[0].w;
  vk::Buffer src(*ctx_, data.size() * 4),
      dst(*ctx_, batch * ops::Blob{nullptr, out_c, oh, ow}.floats() * 4);
  src.upload(data);
  vk::Recorder rec(*ctx_, 0);
  vk::DescriptorArena arena(*ctx_);
  rec.begin();
  op.record(rec, arena, {&src, in_c, h, w}, {&dst, out_c, oh, ow}, false);
  rec.end();
  rec.submit();
  std::vector<float> raw(dst.size() / 4);
  dst.download(raw);
  const size_t per = ops::Blob{nullptr, out_c, oh, ow}.floats();
  for (int b = 0; b < batch; ++b) {
    SCOPED_TRACE("batch " + std::to_string(b));
    const std::vector<float> one(raw.begin() + b * per, raw.begin() + (b + 1) * per);
    EXPECT_LT(relative_error(ops::from_nc4hw4(one, out_c, oh, ow), wants[b]), 1e-5);
  }
}

// The dense evaluation's pooling offsets: one convolution of several small maps of different
// sizes, with the products of all in one dispatch (GraphConv::record_batch), gives each map what
// it gives alone; a map's tiles read from the wrong place in the shared row would not.
TEST_F(GraphOps, WinogradBatchIsEachMapRunAlone) {
  std::mt19937 rng(31);
  for (int k : {3, 7}) {
    SCOPED_TRACE("kernel " + std::to_string(k));
    const ConvCase c{24, 20, 1, k, k, 1, 1, 1, 1, Pads{}, 0, 0, relu()};
    const ConvParams p = conv_params(c, rng);
    ops::GraphConv op(*lib_, p, c.act);
    ASSERT_TRUE(op.winograd());
    ops::OneShot run(*lib_);
    const std::vector<std::pair<int, int>> sizes = {{k + 2, k + 5}, {k, k}, {k + 6, k + 1}};
    std::vector<ops::Blob> ins, outs;
    std::vector<Tensor> wants;
    for (auto [h, w] : sizes) {
      const Tensor in = random_tensor(c.in_c, h, w, rng);
      wants.push_back(graph::ref::conv(in, p, c.act));
      ins.push_back(run.upload(in));
      outs.push_back(run.output(c.out_c, h - k + 1, w - k + 1));
    }
    const auto need = op.scratch_bytes(sizes);
    op.record_batch(run.rec, run.arena, ins, outs, true,
                    {run.scratch(need.input), run.scratch(need.products)});
    run.finish(outs[0]);
    for (size_t i = 0; i < outs.size(); ++i) {
      SCOPED_TRACE("map " + std::to_string(i));
      std::vector<float> raw(outs[i].floats());
      outs[i].buffer->download(raw);
      EXPECT_LT(relative_error(ops::from_nc4hw4(raw, c.out_c, outs[i].h, outs[i].w), wants[i]),
                k == 7 ? 1e-4 : 1e-5);
    }
  }
}

// ContextOptions::half_weights on a Winograd layer: its element-wise products' weights (36 x
// 256 x 128 = 1.2 M, over Conv::kHalfMinWeights) are stored as 16-bit floats and read by
// conv_half.comp, 8 to a fetch. The answer is the convolution's to about fp16's precision
// (the transformed weights are rounded), far from what a misread texel would give.
TEST_F(GraphOps, WinogradWithHalfWeightsMatchesReference) {
  const auto half_ctx = testing::half_weights_context();
  vk::Context& ctx = *half_ctx;
  ops::PipelineLibrary lib(ctx);
  std::mt19937 rng(8);
  const ConvCase c{128, 256, 1, 3, 3, 1, 1, 1, 1, Pads{1, 1, 1, 1}, 11, 13, relu()};
  const ConvParams p = conv_params(c, rng);
  ASSERT_TRUE(ops::GraphConv(lib, p, c.act).winograd());
  const Tensor in = random_tensor(c.in_c, c.h, c.w, rng);
  const Tensor got = attempt([&] { return ops::run_graph_conv(lib, in, p, c.act); });
  const Tensor want = graph::ref::conv(in, p, c.act);
  ASSERT_EQ(testing::shape(got), testing::shape(want));
  const double err = relative_error(got, want);
  EXPECT_LT(err, 3e-3);
  EXPECT_GT(err, 1e-6);  // the weights really were rounded
  EXPECT_EQ(ctx.validation_messages(), 0u);
}

TEST_F(GraphOps, ConvRejectsMismatchedParameters) {
  std::mt19937 rng(3);
  ConvParams p = conv_params({8, 6, 2, 3, 3, 1, 1, 1, 1, Pads{}, 0, 0, {}}, rng);
  p.weights.pop_back();
  EXPECT_THROW(ops::GraphConv(*lib_, p, {}), Error);
  p = conv_params({8, 6, 2, 3, 3, 1, 1, 1, 1, Pads{}, 0, 0, {}}, rng);
  p.groups = 3;  // 8 channels do not split into 3 groups
  EXPECT_THROW(ops::GraphConv(*lib_, p, {}), Error);
  p.groups = 2;
  ops::GraphConv op(*lib_, p, {});
  vk::Buffer buf(*ctx_, 1024);
  vk::Recorder rec(*ctx_, 0);
  vk::DescriptorArena arena(*ctx_);
  // 5x5 input, 3x3 kernel: the output is 3x3, not 5x5.
  EXPECT_THROW(op.record(rec, arena, {&buf, 8, 5, 5}, {&buf, 6, 5, 5}), Error);
  EXPECT_THROW(op.record(rec, arena, {&buf, 7, 5, 5}, {&buf, 6, 3, 3}), Error);
}

struct PoolCase {
  int kh, kw, sh, sw;
  Pads pads;
  bool ceil;
  int c, h, w;
};

TEST_F(GraphOps, PoolMatchesReference) {
  std::mt19937 rng(11);
  const Pads p0{}, p1{1, 1, 1, 1};
  const PoolCase cases[] = {
      {3, 3, 2, 2, p0, true, 5, 13, 13},              // caffe's GoogLeNet / SqueezeNet max pools
      {3, 3, 2, 2, p0, true, 7, 14, 12},              // ceil mode with an overhang
      {3, 3, 2, 2, p1, false, 16, 9, 8},              // ResNet
      {3, 3, 2, 2, p1, true, 6, 10, 9},               // ceil mode and pads together
      {2, 2, 2, 2, p0, false, 9, 7, 9},               // VGG on odd sizes
      {2, 2, 2, 2, p0, true, 3, 7, 9},                // ...in ceil mode
      {3, 3, 1, 1, p1, false, 10, 6, 5},              // Inception's branch pool
      {5, 5, 3, 3, p0, false, 4, 14, 14},             // GoogLeNet's auxiliary heads
      {3, 2, 2, 1, Pads{0, 1, 2, 1}, true, 5, 8, 7},  // rectangular, asymmetric pads
      {2, 3, 1, 2, Pads{1, 0, 0, 1}, false, 1, 5, 6},
      {3, 3, 2, 2, p1, true, 7, 1, 1},  // a 1x1 map
      {4, 4, 3, 3, Pads{2, 2, 2, 2}, true, 2, 6, 8},
  };
  for (const PoolCase& c : cases)
    for (auto kind : {PoolParams::Kind::Max, PoolParams::Kind::Average})
      for (bool include_pad : {false, true}) {
        if (kind == PoolParams::Kind::Max && include_pad) continue;  // max ignores it
        PoolParams p;
        p.kind = kind;
        p.kh = c.kh;
        p.kw = c.kw;
        p.stride_h = c.sh;
        p.stride_w = c.sw;
        p.pads = c.pads;
        p.ceil_mode = c.ceil;
        p.count_include_pad = include_pad;
        std::ostringstream params;
        params << (kind == PoolParams::Kind::Max ? "max" : "average") << " k=" << c.kh << "x"
               << c.kw << " stride=" << c.sh << "x" << c.sw << " " << describe(c.pads)
               << " ceil=" << c.ceil << " include_pad=" << include_pad << " input=" << c.c << "x"
               << c.h << "x" << c.w;
        SCOPED_TRACE(params.str());
        Tensor in = random_tensor(c.c, c.h, c.w, rng, -4, 4);
        Tensor want = graph::ref::pool(in, p);
        Tensor got = attempt([&] { return ops::run_pool(*lib_, in, p); });
        EXPECT_EQ(testing::shape(got), testing::shape(want));
        if (kind == PoolParams::Kind::Max)
          EXPECT_EQ(relative_error(got, want), 0.0);
        else
          EXPECT_LT(relative_error(got, want), 1e-6);
      }
}

// Offset pooling (PoolParams::offset_y/x, OverFeat's fine stride): the pooling of the input
// cropped at the offset, on the device as in the reference, for every offset below the kernel.
TEST_F(GraphOps, OffsetPoolingIsThePoolingOfTheCroppedInput) {
  std::mt19937 rng(14);
  struct Case {
    int k, c, h, w;
  };
  for (const Case& cs : {Case{2, 5, 9, 8}, Case{3, 8, 13, 11}, Case{3, 3, 5, 7}, Case{4, 6, 12, 9}})
    for (auto kind : {PoolParams::Kind::Max, PoolParams::Kind::Average})
      for (int dy = 0; dy < cs.k; ++dy)
        for (int dx = 0; dx < cs.k; ++dx) {
          SCOPED_TRACE(std::to_string(cs.k) + " offset " + std::to_string(dy) + "," +
                       std::to_string(dx) + " input " + std::to_string(cs.h) + "x" +
                       std::to_string(cs.w));
          const Tensor in = random_tensor(cs.c, cs.h, cs.w, rng, -4, 4);
          PoolParams p;
          p.kind = kind;
          p.kh = p.kw = p.stride_h = p.stride_w = cs.k;
          PoolParams shifted = p;
          shifted.offset_y = dy;
          shifted.offset_x = dx;
          Tensor cropped(cs.c, cs.h - dy, cs.w - dx);
          for (int c = 0; c < cs.c; ++c)
            for (int y = 0; y < cropped.h; ++y)
              for (int x = 0; x < cropped.w; ++x) cropped.at(c, y, x) = in.at(c, y + dy, x + dx);
          const Tensor want = graph::ref::pool(cropped, p);
          EXPECT_EQ(relative_error(graph::ref::pool(in, shifted), want), 0.0);
          const Tensor got = attempt([&] { return ops::run_pool(*lib_, in, shifted); });
          ASSERT_EQ(testing::shape(got), testing::shape(want));
          EXPECT_LT(relative_error(got, want), 1e-6);
        }
}

TEST_F(GraphOps, GlobalPoolMatchesReference) {
  std::mt19937 rng(12);
  for (auto [c, h, w] : {std::tuple{7, 3, 5}, std::tuple{16, 1, 1}, std::tuple{9, 7, 7},
                         std::tuple{5, 13, 11}, std::tuple{1, 2, 1}})
    for (auto kind : {PoolParams::Kind::Max, PoolParams::Kind::Average}) {
      SCOPED_TRACE(std::string(kind == PoolParams::Kind::Max ? "max" : "average") + " " +
                   std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w));
      Tensor in = random_tensor(c, h, w, rng, -4, 4);
      Tensor want = graph::ref::global_pool(in, kind);
      Tensor got = attempt([&] { return ops::run_global_pool(*lib_, in, kind); });
      EXPECT_EQ(testing::shape(got), testing::shape(want));
      if (kind == PoolParams::Kind::Max)
        EXPECT_EQ(relative_error(got, want), 0.0);
      else
        EXPECT_LT(relative_error(got, want), 1e-6);
    }
}

TEST_F(GraphOps, LrnMatchesReference) {
  std::mt19937 rng(13);
  LrnParams alexnet;  // size 5, alpha 1e-4, beta 0.75, bias 1
  LrnParams strong;   // makes the window's sum matter at these magnitudes
  strong.size = 3;
  strong.alpha = 0.5f;
  strong.beta = 0.6f;
  strong.bias = 2.0f;
  LrnParams even = strong;  // the window is not centred
  even.size = 4;
  LrnParams one = strong;
  one.size = 1;
  LrnParams wide = strong;
  wide.size = 5;
  for (const LrnParams& p : {alexnet, strong, even, one, wide})
    for (auto [c, h, w] : {std::tuple{1, 3, 2}, std::tuple{3, 4, 4}, std::tuple{7, 5, 3},
                           std::tuple{16, 2, 3}, std::tuple{10, 1, 1}}) {
      SCOPED_TRACE("size=" + std::to_string(p.size) + " alpha=" + std::to_string(p.alpha) +
                   " beta=" + std::to_string(p.beta) + " bias=" + std::to_string(p.bias) + " " +
                   std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w));
      Tensor in = random_tensor(c, h, w, rng, -8, 8);
      Tensor want = graph::ref::lrn(in, p);
      Tensor got = attempt([&] { return ops::run_lrn(*lib_, in, p); });
      EXPECT_EQ(testing::shape(got), testing::shape(want));
      EXPECT_LT(relative_error(got, want), 1e-5);
    }
}

TEST_F(GraphOps, AddAndActivationMatchReference) {
  std::mt19937 rng(14);
  for (const Activation& act : kActivations)
    for (auto [c, h, w] :
         {std::tuple{5, 4, 3}, std::tuple{16, 7, 7}, std::tuple{1, 1, 1}, std::tuple{10, 2, 5}}) {
      SCOPED_TRACE("act=" + describe(act) + " " + std::to_string(c) + "x" + std::to_string(h) +
                   "x" + std::to_string(w));
      Tensor a = random_tensor(c, h, w, rng, -8, 8), b = random_tensor(c, h, w, rng, -8, 8);
      Tensor sum = attempt([&] { return ops::run_add(*lib_, a, b, act); });
      EXPECT_EQ(relative_error(sum, graph::ref::add(a, b, act)), 0.0);
      Tensor activated = attempt([&] { return ops::run_activation(*lib_, a, act); });
      EXPECT_EQ(relative_error(activated, graph::ref::activation(a, act)), 0.0);
    }
}

TEST_F(GraphOps, ConcatMatchesReferenceAtAnyChannelOffset) {
  std::mt19937 rng(15);
  const std::vector<std::vector<int>> channel_lists = {{3, 5, 2}, {4, 4},        {1, 1, 1, 1, 1},
                                                       {7},       {6, 13, 4, 1}, {8, 3}};
  for (const auto& channels : channel_lists)
    for (auto [h, w] : {std::pair{5, 4}, std::pair{1, 1}}) {
      std::string params = "channels=";
      for (int c : channels) params += std::to_string(c) + ",";
      SCOPED_TRACE(params + " " + std::to_string(h) + "x" + std::to_string(w));
      std::vector<Tensor> inputs;
      std::vector<const Tensor*> ptrs;
      for (int c : channels) inputs.push_back(random_tensor(c, h, w, rng));
      for (const Tensor& t : inputs) ptrs.push_back(&t);
      Tensor want = graph::ref::concat(ptrs);
      Tensor got = attempt([&] { return ops::run_concat(*lib_, inputs); });
      EXPECT_EQ(testing::shape(got), testing::shape(want));
      EXPECT_EQ(relative_error(got, want), 0.0);
    }
}

// Several ops in one command buffer, as the executor records them: a residual block with a
// concatenation, checked against the references chained on the host.
TEST_F(GraphOps, OpsChainInOnePass) {
  std::mt19937 rng(16);
  Tensor x = random_tensor(6, 9, 8, rng);
  ConvParams pw = conv_params({6, 6, 1, 1, 1, 1, 1, 1, 1, Pads{}, 0, 0, {}}, rng);
  ConvParams dw = conv_params({6, 6, 6, 3, 3, 1, 1, 1, 1, Pads{1, 1, 1, 1}, 0, 0, {}}, rng);
  PoolParams pool;
  pool.kh = pool.kw = 3;
  pool.stride_h = pool.stride_w = 2;
  pool.ceil_mode = true;

  Tensor a = graph::ref::conv(x, pw, clip(0, 6));
  Tensor b = graph::ref::conv(a, dw, relu());
  Tensor s = graph::ref::add(x, b, Activation{});
  Tensor cat = graph::ref::concat({&s, &a});
  Tensor want = graph::ref::pool(cat, pool);

  ops::GraphConv op_pw(*lib_, pw, clip(0, 6)), op_dw(*lib_, dw, relu());
  ops::Add op_add(*lib_, Activation{});
  ops::ChannelCopy op_copy(*lib_);
  ops::Pool op_pool(*lib_, pool);
  std::vector<std::unique_ptr<vk::Buffer>> buffers;
  auto blob = [&](int c, int h, int w) {
    ops::Blob b{nullptr, c, h, w};
    buffers.push_back(std::make_unique<vk::Buffer>(*ctx_, b.floats() * 4));
    buffers.back()->upload(std::vector<float>(b.floats(), NAN));
    b.buffer = buffers.back().get();
    return b;
  };
  ops::Blob bx = blob(6, 9, 8);
  buffers.back()->upload(ops::to_nc4hw4(x));
  ops::Blob ba = blob(6, 9, 8), bb = blob(6, 9, 8), bs = blob(6, 9, 8), bcat = blob(12, 9, 8);
  ops::Blob bout = blob(12, want.h, want.w);
  vk::Recorder rec(*ctx_, 0);
  vk::DescriptorArena arena(*ctx_);
  rec.begin();
  op_pw.record(rec, arena, bx, ba);
  rec.barrier();
  op_dw.record(rec, arena, ba, bb);
  rec.barrier();
  op_add.record(rec, arena, bx, bb, bs);
  rec.barrier();
  op_copy.record(rec, arena, bs, bcat, 0);
  op_copy.record(rec, arena, ba, bcat, 6);
  rec.barrier();
  op_pool.record(rec, arena, bcat, bout);
  rec.end();
  rec.submit();
  EXPECT_FALSE(op_pw.general());
  EXPECT_TRUE(op_dw.general());
  EXPECT_LT(relative_error(ops::download(bout), want), 1e-5);
}

}  // namespace
}  // namespace overfeat
