// SPDX-License-Identifier: MIT
// `overfeat classify | detect | heatmap | eval` end to end, with the hand-built marker model
// saved as an ONNX file (so the right answers are known) and with the official-layout synthetic
// weights (so the official nets run through every subcommand).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include <opencv2/imgcodecs.hpp>

#include "constructed_models.hpp"
#include "opencv_support.hpp"
#include "overfeat/detection.hpp"
#include "overfeat/image.hpp"
#include "overfeat/npy.hpp"
#include "overfeat/render.hpp"
#include "synthetic_weights.hpp"
#include "test_support.hpp"
#include "vulkan_fixture.hpp"

namespace overfeat {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using Result = testing::CommandResult;

Result run(const std::string& args) {
  return testing::run_command(std::string(OVERFEAT_BIN) + " " + args);
}

std::string q(const fs::path& p) {
  return "'" + p.string() + "'";
}

const Box kTruth[2] = {{40, 36, 72, 68}, {200, 148, 232, 180}};

class CliDense : public testing::VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    if (IsSkipped()) return;
    // One folder per test: ctest runs the tests of this binary in parallel processes.
    dir_ = fs::path(OVERFEAT_TEST_WORK_DIR) / "cli-dense" /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data" / "images");
    model_ = dir_ / "markers.onnx";
    save_model(testing::marker_model(), model_);
    // Three images: both objects, the first only, none.
    json lines[3];
    for (int i = 0; i < 3; ++i) {
      Tensor img(3, 240, 320, 0.0f);
      json objects = json::array();
      for (int o = 0; o < 2 - i; ++o) {
        testing::draw_object(img, static_cast<int>(kTruth[o].x1), static_cast<int>(kTruth[o].y1));
        objects.push_back({{"class", "square"},
                           {"bbox", {kTruth[o].x1, kTruth[o].y1, kTruth[o].x2, kTruth[o].y2}},
                           {"difficult", 0}});
      }
      const std::string id = "img" + std::to_string(i);
      render::write_png(dir_ / "data" / "images" / (id + ".png"), render::to_rgb8(img));
      lines[i] = {{"id", id},       {"file", "images/" + id + ".png"},
                  {"split", "val"}, {"width", 320},
                  {"height", 240},  {"objects", objects}};
    }
    std::ofstream ann(dir_ / "data" / "annotations.jsonl");
    for (const json& l : lines) ann << l.dump() << "\n";
    image0_ = dir_ / "data" / "images" / "img0.png";
  }
  std::string m() const { return "--model " + q(model_) + " --scales 240x320 "; }
  fs::path dir_, model_, image0_;
};

TEST_F(CliDense, DetectFindsTheObjectsAsCocoJson) {
  const Result r = run("detect " + m() + "--json - " + q(image0_));
  ASSERT_EQ(r.code, 0) << r.err;
  const json doc = json::parse(r.out);
  ASSERT_EQ(doc.size(), 2u) << r.out;
  for (const json& d : doc) {
    EXPECT_EQ(d["image_id"], "img0");
    EXPECT_EQ(d["category_name"], "square");
    EXPECT_EQ(d["category_id"], 1);
    const auto b = d["bbox"];  // COCO: x, y, width, height
    const Box box{b[0].get<float>(), b[1].get<float>(), b[0].get<float>() + b[2].get<float>(),
                  b[1].get<float>() + b[3].get<float>()};
    EXPECT_GT(std::max(iou(box, kTruth[0]), iou(box, kTruth[1])), 0.75f) << d.dump();
    EXPECT_GT(d["votes"].get<int>(), 1);
  }
  // Text output and an annotated PNG.
  const Result t = run("detect " + m() + "-o " + q(dir_ / "out") + " --raw " + q(image0_));
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_EQ(std::count(t.out.begin(), t.out.end(), '\n'), 2) << t.out;
  EXPECT_NE(t.out.find(" square "), std::string::npos);
  const Tensor png = image::load_rgb(dir_ / "out" / "img0.detections.png");
  EXPECT_EQ(png.h, 240);
  EXPECT_EQ(png.w, 320);
}

// A photo from a camera held sideways: stored sideways, with an EXIF tag saying how to turn it.
// Its boxes are those of the same photo stored upright, as the app shows it. (Both JPEG: the
// marker model's boxes move a few pixels with JPEG's losses.)
TEST_F(CliDense, APhotoTakenSidewaysIsTurnedUprightByItsExifTag) {
  const Tensor upright = image::load_rgb(image0_);
  const cv::Mat bgr = testing::to_bgr_mat(upright);
  cv::Mat sideways;
  cv::rotate(bgr, sideways, cv::ROTATE_90_COUNTERCLOCKWISE);  // the tag turns it back
  const auto write_jpeg = [&](const cv::Mat& m, const fs::path& file, bool tag) {
    std::vector<uint8_t> jpeg;
    ASSERT_TRUE(cv::imencode(".jpg", m, jpeg, {cv::IMWRITE_JPEG_QUALITY, 98}));
    if (tag) jpeg = testing::with_exif_orientation_6(std::move(jpeg));
    std::ofstream(file, std::ios::binary)
        .write(reinterpret_cast<const char*>(jpeg.data()),
               static_cast<std::streamsize>(jpeg.size()));
  };
  write_jpeg(bgr, dir_ / "upright.jpg", false);
  write_jpeg(sideways, dir_ / "sideways.jpg", true);
  const auto boxes = [&](const fs::path& file) {
    const Result r = run("detect " + m() + "--json - " + q(file));
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<Box> out;
    for (const json& d : json::parse(r.out)) {
      const auto b = d["bbox"];
      out.push_back({b[0].get<float>(), b[1].get<float>(), b[0].get<float>() + b[2].get<float>(),
                     b[1].get<float>() + b[3].get<float>()});
    }
    std::sort(out.begin(), out.end(), [](const Box& a, const Box& b) { return a.x1 < b.x1; });
    return out;
  };
  const auto want = boxes(dir_ / "upright.jpg"), got = boxes(dir_ / "sideways.jpg");
  ASSERT_EQ(want.size(), 2u);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_GT(iou(got[i], want[i]), 0.9f) << i;
    EXPECT_GT(iou(got[i], kTruth[i]), 0.3f) << i;  // and where the objects are, give or take
  }
}

// `--json` takes the output file's name; `detect --json a.png b.png` must not write JSON over
// the photograph a.png (it once did, destroying it).
TEST_F(CliDense, JsonOutputNeverOverwritesAnInputImage) {
  const auto before = std::filesystem::file_size(image0_);
  const Result r = run("detect " + m() + "--json " + q(image0_) + " " + q(image0_));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("looks like an input"), std::string::npos) << r.err;
  EXPECT_EQ(std::filesystem::file_size(image0_), before);
  EXPECT_NO_THROW(image::load_rgb(image0_));
}

TEST_F(CliDense, NmsIsAvailableForComparison) {
  const Result r = run("detect " + m() + "--merge nms --threshold 0.3 --json - " + q(image0_));
  ASSERT_EQ(r.code, 0) << r.err;
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc.size(), 2u);
  for (const json& d : doc) EXPECT_EQ(d["votes"], 1);  // suppression keeps single boxes
}

// Voting that merges almost nothing (threshold 0.01) leaves many overlapping boxes per object;
// the suppression after it keeps the best of each, and --suppress 0 turns it off.
TEST_F(CliDense, SuppressionAfterVotingKeepsOneBoxPerObject) {
  const std::string cmd = "detect " + m() + "--threshold 0.01 --max 0 --json - ";
  const Result off = run(cmd + "--suppress 0 " + q(image0_));
  ASSERT_EQ(off.code, 0) << off.err;
  EXPECT_GT(json::parse(off.out).size(), 2u) << off.out;
  const Result on = run(cmd + "--suppress 0.3 " + q(image0_));
  ASSERT_EQ(on.code, 0) << on.err;
  const json doc = json::parse(on.out);
  ASSERT_EQ(doc.size(), 2u) << on.out;
  for (const json& d : doc) EXPECT_EQ(d["category_name"], "square");
  EXPECT_NE(run(cmd + "--suppress 1.5 " + q(image0_)).code, 0);
}

// One label per object (suppress_other_classes, tested in test_detection): the marker model
// has one class, whose boxes it never touches; out of range is refused.
TEST_F(CliDense, CrossClassSuppressionLeavesOneClassAlone) {
  const std::string cmd = "detect " + m() + "--json - ";
  const Result plain = run(cmd + q(image0_));
  const Result on = run(cmd + "--cross-class 0.5 " + q(image0_));
  ASSERT_EQ(on.code, 0) << on.err;
  EXPECT_EQ(json::parse(on.out), json::parse(plain.out));
  EXPECT_NE(run(cmd + "--cross-class 1.5 " + q(image0_)).code, 0);
}

TEST_F(CliDense, EvalPrintsPerfectMapOnItsLastLine) {
  const Result r = run("eval " + q(dir_ / "data") + " " + m());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
  EXPECT_EQ(last, "mAP 100.0 %\n") << r.out;
  EXPECT_NE(r.out.find("square"), std::string::npos);
  EXPECT_NE(r.out.find("classification accuracy 100.0 % (2/2"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("eval ["), std::string::npos) << "no progress bar: " << r.err;
  // A wrong model loses: boxes shifted off the objects give AP 0.
  Model shifted = testing::marker_model();
  for (float& b : shifted.regressor->convs[2].b) b += 40;
  save_model(shifted, dir_ / "shifted.onnx");
  const Result s = run("eval " + q(dir_ / "data") + " --model " + q(dir_ / "shifted.onnx") +
                       " --scales 240x320");
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_NE(s.out.find("mAP 0.0 %"), std::string::npos) << s.out;
}

TEST_F(CliDense, EvalSkipAndLimitChooseTheImages) {
  const Result r = run("eval " + q(dir_ / "data") + " " + m() + "--skip 1");
  ASSERT_EQ(r.code, 0) << r.err;
  // The fixture: img0 (two objects), img1 (one), img2 (none); all three are labelled but img2.
  EXPECT_NE(r.out.find(": 2 images after the first 1,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(1/1, best"), std::string::npos) << r.out;
  const Result l = run("eval " + q(dir_ / "data") + " " + m() + "--skip 1 --limit 1");
  ASSERT_EQ(l.code, 0) << l.err;
  EXPECT_NE(l.out.find(": 1 images after the first 1,"), std::string::npos) << l.out;
  EXPECT_NE(l.out.find("(1/1, best"), std::string::npos) << l.out;
  const Result none = run("eval " + q(dir_ / "data") + " " + m() + "--skip 3");
  EXPECT_NE(none.code, 0);
  EXPECT_NE(none.err.find("leaves none of the 3 images"), std::string::npos) << none.err;
}

TEST_F(CliDense, HeatmapWritesOverlaysNumbersAndIndex) {
  const Result r = run("heatmap " + m() + "--class square -o " + q(dir_ / "hm") + " " + q(image0_));
  ASSERT_EQ(r.code, 0) << r.err;
  const json index = json::parse(std::ifstream(dir_ / "hm" / "img0_heatmaps.json"));
  ASSERT_EQ(index["maps"].size(), 1u);
  const json& map = index["maps"][0];
  EXPECT_EQ(map["stride"], 4);  // fine: the pre-pool stride
  EXPECT_EQ(map["window"], 64);
  std::vector<size_t> shape;
  const std::vector<float> values = npy::read(dir_ / "hm" / map["npy"].get<std::string>(), shape);
  ASSERT_EQ(shape.size(), 3u);
  EXPECT_EQ(shape[1], map["map_size"][0].get<size_t>());
  EXPECT_EQ(shape[2], map["map_size"][1].get<size_t>());
  // The hottest cell's window contains the first object.
  const size_t best = std::max_element(values.begin(), values.end()) - values.begin();
  EXPECT_GT(values[best], 0.9f);
  const double cx =
      map["cell0_center"][0].get<double>() + (best % shape[2]) * map["cell_step"][0].get<double>();
  const double cy =
      map["cell0_center"][1].get<double>() + (best / shape[2]) * map["cell_step"][1].get<double>();
  const bool near_one =
      (std::abs(cx - kTruth[0].cx()) < 24 && std::abs(cy - kTruth[0].cy()) < 24) ||
      (std::abs(cx - kTruth[1].cx()) < 24 && std::abs(cy - kTruth[1].cy()) < 24);
  EXPECT_TRUE(near_one) << cx << "," << cy;
  EXPECT_TRUE(fs::exists(dir_ / "hm" / map["png"].get<std::string>()));
  EXPECT_TRUE(fs::exists(dir_ / "hm" / "img0_square_scales.png"));
  // Raw numbers as JSON instead.
  const Result j =
      run("heatmap " + m() + "--class 1 --raw json -o " + q(dir_ / "hmj") + " " + q(image0_));
  ASSERT_EQ(j.code, 0) << j.err;
  const json jindex = json::parse(std::ifstream(dir_ / "hmj" / "img0_heatmaps.json"));
  EXPECT_EQ(jindex["maps"][0]["values"].size(), values.size());
}

TEST_F(CliDense, ClassifyNamesTheObjectAndNeverTheBackground) {
  const Result r = run("classify " + m() + "--json " + q(image0_));
  ASSERT_EQ(r.code, 0) << r.err;
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc[0]["classes"][0]["name"], "square");
  for (const json& c : doc[0]["classes"]) EXPECT_NE(c["name"], "background");
}

TEST_F(CliDense, OfficialNetsRunEverySubcommand) {
  const std::string d = "-d " + q(testing::synthetic_weights_dir()) + " ";
  const fs::path photo = dir_ / "photo.png";
  Tensor img(3, 250, 300);
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = static_cast<float>((i * 37) % 256);
  render::write_png(photo, render::to_rgb8(img));
  Result r = run("classify " + d + "-m fast --views 10 -n 3 " + q(photo));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);
  r = run("detect " + d + "-m fast --scales 231,260 --coarse --json - " + q(photo));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(json::parse(r.out).is_array());
  r = run("heatmap " + d + "-m accurate --scales 221 -n 1 -o " + q(dir_ / "acc") + " " + q(photo));
  ASSERT_EQ(r.code, 0) << r.err;
}

// Two inputs with one file name (a/x.png and b/x.png, or x.png and x.jpg) once wrote one PNG
// over the other and gave both detections the same image_id.
TEST_F(CliDense, InputsSharingAFileNameGetTheirOwnOutputsAndIds) {
  const Tensor img = image::load_rgb(image0_);
  fs::create_directories(dir_ / "a");
  fs::create_directories(dir_ / "b");
  render::write_png(dir_ / "a" / "x.png", render::to_rgb8(img));
  render::write_png(dir_ / "b" / "x.png", render::to_rgb8(img));
  const Result r = run("detect " + m() + "--json - -o " + q(dir_ / "out") + " " +
                       q(dir_ / "a" / "x.png") + " " + q(dir_ / "b" / "x.png") + " " + q(image0_));
  ASSERT_EQ(r.code, 0) << r.err;
  const json doc = json::parse(r.out);
  std::set<std::string> ids;
  for (const json& d : doc) ids.insert(d["image_id"].get<std::string>());
  EXPECT_EQ(ids.size(), 3u) << r.out;
  EXPECT_TRUE(ids.count("img0")) << "a unique stem stays the plain stem";
  int pngs = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "out")) pngs += e.path().extension() == ".png";
  EXPECT_EQ(pngs, 3);
  // heatmap: the same rule for its files.
  const Result h = run("heatmap " + m() + "-n 1 -o " + q(dir_ / "maps") + " " +
                       q(dir_ / "a" / "x.png") + " " + q(dir_ / "b" / "x.png"));
  ASSERT_EQ(h.code, 0) << h.err;
  int indexes = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "maps"))
    indexes += e.path().string().ends_with("_heatmaps.json");
  EXPECT_EQ(indexes, 2);
}

// A failure in the middle of a batch: the JSON is still one valid document, with an entry saying
// what failed, and the results around it are complete.
TEST_F(CliDense, JsonStaysValidWithAnErrorEntryForEachFailure) {
  std::ofstream(dir_ / "bad.png") << "garbage";
  const Result r = run("detect " + m() + "--json - " + q(image0_) + " " + q(dir_ / "bad.png") +
                       " " + q(dir_ / "missing.png") + " " + q(image0_));
  EXPECT_EQ(r.code, 5);
  const json doc = json::parse(r.out);  // throws, failing the test, if not valid
  int errors = 0, boxes = 0;
  for (const json& d : doc) {
    if (d.contains("error")) {
      ++errors;
      EXPECT_NE(d["error"].get<std::string>().find(d["image"].get<std::string>()),
                std::string::npos);
    } else {
      ++boxes;
    }
  }
  EXPECT_EQ(errors, 2);
  EXPECT_EQ(boxes, 4);
  EXPECT_NE(r.err.find("2 of 4 images failed"), std::string::npos) << r.err;
  const Result c = run("classify " + m() + "--json " + q(dir_ / "missing.png") + " " + q(image0_));
  EXPECT_EQ(c.code, 5);
  const json cdoc = json::parse(c.out);
  ASSERT_EQ(cdoc.size(), 2u);
  EXPECT_TRUE(cdoc[0].contains("error"));
  EXPECT_TRUE(cdoc[1].contains("classes"));
}

TEST_F(CliDense, BadInputGetsClearMessagesAndExitCodes) {
  std::ofstream(dir_ / "broken.onnx") << "not a model";
  Result r = run("detect --model " + q(dir_ / "broken.onnx") + " " + q(image0_));
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.err.find("broken.onnx"), std::string::npos) << r.err;
  // One unreadable image: reported, the other still processed, exit code 5.
  std::ofstream(dir_ / "bad.png") << "garbage";
  r = run("detect " + m() + q(dir_ / "bad.png") + " " + q(image0_));
  EXPECT_EQ(r.code, 5);
  EXPECT_NE(r.err.find("bad.png"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  r = run("heatmap " + m() + "--class giraffe " + q(image0_));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("giraffe"), std::string::npos) << r.err;
  r = run("detect --model " + q(model_) + " --scales 12x " + q(image0_));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("12x"), std::string::npos) << r.err;
  r = run("detect " + m());  // no image: usage, exit code 2 as in the release mode
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("images is required"), std::string::npos) << r.err;
  EXPECT_EQ(run("detect --help").code, 0);
  r = run("eval " + q(dir_ / "nowhere") + " " + m());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("annotations.jsonl"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace overfeat
