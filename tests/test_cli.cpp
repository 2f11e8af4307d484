// SPDX-License-Identifier: MIT
// The `overfeat` command: the release's output formats, the PPM stream, JSON, and bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include <opencv2/imgcodecs.hpp>

#include "opencv_support.hpp"
#include "overfeat/classes.hpp"
#include "overfeat/reference.hpp"
#include "synthetic_weights.hpp"
#include "test_support.hpp"
#include "vulkan_fixture.hpp"

namespace overfeat {
namespace {

namespace fs = std::filesystem;

using Result = testing::CommandResult;

Result run(const std::string& args, const std::string& stdin_file = "") {
  return testing::run_command(std::string(OVERFEAT_BIN) + " " + args, stdin_file);
}

Tensor test_image(int h, int w, unsigned seed) {
  // Smooth structure plus noise, so that resizing and cropping matter.
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> noise(-20, 20);
  Tensor t(3, h, w);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        t.at(c, y, x) =
            std::clamp(128 + 100 * std::sin(0.05f * (x + 2 * y) + c) + noise(rng), 0.0f, 255.0f);
  for (float& v : t.data) v = std::round(v);
  return t;
}

std::string ppm_bytes(const Tensor& t) {
  std::string s =
      "P6\n# made by test_cli\n" + std::to_string(t.w) + " " + std::to_string(t.h) + "\n255\n";
  for (int y = 0; y < t.h; ++y)
    for (int x = 0; x < t.w; ++x)
      for (int c = 0; c < 3; ++c) s += static_cast<char>(static_cast<unsigned char>(t.at(c, y, x)));
  return s;
}

fs::path write_file(const std::string& name, const std::string& bytes) {
  const fs::path p = fs::path(OVERFEAT_TEST_WORK_DIR) / name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

class Cli : public testing::VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    if (IsSkipped()) return;
    weights_ = testing::synthetic_weights_dir();
  }
  std::string d() const { return "-d '" + weights_.string() + "' "; }
  fs::path weights_;
};

TEST_F(Cli, FeaturesMatchReferenceInReleaseFormat) {
  const Tensor img = test_image(231 + 32, 231, 1);
  const fs::path file = write_file("features.ppm", ppm_bytes(img));
  Result r = run(d() + "-L 16 '" + file.string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  // `n h w` on one line, then every value followed by a space, then a newline.
  std::istringstream in(r.out);
  int n, h, w;
  in >> n >> h >> w;
  const NetSpec spec = NetSpec::official(0);
  int c, eh, ew;
  spec.layer_shape(16, img.h, img.w, c, eh, ew);
  EXPECT_EQ(n, c);
  EXPECT_EQ(h, eh);
  EXPECT_EQ(w, ew);
  ASSERT_EQ(r.out.substr(r.out.size() - 2), " \n");
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2);
  Tensor got(n, h, w);
  for (float& v : got.data) ASSERT_TRUE(in >> v);
  const Weights weights = load_weights(official_weight_path(weights_, 0), spec);
  EXPECT_LT(testing::relative_error(got, ref::forward_all(spec, weights, img)[16]), 1e-5);
}

// The release piped images through ImageMagick's `convert`, which does not turn a photo by its
// EXIF orientation; the drop-in reads the pixels as stored too (the subcommands and the app turn
// it upright, test_cli_dense).
TEST_F(Cli, ReadsPhotosAsStoredIgnoringExifOrientationLikeTheRelease) {
  const Tensor img = test_image(231, 231 + 32, 5);  // wider than high as stored
  const cv::Mat bgr = testing::to_bgr_mat(img);
  std::vector<uint8_t> jpeg;
  ASSERT_TRUE(cv::imencode(".jpg", bgr, jpeg));
  jpeg = testing::with_exif_orientation_6(std::move(jpeg));
  const fs::path file = write_file("sideways.jpg", std::string(jpeg.begin(), jpeg.end()));
  Result r = run(d() + "-L 16 '" + file.string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  int n, h, w;
  in >> n >> h >> w;
  int c, eh, ew;
  NetSpec::official(0).layer_shape(16, img.h, img.w, c, eh, ew);
  EXPECT_EQ(h, eh);
  EXPECT_EQ(w, ew);
  EXPECT_LT(h, w);
}

TEST_F(Cli, TopClassesInReleaseFormatAndJson) {
  const fs::path file = write_file("classify.ppm", ppm_bytes(test_image(300, 240, 2)));
  Result r = run(d() + "-n 7 '" + file.string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  float previous = 2;
  int count = 0;
  const auto& names = official_class_names();
  std::vector<std::string> text_names;
  while (std::getline(lines, line)) {
    const auto space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    const std::string name = line.substr(0, space);
    const float p = std::stof(line.substr(space + 1));
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
    EXPECT_LE(p, previous);
    previous = p;
    text_names.push_back(name);
    ++count;
  }
  EXPECT_EQ(count, 7);
  Result j = run(d() + "-n 7 --json '" + file.string() + "'");
  ASSERT_EQ(j.code, 0) << j.err;
  auto doc = nlohmann::json::parse(j.out);
  ASSERT_EQ(doc.size(), 1u);
  ASSERT_EQ(doc[0]["classes"].size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(doc[0]["classes"][i]["name"], text_names[i]);
}

TEST_F(Cli, PpmStreamGivesOneResultPerImage) {
  std::string stream = ppm_bytes(test_image(231, 231, 3)) + ppm_bytes(test_image(231, 231, 4)) +
                       ppm_bytes(test_image(231, 231, 5));
  const fs::path file = write_file("stream.ppm", stream);
  Result r = run(d() + "-p -n 2", file.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 6);
  Result f = run(d() + "-p -f -l", file.string());
  ASSERT_EQ(f.code, 0) << f.err;
  EXPECT_EQ(f.out.rfind("4096 1 1\n", 0), 0u);
  EXPECT_EQ(std::count(f.out.begin(), f.out.end(), '\n'), 6);
}

TEST_F(Cli, BadInputGivesClearMessagesAndKeepsOtherResults) {
  const fs::path good = write_file("good.ppm", ppm_bytes(test_image(231, 231, 6)));
  const fs::path corrupt = write_file("corrupt.jpg", "\xff\xd8\xff\xe0 this is not a jpeg");
  Result r = run(d() + "-n 1 '" + corrupt.string() + "' '" + good.string() + "'");
  EXPECT_EQ(r.code, 5);
  EXPECT_NE(r.err.find(corrupt.string()), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "the good image's result was lost";

  const fs::path empty_dir = fs::path(OVERFEAT_TEST_WORK_DIR) / "no-weights-here";
  fs::create_directories(empty_dir);
  Result w = run("-d '" + empty_dir.string() + "' '" + good.string() + "'");
  EXPECT_EQ(w.code, 4);
  EXPECT_NE(w.err.find("net_weight_0"), std::string::npos) << w.err;
  EXPECT_NE(w.err.find("-d DIR"), std::string::npos) << w.err;

  Result l = run(d() + "-L 99 '" + good.string() + "'");
  EXPECT_NE(l.code, 0);
  EXPECT_NE(l.err.find("layers 0 to 21"), std::string::npos) << l.err;

  const fs::path small = write_file("small.ppm", ppm_bytes(test_image(100, 120, 7)));
  Result s = run(d() + "-f '" + small.string() + "'");
  EXPECT_EQ(s.code, 5);
  EXPECT_NE(s.err.find("too small"), std::string::npos) << s.err;

  const fs::path truncated =
      write_file("truncated.ppm", ppm_bytes(test_image(231, 231, 8)).substr(0, 5000));
  Result t = run(d() + "-p", truncated.string());
  EXPECT_NE(t.code, 0);
  EXPECT_FALSE(t.err.empty());

  Result none = run(d());
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("Missing input image"), std::string::npos) << none.err;

  Result dev = run(d() + "--device no-such-gpu '" + good.string() + "'");
  EXPECT_NE(dev.code, 0);
  EXPECT_NE(dev.err.find("No Vulkan device matches"), std::string::npos) << dev.err;
}

// One bad image in a PPM stream once ended the stream (and with --json lost every result); so
// did any image whose output is not 1x1 in -n mode.
TEST_F(Cli, APpmStreamGoesOnAfterBadImages) {
  const std::string stream = ppm_bytes(test_image(231, 231, 10)) + "P6\nzz garbage\n" +
                             ppm_bytes(test_image(300, 300, 11)) +  // too large for -n
                             ppm_bytes(test_image(231, 231, 12));
  const fs::path file = write_file("bad-stream.ppm", stream);
  Result r = run(d() + "-p -n 1", file.string());
  EXPECT_EQ(r.code, 5);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  EXPECT_NE(r.err.find("stdin#1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stdin#2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 of 4 inputs failed"), std::string::npos) << r.err;
  Result j = run(d() + "-p -n 1 --json", file.string());
  EXPECT_EQ(j.code, 5);
  const auto doc = nlohmann::json::parse(j.out);
  ASSERT_EQ(doc.size(), 4u) << j.out;
  EXPECT_TRUE(doc[0].contains("classes"));
  EXPECT_TRUE(doc[1].contains("error"));
  EXPECT_TRUE(doc[2].contains("error"));
  EXPECT_TRUE(doc[3].contains("classes"));
}

TEST_F(Cli, SpecialFilesAndDamagedWeightsAreRefusedClearly) {
  const fs::path good = write_file("good-special.ppm", ppm_bytes(test_image(231, 231, 13)));
  const fs::path fifo = fs::path(OVERFEAT_TEST_WORK_DIR) / "fifo.jpg";
  fs::remove(fifo);
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  Result r = run(d() + "-n 1 '" + fifo.string() + "' '" + good.string() + "'");  // once hung
  EXPECT_EQ(r.code, 5);
  EXPECT_NE(r.err.find("named pipe"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;

  // An official weight file of the right size but full of NaN once printed `nan`.
  const fs::path nan_dir = fs::path(OVERFEAT_TEST_WORK_DIR) / "nan-weights";
  fs::create_directories(nan_dir);
  const NetSpec spec = NetSpec::official(0);
  {
    // The right size (sparse zeros), with NaN in the first convolution.
    const fs::path file = nan_dir / "net_weight_0";
    std::ofstream(file, std::ios::binary | std::ios::trunc).close();
    fs::resize_file(file, static_cast<std::uintmax_t>(spec.parameter_count()) * 4);
    std::fstream out(file, std::ios::binary | std::ios::in | std::ios::out);
    const std::vector<float> nans(1000, std::numeric_limits<float>::quiet_NaN());
    out.write(reinterpret_cast<const char*>(nans.data()), nans.size() * sizeof(float));
  }
  Result n = run("-d '" + nan_dir.string() + "' -n 1 '" + good.string() + "'");
  EXPECT_EQ(n.code, 4);
  EXPECT_NE(n.err.find("NaN"), std::string::npos) << n.err;
  EXPECT_EQ(n.out.find("nan"), std::string::npos) << n.out;
  fs::remove_all(nan_dir);
}

}  // namespace
}  // namespace overfeat
