// SPDX-License-Identifier: MIT
// Dense evaluation: map geometry against the paper's table, fine stride against brute force
// (the network run on explicitly shifted crops), heads against the C++ reference, box
// geometry, scale lists, classification rules and bounded memory.
#include <gtest/gtest.h>

#include <tuple>

#include <numeric>
#include <random>

#include "constructed_models.hpp"
#include "overfeat/dense.hpp"
#include "overfeat/error.hpp"
#include "overfeat/image.hpp"
#include "overfeat/model.hpp"
#include "overfeat/pipeline.hpp"
#include "overfeat/reference.hpp"
#include "synthetic_weights.hpp"
#include "vulkan_fixture.hpp"

namespace overfeat {
namespace {

using testing::random_tensor;
using testing::relative_error;

// The accurate net's structure (kernels, strides, pools, pads) with few channels, so tests run
// it at the paper's sizes in a moment.
const char* kNarrowAccurate =
    "conv:8:7:2 relu pool:3 conv:8:7:1 relu pool:2 pad:1 conv:8:3:1 relu pad:1 conv:8:3:1 relu "
    "pad:1 conv:12:3:1 relu pad:1 conv:12:3:1 relu pool:3 conv:16:5:1 relu conv:16:1:1 relu "
    "conv:10:1:1";
const char* kNarrowFast =
    "conv:8:11:4 relu pool:2 conv:8:5:1 relu pool:2 pad:1 conv:8:3:1 relu pad:1 conv:8:3:1 relu "
    "pad:1 conv:12:3:1 relu pool:2 conv:16:6:1 relu conv:16:1:1 relu conv:10:1:1";

Head regressor_head(int in_channels, int reach, int outputs, unsigned seed) {
  const NetSpec spec =
      NetSpec::parse("reg", "conv:12:" + std::to_string(reach) +
                                ":1 relu conv:8:1:1 relu conv:" + std::to_string(outputs) + ":1:1");
  NetSpec shaped = spec;
  shaped.input_channels = in_channels;
  Head h;
  h.modules = spec.modules;
  h.convs = random_weights(shaped, seed).convs;
  return h;
}

Model make_model(const std::string& name, const std::string& text, bool regressor,
                 bool agnostic = false, unsigned seed = 7) {
  Model m;
  m.net = NetSpec::parse(name, text);
  m.weights = random_weights(m.net, seed);
  int c = 0;
  for (const Module& mod : m.net.modules)
    if (mod.kind == ModuleKind::Conv) c = mod.out_channels;
  for (int i = 0; i < c; ++i) m.classes.push_back("class" + std::to_string(i));
  if (regressor) {
    const int t = m.trunk_end();
    int pc, ph, pw;
    m.net.layer_shape(t + 1, m.net.window, m.net.window, pc, ph, pw);
    m.regressor = regressor_head(pc, ph, agnostic ? 4 : 4 * c, seed + 1);
  }
  m.validate();
  return m;
}

// Host reference of one offset's heads: pool the pre-pool map at (dx, dy), then run the
// classifier (softmax) or the regressor chain.
Tensor reference_chain(const std::vector<Module>& mods, int first, int last,
                       const std::vector<ConvWeights>& convs, size_t conv0, Tensor x) {
  int pad = 0;
  size_t ci = conv0;
  for (int i = first; i < last; ++i) {
    const Module& m = mods[i];
    if (m.kind == ModuleKind::Pad) pad += m.pad;
    if (m.kind == ModuleKind::Relu) x = ref::relu(x);
    if (m.kind == ModuleKind::MaxPool) x = ref::maxpool(x, m.kernel);
    if (m.kind == ModuleKind::Conv) {
      x = ref::conv(x, convs[ci++], m.stride, pad, false);
      pad = 0;
    }
  }
  return x;
}

size_t convs_before(const std::vector<Module>& mods, int end) {
  size_t n = 0;
  for (int i = 0; i < end; ++i) n += mods[i].kind == ModuleKind::Conv;
  return n;
}

// ---------------------------------------------------------------------------------------------

TEST(MapGeometry, AccurateNetMatchesThePaperTable) {
  Model m;
  m.net = NetSpec::official(1);
  const std::vector<InputSize> sizes = paper_sizes(m.net);
  const int pre[6][2] = {{17, 17}, {20, 23}, {23, 29}, {29, 35}, {32, 38}, {35, 44}};
  const int fine[6][2] = {{3, 3}, {6, 9}, {9, 15}, {15, 21}, {18, 24}, {21, 30}};
  ASSERT_EQ(sizes.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    const MapGeometry g = map_geometry(m, sizes[i].h, sizes[i].w, true);
    SCOPED_TRACE("scale " + std::to_string(i + 1));
    EXPECT_EQ(g.pre_pool_h, pre[i][0]);
    EXPECT_EQ(g.pre_pool_w, pre[i][1]);
    EXPECT_EQ(g.h, fine[i][0]);
    EXPECT_EQ(g.w, fine[i][1]);
    EXPECT_EQ(g.stride, 12);
    EXPECT_EQ(g.window, 221);
    EXPECT_EQ(g.offsets, 3);
    const MapGeometry c = map_geometry(m, sizes[i].h, sizes[i].w, false);
    EXPECT_EQ(c.h, fine[i][0] / 3);
    EXPECT_EQ(c.w, fine[i][1] / 3);
    EXPECT_EQ(c.stride, 36);
  }
}

TEST(MapGeometry, FastNetPaperSizesGiveTheSameMaps) {
  Model m;
  m.net = NetSpec::official(0);
  const std::vector<InputSize> sizes = paper_sizes(m.net);
  const int coarse[6][2] = {{1, 1}, {2, 3}, {3, 5}, {5, 7}, {6, 8}, {7, 10}};
  for (int i = 0; i < 6; ++i) {
    const MapGeometry g = map_geometry(m, sizes[i].h, sizes[i].w, true);
    EXPECT_EQ(g.h, 2 * coarse[i][0]) << "scale " << i + 1;
    EXPECT_EQ(g.w, 2 * coarse[i][1]) << "scale " << i + 1;
    EXPECT_EQ(g.stride, 16);
    EXPECT_EQ(map_geometry(m, sizes[i].h, sizes[i].w, false).stride, 32);
  }
  // The release's documented formula for the coarse map: ((H-11)/4 + 1)/8 - 6.
  for (int s = 231; s < 700; s += 7) {
    const MapGeometry g = map_geometry(m, s, s + 3, false);
    EXPECT_EQ(g.h, ((s - 11) / 4 + 1) / 8 - 6) << s;
    EXPECT_EQ(g.w, ((s + 3 - 11) / 4 + 1) / 8 - 6) << s;
  }
  EXPECT_EQ(map_geometry(m, 230, 400, true).h, 0);
}

TEST(Scales, OtherNetsScaleThePaperSizesByTheirWindow) {
  const NetSpec small = NetSpec::parse("small",
                                       "conv:8:7:2 relu pool:2 conv:8:3:1 relu pool:2 "
                                       "conv:8:5:1");
  const auto sizes = paper_sizes(small);
  ASSERT_EQ(sizes.size(), 6u);
  const double f = small.window / 221.0;
  EXPECT_EQ(sizes[0].h, std::lround(245 * f));
  EXPECT_EQ(sizes[5].w, std::lround(569 * f));
  for (const InputSize& s : sizes) EXPECT_GE(std::min(s.h, s.w), small.window);
}

TEST(Scales, ModelMeansTheModelsOwnListElseThePapers) {
  NetSpec acc = NetSpec::official(1);
  EXPECT_EQ(parse_scales("model", acc, 375, 500), parse_scales("paper", acc, 375, 500));
  acc.detection_scales = "250,300";
  EXPECT_EQ(parse_scales("model", acc, 375, 500), parse_scales("250,300", acc, 375, 500));
  acc.detection_scales = "model";  // never recursive
  EXPECT_EQ(parse_scales("model", acc, 375, 500), parse_scales("paper", acc, 375, 500));
}

TEST(Scales, ParsesPresetsAndLists) {
  const NetSpec acc = NetSpec::official(1);
  auto s = parse_scales("paper-exact", acc, 375, 500);
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[5], (InputSize{461, 569}));
  s = parse_scales("paper", acc, 375, 500);  // smaller side 245 ... 461, aspect kept
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0].h, 245);
  EXPECT_EQ(s[5].h, 461);
  EXPECT_NEAR(s[5].w, 461 * 500 / 375.0, 1.0);
  s = parse_scales("300, 250x400", acc, 500, 375);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].w, 300);
  EXPECT_NEAR(s[0].h, 400, 1.0);
  EXPECT_EQ(s[1], (InputSize{250, 400}));
  s = parse_scales("100", acc, 500, 375);  // below the window: raised to it
  EXPECT_GE(s[0].h, 221);
  EXPECT_GE(s[0].w, 221);
  EXPECT_EQ(parse_scales("window", acc, 100, 100)[0], (InputSize{221, 221}));
  // Scales over the decoded-image limit: a 1x60000 image at the paper's scales, or 20000.
  for (const auto& [list, h, w] : {std::tuple{"paper", 1, 60000}, std::tuple{"20000", 500, 375}}) {
    try {
      parse_scales(list, acc, h, w);
      ADD_FAILURE() << list;
    } catch (const ImageError& e) {
      EXPECT_NE(std::string(e.what()).find("megapixels"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(parse_scales("big", acc, 100, 100), Error);
  EXPECT_THROW(parse_scales("3x", acc, 100, 100), Error);
  EXPECT_THROW(parse_scales("", acc, 100, 100), Error);
  try {
    parse_scales("300,abc", acc, 100, 100);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'abc'"), std::string::npos) << e.what();
  }
}

TEST(ScaleMapGeometry, WindowsAndBoxesInImageCoordinates) {
  ScaleMap m;
  m.input = {300, 400};
  m.image_h = 150;
  m.image_w = 200;  // the input is the image at twice its size
  m.geometry.stride = 16;
  m.geometry.window = 231;
  Box b = m.window_box(1, 2);
  EXPECT_FLOAT_EQ(b.x1, 16.0f);
  EXPECT_FLOAT_EQ(b.y1, 8.0f);
  EXPECT_FLOAT_EQ(b.x2, (32 + 231) / 2.0f);
  EXPECT_FLOAT_EQ(b.y2, (16 + 231) / 2.0f);
  m.flipped = true;  // cell x of the mirror image: its window mirrored back
  b = m.window_box(1, 2);
  EXPECT_FLOAT_EQ(b.x1, 200 - (32 + 231) / 2.0f);
  EXPECT_FLOAT_EQ(b.x2, 200 - 16.0f);
  // Regressed edges are window-relative input pixels; class-specific channels 4c..4c+3.
  m.flipped = false;
  m.probs = Tensor(2, 3, 3);
  m.boxes = Tensor(8, 3, 3);
  const float edges[4] = {10, 20, 110, 60};
  for (int e = 0; e < 4; ++e) m.boxes.at(4 + e, 1, 2) = edges[e];
  b = m.box(1, 1, 2);
  EXPECT_FLOAT_EQ(b.x1, (32 + 10) / 2.0f);
  EXPECT_FLOAT_EQ(b.y1, (16 + 20) / 2.0f);
  EXPECT_FLOAT_EQ(b.x2, (32 + 110) / 2.0f);
  EXPECT_FLOAT_EQ(b.y2, (16 + 60) / 2.0f);
  m.flipped = true;
  b = m.box(1, 1, 2);
  EXPECT_FLOAT_EQ(b.x1, 200 - (32 + 110) / 2.0f);
  EXPECT_FLOAT_EQ(b.x2, 200 - (32 + 10) / 2.0f);
  // Boxes are clipped to the image.
  m.boxes.at(4 + 2, 1, 2) = 5000;
  m.flipped = false;
  EXPECT_FLOAT_EQ(m.box(1, 1, 2).x2, 200.0f);
}

TEST(Classify, AveragesSpatialMaximaOverMaps) {
  DenseResult r;
  for (int i = 0; i < 2; ++i) {
    ScaleMap m;
    m.probs = Tensor(3, 2, 2, 0.0f);
    m.probs.at(0, 1, 1) = i == 0 ? 0.8f : 0.2f;
    m.probs.at(1, 0, 0) = 0.4f;
    m.probs.at(2, 0, 1) = i == 0 ? 0.0f : 0.6f;
    r.maps.push_back(m);
  }
  const std::vector<float> p = classify(r);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_FLOAT_EQ(p[0], 0.5f);
  EXPECT_FLOAT_EQ(p[1], 0.4f);
  EXPECT_FLOAT_EQ(p[2], 0.3f);
}

TEST(RawDetections, TopClassesPerMapAndConfidenceFloor) {
  DenseResult r;
  ScaleMap m;
  m.input = {100, 100};
  m.image_h = m.image_w = 100;
  m.geometry = {2, 2, 10, 50, 1};
  m.background = 0;
  m.probs = Tensor(4, 2, 2, 0.0f);
  m.probs.at(0, 0, 0) = 0.9f;  // background: never a detection
  m.probs.at(1, 0, 1) = 0.5f;
  m.probs.at(1, 1, 1) = 0.05f;
  m.probs.at(2, 1, 0) = 0.3f;
  m.probs.at(3, 1, 1) = 0.2f;
  r.maps.push_back(m);
  std::vector<Detection> d = raw_detections(r, 2, 0.1f);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].cls, 1);
  EXPECT_FLOAT_EQ(d[0].score, 0.5f);
  EXPECT_FLOAT_EQ(d[0].box.x1, 10.0f);  // cell (0, 1): window from x = 10
  EXPECT_FLOAT_EQ(d[0].box.x2, 60.0f);
  EXPECT_EQ(d[1].cls, 2);
  EXPECT_EQ(raw_detections(r, 3, 0.0f).size(), 12u);
}

// ---------------------------------------------------------------------------------------------

class Dense : public testing::VulkanTest {};

// Fine stride by offset pooling equals brute force: the coarse map of the input cropped by
// (dy, dx) pre-pool cells is exactly the fine map's (dy, dx) phase. Holds exactly for nets
// without padding (padding sees zeros at the crop's edge where the whole image has pixels).
TEST_F(Dense, FineStrideEqualsShiftedCrops) {
  const char* nets[] = {
      "conv:8:5:2 relu pool:2 conv:12:3:1 relu pool:3 conv:10:2:1 relu conv:6:1:1",
      "conv:6:3:1 relu pool:2 conv:8:3:1 relu pool:2 conv:5:3:1",
      "conv:8:7:2 relu pool:3 conv:8:5:1 relu pool:2 conv:12:3:1 relu pool:3 conv:16:2:1 relu "
      "conv:7:1:1",
  };
  std::mt19937 rng(11);
  for (const char* text : nets)
    for (bool agnostic : {false, true}) {
      const Model model = make_model("shift", text, true, agnostic);
      DenseEvaluator eval(*ctx_, model);
      const int t = model.trunk_end();
      const int k = model.net.modules[t].kernel;
      int pre_stride = 1;
      for (int i = 0; i < t; ++i) pre_stride *= model.net.modules[i].stride;
      for (int extra : {0, 5, 23}) {
        const int h = model.net.window + extra + pre_stride * (k - 1) + 3;
        const int w = model.net.window + 2 * extra + pre_stride * k;
        const Tensor img = random_tensor(3, h, w, rng, 0, 255);
        const ScaleMap fine = eval.evaluate_input(img, {true, false, true}, h, w, false);
        for (int dy = 0; dy < k; ++dy)
          for (int dx = 0; dx < k; ++dx) {
            SCOPED_TRACE(std::string(text) + " size " + std::to_string(h) + "x" +
                         std::to_string(w) + " offset " + std::to_string(dx) + "," +
                         std::to_string(dy));
            const Tensor crop = image::crop(img, dy * pre_stride, dx * pre_stride,
                                            h - dy * pre_stride, w - dx * pre_stride);
            const ScaleMap coarse =
                eval.evaluate_input(crop, {false, false, true}, crop.h, crop.w, false);
            ASSERT_GT(coarse.probs.h, 0);
            ASSERT_EQ((fine.probs.h - dy + k - 1) / k, coarse.probs.h);
            ASSERT_EQ((fine.probs.w - dx + k - 1) / k, coarse.probs.w);
            double worst = 0, worst_box = 0;
            for (int c = 0; c < coarse.probs.c; ++c)
              for (int i = 0; i < coarse.probs.h; ++i)
                for (int j = 0; j < coarse.probs.w; ++j)
                  worst =
                      std::max<double>(worst, std::abs(coarse.probs.at(c, i, j) -
                                                       fine.probs.at(c, i * k + dy, j * k + dx)));
            for (int c = 0; c < coarse.boxes.c; ++c)
              for (int i = 0; i < coarse.boxes.h; ++i)
                for (int j = 0; j < coarse.boxes.w; ++j) {
                  const float a = coarse.boxes.at(c, i, j);
                  const float b = fine.boxes.at(c, i * k + dy, j * k + dx);
                  worst_box = std::max<double>(worst_box, std::abs(a - b) / (1.0 + std::abs(b)));
                }
            EXPECT_LT(worst, 1e-5);
            EXPECT_LT(worst_box, 1e-4);
            // The same window, seen from both sides, in image coordinates.
            const Box a = coarse.window_box(0, 0);
            const Box b = fine.window_box(dy, dx);
            EXPECT_FLOAT_EQ(a.x1 + dx * pre_stride, b.x1);
            EXPECT_FLOAT_EQ(a.y1 + dy * pre_stride, b.y1);
          }
      }
    }
}

// With padding (the official structure), every offset's pooled map through the heads equals the
// plain C++ reference run on the whole image.
TEST_F(Dense, OffsetsMatchTheReferenceWithPadding) {
  std::mt19937 rng(5);
  for (const char* text : {kNarrowFast, kNarrowAccurate}) {
    const Model model = make_model("narrow", text, true);
    DenseEvaluator eval(*ctx_, model);
    const int t = model.trunk_end();
    const int k = model.net.modules[t].kernel;
    const Tensor img = random_tensor(3, model.net.window + 40, model.net.window + 61, rng, 0, 255);
    const ScaleMap fine = eval.evaluate_input(img, {}, img.h, img.w, false);
    const std::vector<Tensor> layers = ref::forward_all(model.net, model.weights, img);
    const Tensor& pre = layers[t];  // release layer t = output of module t - 1
    const auto& mods = model.net.modules;
    for (int dy = 0; dy < k; ++dy)
      for (int dx = 0; dx < k; ++dx) {
        SCOPED_TRACE(std::string(text) + " offset " + std::to_string(dx) + "," +
                     std::to_string(dy));
        const Tensor pooled = ref::maxpool(pre, k, dx, dy);
        const Tensor scores =
            ref::softmax(reference_chain(mods, t + 1, model.net.num_layers(), model.weights.convs,
                                         convs_before(mods, t), pooled));
        const Tensor boxes = reference_chain(model.regressor->modules, 0,
                                             static_cast<int>(model.regressor->modules.size()),
                                             model.regressor->convs, 0, pooled);
        ASSERT_GT(scores.h, 0);
        double worst = 0, worst_box = 0;
        for (int c = 0; c < scores.c; ++c)
          for (int i = 0; i < scores.h; ++i)
            for (int j = 0; j < scores.w; ++j)
              worst = std::max<double>(
                  worst, std::abs(scores.at(c, i, j) - fine.probs.at(c, i * k + dy, j * k + dx)));
        for (int c = 0; c < boxes.c; ++c)
          for (int i = 0; i < boxes.h; ++i)
            for (int j = 0; j < boxes.w; ++j)
              worst_box = std::max<double>(
                  worst_box,
                  std::abs(boxes.at(c, i, j) - fine.boxes.at(c, i * k + dy, j * k + dx)) /
                      (1.0 + std::abs(boxes.at(c, i, j))));
        EXPECT_LT(worst, 1e-4);
        EXPECT_LT(worst_box, 1e-3);
      }
  }
}

// The paper's table, run on the device with the accurate net's structure.
TEST_F(Dense, AccurateStructureGivesThePaperMapsOnTheDevice) {
  const Model model = make_model("narrow-accurate", kNarrowAccurate, true);
  DenseEvaluator eval(*ctx_, model);
  std::mt19937 rng(3);
  const Tensor img = random_tensor(3, 300, 380, rng, 0, 255);
  const DenseResult r = eval.evaluate(img, paper_sizes(model.net), {true, true, true});
  const int fine[6][2] = {{3, 3}, {6, 9}, {9, 15}, {15, 21}, {18, 24}, {21, 30}};
  ASSERT_EQ(r.maps.size(), 12u);
  for (const ScaleMap& m : r.maps) {
    SCOPED_TRACE("scale " + std::to_string(m.scale) + (m.flipped ? " flipped" : ""));
    EXPECT_EQ(m.probs.h, fine[m.scale][0]);
    EXPECT_EQ(m.probs.w, fine[m.scale][1]);
    EXPECT_EQ(m.boxes.h, m.probs.h);
    EXPECT_EQ(m.boxes.c, 4 * 10);
    // Probabilities over classes sum to one at every cell.
    for (int y = 0; y < m.probs.h; ++y)
      for (int x = 0; x < m.probs.w; ++x) {
        double s = 0;
        for (int c = 0; c < m.probs.c; ++c) s += m.probs.at(c, y, x);
        ASSERT_NEAR(s, 1.0, 1e-4);
      }
  }
  EXPECT_GT(r.timings.network_ms, 0);
  EXPECT_EQ(classify(r).size(), 10u);
}

// The real accurate net (official layout, synthetic weights) at the paper's first two scales.
TEST_F(Dense, OfficialAccurateNetGivesThePaperMaps) {
  const Model model = official_model(1, testing::synthetic_weights_dir());
  DenseEvaluator eval(*ctx_, model);
  std::mt19937 rng(8);
  const Tensor img = random_tensor(3, 245, 245, rng, 0, 255);
  const DenseResult r = eval.evaluate(img, {{245, 245}, {281, 317}}, {true, false, true});
  ASSERT_EQ(r.maps.size(), 2u);
  EXPECT_EQ(r.maps[0].probs.c, 1000);
  EXPECT_EQ(r.maps[0].probs.h, 3);
  EXPECT_EQ(r.maps[0].probs.w, 3);
  EXPECT_EQ(r.maps[1].probs.h, 6);
  EXPECT_EQ(r.maps[1].probs.w, 9);
  EXPECT_EQ(r.maps[0].boxes.size(), 0u);  // the official weights have no regressor
  // Cell (2, 2) at fine stride 12 sees the window from (24, 24) of the 245x245 input.
  const Box w = r.maps[0].window_box(2, 2);
  EXPECT_FLOAT_EQ(w.x1, 24.0f);
  EXPECT_FLOAT_EQ(w.x2, 24.0f + 221.0f);
}

// A flipped map is the map of the mirror image: its cell x sees the mirrored window.
TEST_F(Dense, FlippedMapIsTheMirrorImagesMap) {
  const Model model = make_model("narrow-fast", kNarrowFast, false);
  DenseEvaluator eval(*ctx_, model);
  std::mt19937 rng(9);
  const Tensor img = random_tensor(3, 260, 300, rng, 0, 255);
  const DenseResult r = eval.evaluate(img, {{260, 300}}, {true, true, false});
  ASSERT_EQ(r.maps.size(), 2u);
  const ScaleMap direct = eval.evaluate_input(image::flip_horizontal(img), {}, 260, 300, true);
  EXPECT_EQ(direct.probs.data, r.maps[1].probs.data);
  EXPECT_TRUE(r.maps[1].flipped);
  EXPECT_EQ(r.maps[1].boxes.size(), 0u);  // no regressor: boxes are the windows
  const Box w = r.maps[1].window_box(0, 0);
  EXPECT_FLOAT_EQ(w.x2, 300.0f);
  EXPECT_FLOAT_EQ(w.x1, 300.0f - 231.0f);
}

TEST_F(Dense, TenViewsAverageProbabilities) {
  const Model model = make_model("narrow-fast", kNarrowFast, false);
  DenseEvaluator eval(*ctx_, model);
  std::mt19937 rng(2);
  const Tensor img = random_tensor(3, 300, 400, rng, 0, 255);
  const std::vector<float> p = classify_ten_views(eval, img);
  ASSERT_EQ(p.size(), 10u);
  EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 1.0, 1e-4);
  // The same as averaging the ten crops by hand.
  int h, w;
  image::fill_size(300, 400, 256, h, w);
  const Tensor resized = image::resize(img, h, w);
  const Tensor center = image::crop(resized, (h - 231) / 2, (w - 231) / 2, 231, 231);
  const ScaleMap c = eval.evaluate_input(center, {false, false, false}, 231, 231, false);
  EXPECT_EQ(c.probs.h, 1);
  EXPECT_NE(c.probs.data[0], p[0]);  // one view alone is not the average
}

TEST_F(Dense, TooSmallInputIsAClearError) {
  const Model model = make_model("narrow-fast", kNarrowFast, false);
  DenseEvaluator eval(*ctx_, model);
  std::mt19937 rng(1);
  try {
    eval.evaluate_input(random_tensor(3, 200, 300, rng, 0, 255), {}, 200, 300, false);
    FAIL() << "no error";
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find("231x231"), std::string::npos) << e.what();
  }
}

TEST_F(Dense, InputTooLargeForTheDeviceIsAClearError) {
  // 512 channels of (n-2)^2 pixels: beyond the largest bindable buffer for a big enough n.
  const Model model = make_model("wide", "conv:512:3:1 relu pool:2 conv:4:2:1", false);
  DenseEvaluator eval(*ctx_, model);
  const uint64_t range = ctx_->limits().maxStorageBufferRange;
  int n = 3;
  while (512ull * (n - 2) * (n - 2) * 4 <= range) n *= 2;
  if (n > 8192) GTEST_SKIP() << "this device binds buffers too large to provoke the error";
  try {
    eval.evaluate_input(Tensor(3, n, n, 1.0f), {}, n, n, false);
    FAIL() << "no error for " << n << "x" << n;
  } catch (const OutOfDeviceMemory& e) {
    EXPECT_NE(std::string(e.what()).find("conv1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--scales"), std::string::npos) << e.what();
  }
  // The evaluator still works afterwards.
  EXPECT_EQ(eval.evaluate_input(Tensor(3, 40, 40, 1.0f), {}, 40, 40, false).probs.c, 4);
}

TEST_F(Dense, MemoryStaysBoundedAcrossScalesAndFrames) {
  const Model model = make_model("narrow-accurate", kNarrowAccurate, true);
  DenseEvaluator eval(*ctx_, model);
  std::mt19937 rng(4);
  const Tensor img = random_tensor(3, 240, 320, rng, 0, 255);
  const auto sizes = paper_sizes(model.net);
  // Each set of options asks for other maps, which the executor lays out in its buffers in
  // other ways: once each has run at the largest sizes, smaller work and new sizes reuse them.
  for (bool fine : {true, false})
    for (bool boxes : {true, false}) eval.evaluate(img, sizes, {fine, true, boxes});
  const uint64_t held = eval.activation_bytes();
  const uint64_t live = vk::live_buffer_bytes();
  for (int frame = 0; frame < 5; ++frame) {
    eval.evaluate(img, sizes, {true, frame % 2 == 0, frame % 3 != 0});
    eval.evaluate(img, {{230 + frame * 13, 260}}, {frame % 2 == 1, false, true});
  }
  EXPECT_EQ(eval.activation_bytes(), held);
  EXPECT_EQ(vk::live_buffer_bytes(), live);
}

// ---------------------------------------------------------------------------------------------
// Features of a chosen layer (DenseOptions::feature_layer) at every cell.

// Phase (dy, dx) of a map interleaved k x k: cells (i * k + dy, j * k + dx).
Tensor phase(const Tensor& t, int k, int dy, int dx) {
  Tensor p(t.c, std::max(0, (t.h - dy + k - 1) / k), std::max(0, (t.w - dx + k - 1) / k));
  for (int c = 0; c < p.c; ++c)
    for (int i = 0; i < p.h; ++i)
      for (int j = 0; j < p.w; ++j) p.at(c, i, j) = t.at(c, i * k + dy, j * k + dx);
  return p;
}

// max |a - b| / max |b|, or infinity when the shapes differ.
double max_relative_difference(const Tensor& a, const Tensor& b) {
  if (a.c != b.c || a.h != b.h || a.w != b.w) return INFINITY;
  double diff = 0, scale = 1e-12;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a.data[i])) return INFINITY;
    diff = std::max<double>(diff, std::abs(a.data[i] - b.data[i]));
    scale = std::max<double>(scale, std::abs(b.data[i]));
  }
  return diff / scale;
}

// Brute force for pad-free nets: phase (dy, dx) of `features` (layer `layer` of a dense run on
// `img`) is the layer as the C++ reference computes it on `img` cropped by (dy, dx) pre-pool
// cells; a phase the crop is too small for has no cells.
void expect_features_match_shifted_crops(const Model& model, const Tensor& img,
                                         const Tensor& features, bool fine, int layer) {
  const auto& mods = model.net.modules;
  const int t = model.trunk_end();
  const int k = fine ? mods[t].kernel : 1;
  const int pre_stride = output_stride(mods, 0, t);
  NetSpec upto = model.net;
  upto.modules.resize(layer);
  int channels, h, w;
  model.net.layer_shape(layer, img.h, img.w, channels, h, w);
  EXPECT_EQ(features.c, channels);
  for (int dy = 0; dy < k; ++dy)
    for (int dx = 0; dx < k; ++dx) {
      SCOPED_TRACE(model.net.name + " layer " + std::to_string(layer) + " input " +
                   std::to_string(img.h) + "x" + std::to_string(img.w) + " offset " +
                   std::to_string(dx) + "," + std::to_string(dy));
      const Tensor crop = image::crop(img, dy * pre_stride, dx * pre_stride,
                                      img.h - dy * pre_stride, img.w - dx * pre_stride);
      const Tensor got = phase(features, k, dy, dx);
      Tensor want;
      try {
        want = ref::forward_all(upto, model.weights, crop).back();
      } catch (const Error&) {  // the crop is too small for this layer
        EXPECT_EQ(got.size(), 0u);
        continue;
      }
      EXPECT_LT(max_relative_difference(got, want), 1e-4)
          << testing::shape(got) << " vs " << testing::shape(want);
    }
}

const char* kPadFreeNets[] = {
    "conv:8:5:2 relu pool:2 conv:12:3:1 relu pool:3 conv:10:2:1 relu conv:6:1:1",
    "conv:6:3:1 relu pool:2 conv:8:3:1 relu pool:2 conv:5:3:1",
    "conv:8:7:2 relu pool:3 conv:8:5:1 relu pool:2 conv:12:3:1 relu pool:3 conv:16:2:1 relu "
    "conv:3:1:1 relu conv:7:1:1",
};

// Every layer from the last pooling on (pooled trunk features, convs before their ReLU, ReLUs,
// the last layer), fine and coarse, at sizes where every offset has outputs and at the window
// (where some offsets have pooled features but no classifier cells).
TEST_F(Dense, FeaturesEqualTheReferenceOnShiftedCrops) {
  std::mt19937 rng(21);
  for (const char* text : kPadFreeNets) {
    const Model model = make_model(std::string("features ") + text, text, true);
    DenseEvaluator eval(*ctx_, model);
    const int t = model.trunk_end();
    const int k = model.net.modules[t].kernel;
    const int pre_stride = output_stride(model.net.modules, 0, t);
    const int win = model.net.window;
    const InputSize sizes[] = {{win, win + pre_stride}, {win + pre_stride * (k - 1) + 3, win + 29}};
    for (const InputSize s : sizes) {
      const Tensor img = random_tensor(3, s.h, s.w, rng, 0, 255);
      for (bool fine : {true, false})
        for (int layer = t + 1; layer <= model.net.num_layers(); ++layer) {
          DenseOptions opt;
          opt.fine = fine;
          opt.feature_layer = layer;
          const ScaleMap m = eval.evaluate_input(img, opt, s.h, s.w, false);
          expect_features_match_shifted_crops(model, img, m.features, fine, layer);
        }
    }
  }
}

// Heads with padding (and the official fast structure, whose default feature layer 19 is a conv
// before its ReLU): each offset's layers equal the reference run on that offset's pooled map,
// a padding layer with its zeros.
TEST_F(Dense, FeaturesOfEveryHeadLayerMatchTheReferenceWithPadding) {
  const char* kPaddedHead =
      "conv:8:5:2 relu pool:3 conv:8:3:1 relu pool:2 pad:1 conv:8:3:1 relu pad:1 conv:6:3:1 relu "
      "conv:5:1:1";
  std::mt19937 rng(22);
  for (const char* text : {kPaddedHead, kNarrowFast}) {
    const Model model = make_model("padded", text, false);
    DenseEvaluator eval(*ctx_, model);
    const auto& mods = model.net.modules;
    const int t = model.trunk_end();
    const int k = mods[t].kernel;
    const Tensor img = random_tensor(3, model.net.window + 20, model.net.window + 37, rng, 0, 255);
    const Tensor pre = ref::forward_all(model.net, model.weights, img)[t];
    std::vector<int> layers;
    for (int l = t + 1; l <= model.net.num_layers(); ++l) layers.push_back(l);
    if (text == kNarrowFast) layers = {t + 1, 19, 20};
    for (int layer : layers) {
      const ScaleMap m = eval.evaluate_input(img, {.feature_layer = layer}, img.h, img.w, false);
      for (int dy = 0; dy < k; ++dy)
        for (int dx = 0; dx < k; ++dx) {
          SCOPED_TRACE(std::string(text) + " layer " + std::to_string(layer) + " offset " +
                       std::to_string(dx) + "," + std::to_string(dy));
          Tensor x = ref::maxpool(pre, k, dx, dy);
          size_t conv = convs_before(mods, t);
          for (int i = t + 1; i < layer; ++i) {
            if (mods[i].kind == ModuleKind::Pad) x = ref::pad(x, mods[i].pad);
            if (mods[i].kind == ModuleKind::Relu) x = ref::relu(x);
            if (mods[i].kind == ModuleKind::Conv)
              x = ref::conv(x, model.weights.convs[conv++], mods[i].stride, 0, false);
          }
          EXPECT_LT(max_relative_difference(phase(m.features, k, dy, dx), x), 1e-4);
        }
    }
  }
}

// The flipped map's features are the mirror image's, in its (mirrored) order.
TEST_F(Dense, FlippedFeaturesAreTheMirrorImagesFeatures) {
  const Model model = make_model("flip", kPadFreeNets[0], true);
  DenseEvaluator eval(*ctx_, model);
  std::mt19937 rng(23);
  const int win = model.net.window;
  const Tensor img = random_tensor(3, win + 9, win + 17, rng, 0, 255);
  const Tensor mirror = image::flip_horizontal(img);
  for (int layer : {model.trunk_end() + 1, model.net.num_layers() - 1}) {
    const DenseResult r = eval.evaluate(img, {{img.h, img.w}}, {true, true, true, layer});
    ASSERT_EQ(r.maps.size(), 2u);
    ASSERT_TRUE(r.maps[1].flipped);
    expect_features_match_shifted_crops(model, img, r.maps[0].features, true, layer);
    expect_features_match_shifted_crops(model, mirror, r.maps[1].features, true, layer);
    EXPECT_NE(r.maps[0].features.data, r.maps[1].features.data);
  }
}

// With the last layer as features, the probabilities are their softmax at every cell.
TEST_F(Dense, ProbabilitiesAreTheSoftmaxOfLastLayerFeatures) {
  const Model model = make_model("narrow-fast", kNarrowFast, true);
  DenseEvaluator eval(*ctx_, model);
  std::mt19937 rng(24);
  const Tensor img = random_tensor(3, 250, 290, rng, 0, 255);
  const DenseResult r =
      eval.evaluate(img, {{250, 290}, {231, 262}}, {true, true, true, model.net.num_layers()});
  ASSERT_EQ(r.maps.size(), 4u);
  for (const ScaleMap& m : r.maps) {
    ASSERT_EQ(m.features.c, m.probs.c);
    ASSERT_EQ(m.features.h, m.probs.h);
    ASSERT_EQ(m.features.w, m.probs.w);
    const Tensor p = ref::softmax(m.features);
    double worst = 0;
    for (size_t i = 0; i < p.size(); ++i)
      worst = std::max<double>(worst, std::abs(p.data[i] - m.probs.data[i]));
    EXPECT_LT(worst, 1e-5);
  }
}

TEST_F(Dense, FeatureLayerOutsideTheHeadIsAClearErrorAndFeaturesChangeNothingElse) {
  const Model model = make_model("narrow-accurate", kNarrowAccurate, true);
  DenseEvaluator eval(*ctx_, model);
  const int t = model.trunk_end(), n = model.net.num_layers();
  std::mt19937 rng(25);
  const Tensor img = random_tensor(3, 240, 260, rng, 0, 255);
  for (int bad : {-2, 0, 1, t, n + 1}) {
    SCOPED_TRACE("layer " + std::to_string(bad));
    for (bool whole : {true, false}) {
      try {
        DenseOptions opt;
        opt.feature_layer = bad;
        if (whole)
          eval.evaluate(img, {{240, 260}}, opt);
        else
          eval.evaluate_input(img, opt, img.h, img.w, false);
        FAIL() << "no error";
      } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("layer " + std::to_string(bad)), std::string::npos) << what;
        EXPECT_NE(what.find("from " + std::to_string(t + 1)), std::string::npos) << what;
        EXPECT_NE(what.find("to " + std::to_string(n)), std::string::npos) << what;
        EXPECT_NE(what.find(model.net.modules[t].name), std::string::npos) << what;
      }
    }
  }
  // Without features: none; with them: the same probabilities and boxes, bit for bit.
  const DenseOptions plain{true, true, true};
  const DenseResult base = eval.evaluate(img, {{240, 260}}, plain);
  ASSERT_EQ(base.maps.size(), 2u);
  for (const ScaleMap& m : base.maps) EXPECT_EQ(m.features.size(), 0u);
  for (int layer = t + 1; layer <= n; ++layer) {
    SCOPED_TRACE("layer " + std::to_string(layer));
    DenseOptions opt = plain;
    opt.feature_layer = layer;
    const DenseResult r = eval.evaluate(img, {{240, 260}}, opt);
    ASSERT_EQ(r.maps.size(), 2u);
    for (size_t i = 0; i < r.maps.size(); ++i) {
      EXPECT_EQ(r.maps[i].probs.data, base.maps[i].probs.data);
      EXPECT_EQ(r.maps[i].boxes.data, base.maps[i].boxes.data);
      EXPECT_GT(r.maps[i].features.size(), 0u);
    }
  }
}

TEST_F(Dense, FeatureBuffersAreReusedAndCounted) {
  const Model model = make_model("narrow-accurate", kNarrowAccurate, true);
  DenseEvaluator eval(*ctx_, model);
  std::mt19937 rng(26);
  const Tensor img = random_tensor(3, 240, 320, rng, 0, 255);
  const std::vector<InputSize> sizes = {{221, 260}, {250, 330}};
  const int t = model.trunk_end(), n = model.net.num_layers();
  eval.evaluate(img, sizes, {true, true, true});
  const uint64_t without = eval.activation_bytes();
  eval.evaluate(img, sizes, {true, true, true, n});
  EXPECT_GT(eval.activation_bytes(), without);  // the per-offset feature maps are device memory
  for (int layer = t + 1; layer <= n; ++layer) eval.evaluate(img, sizes, {true, true, true, layer});
  const uint64_t held = eval.activation_bytes();
  const uint64_t live = vk::live_buffer_bytes();
  for (int frame = 0; frame < 3; ++frame)
    for (int layer : {t + 1, n - 1, n, -1}) {
      eval.evaluate(img, sizes, {true, frame % 2 == 0, true, layer});
      eval.evaluate(img, {sizes[frame % 2]}, {false, false, true, layer});
    }
  EXPECT_EQ(eval.activation_bytes(), held);
  EXPECT_EQ(vk::live_buffer_bytes(), live);
}

// ---------------------------------------------------------------------------------------------
// End to end with the hand-built marker model (constructed_models.hpp): the right boxes are known.

using testing::draw_object;
using testing::marker_model;

TEST_F(Dense, DetectsConstructedObjectsWhereTheyAre) {
  const Model model = marker_model();
  ASSERT_EQ(model.net.window, 64);
  DenseEvaluator eval(*ctx_, model);
  Tensor img(3, 240, 320, 0.0f);
  const Box truth[2] = {{40, 36, 72, 68}, {200, 148, 232, 180}};
  for (const Box& b : truth) draw_object(img, static_cast<int>(b.x1), static_cast<int>(b.y1));
  for (auto merge : {DetectOptions::Merge::Greedy, DetectOptions::Merge::Nms}) {
    DetectOptions opt;
    opt.scales = "240x320";
    opt.merge = merge;
    opt.merge_threshold = merge == DetectOptions::Merge::Nms ? 0.3f : 0.8f;
    const DetectResult r = detect(eval, img, opt);
    SCOPED_TRACE(merge == DetectOptions::Merge::Nms ? "nms" : "greedy");
    ASSERT_EQ(r.merged.size(), 2u);
    EXPECT_GT(r.raw.size(), 2u);  // several windows see each object
    for (const Detection& d : r.merged) {
      EXPECT_EQ(d.cls, 1);
      const float best = std::max(iou(d.box, truth[0]), iou(d.box, truth[1]));
      EXPECT_GT(best, 0.75f) << d.box.x1 << "," << d.box.y1 << " " << d.box.x2 << "," << d.box.y2;
    }
    if (merge == DetectOptions::Merge::Greedy)  // votes: the windows that saw the object
      EXPECT_EQ(r.merged[0].votes + r.merged[1].votes, static_cast<int>(r.raw.size()));
    EXPECT_GT(r.class_probs[1], 0.9f);
  }
  // Without objects, nothing.
  const DetectResult empty = detect(eval, Tensor(3, 240, 320, 0.0f), {.scales = "240x320"});
  EXPECT_TRUE(empty.merged.empty());
}

}  // namespace
}  // namespace overfeat
