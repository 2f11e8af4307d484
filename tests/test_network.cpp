// SPDX-License-Identifier: MIT
// Whole networks: geometry against the documented formulas, the official file layout, both
// official nets on synthetic weights against the reference at every release layer, bad weight
// files, and memory that stays bounded across frames and input sizes.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "overfeat/network.hpp"
#include "overfeat/reference.hpp"
#include "synthetic_weights.hpp"
#include "vulkan_fixture.hpp"

namespace overfeat {
namespace {

TEST(Geometry, OutputSizeMatchesReleaseFormulas) {
  const NetSpec fast = NetSpec::official(0), accurate = NetSpec::official(1);
  EXPECT_EQ(fast.window, 231);
  EXPECT_EQ(accurate.window, 221);
  EXPECT_EQ(fast.total_stride(), 32);
  EXPECT_EQ(accurate.total_stride(), 36);
  for (int H = 221; H < 700; H += 7)
    for (int W : {231, 244, 461, 569}) {
      SCOPED_TRACE("H=" + std::to_string(H) + " W=" + std::to_string(W));
      int c, h, w;
      fast.layer_shape(fast.num_layers(), H, W, c, h, w);
      const int fh = ((H - 11) / 4 + 1) / 8 - 6, fw = ((W - 11) / 4 + 1) / 8 - 6;
      EXPECT_EQ(h, fh > 0 ? fh : 0);
      if (fh > 0) EXPECT_EQ(w, fw);
      accurate.layer_shape(accurate.num_layers(), H, W, c, h, w);
      const int ah = ((H - 7) / 2 + 1) / 18 - 5, aw = ((W - 7) / 2 + 1) / 18 - 5;
      EXPECT_EQ(h, ah > 0 ? ah : 0);
      if (ah > 0) EXPECT_EQ(w, aw);
    }
}

TEST(Geometry, ReleaseLayerNumbering) {
  const NetSpec fast = NetSpec::official(0), accurate = NetSpec::official(1);
  ASSERT_EQ(fast.num_layers(), 21);
  ASSERT_EQ(accurate.num_layers(), 24);
  EXPECT_EQ(fast.modules[19 - 1].name, "conv7");
  EXPECT_EQ(fast.modules[16 - 1].name, "pool3");
  EXPECT_EQ(accurate.modules[22 - 1].name, "conv8");
  EXPECT_EQ(accurate.modules[19 - 1].name, "pool3");
  EXPECT_EQ(accurate.modules[16 - 1].kind, ModuleKind::Pad);
  EXPECT_EQ(fast.default_feature_layer, 19);
  EXPECT_EQ(accurate.default_feature_layer, 22);
}

TEST(WeightFiles, OfficialSizesAndOffsets) {
  EXPECT_EQ(NetSpec::official(0).parameter_count() * 4, 583683488LL);
  EXPECT_EQ(NetSpec::official(1).parameter_count() * 4, 578625952LL);
  // Offsets of conv6 W and conv8 b in floats, from the documented layout.
  const Weights w = random_weights(NetSpec::official(0), 3);
  long long offset = 0;
  std::vector<long long> w_offsets, b_offsets;
  for (const auto& c : w.convs) {
    w_offsets.push_back(offset);
    offset += static_cast<long long>(c.w.size());
    b_offsets.push_back(offset);
    offset += static_cast<long long>(c.b.size());
  }
  EXPECT_EQ(w_offsets[5], 15987584);
  EXPECT_EQ(b_offsets[5], 129233792);
  EXPECT_EQ(b_offsets[7], 145919872);
}

class BadWeights : public ::testing::Test {
 protected:
  std::filesystem::path dir_ = std::filesystem::path(OVERFEAT_TEST_WORK_DIR) / "bad-weights";
  void SetUp() override { std::filesystem::create_directories(dir_); }
};

TEST_F(BadWeights, MissingTruncatedAndOversizedFilesNameTheProblem) {
  const NetSpec spec = NetSpec::parse("tiny", "conv:4:3:1 relu pool:2 conv:2:2:1");
  const auto file = dir_ / "net_weight_x";
  std::filesystem::remove(file);
  try {
    load_weights(file, spec);
    FAIL() << "missing file accepted";
  } catch (const WeightFileError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  const long long bytes = spec.parameter_count() * 4;
  for (long long size : {bytes - 4, bytes + 8, 0LL}) {
    { std::ofstream(file, std::ios::binary) << std::string(static_cast<size_t>(size), '\0'); }
    try {
      load_weights(file, spec);
      FAIL() << "file of " << size << " bytes accepted";
    } catch (const WeightFileError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
      EXPECT_NE(msg.find("expected " + std::to_string(bytes) + " bytes"), std::string::npos) << msg;
      EXPECT_NE(msg.find("found " + std::to_string(size) + " bytes"), std::string::npos) << msg;
    }
  }
  save_weights(file, random_weights(spec, 5));
  EXPECT_EQ(load_weights(file, spec).convs.size(), 2u);
}

class NetworkVsReference : public testing::VulkanTest {};

Tensor random_image(int h, int w, unsigned seed) {
  std::mt19937 rng(seed);
  return testing::random_tensor(3, h, w, rng, 0, 255);
}

void expect_all_layers_match(Network& net, const Weights& weights, const Tensor& rgb) {
  const NetSpec& spec = net.spec();
  std::vector<Tensor> want = ref::forward_all(spec, weights, rgb);
  std::set<int> layers;
  for (int l = 0; l <= spec.num_layers(); ++l) layers.insert(l);
  ForwardResult got = net.forward(rgb, layers);
  for (int l = 0; l <= spec.num_layers(); ++l) {
    SCOPED_TRACE(spec.name + " layer " + std::to_string(l) + " input " + std::to_string(rgb.h) +
                 "x" + std::to_string(rgb.w));
    ASSERT_EQ(testing::shape(got.layers.at(l)), testing::shape(want[l]));
    EXPECT_LT(testing::relative_error(got.layers.at(l), want[l]), 1e-4);
  }
}

TEST_F(NetworkVsReference, OfficialNetsOnSyntheticFilesAtEveryReleaseLayer) {
  const auto dir = testing::synthetic_weights_dir();
  for (int net_index : {0, 1}) {
    const NetSpec spec = NetSpec::official(net_index);
    const Weights weights = load_weights(official_weight_path(dir, net_index), spec);
    Network net(*ctx_, spec, weights);
    // The window itself (1x1 output) and a larger input (a 2x3 map).
    const int win = spec.window, stride = spec.total_stride();
    expect_all_layers_match(net, weights, random_image(win, win, 11));
    expect_all_layers_match(net, weights, random_image(win + stride, win + 2 * stride, 12));
  }
}

TEST_F(NetworkVsReference, SoftmaxSumsToOneAndTooSmallInputIsRefused) {
  const NetSpec spec =
      NetSpec::parse("tiny", "conv:8:5:2 relu pool:2 pad:1 conv:16:3:1 relu conv:10:1:1");
  const Weights weights = random_weights(spec, 4);
  Network net(*ctx_, spec, weights);
  ForwardResult r = net.forward(random_image(spec.window + 6, spec.window + 10, 3), {}, true);
  const Tensor& p = r.layers.at(-1);
  for (int y = 0; y < p.h; ++y)
    for (int x = 0; x < p.w; ++x) {
      double s = 0;
      for (int c = 0; c < p.c; ++c) s += p.at(c, y, x);
      EXPECT_NEAR(s, 1.0, 1e-5);
    }
  EXPECT_THROW(net.forward(random_image(spec.window - 1, spec.window, 3), {}), ImageError);
}

TEST_F(NetworkVsReference, MemoryStaysBoundedAcrossFramesAndSizes) {
  const NetSpec spec = NetSpec::parse(
      "small",
      "conv:16:7:2 relu pool:3 pad:1 conv:32:3:1 relu pool:2 conv:64:3:1 relu conv:10:1:1");
  const Weights weights = random_weights(spec, 9);
  Network net(*ctx_, spec, weights);
  const int sizes[][2] = {{80, 80}, {120, 96}, {64, 150}, {101, 77}, {80, 80}};
  // Every (size, request) combination once; after that nothing may grow.
  for (auto [h, w] : sizes)
    for (bool softmax : {false, true})
      net.forward(random_image(h, w, 1), {1, spec.num_layers()}, softmax);
  const uint64_t activations = net.activation_bytes();
  const uint64_t live = vk::live_buffer_bytes();
  for (int frame = 0; frame < 30; ++frame)
    for (auto [h, w] : sizes)
      net.forward(random_image(h, w, frame), {1, spec.num_layers()}, frame % 2);
  EXPECT_EQ(net.activation_bytes(), activations);
  EXPECT_EQ(vk::live_buffer_bytes(), live);
}

}  // namespace
}  // namespace overfeat
