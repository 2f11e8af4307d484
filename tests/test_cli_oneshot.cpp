// SPDX-License-Identifier: MIT
// `overfeat learn | recognize | learned | bench oneshot` end to end, with the hand-built marker
// model saved as an ONNX file: its features (logits of background and "square") are known, so
// a learned square is recognized, an object without the marker is unknown, and a located square
// lies where it was drawn.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "constructed_models.hpp"
#include "overfeat/image.hpp"
#include "overfeat/oneshot.hpp"
#include "overfeat/render.hpp"
#include "test_support.hpp"
#include "vulkan_fixture.hpp"

namespace overfeat {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Result = testing::CommandResult;

Result run(const std::string& args, const std::string& env = "") {
  return testing::run_command(env + std::string(OVERFEAT_BIN) + " " + args);
}

std::string q(const fs::path& p) {
  return "'" + p.string() + "'";
}

class CliOneShot : public testing::VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    if (IsSkipped()) return;
    dir_ = fs::path(OVERFEAT_TEST_WORK_DIR) / "cli-oneshot" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    model_ = dir_ / "markers.onnx";
    save_model(testing::marker_model(), model_);
    store_ = dir_ / "store.json";
    // One window of the marker net (64 px) with a square whose marker is at (x, y).
    auto window = [&](const std::string& name, int x, int y, bool marker) {
      Tensor img(3, 64, 64, 0.0f);
      testing::draw_object(img, x, y);
      if (!marker)  // an untaught object: a red square without the green marker
        for (int yy = y; yy < y + 4; ++yy)
          for (int xx = x; xx < x + 4; ++xx) img.at(0, yy, xx) = 255, img.at(1, yy, xx) = 0;
      render::write_png(dir_ / name, render::to_rgb8(img));
    };
    window("learn.png", 12, 12, true);
    window("square.png", 20, 16, true);
    window("plain.png", 20, 16, false);
    window("plain2.png", 12, 12, false);
    render::write_png(dir_ / "empty.png", render::to_rgb8(Tensor(3, 64, 64, 0.0f)));
    Tensor big(3, 240, 320, 0.0f);
    testing::draw_object(big, 200, 148);
    render::write_png(dir_ / "big.png", render::to_rgb8(big));
  }
  std::string m() const { return "--model " + q(model_) + " "; }
  std::string s() const { return "--store " + q(store_) + " "; }
  fs::path dir_, model_, store_;
};

TEST_F(CliOneShot, LearnThenRecognizeAsJsonOneObjectPerImageInOrder) {
  Result r = run("learn " + s() + m() + "square " + q(dir_ / "learn.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("learned square: 1 example added, 1 in all"), std::string::npos) << r.out;
  ASSERT_TRUE(fs::exists(store_));

  r = run("recognize " + s() + m() + "--json " + q(dir_ / "square.png") + " " +
          q(dir_ / "plain.png") + " " + q(dir_ / "empty.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  const json doc = json::parse(r.out);
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), 3u) << r.out;
  const char* expected[3] = {"square", "unknown", "unknown"};
  const char* files[3] = {"square.png", "plain.png", "empty.png"};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(doc[i]["image"], (dir_ / files[i]).string());
    EXPECT_EQ(doc[i]["class"], expected[i]) << doc[i].dump();
    ASSERT_TRUE(doc[i]["confidence"].is_number());
    EXPECT_GE(doc[i]["confidence"].get<double>(), 0.0);
    EXPECT_LE(doc[i]["confidence"].get<double>(), 1.0);
    EXPECT_TRUE(doc[i]["similarity"].is_number());
    EXPECT_EQ(doc[i]["best"], "square");
    EXPECT_TRUE(doc[i].contains("runner_up"));
    EXPECT_TRUE(doc[i]["runner_up"].is_null());  // one class learned
    EXPECT_FALSE(doc[i].contains("box"));
  }
  EXPECT_NEAR(doc[0]["similarity"].get<double>(), 1.0, 1e-4);
  EXPECT_GT(doc[0]["confidence"].get<double>(), 0.5);

  // Text: "image class confidence similarity"; an adjustable threshold.
  r = run("recognize " + s() + m() + "--threshold -2 " + q(dir_ / "plain.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream line(r.out);
  std::string image, cls;
  double confidence = -1, similarity = 0;
  line >> image >> cls >> confidence >> similarity;
  EXPECT_EQ(image, (dir_ / "plain.png").string());
  EXPECT_EQ(cls, "square");  // everything is accepted at -2
  EXPECT_NEAR(similarity, -1.0, 1e-3);
}

TEST_F(CliOneShot, TwoExamplesPerClassBringTheLinearClassifier) {
  Result r = run("learn " + s() + m() + "square " + q(dir_ / "learn.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("learn " + s() + m() + "plain " + q(dir_ / "plain2.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("recognize " + s() + m() + "--json " + q(dir_ / "square.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)[0]["rule"], "prototypes") << r.out;
  r = run("learn " + s() + m() + "square " + q(dir_ / "square.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("learn " + s() + m() + "plain " + q(dir_ / "plain.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("recognize " + s() + m() + "--json " + q(dir_ / "square.png") + " " +
          q(dir_ / "plain.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  const json doc = json::parse(r.out);
  ASSERT_EQ(doc.size(), 2u) << r.out;
  EXPECT_EQ(doc[0]["rule"], "linear classifier") << r.out;
  EXPECT_EQ(doc[0]["class"], "square") << r.out;
  EXPECT_EQ(doc[1]["class"], "plain") << r.out;
}

TEST_F(CliOneShot, LocateGivesABoxWhereTheObjectIs) {
  ASSERT_EQ(run("learn " + s() + m() + "square " + q(dir_ / "learn.png")).code, 0);
  const Result r = run("recognize " + s() + m() +
                       "--locate --scales 240x320 --threshold -2 --json " + q(dir_ / "big.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  const json doc = json::parse(r.out);
  ASSERT_EQ(doc.size(), 1u);
  const json& b = doc[0]["box"];
  ASSERT_TRUE(b.is_array()) << r.out;
  const double cx = (b[0].get<double>() + b[2].get<double>()) / 2;
  const double cy = (b[1].get<double>() + b[3].get<double>()) / 2;
  EXPECT_NEAR(cx, 216, 12) << b.dump();  // the square spans 200..232 x 148..180
  EXPECT_NEAR(cy, 164, 12) << b.dump();
}

// `overfeat detect --taught`: the taught classes as the detector's classes (the app's "taught
// classes in every mode"), boxes on the object.
TEST_F(CliOneShot, DetectTheTaughtClasses) {
  Result r = run("detect " + m() + "--taught " + q(store_) + " " + q(dir_ / "big.png"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("No one-shot store"), std::string::npos) << r.err;
  ASSERT_EQ(run("learn " + s() + m() + "square " + q(dir_ / "learn.png")).code, 0);
  r = run("detect " + m() + "--scales 240x320 --taught " + q(store_) + " --json - " +
          q(dir_ / "big.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  const json doc = json::parse(r.out);
  ASSERT_FALSE(doc.empty()) << r.out;
  EXPECT_EQ(doc[0]["category_name"], "square") << r.out;
  const json& b = doc[0]["bbox"];  // x, y, width, height
  const double cx = b[0].get<double>() + b[2].get<double>() / 2;
  const double cy = b[1].get<double>() + b[3].get<double>() / 2;
  EXPECT_NEAR(cx, 216, 16) << b.dump();  // the square spans 200..232 x 148..180
  EXPECT_NEAR(cy, 164, 16) << b.dump();
  // An image without it: nothing.
  r = run("detect " + m() + "--scales 240x320 --taught " + q(store_) + " --json - " +
          q(dir_ / "empty.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(json::parse(r.out).empty()) << r.out;
}

TEST_F(CliOneShot, LearnFromBoxesThenListRenameRemoveAndThumbnails) {
  Tensor scene(3, 150, 200, 0.0f);
  testing::draw_object(scene, 100, 60);
  render::write_png(dir_ / "scene.png", render::to_rgb8(scene));
  Result r =
      run("learn " + s() + m() + "--box 93.5,53.5,146.5,106.5 square " + q(dir_ / "scene.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("learn " + s() + m() + "square " + q(dir_ / "learn.png") + " " + q(dir_ / "square.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2 examples added, 3 in all"), std::string::npos) << r.out;
  r = run("learn " + s() + m() + "nothing " + q(dir_ / "empty.png"));
  ASSERT_EQ(r.code, 0) << r.err;

  r = run("learned " + s());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("model markers"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 classes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("square"), std::string::npos);
  EXPECT_NE(r.out.find("3 examples"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("scene.png [93.5,53.5,146.5,106.5]"), std::string::npos) << r.out;

  r = run("learned " + s() + "--rename square block --thumbnails " + q(dir_ / "thumbs"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "thumbs" / "block_1.png"));
  EXPECT_TRUE(fs::exists(dir_ / "thumbs" / "block_3.png"));
  EXPECT_EQ(image::load_rgb(dir_ / "thumbs" / "block_1.png").w, 54);  // the drawn box, whole pixels
  r = run("learned " + s() + "--remove nothing --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const json doc = json::parse(r.out);
  ASSERT_EQ(doc["classes"].size(), 1u);
  EXPECT_EQ(doc["classes"][0]["name"], "block");
  EXPECT_EQ(doc["classes"][0]["examples"].size(), 3u);
  EXPECT_EQ(doc["layer_name"], "conv2 (layer 4)");
  // The renamed class answers.
  r = run("recognize " + s() + m() + q(dir_ / "square.png"));
  EXPECT_EQ(r.out.substr(0, r.out.find(' ', r.out.find(' ') + 1)),
            (dir_ / "square.png").string() + " block");
  r = run("learned " + s() + "--remove nothing");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("No learned class 'nothing'"), std::string::npos) << r.err;
}

TEST_F(CliOneShot, TheDefaultStoreIsTheUsersSharedOne) {
  const std::string env = "XDG_DATA_HOME=" + q(dir_ / "xdg") + " ";
  Result r = run("learn " + m() + "square " + q(dir_ / "learn.png"), env);
  ASSERT_EQ(r.code, 0) << r.err;
  const fs::path expected =
      dir_ / "xdg" / "overfeat-studio" / "oneshot" /
      ("markers-" + model_fingerprint(testing::marker_model()).substr(0, 8) + ".json");
  EXPECT_TRUE(fs::exists(expected)) << r.out;
  r = run("recognize " + m() + "--json " + q(dir_ / "square.png"), env);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)[0]["class"], "square");
  r = run("learned " + m(), env);  // finds it from the model, no device needed
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(expected.string()), std::string::npos) << r.out;
  // Another model has no store yet: a clear message.
  Model other = testing::marker_model();
  other.weights.convs[1].b[1] = -4;
  save_model(other, dir_ / "other.onnx");
  r = run("recognize --model " + q(dir_ / "other.onnx") + " " + q(dir_ / "square.png"), env);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("Nothing learned for the model markers yet"), std::string::npos) << r.err;
}

TEST_F(CliOneShot, MismatchesAndBadInputGetClearMessages) {
  ASSERT_EQ(run("learn " + s() + m() + "square " + q(dir_ / "learn.png")).code, 0);
  // A store learned with another model is refused, by recognize and by learn.
  Model other = testing::marker_model();
  other.weights.convs[1].w[64 + 9] = 9;
  save_model(other, dir_ / "other.onnx");
  for (const char* sub : {"recognize ", "learn square "}) {
    const Result r =
        run(sub + s() + "--model " + q(dir_ / "other.onnx") + " " + q(dir_ / "square.png"));
    EXPECT_EQ(r.code, 1) << sub;
    EXPECT_NE(r.err.find("learned with the model 'markers'"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("start a new one"), std::string::npos) << r.err;
  }
  // Another layer or framing than the store's.
  Result r = run("learn " + s() + m() + "--layer 3 square " + q(dir_ / "learn.png"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("conv2 (layer 4)"), std::string::npos) << r.err;
  r = run("learn --store " + q(dir_ / "new.json") + " " + m() + "--layer 1 square " +
          q(dir_ / "learn.png"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("choose a layer from 3"), std::string::npos) << r.err;
  // Usage errors: exit code 2.
  r = run("learn " + s() + m() + "--box 1,2,3 square " + q(dir_ / "learn.png"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("x1,y1,x2,y2"), std::string::npos) << r.err;
  EXPECT_EQ(run("learn " + s() + m() + "square").code, 2);  // no image
  EXPECT_EQ(run("recognize " + s() + m()).code, 2);
  // An unreadable image: reported, the others answered, one JSON object per image, exit 5.
  std::ofstream(dir_ / "bad.png") << "garbage";
  r = run("recognize " + s() + m() + "--json " + q(dir_ / "bad.png") + " " +
          q(dir_ / "square.png"));
  EXPECT_EQ(r.code, 5);
  EXPECT_NE(r.err.find("bad.png"), std::string::npos) << r.err;
  const json doc = json::parse(r.out);
  ASSERT_EQ(doc.size(), 2u);
  EXPECT_TRUE(doc[0].contains("error"));
  EXPECT_EQ(doc[1]["class"], "square");
  // A damaged store names itself and says what to do.
  std::ofstream(dir_ / "damaged.json") << "{\"format\": \"overfeat-studio-oneshot\", \"vers";
  r = run("recognize --store " + q(dir_ / "damaged.json") + " " + m() + q(dir_ / "square.png"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("damaged.json is damaged or truncated"), std::string::npos) << r.err;
  r = run("learned --store " + q(dir_ / "absent.json"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("No one-shot store at"), std::string::npos) << r.err;
}

TEST_F(CliOneShot, BenchRunsEpisodesAndFitsTheCalibration) {
  // A data set in Caltech-101's layout: three categories of squares at different places.
  fs::create_directories(dir_ / "data" / "images");
  std::ofstream ann(dir_ / "data" / "annotations.jsonl");
  const char* cats[3] = {"left", "middle", "plain"};
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 3; ++i) {
      Tensor img(3, 64, 64, 0.0f);
      testing::draw_object(img, c == 0 ? 4 + 4 * i : 12 + 4 * i, 12);
      if (c == 2) img.at(1, 12, 12 + 4 * i) = 0;  // a broken marker
      const std::string id = std::string(cats[c]) + "_" + std::to_string(i);
      render::write_png(dir_ / "data" / "images" / (id + ".png"), render::to_rgb8(img));
      ann << json({{"id", id},
                   {"file", "images/" + id + ".png"},
                   {"class", cats[c]},
                   {"split", "test"},
                   {"width", 64},
                   {"height", 64},
                   {"objects", json::array()}})
                 .dump()
          << "\n";
    }
  ann.close();
  const Result r = run("bench oneshot " + m() + "--caltech " + q(dir_ / "data") +
                       " --voc none --ways 2 --shots 1,2 --episodes 20 --queries 1 --json " +
                       q(dir_ / "bench.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("command: overfeat bench oneshot --model"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rule: frame (the whole image or its best window"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("caltech all cats: 3 categories, 9 images"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("holds only approximately"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2w1s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2w2s"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("embedding ["), std::string::npos) << "no progress bar: " << r.err;
  const json doc = json::parse(std::ifstream(dir_ / "bench.json"));
  ASSERT_EQ(doc["results"].size(), 2u);
  for (const json& res : doc["results"]) {
    EXPECT_EQ(res["episodes"], 20);
    EXPECT_GE(res["accuracy"].get<double>(), 0.0);
    EXPECT_LE(res["accuracy"].get<double>(), 1.0);
    EXPECT_GE(res["false_accept"].get<double>(), 0.0);
  }
}

TEST_F(CliOneShot, BenchReadsTheSharedDataSets) {
  const fs::path data = fs::path(OVERFEAT_SOURCE_DIR).parent_path() / "shared" / "data";
  if (!fs::exists(data / "caltech101" / "annotations.jsonl") ||
      !fs::exists(data / "voc2007" / "annotations.jsonl"))
    GTEST_SKIP() << "../shared/data/caltech101 or voc2007 is absent: the benchmark's reading of "
                    "the real data sets is not tested here";
  const Result r = run("bench oneshot " + m() + "--caltech " + q(data / "caltech101") + " --voc " +
                       q(data / "voc2007") + " --per-class 2 --shots 1 --episodes 3 --rule whole");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("caltech all cats: 81 categories, 162 images"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("voc val crops: 20 categories, 40 images"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("5w1s"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace overfeat
