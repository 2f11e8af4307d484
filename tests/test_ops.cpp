// SPDX-License-Identifier: MIT
// Every shader against the plain C++ reference over a matrix of shapes, strides, paddings and
// offsets. Each failure prints all parameters.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <sstream>

#include "ops/graph_ops.hpp"
#include "overfeat/half.hpp"
#include "overfeat/network.hpp"
#include "overfeat/reference.hpp"
#include "vulkan_fixture.hpp"

namespace overfeat {
namespace {

using testing::random_tensor;
using testing::relative_error;

ConvWeights random_conv(int out, int in, int k, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 1.0f / std::sqrt(static_cast<float>(in * k * k)));
  ConvWeights w;
  w.out = out;
  w.in = in;
  w.k = k;
  w.w.resize(static_cast<size_t>(out) * in * k * k);
  for (float& v : w.w) v = d(rng);
  w.b.resize(out);
  for (float& v : w.b) v = d(rng);
  return w;
}

class Ops : public testing::VulkanTest {};

struct ConvCase {
  int in_c, out_c, h, w, k, stride, pad;
  bool relu;
};

// The library compiles pipelines on its own threads; one destroyed while compiles are queued or
// running (a plan abandoned halfway, a model closed at once) waits for the running ones, drops
// the rest, and leaks nothing (the sanitizer run's leak check) or upsets the validation layer.
TEST_F(Ops, PipelineLibraryClosesWithCompilesPending) {
  for (int round = 0; round < 3; ++round) {
    ops::PipelineLibrary lib(*ctx_);
    for (int k = 1; k <= 12; ++k) {
      vk::PipelineDesc d;
      d.shader = ShaderId::conv;
      d.bindings = {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                    VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                    VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER};
      d.push_bytes = 7 * sizeof(int32_t);
      d.local_size = {8, 1, 1};
      d.constants = {k % 4 + 1, k % 3 + 1, 1, 0, 1, 8, k % 5 + 1};  // KW, KH, ..., PIX
      lib.get(d);
      if (round == 2 && k == 12) EXPECT_NE(lib.get(d).pipeline(), VK_NULL_HANDLE);  // waits
    }
    EXPECT_EQ(lib.size(), 12u);
  }
}

TEST_F(Ops, ConvMatchesReferenceOverShapeMatrix) {
  std::mt19937 rng(1234);
  const ConvCase cases[] = {
      {3, 8, 23, 19, 11, 4, 0, true},  {3, 16, 15, 17, 7, 2, 0, false},
      {5, 9, 9, 11, 3, 1, 1, true},    {8, 12, 7, 6, 5, 1, 0, false},
      {16, 24, 6, 6, 6, 1, 0, true},   {7, 3, 8, 13, 1, 1, 0, false},
      {12, 40, 12, 10, 3, 1, 1, true}, {4, 8, 1, 1, 1, 1, 0, false},
      {9, 17, 10, 9, 2, 2, 2, true},   {32, 64, 5, 5, 5, 1, 0, true},
      {20, 30, 13, 7, 3, 3, 1, false}, {6, 1000, 2, 3, 1, 1, 0, false},
  };
  struct Run {
    ops::Conv::Variant variant;
    ops::Conv::TileShape tile;
  };
  const Run runs[] = {{ops::Conv::Variant::Streaming, {}},
                      {ops::Conv::Variant::Tiled, {8, 1}},
                      {ops::Conv::Variant::Tiled, {4, 1}},
                      {ops::Conv::Variant::Tiled, {4, 3}},
                      {ops::Conv::Variant::Tiled, {8, 2}},
                      {ops::Conv::Variant::Tiled, {8, 6}},
                      {ops::Conv::Variant::Tiled, {4, 8}},
                      {ops::Conv::Variant::Tiled, {8, 5}},
                      {ops::Conv::Variant::Tiled, {8, 7}},
                      {ops::Conv::Variant::Tiled, {8, 8}},
                      // input channels split between 2, 4 or 8 invocations
                      {ops::Conv::Variant::Tiled, {8, 3, 2}},
                      {ops::Conv::Variant::Tiled, {4, 1, 4}},
                      {ops::Conv::Variant::Tiled, {8, 7, 8}},
                      // lanes over blocks of output channels (split 0)
                      {ops::Conv::Variant::Tiled, {8, 6, 0}},
                      {ops::Conv::Variant::Tiled, {8, 8, 0}},
                      {ops::Conv::Variant::Tiled, {4, 3, 0}},
                      {ops::Conv::Variant::Tiled, {8, 1, 0}}};
  for (const ConvCase& c : cases)
    for (const Run& run : runs) {
      const auto variant = run.variant;
      std::ostringstream params;
      params << "in_c=" << c.in_c << " out_c=" << c.out_c << " h=" << c.h << " w=" << c.w
             << " k=" << c.k << " stride=" << c.stride << " pad=" << c.pad << " relu=" << c.relu
             << " variant=" << (variant == ops::Conv::Variant::Tiled ? "tiled" : "streaming")
             << " tile=" << run.tile.ocb << "x" << run.tile.pix << "x" << run.tile.split;
      SCOPED_TRACE(params.str());
      Tensor in = random_tensor(c.in_c, c.h, c.w, rng);
      ConvWeights w = random_conv(c.out_c, c.in_c, c.k, rng);
      Tensor want = ref::conv(in, w, c.stride, c.pad, c.relu);
      Tensor got = ops::run_conv(*lib_, in, w, c.stride, c.pad, c.relu, variant, run.tile);
      EXPECT_EQ(testing::shape(got), testing::shape(want));
      EXPECT_LT(relative_error(got, want), 1e-5);
    }
}

// The release's offset max pooling (ref::maxpool, docs: overfeat.md section 4) is the graph
// pooling with an offset on the device.
TEST_F(Ops, OffsetMaxPoolingMatchesTheReleasesReference) {
  std::mt19937 rng(99);
  for (int k : {2, 3})
    for (int dy = 0; dy < k; ++dy)
      for (int dx = 0; dx < k; ++dx)
        for (auto [c, h, w] :
             {std::tuple{5, 11, 13}, std::tuple{96, 17, 17}, std::tuple{8, 6, 9}}) {
          SCOPED_TRACE("k=" + std::to_string(k) + " dx=" + std::to_string(dx) +
                       " dy=" + std::to_string(dy) + " c=" + std::to_string(c) +
                       " h=" + std::to_string(h) + " w=" + std::to_string(w));
          Tensor in = random_tensor(c, h, w, rng);
          graph::PoolParams p;
          p.kh = p.kw = p.stride_h = p.stride_w = k;
          p.offset_y = dy;
          p.offset_x = dx;
          Tensor want = ref::maxpool(in, k, dx, dy);
          Tensor got = ops::run_pool(*lib_, in, p);
          EXPECT_EQ(testing::shape(got), testing::shape(want));
          EXPECT_EQ(relative_error(got, want), 0.0);
        }
}

TEST_F(Ops, SoftmaxAndNormalizationMatchReference) {
  std::mt19937 rng(7);
  for (auto [c, h, w] : {std::tuple{1000, 1, 1}, std::tuple{7, 3, 5}, std::tuple{21, 2, 2}}) {
    SCOPED_TRACE("c=" + std::to_string(c) + " h=" + std::to_string(h) + " w=" + std::to_string(w));
    Tensor in = random_tensor(c, h, w, rng, -8, 8);
    EXPECT_LT(relative_error(ops::run_softmax(*lib_, in), ref::softmax(in)), 1e-6);
  }
  Tensor rgb = random_tensor(3, 9, 14, rng, 0, 255);
  NetSpec spec;
  spec.mean = 118.380948f;
  spec.stddev = 61.896913f;
  EXPECT_LT(relative_error(normalize_input(spec, rgb), ref::normalize(rgb, spec.mean, spec.stddev)),
            1e-6);
}

// Every binary16 value converts back to its own bits, and floats halfway between two of them
// round to the even one (exhaustive over the 63,488 finite halves).
TEST(Half, RoundTripsEveryValueAndRoundsTiesToEven) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = half_value(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(half_value(half_bits(f))));
      continue;
    }
    ASSERT_EQ(half_bits(f), h) << f;
  }
  for (uint32_t h = 0; h < 0x7bff; ++h) {
    const float lo = half_value(static_cast<uint16_t>(h)),
                hi = half_value(static_cast<uint16_t>(h + 1));
    const float mid = (lo + hi) / 2;  // exact in float
    ASSERT_EQ(half_bits(mid), (h & 1) ? h + 1 : h) << mid;
    ASSERT_EQ(half_bits(std::nextafter(mid, 1e9f)), h + 1) << mid;
  }
  EXPECT_EQ(half_bits(65520.0f), 0x7c00);  // overflow: infinity
  EXPECT_EQ(half_bits(-1e-9f), 0x8000);    // underflow: signed zero
}

// ContextOptions::half_weights stores a large convolution's weights as 16-bit floats: the result
// is the reference's with half-rounded weights, to fp32 accuracy, in both shaders; a small
// convolution keeps its 32-bit weights.
TEST(HalfWeights, LargeConvolutionsReadHalfRoundedWeights) {
  std::string why;
  if (!testing::shared_context(&why)) GTEST_SKIP() << "No Vulkan device: " << why;
  const auto half_ctx = testing::half_weights_context();
  vk::Context& ctx = *half_ctx;
  ops::PipelineLibrary lib(ctx);
  std::mt19937 rng(11);
  ConvWeights w = random_conv(96, 200, 6, rng);     // 691,200: under the threshold
  ConvWeights big = random_conv(160, 300, 6, rng);  // 1,728,000 weights
  ASSERT_GE(big.w.size(), ops::Conv::kHalfMinWeights);
  ASSERT_LT(w.w.size(), ops::Conv::kHalfMinWeights);
  EXPECT_TRUE(ops::Conv(lib, big, 1, 0).half_weights());
  EXPECT_FALSE(ops::Conv(lib, w, 1, 0).half_weights());
  ConvWeights rounded = big;
  for (float& v : rounded.w) v = half_value(half_bits(v));
  // The tiled shader reads the halves packed two to a word (conv_half.comp): each register
  // tile (4 or 8 output channels, with and without split input channels) once.
  for (auto [h, wd, variant, tile] : {std::tuple{6, 6, ops::Conv::Variant::Streaming, ""},
                                      std::tuple{9, 11, ops::Conv::Variant::Tiled, ""},
                                      std::tuple{9, 11, ops::Conv::Variant::Tiled, "4x3x1"},
                                      std::tuple{9, 11, ops::Conv::Variant::Tiled, "8x2x4"}}) {
    SCOPED_TRACE(std::to_string(h) + "x" + std::to_string(wd) + " tile " + tile);
    if (*tile)
      setenv("OVERFEAT_CONV_TILE", tile, 1);
    else
      unsetenv("OVERFEAT_CONV_TILE");
    const Tensor in = random_tensor(300, h, wd, rng);
    const Tensor got = ops::run_conv(lib, in, big, 1, 0, true, variant);
    EXPECT_LT(relative_error(got, ref::conv(in, rounded, 1, 0, true)), 1e-5);
    // ...and not the full-precision result: the weights really were rounded.
    EXPECT_GT(relative_error(got, ref::conv(in, big, 1, 0, true)), 1e-5);
    const Tensor small_in = random_tensor(200, h, wd, rng);
    EXPECT_LT(relative_error(ops::run_conv(lib, small_in, w, 1, 0, true, variant),
                             ref::conv(small_in, w, 1, 0, true)),
              1e-5);
  }
  unsetenv("OVERFEAT_CONV_TILE");
  EXPECT_EQ(ctx.validation_messages(), 0u);
}

}  // namespace
}  // namespace overfeat
