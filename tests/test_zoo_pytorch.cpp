// SPDX-License-Identifier: MIT
// The classic networks, as users export them from PyTorch, against PyTorch itself: for each
// architecture and opset, tools/export/export_torchvision.py builds the network with random
// weights (BatchNorm statistics randomized, so folding is tested), exports it to ONNX and writes
// PyTorch's log-probabilities on a photograph cropped to the model's input; `overfeat -m FILE
// -n 1000 --json` on that photograph must give the same top-1 and every log-probability within
// 1e-3 of their spread. Skipped without PyTorch/torchvision (scripts/install-deps.sh
// --with-torch); the photograph is a VOC image from ../shared/data, else a synthetic picture.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "python_support.hpp"
#include "test_support.hpp"
#include "vulkan_fixture.hpp"

namespace overfeat {
namespace {

namespace fs = std::filesystem;
using testing::kPython;

struct ZooCase {
  const char* arch;
  int opset;
};

std::string case_name(const ::testing::TestParamInfo<ZooCase>& info) {
  std::string name = std::string(info.param.arch) + "_opset" + std::to_string(info.param.opset);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

/// A VOC photograph, or (without ../shared/data) a synthetic one written to `dir`.
fs::path photograph(const fs::path& dir) {
  if (const auto data = testing::shared_data_dir()) {
    const fs::path photo = *data / "voc2007" / "images" / "000005.jpg";
    if (fs::exists(photo)) return photo;
  }
  cv::Mat img(300, 400, CV_8UC3);
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x)
      img.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uchar>((x * 3 + y) % 256), static_cast<uchar>((y * 5) % 256),
                    static_cast<uchar>(128 + 100 * std::sin(x * 0.05)));
  const fs::path file = dir / "synthetic.png";
  cv::imwrite(file.string(), img);
  return file;
}

// The command needs a Vulkan device: skipped without one (the sanitizer build runs so).
class ZooPyTorch : public testing::VulkanTest, public ::testing::WithParamInterface<ZooCase> {};

TEST_P(ZooPyTorch, SoftmaxEqualsPyTorch) {
  if (!testing::python_has("torch, torchvision, cv2, onnx"))
    GTEST_SKIP() << kPython
                 << " cannot import torch, torchvision, cv2 and onnx (scripts/install-deps.sh "
                    "--with-torch): the classic networks cannot be checked against PyTorch";
  const ZooCase c = GetParam();
  const testing::TempDir dir("zoo");
  const fs::path model = dir / "model.onnx", png = dir / "input.png", expect = dir / "expect.json";
  const std::string export_cmd =
      std::string(kPython) + " " + OVERFEAT_SOURCE_DIR + "/tools/export/export_torchvision.py " +
      c.arch + " '" + model.string() + "' --opset " + std::to_string(c.opset) +
      " --random-seed 7 --photo '" + photograph(dir.path()).string() + "' --png '" + png.string() +
      "' --expect '" + expect.string() + "'";
  const auto exported = testing::run_command(export_cmd);
  ASSERT_EQ(exported.code, 0) << export_cmd << "\n" << exported.err;
  nlohmann::json want;
  std::ifstream(expect) >> want;

  const auto run = testing::run_command(std::string(OVERFEAT_BIN) + " -m '" + model.string() +
                                        "' -n 1000 --json '" + png.string() + "'");
  ASSERT_EQ(run.code, 0) << run.err;
  const auto got = nlohmann::json::parse(run.out);
  ASSERT_EQ(got.size(), 1u);
  const auto& classes = got[0]["classes"];
  ASSERT_EQ(classes.size(), 1000u) << run.out.substr(0, 400);

  const std::vector<double> logp = want["log_probs"];
  const double spread =
      *std::max_element(logp.begin(), logp.end()) - *std::min_element(logp.begin(), logp.end());
  EXPECT_EQ(classes[0]["index"].get<int>(), want["top1"].get<int>())
      << "top-1 differs from PyTorch's";
  double worst = 0;
  int worst_index = -1;
  for (const auto& cls : classes) {
    const int i = cls["index"];
    const double p = cls["probability"];
    const double diff = p > 0 ? std::abs(std::log(p) - logp.at(i)) : INFINITY;
    if (diff > worst) {
      worst = diff;
      worst_index = i;
    }
  }
  ::testing::Test::RecordProperty("max_logp_diff_over_spread", std::to_string(worst / spread));
  EXPECT_LE(worst, 1e-3 * spread) << "class " << worst_index << ": |log p - PyTorch's| = " << worst
                                  << " against a spread of " << spread;
}

// Every architecture of the issue at opsets 11 and 13.
const ZooCase kCases[] = {
    {"alexnet", 11},       {"alexnet", 13},       {"alexnet-caffe", 11}, {"alexnet-caffe", 13},
    {"vgg16", 11},         {"vgg16", 13},         {"vgg16_bn", 11},      {"vgg16_bn", 13},
    {"vgg19", 13},         {"vgg19_bn", 11},      {"googlenet", 11},     {"googlenet", 13},
    {"resnet18", 11},      {"resnet18", 13},      {"resnet50", 11},      {"resnet50", 13},
    {"resnet18-v2", 11},   {"resnet18-v2", 13},   {"resnet50-v2", 11},   {"resnet50-v2", 13},
    {"squeezenet1_0", 11}, {"squeezenet1_0", 13}, {"squeezenet1_1", 11}, {"squeezenet1_1", 13},
    {"mobilenet_v2", 11},  {"mobilenet_v2", 13},  {"densenet121", 11},   {"densenet121", 13},
};
INSTANTIATE_TEST_SUITE_P(Architectures, ZooPyTorch, ::testing::ValuesIn(kCases), case_name);

}  // namespace
}  // namespace overfeat
