// SPDX-License-Identifier: MIT
// The `overfeat` command with a classic network (an ONNX classifier without OverFeat metadata,
// built here node by node): the release-compatible mode's softmax against the host reference
// with the default preprocessing and with a sidecar's, class maps from `heatmap`, and one-shot
// learning with the network's features.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "onnx_builder.hpp"
#include "overfeat/graph_model.hpp"
#include "overfeat/graph_oneshot.hpp"
#include "overfeat/graph_reference.hpp"
#include "overfeat/image.hpp"
#include "test_support.hpp"
#include "vulkan_fixture.hpp"

namespace overfeat {
namespace {

namespace fs = std::filesystem;
using testing::run_command;

/// A smooth colour picture of `side` x `side`, as PNG; returns it as planar RGB 0..255 too.
Tensor write_picture(const fs::path& file, int side) {
  cv::Mat bgr(side, side, CV_8UC3);
  Tensor rgb(3, side, side);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      const uchar r = static_cast<uchar>(8 * x % 256), g = static_cast<uchar>(5 * y % 256),
                  b = static_cast<uchar>((x * y) % 256);
      bgr.at<cv::Vec3b>(y, x) = {b, g, r};
      rgb.at(0, y, x) = r;
      rgb.at(1, y, x) = g;
      rgb.at(2, y, x) = b;
    }
  cv::imwrite(file.string(), bgr);
  return rgb;
}

/// The host reference's class probabilities for `rgb` through `model`'s graph.
std::vector<double> reference_probs(const GraphModel& model, const Tensor& rgb) {
  const auto maps = graph::ref::run(model.graph, preprocess(model.pre, rgb));
  const Tensor& logits = maps[model.graph.output];
  double top = -INFINITY, sum = 0;
  for (float v : logits.data) top = std::max(top, static_cast<double>(v));
  std::vector<double> p;
  for (float v : logits.data) sum += std::exp(v - top);
  for (float v : logits.data) p.push_back(std::exp(v - top) / sum);
  return p;
}

void expect_probs(const std::string& json_text, const std::vector<double>& want,
                  const std::vector<std::string>& names) {
  const auto j = nlohmann::json::parse(json_text);
  ASSERT_EQ(j.size(), 1u);
  const auto& classes = j[0]["classes"];
  ASSERT_EQ(classes.size(), want.size());
  for (const auto& c : classes) {
    const int i = c["index"];
    EXPECT_NEAR(c["probability"].get<double>(), want.at(i), 1e-5);
    EXPECT_EQ(c["name"], names.at(i));
  }
}

// The command needs a Vulkan device (skipped without one, as the sanitizer build runs).
class ClassicNetworkCli : public testing::VulkanTest {};

TEST_F(ClassicNetworkCli, ReleaseModeEqualsTheReferenceWithDefaultsAndWithASidecar) {
  const testing::TempDir dir("classic_cli");
  const fs::path model = dir / "tiny.onnx", picture = dir / "picture.png";
  testing::tiny_classifier(5, 32).save(model.string());
  const Tensor rgb = write_picture(picture, 32);
  const std::string cmd = std::string(OVERFEAT_BIN) + " -m '" + model.string() + "' -n 5 --json '" +
                          picture.string() + "'";
  auto r = run_command(cmd);
  ASSERT_EQ(r.code, 0) << r.err;
  GraphModel m = load_graph_model(model);
  EXPECT_EQ(m.pre.source, "ImageNet defaults (torchvision)");
  expect_probs(r.out, reference_probs(m, rgb),
               {"class 0", "class 1", "class 2", "class 3", "class 4"});

  // A sidecar: Caffe-style 0..255 BGR with its own mean and std, and class names.
  std::ofstream(dir / "names.txt") << "ant\nbee\ncat\ndog\nemu\n";
  std::ofstream(sidecar_path(model))
      << R"({"mean": [120, 110, 100], "std": [50, 60, 70], "range": 255, "bgr": true,
            "classes": "names.txt"})";
  r = run_command(cmd);
  ASSERT_EQ(r.code, 0) << r.err;
  m = load_graph_model(model);
  EXPECT_TRUE(m.pre.bgr);
  expect_probs(r.out, reference_probs(m, rgb), {"ant", "bee", "cat", "dog", "emu"});

  // The text format is the release's: "name probability" lines.
  r = run_command(std::string(OVERFEAT_BIN) + " -m '" + model.string() + "' -n 2 '" +
                  picture.string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2);

  // A damaged sidecar is named, with what it should hold.
  std::ofstream(sidecar_path(model)) << R"({"std": [1, 0, 1]})";
  r = run_command(cmd);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("tiny.onnx.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("std must be positive"), std::string::npos) << r.err;
}

TEST_F(ClassicNetworkCli, HeatmapGivesClassMapsAndAnyNodeByName) {
  const testing::TempDir dir("classic_cli");
  const fs::path model = dir / "tiny.onnx", picture = dir / "picture.png";
  testing::tiny_classifier(5, 32).save(model.string());
  write_picture(picture, 64);
  auto r = run_command(std::string(OVERFEAT_BIN) + " heatmap -m '" + model.string() +
                       "' -n 1 --scales 32,64 --raw json -o '" + (dir / "maps").string() + "' '" +
                       picture.string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream in(dir / "maps" / "picture_heatmaps.json");
  const auto index = nlohmann::json::parse(in);
  ASSERT_EQ(index["maps"].size(), 2u);
  // The global pooling is gone: a 32x32 input gives 15x15 cells of the stride-2 conv.
  EXPECT_EQ(index["maps"][0]["map_size"], nlohmann::json({15, 15}));
  EXPECT_EQ(index["maps"][1]["map_size"], nlohmann::json({31, 31}));
  EXPECT_EQ(index["maps"][0]["stride"], 2);

  // Any node's map by name (the tiny net's ReLU: 8 x 15 x 15 on its 32 x 32 input), and an
  // unknown name listed against the real ones.
  write_picture(dir / "small.png", 32);
  r = run_command(std::string(OVERFEAT_BIN) + " -m '" + model.string() + "' --layer relu1 '" +
                  (dir / "small.png").string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "8 15 15");
  r = run_command(std::string(OVERFEAT_BIN) + " -m '" + model.string() + "' --layer nope '" +
                  (dir / "small.png").string() + "'");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("conv1"), std::string::npos) << r.err;
}

/// The host reference's embedding: the region resized as Fit frames it (smaller side 32, the
/// tiny net's input), through the graph to `node`, averaged over cells, L2-normalized.
std::vector<double> reference_embedding(const GraphModel& m, const Tensor& region, int node) {
  int h = 0, w = 0;
  image::fill_size(region.h, region.w, 32, h, w);
  const Tensor input = preprocess(m.pre, image::resize(region, h, w));
  const auto maps = graph::ref::run(m.graph, input);
  const Tensor& map = maps.at(node);
  const size_t cells = static_cast<size_t>(map.h) * map.w;
  std::vector<double> v(map.c, 0.0);
  double norm = 0;
  for (int c = 0; c < map.c; ++c) {
    for (size_t i = 0; i < cells; ++i) v[c] += map.data[c * cells + i];
    v[c] /= static_cast<double>(cells);
    norm += v[c] * v[c];
  }
  for (double& x : v) x /= std::sqrt(norm);
  return v;
}

// One-shot learning with a classic network (graph_oneshot.hpp): embeddings of its last pooling
// (or of a node named with --layer), the same stores and recognition as the OverFeat models.
TEST_F(ClassicNetworkCli, EmbeddingsAreANodesMapAveragedOverCellsAndNormalized) {
  const testing::TempDir dir("classic_embed");
  const fs::path file = dir / "tiny.onnx";
  testing::tiny_classifier(5, 32).save(file.string());
  const GraphModel m = load_graph_model(file);
  const int pool = graph_feature_node(m, "");
  EXPECT_EQ(m.graph.nodes[pool].name, "pool");
  const int relu = graph_feature_node(m, "relu1");
  EXPECT_EQ(m.graph.nodes[relu].name, "relu1");
  try {
    graph_feature_node(m, "fc7");
    ADD_FAILURE() << "no such node";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("relu1"), std::string::npos) << e.what();
  }
  GraphDenseEvaluator dense(*ctx_, m);
  GraphEmbedder embedder(dense, m);
  const Tensor rgb = write_picture(dir / "p.png", 48);
  const Tensor wide = image::resize(rgb, 40, 70);  // Fit keeps the aspect: 32 x 56
  for (int node : {pool, relu}) {
    const auto got = embedder.embed(wide, std::nullopt, node, EmbedOptions{});
    const auto want = reference_embedding(m, wide, node);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4) << node << " " << i;
  }
  // A box: its region grown by the context (10 % on each side), then framed the same way.
  EmbedOptions o;
  const Box box{10, 5, 40, 35};
  const auto got = embedder.embed(wide, box, pool, o);
  const Box r = embedding_region(wide, box, o.context);
  const auto want =
      reference_embedding(m,
                          image::crop(wide, static_cast<int>(r.y1), static_cast<int>(r.x1),
                                      static_cast<int>(r.height()), static_cast<int>(r.width())),
                          pool);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4) << i;
  // The fingerprint follows the weights, not the file's name.
  testing::tiny_classifier(5, 32).save((dir / "copy.onnx").string());
  EXPECT_EQ(graph_model_fingerprint(load_graph_model(dir / "copy.onnx")),
            graph_model_fingerprint(m));
  GraphModel other = m;
  other.graph.nodes[1].conv.weights[0] += 1e-3f;
  EXPECT_NE(graph_model_fingerprint(other), graph_model_fingerprint(m));
}

TEST_F(ClassicNetworkCli, LearnRecognizeAndListWithAClassicNetwork) {
  const testing::TempDir dir("classic_learn");
  const fs::path model = dir / "tiny.onnx", store = dir / "store.json";
  testing::tiny_classifier(5, 32).save(model.string());
  write_picture(dir / "stripes.png", 48);
  {
    cv::Mat spots(48, 48, CV_8UC3);
    for (int y = 0; y < 48; ++y)
      for (int x = 0; x < 48; ++x)
        spots.at<cv::Vec3b>(y, x) =
            ((x / 6 + y / 6) % 2) ? cv::Vec3b{250, 40, 10} : cv::Vec3b{20, 200, 60};
    cv::imwrite((dir / "spots.png").string(), spots);
  }
  const std::string bin = std::string(OVERFEAT_BIN) + " ";
  const std::string m = "-m '" + model.string() + "' --store '" + store.string() + "' ";
  auto r = run_command(bin + "learn " + m + "stripes '" + (dir / "stripes.png").string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("learned stripes: 1 example added"), std::string::npos) << r.out;
  r = run_command(bin + "learn " + m + "spots '" + (dir / "spots.png").string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;

  r = run_command(bin + "recognize " + m + "--json --threshold 0.5 '" +
                  (dir / "stripes.png").string() + "' '" + (dir / "spots.png").string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto answers = nlohmann::json::parse(r.out);
  ASSERT_EQ(answers.size(), 2u) << r.out;
  EXPECT_EQ(answers[0]["class"], "stripes") << r.out;
  EXPECT_EQ(answers[1]["class"], "spots") << r.out;
  EXPECT_NEAR(answers[0]["similarity"].get<double>(), 1.0, 1e-4);  // its own example

  r = run_command(bin + "learned " + m + "--json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto listed = nlohmann::json::parse(r.out);
  EXPECT_EQ(listed["model"], "tiny");
  EXPECT_EQ(listed["layer_name"], "pool (node 3)");
  EXPECT_EQ(listed["classes"].size(), 2u);

  // Where: the best window of the answered class (the dense evaluation's cells, the pooled map
  // before the global pooling), and the taught classes as detect's classes.
  r = run_command(bin + "recognize " + m + "--locate --json --threshold 0.5 --scales 48 '" +
                  (dir / "spots.png").string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto located = nlohmann::json::parse(r.out);
  ASSERT_TRUE(located[0].contains("box")) << r.out;
  EXPECT_EQ(located[0]["class"], "spots");
  r = run_command(bin + "detect -m '" + model.string() + "' --taught '" + store.string() +
                  "' --scales 48 '" + (dir / "spots.png").string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(" spots "), std::string::npos) << r.out;

  // The one-shot benchmark runs with it too (episodes, calibration fitted), on a data set in
  // Caltech-101's layout: three categories of pictures.
  fs::create_directories(dir / "data" / "images");
  {
    std::ofstream ann(dir / "data" / "annotations.jsonl");
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 3; ++i) {
        cv::Mat img(48, 48, CV_8UC3);
        for (int y = 0; y < 48; ++y)
          for (int x = 0; x < 48; ++x)
            img.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>((x * (c + 1) * 5 + i) % 256),
                                                static_cast<uchar>((y * (3 - c) * 7) % 256),
                                                static_cast<uchar>(60 * c + 10 * i));
        const std::string id = "cat" + std::to_string(c) + "_" + std::to_string(i);
        cv::imwrite((dir / "data" / "images" / (id + ".png")).string(), img);
        ann << nlohmann::json({{"id", id},
                               {"file", "images/" + id + ".png"},
                               {"class", "cat" + std::to_string(c)},
                               {"split", "test"},
                               {"width", 48},
                               {"height", 48},
                               {"objects", nlohmann::json::array()}})
                   .dump()
            << "\n";
      }
  }
  r = run_command(bin + "bench oneshot -m '" + model.string() + "' --caltech '" +
                  (dir / "data").string() +
                  "' --voc none --ways 2 --shots 1 --episodes 10 --queries 1 --layer relu1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("model: tiny (fingerprint"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("relu1 (node 2)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2w1s"), std::string::npos) << r.out;

  // Another network's store is refused; so is a node that does not exist.
  testing::tiny_classifier(6, 32).save((dir / "other.onnx").string());
  r = run_command(bin + "recognize -m '" + (dir / "other.onnx").string() + "' --store '" +
                  store.string() + "' '" + (dir / "spots.png").string() + "'");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("learned with"), std::string::npos) << r.err;
  r = run_command(bin + "learn -m '" + model.string() + "' --store '" +
                  (dir / "new.json").string() + "' --layer fc7 x '" + (dir / "spots.png").string() +
                  "'");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("relu1"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace overfeat
