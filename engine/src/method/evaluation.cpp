// SPDX-License-Identifier: MIT
#include "overfeat/evaluation.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <nlohmann/json.hpp>

#include "overfeat/error.hpp"

namespace overfeat {

namespace {

// ----------------------------------------------------------------------------------------------
// Average precision

struct TruthEntry {
  Box box;
  bool difficult = false;
  bool matched = false;
};

using TruthIndex = std::unordered_map<std::string, std::vector<TruthEntry>>;

enum class Outcome { kTruePositive, kFalsePositive, kIgnored };

Outcome classify(const ScoredDetection& d, TruthIndex& index, double iou_threshold) {
  const auto it = index.find(d.image_id);
  if (it == index.end()) return Outcome::kFalsePositive;
  TruthEntry* best = nullptr;
  float best_iou = -1;
  for (TruthEntry& t : it->second) {
    const float o = iou(d.box, t.box);
    if (o > best_iou) best_iou = o, best = &t;
  }
  if (best == nullptr || double(best_iou) < iou_threshold) return Outcome::kFalsePositive;
  if (best->difficult) return Outcome::kIgnored;
  if (best->matched) return Outcome::kFalsePositive;
  best->matched = true;
  return Outcome::kTruePositive;
}

/// All-point interpolated area under the precision/recall curve of a ranked TP/FP sequence.
double area_under_curve(const std::vector<bool>& true_positive, int positives) {
  const size_t n = true_positive.size();
  std::vector<double> recall(n + 2, 0.0), precision(n + 2, 0.0);
  double tp = 0;
  for (size_t i = 0; i < n; ++i) {
    tp += true_positive[i] ? 1 : 0;
    recall[i + 1] = tp / positives;
    precision[i + 1] = tp / double(i + 1);
  }
  recall[n + 1] = 1.0;  // precision[n + 1] stays 0
  for (size_t i = n + 1; i-- > 0;) precision[i] = std::max(precision[i], precision[i + 1]);
  double ap = 0;
  for (size_t i = 1; i < n + 2; ++i) ap += (recall[i] - recall[i - 1]) * precision[i];
  return ap;
}

}  // namespace

double average_precision(std::vector<ScoredDetection> detections,
                         const std::vector<GroundTruthBox>& truth, double iou_threshold) {
  TruthIndex index;
  int positives = 0;
  for (const GroundTruthBox& t : truth) {
    index[t.image_id].push_back({t.box, t.difficult, false});
    positives += t.difficult ? 0 : 1;
  }
  if (positives == 0) return 0.0;
  std::stable_sort(
      detections.begin(), detections.end(),
      [](const ScoredDetection& a, const ScoredDetection& b) { return a.score > b.score; });
  std::vector<bool> true_positive;
  for (const ScoredDetection& d : detections) {
    const Outcome o = classify(d, index, iou_threshold);
    if (o != Outcome::kIgnored) true_positive.push_back(o == Outcome::kTruePositive);
  }
  return area_under_curve(true_positive, positives);
}

namespace {

void check_class(int cls, size_t count, const char* what, const std::string& image_id) {
  if (cls < 0 || size_t(cls) >= count) {
    throw Error("evaluate_detections: " + std::string(what) + " of image '" + image_id +
                "' has class index " + std::to_string(cls) + ", outside the " +
                std::to_string(count) + " class names");
  }
}

}  // namespace

DetectionReport evaluate_detections(const std::vector<ScoredDetection>& detections,
                                    const std::vector<GroundTruthBox>& truth,
                                    const std::vector<std::string>& class_names,
                                    double iou_threshold) {
  const size_t n = class_names.size();
  std::vector<std::vector<ScoredDetection>> dets(n);
  std::vector<std::vector<GroundTruthBox>> gts(n);
  for (const ScoredDetection& d : detections) {
    check_class(d.cls, n, "a detection", d.image_id);
    dets[size_t(d.cls)].push_back(d);
  }
  for (const GroundTruthBox& t : truth) {
    check_class(t.cls, n, "a ground-truth box", t.image_id);
    gts[size_t(t.cls)].push_back(t);
  }
  DetectionReport report;
  double sum = 0;
  int counted = 0;
  for (size_t c = 0; c < n; ++c) {
    ClassAp r{class_names[c], 0.0, 0, int(dets[c].size())};
    for (const GroundTruthBox& t : gts[c]) r.positives += t.difficult ? 0 : 1;
    if (r.positives > 0) {
      r.ap = average_precision(std::move(dets[c]), gts[c], iou_threshold);
      sum += r.ap;
      ++counted;
    }
    report.classes.push_back(std::move(r));
  }
  report.mean_ap = counted > 0 ? sum / counted : 0.0;
  return report;
}

// ----------------------------------------------------------------------------------------------
// Dataset reader

int Dataset::class_index(const std::string& name) const {
  const auto it = std::lower_bound(classes.begin(), classes.end(), name);
  return (it != classes.end() && *it == name) ? int(it - classes.begin()) : -1;
}

namespace {

using nlohmann::json;

/// A problem in one record; load_dataset adds the file and line.
struct RecordError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string string_field(const json& j, const char* key, const std::string& fallback = "") {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_string()) throw RecordError(std::string("\"") + key + "\" is not a string");
  return it->get<std::string>();
}

int int_field(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return 0;
  if (!it->is_number()) throw RecordError(std::string("\"") + key + "\" is not a number");
  return int(it->get<double>());
}

/// 1 / true = set; 0, -1 (unknown), false or absent = not set.
bool flag_field(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_number()) return it->get<double>() > 0;
  throw RecordError(std::string("\"") + key + "\" is neither a number nor a boolean");
}

Box parse_bbox(const json& j, int width, int height) {
  if (!j.is_array() || j.size() != 4 ||
      !std::all_of(j.begin(), j.end(), [](const json& v) { return v.is_number(); })) {
    throw RecordError("\"bbox\" is not 4 numbers [x1, y1, x2, y2]");
  }
  Box b{j[0].get<float>(), j[1].get<float>(), j[2].get<float>(), j[3].get<float>()};
  if (b.x2 < b.x1 || b.y2 < b.y1) throw RecordError("\"bbox\" has x2 < x1 or y2 < y1");
  if (width > 0 && height > 0) {
    const auto clip = [](float v, int hi) { return std::clamp(v, 0.0f, float(hi)); };
    b = {clip(b.x1, width), clip(b.y1, height), clip(b.x2, width), clip(b.y2, height)};
  }
  return b;
}

DatasetObject parse_object(const json& j, const DatasetImage& image) {
  if (!j.is_object()) throw RecordError("an entry of \"objects\" is not an object");
  DatasetObject o;
  o.cls = string_field(j, "class", image.label);
  if (o.cls.empty()) throw RecordError("an object has no \"class\" and the image none either");
  o.box = parse_bbox(j.at("bbox"), image.width, image.height);
  o.difficult = flag_field(j, "difficult");
  o.truncated = flag_field(j, "truncated");
  return o;
}

std::vector<std::string> string_list(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_array()) throw RecordError(std::string("\"") + key + "\" is not a list");
  std::vector<std::string> out;
  for (const json& v : *it) {
    if (!v.is_string()) throw RecordError(std::string("\"") + key + "\" holds a non-string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

void parse_objects(const json& j, DatasetImage& image) {
  const auto it = j.find("objects");
  if (it == j.end() || it->is_null()) return;
  if (!it->is_array()) throw RecordError("\"objects\" is not a list");
  for (const json& o : *it) {
    if (o.is_object() && !o.contains("bbox")) continue;  // image-level object: no box
    image.objects.push_back(parse_object(o, image));
  }
}

DatasetImage parse_record(const std::string& line, const std::filesystem::path& dir) {
  const json j = json::parse(line);
  if (!j.is_object()) throw RecordError("not a JSON object");
  DatasetImage image;
  image.id = string_field(j, "id");
  if (image.id.empty()) throw RecordError("no \"id\"");
  image.split = string_field(j, "split");
  image.width = int_field(j, "width");
  image.height = int_field(j, "height");
  image.label = string_field(j, "class");
  const std::string file = string_field(j, "file");
  image.path = file.empty() ? dir / "images" / (image.id + ".jpg") : dir / file;
  image.classes_missing_boxes = string_list(j, "classes_missing_boxes");
  parse_objects(j, image);
  return image;
}

[[noreturn]] void missing_file(const std::filesystem::path& file) {
  throw Error("dataset: cannot read " + file.string() +
              "; a dataset directory holds annotations.jsonl, one JSON object per image "
              "({\"id\", \"split\", \"width\", \"height\", \"file\" or images/<id>.jpg, "
              "\"objects\": [{\"class\", \"bbox\": [x1, y1, x2, y2]}]}), as in "
              "shared/data/voc2007 and shared/data/caltech101");
}

void add_classes(const DatasetImage& image, std::set<std::string>& classes) {
  if (!image.label.empty()) classes.insert(image.label);
  for (const DatasetObject& o : image.objects) classes.insert(o.cls);
}

}  // namespace

Dataset load_dataset(const std::filesystem::path& dir, const std::string& split) {
  const std::filesystem::path file = dir / "annotations.jsonl";
  std::ifstream in(file);
  if (!in) missing_file(file);
  Dataset dataset;
  dataset.dir = dir;
  std::set<std::string> classes;
  std::unordered_set<std::string> ids;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      DatasetImage image = parse_record(line, dir);
      if (!ids.insert(image.id).second) throw RecordError("duplicate id '" + image.id + "'");
      add_classes(image, classes);
      if (split.empty() || image.split == split) dataset.images.push_back(std::move(image));
    } catch (const std::exception& e) {  // RecordError or nlohmann::json::exception
      throw Error(file.string() + ", line " + std::to_string(number) + ": " + e.what());
    }
  }
  if (in.bad()) throw Error("dataset: error reading " + file.string());
  dataset.classes.assign(classes.begin(), classes.end());
  return dataset;
}

}  // namespace overfeat
