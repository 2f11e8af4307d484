// SPDX-License-Identifier: MIT
// PASCAL VOC average precision by hand, mean AP, and the dataset reader (temporary files and,
// when present, the real ../shared/data sets).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "overfeat/error.hpp"
#include "overfeat/evaluation.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using overfeat::Box;
using overfeat::GroundTruthBox;
using overfeat::ScoredDetection;

namespace {

GroundTruthBox gt(const std::string& image, Box box, bool difficult = false, int cls = 0) {
  return {image, cls, box, difficult};
}

ScoredDetection sd(const std::string& image, float score, Box box, int cls = 0) {
  return {image, cls, score, box};
}

constexpr Box kA{0, 0, 10, 10};
constexpr Box kB{20, 20, 40, 40};
constexpr Box kFar{100, 100, 110, 110};

// A scratch directory per test, removed afterwards, into which a test writes annotations.jsonl.
class DatasetDir : public overfeat::testing::TempDir {
 public:
  DatasetDir() : TempDir("evaluation") {}
  void write(const std::string& text) const { std::ofstream(path() / "annotations.jsonl") << text; }
};

std::string error_of(const fs::path& dir, const std::string& split = "") {
  try {
    overfeat::load_dataset(dir, split);
  } catch (const overfeat::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// ----------------------------------------------------------------------------------------------
// Average precision

TEST(AveragePrecision, PerfectDetectorIsOne) {
  const std::vector<GroundTruthBox> truth{gt("a", kA), gt("a", kB), gt("b", kA)};
  const std::vector<ScoredDetection> dets{sd("a", 0.9f, kA), sd("a", 0.8f, kB), sd("b", 0.7f, kA)};
  EXPECT_DOUBLE_EQ(overfeat::average_precision(dets, truth), 1.0);
}

TEST(AveragePrecision, TruePositiveThenFalsePositive) {
  // One positive: TP (P 1, R 1) then FP (P 1/2, R 1): area = 1 * 1 = 1.
  const std::vector<ScoredDetection> dets{sd("a", 0.9f, kA), sd("a", 0.5f, kFar)};
  EXPECT_DOUBLE_EQ(overfeat::average_precision(dets, {gt("a", kA)}), 1.0);
  // Two positives, the second never found: R reaches 1/2 at P 1: area = 1/2.
  EXPECT_DOUBLE_EQ(overfeat::average_precision(dets, {gt("a", kA), gt("b", kA)}), 0.5);
}

TEST(AveragePrecision, FalsePositiveThenTruePositiveIsHalf) {
  // FP (P 0, R 0) then TP (P 1/2, R 1). Monotone from the right: P 1/2 on (0, 1]. Area 1/2.
  const std::vector<ScoredDetection> dets{sd("a", 0.9f, kFar), sd("a", 0.5f, kA)};
  EXPECT_DOUBLE_EQ(overfeat::average_precision(dets, {gt("a", kA)}), 0.5);
}

TEST(AveragePrecision, PrecisionIsMadeMonotoneFromTheRight) {
  // Two positives: FP (P 0, R 0), TP (P 1/2, R 1/2), TP (P 2/3, R 1). The interpolated
  // precision at R 1/2 is the best at any recall >= 1/2, 2/3: area = 1/2 * 2/3 + 1/2 * 2/3 = 2/3
  // (the raw step curve would give 1/2 * 1/2 + 1/2 * 2/3 = 7/12).
  const std::vector<ScoredDetection> dets{sd("a", 0.9f, kFar), sd("a", 0.8f, kA),
                                          sd("b", 0.7f, kA)};
  EXPECT_NEAR(overfeat::average_precision(dets, {gt("a", kA), gt("b", kA)}), 2.0 / 3.0, 1e-12);
}

TEST(AveragePrecision, OrderIsByScoreNotInput) {
  const std::vector<ScoredDetection> dets{sd("a", 0.5f, kA), sd("a", 0.9f, kFar)};
  EXPECT_DOUBLE_EQ(overfeat::average_precision(dets, {gt("a", kA)}), 0.5);
}

TEST(AveragePrecision, DuplicatesAreFalsePositives) {
  // Positives a/kA, b/kA. TP (P 1, R 1/2), duplicate FP (P 1/2, R 1/2), TP (P 2/3, R 1).
  // Monotone: P 1 up to R 1/2, then 2/3: area = 1/2 * 1 + 1/2 * 2/3 = 5/6.
  const std::vector<ScoredDetection> dets{sd("a", 0.9f, kA), sd("a", 0.8f, kA), sd("b", 0.7f, kA)};
  EXPECT_NEAR(overfeat::average_precision(dets, {gt("a", kA), gt("b", kA)}), 5.0 / 6.0, 1e-12);
}

TEST(AveragePrecision, DifficultBoxesAreIgnoredBothWays) {
  // A detection of a difficult box is neither TP nor FP; a missed difficult box costs no recall.
  const std::vector<GroundTruthBox> truth{gt("a", kA, true), gt("b", kA), gt("c", kB, true)};
  const std::vector<ScoredDetection> dets{sd("a", 0.9f, kA), sd("b", 0.8f, kA)};
  EXPECT_DOUBLE_EQ(overfeat::average_precision(dets, truth), 1.0);
  // Only difficult boxes: no positives, AP 0 (not NaN).
  EXPECT_DOUBLE_EQ(overfeat::average_precision(dets, {gt("a", kA, true)}), 0.0);
}

TEST(AveragePrecision, IouThresholdBoundary) {
  // Truth [0, 2] x [0, 1] (area 2), detection [0, 1] x [0, 1]: IoU exactly 1/2.
  const std::vector<ScoredDetection> dets{sd("a", 0.9f, {0, 0, 1, 1})};
  const std::vector<GroundTruthBox> truth{gt("a", {0, 0, 2, 1})};
  EXPECT_DOUBLE_EQ(overfeat::average_precision(dets, truth, 0.5), 1.0);  // >= counts
  EXPECT_DOUBLE_EQ(overfeat::average_precision(dets, truth, 0.51), 0.0);
}

TEST(AveragePrecision, DetectionsInImagesWithoutTruthAreFalsePositives) {
  // FP (image z has no truth) then TP: 1/2, as FalsePositiveThenTruePositiveIsHalf.
  const std::vector<ScoredDetection> dets{sd("z", 0.9f, kA), sd("a", 0.5f, kA)};
  EXPECT_DOUBLE_EQ(overfeat::average_precision(dets, {gt("a", kA)}), 0.5);
}

TEST(AveragePrecision, NoDetectionsIsZero) {
  EXPECT_DOUBLE_EQ(overfeat::average_precision({}, {gt("a", kA)}), 0.0);
  EXPECT_DOUBLE_EQ(overfeat::average_precision({}, {}), 0.0);
}

TEST(EvaluateDetections, MeanOverClassesWithPositives) {
  const std::vector<GroundTruthBox> truth{gt("a", kA, false, 0), gt("a", kB, false, 1),
                                          gt("b", kA, true, 2)};
  const std::vector<ScoredDetection> dets{
      sd("a", 0.9f, kA, 0),                          // class 0: AP 1
      sd("a", 0.9f, kFar, 1), sd("a", 0.8f, kB, 1),  // class 1: AP 1/2
      sd("b", 0.7f, kA, 2),                          // class 2: only a difficult box
  };
  const auto report = overfeat::evaluate_detections(dets, truth, {"cat", "dog", "cow"});
  ASSERT_EQ(report.classes.size(), 3u);
  EXPECT_EQ(report.classes[0].name, "cat");
  EXPECT_DOUBLE_EQ(report.classes[0].ap, 1.0);
  EXPECT_DOUBLE_EQ(report.classes[1].ap, 0.5);
  EXPECT_EQ(report.classes[1].positives, 1);
  EXPECT_EQ(report.classes[1].detections, 2);
  EXPECT_EQ(report.classes[2].positives, 0);
  EXPECT_EQ(report.classes[2].detections, 1);
  EXPECT_DOUBLE_EQ(report.mean_ap, 0.75);
}

TEST(EvaluateDetections, RejectsClassOutOfRange) {
  EXPECT_THROW(overfeat::evaluate_detections({sd("a", 1, kA, 3)}, {}, {"cat"}), overfeat::Error);
  EXPECT_THROW(overfeat::evaluate_detections({}, {gt("a", kA, false, -1)}, {"cat"}),
               overfeat::Error);
}

// ----------------------------------------------------------------------------------------------
// Dataset reader

TEST(LoadDataset, VocLayout) {
  DatasetDir dir;
  dir.write(
      R"({"id": "000005", "split": "val", "width": 320, "height": 240, "objects": [{"class": "chair", "bbox": [10, 20, 30, 40], "difficult": -1, "truncated": -1}, {"class": "bottle", "bbox": [0, 0, 5, 5], "difficult": 1, "truncated": 0}]})"
      "\n\n"
      R"({"id": "000007", "split": "train", "width": 320, "height": 213, "classes_missing_boxes": ["person"], "objects": [{"class": "car", "bbox": [89.6, 31.34, 320.0, 211.08], "difficult": 0, "truncated": 1}]})"
      "\n");
  const auto all = overfeat::load_dataset(dir.path());
  ASSERT_EQ(all.images.size(), 2u);
  EXPECT_EQ(all.dir, dir.path());
  EXPECT_EQ(all.classes, (std::vector<std::string>{"bottle", "car", "chair"}));
  EXPECT_EQ(all.class_index("car"), 1);
  EXPECT_EQ(all.class_index("person"), -1);
  const auto& first = all.images[0];
  EXPECT_EQ(first.id, "000005");
  EXPECT_EQ(first.path, dir.path() / "images" / "000005.jpg");
  EXPECT_EQ(first.split, "val");
  EXPECT_EQ(first.width, 320);
  EXPECT_EQ(first.height, 240);
  EXPECT_TRUE(first.label.empty());
  ASSERT_EQ(first.objects.size(), 2u);
  EXPECT_EQ(first.objects[0].cls, "chair");
  EXPECT_FLOAT_EQ(first.objects[0].box.x1, 10);
  EXPECT_FLOAT_EQ(first.objects[0].box.y2, 40);
  EXPECT_FALSE(first.objects[0].difficult);  // -1 = unknown
  EXPECT_TRUE(first.objects[1].difficult);
  EXPECT_TRUE(all.images[1].objects[0].truncated);
  EXPECT_EQ(all.images[1].classes_missing_boxes, std::vector<std::string>{"person"});

  const auto val = overfeat::load_dataset(dir.path(), "val");
  ASSERT_EQ(val.images.size(), 1u);
  EXPECT_EQ(val.images[0].id, "000005");
  EXPECT_EQ(val.classes, all.classes);  // indices agree between splits
  EXPECT_TRUE(overfeat::load_dataset(dir.path(), "test").images.empty());
}

TEST(LoadDataset, CaltechLayout) {
  DatasetDir dir;
  dir.write(
      R"({"id": "Faces/image_0001", "file": "images/Faces/image_0001.jpg", "width": 256, "height": 169, "class": "Faces", "split": "train", "box_source": "caltech_original_csv", "objects": [{"class": "Faces", "bbox": [125.52, 7.04, 222.88, 150.56]}]})"
      "\n"
      R"({"id": "ant/image_0022", "file": "images/ant/image_0022.jpg", "width": 256, "height": 162, "class": "ant", "split": "test", "box_source": "x", "objects": [{"bbox": [29.84, 15.36, 250.88, 162.16]}, {"class": "ant"}]})"
      "\n"
      R"({"id": "BACKGROUND_Google/image_0001", "file": "images/BACKGROUND_Google/image_0001.jpg", "width": 145, "height": 144, "class": "BACKGROUND_Google", "split": "test", "box_source": "none", "objects": []})"
      "\n");
  const auto test = overfeat::load_dataset(dir.path(), "test");
  ASSERT_EQ(test.images.size(), 2u);
  EXPECT_EQ(test.classes, (std::vector<std::string>{"BACKGROUND_Google", "Faces", "ant"}));
  const auto& ant = test.images[0];
  EXPECT_EQ(ant.path, dir.path() / "images/ant/image_0022.jpg");
  EXPECT_EQ(ant.label, "ant");
  ASSERT_EQ(ant.objects.size(), 1u);            // the object without a box is skipped
  EXPECT_EQ(ant.objects[0].cls, "ant");         // the image's class
  EXPECT_FLOAT_EQ(ant.objects[0].box.y2, 162);  // clipped to the image
  EXPECT_TRUE(test.images[1].objects.empty());
  EXPECT_EQ(test.images[1].label, "BACKGROUND_Google");
}

TEST(LoadDataset, MalformedLineNamesFileAndLine) {
  DatasetDir dir;
  dir.write("{\"id\": \"a\", \"objects\": []}\n{\"id\": \"b\", \"objects\": [}\n");
  const std::string message = error_of(dir.path());
  EXPECT_NE(message.find("annotations.jsonl"), std::string::npos) << message;
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
}

TEST(LoadDataset, BadFieldsNameTheProblem) {
  DatasetDir dir;
  dir.write("{\"id\": \"a\", \"objects\": [{\"class\": \"x\", \"bbox\": [1, 2, 3]}]}\n");
  std::string message = error_of(dir.path());
  EXPECT_NE(message.find("line 1"), std::string::npos) << message;
  EXPECT_NE(message.find("bbox"), std::string::npos) << message;
  dir.write("{\"id\": \"a\"}\n{\"id\": \"a\"}\n");
  message = error_of(dir.path());
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
  EXPECT_NE(message.find("duplicate"), std::string::npos) << message;
  dir.write("{\"split\": \"val\"}\n");
  EXPECT_NE(error_of(dir.path()).find("\"id\""), std::string::npos);
  dir.write("{\"id\": \"a\", \"objects\": [{\"bbox\": [0, 0, 1, 1]}]}\n");  // no class at all
  EXPECT_NE(error_of(dir.path()).find("class"), std::string::npos);
  dir.write("{\"id\": \"a\", \"objects\": [{\"class\": \"x\", \"bbox\": [5, 0, 1, 1]}]}\n");
  EXPECT_NE(error_of(dir.path()).find("x2 < x1"), std::string::npos);
}

TEST(LoadDataset, MissingFileSaysWhatIsExpected) {
  DatasetDir dir;
  const std::string message = error_of(dir.path() / "nowhere");
  EXPECT_NE(message.find("annotations.jsonl"), std::string::npos) << message;
  EXPECT_NE(message.find("bbox"), std::string::npos) << message;
}

// ----------------------------------------------------------------------------------------------
// The real datasets, when the shared data is there

const fs::path kSharedData = fs::path(OVERFEAT_SOURCE_DIR) / ".." / "shared" / "data";

void expect_boxes_inside(const overfeat::Dataset& d) {
  for (const auto& image : d.images) {
    ASSERT_GT(image.width, 0) << image.id;
    ASSERT_GT(image.height, 0) << image.id;
    for (const auto& o : image.objects) {
      ASSERT_TRUE(o.box.x1 >= 0 && o.box.x1 <= o.box.x2 && o.box.x2 <= image.width) << image.id;
      ASSERT_TRUE(o.box.y1 >= 0 && o.box.y1 <= o.box.y2 && o.box.y2 <= image.height) << image.id;
      ASSERT_GE(d.class_index(o.cls), 0) << o.cls;
    }
  }
}

TEST(RealData, Voc2007ValSplit) {
  const fs::path dir = kSharedData / "voc2007";
  if (!fs::exists(dir / "annotations.jsonl")) {
    GTEST_SKIP() << dir << " absent: ../shared/data absent, real-data check skipped";
  }
  const auto val = overfeat::load_dataset(dir, "val");
  ASSERT_GT(val.images.size(), 0u);
  EXPECT_EQ(val.classes.size(), 20u);
  size_t objects = 0, difficult = 0;
  std::set<std::string> seen;
  for (const auto& image : val.images) {
    EXPECT_EQ(image.split, "val");
    objects += image.objects.size();
    for (const auto& o : image.objects) difficult += o.difficult ? 1 : 0, seen.insert(o.cls);
  }
  EXPECT_GT(objects, val.images.size());
  EXPECT_GT(difficult, 0u);
  EXPECT_LT(difficult, objects);
  EXPECT_EQ(seen.size(), 20u);
  EXPECT_TRUE(fs::exists(val.images.front().path)) << val.images.front().path;
  expect_boxes_inside(val);
  EXPECT_GT(overfeat::load_dataset(dir, "train").images.size(), 0u);
}

TEST(RealData, Caltech101TestSplit) {
  const fs::path dir = kSharedData / "caltech101";
  if (!fs::exists(dir / "annotations.jsonl")) {
    GTEST_SKIP() << dir << " absent: ../shared/data absent, real-data check skipped";
  }
  const auto test = overfeat::load_dataset(dir, "test");
  ASSERT_GT(test.images.size(), 0u);
  EXPECT_GT(test.classes.size(), 50u);
  for (const auto& image : test.images) {
    ASSERT_FALSE(image.label.empty()) << image.id;
    ASSERT_GE(test.class_index(image.label), 0) << image.label;
  }
  EXPECT_TRUE(fs::exists(test.images.front().path)) << test.images.front().path;
  expect_boxes_inside(test);
}

}  // namespace
