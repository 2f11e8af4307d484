// SPDX-License-Identifier: MIT
#include "overfeat/report.hpp"

#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <sstream>

namespace overfeat {

std::filesystem::path default_weights_dir() {
  if (const char* e = std::getenv("OVERFEAT_WEIGHTS"); e && *e) return e;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
    return std::filesystem::path(x) / "overfeat-studio" / "weights";
  if (const char* h = std::getenv("HOME"); h && *h)
    return std::filesystem::path(h) / ".local" / "share" / "overfeat-studio" / "weights";
  return "weights";
}

std::string short_name(const std::string& name) {
  return name.substr(0, name.find(','));
}

std::vector<ScoredClass> top_foreground(const std::vector<float>& probs, int background, int n) {
  if (background < 0 || background >= static_cast<int>(probs.size())) return top_classes(probs, n);
  std::vector<float> rest = probs;
  rest.erase(rest.begin() + background);
  std::vector<ScoredClass> top = top_classes(rest, n);
  for (ScoredClass& c : top)
    if (c.index >= background) ++c.index;
  return top;
}

std::string fixed(double value, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << value;
  return s.str();
}

std::string percent_label(double p) {
  if (!(p >= 0.005)) return "<1%";
  if (p > 0.995) return ">99%";
  return std::to_string(static_cast<int>(std::lround(100 * p))) + "%";
}

namespace {
nlohmann::json box_json(const Box& b) {  // COCO: [x, y, width, height]
  return {std::round(b.x1 * 100) / 100, std::round(b.y1 * 100) / 100,
          std::round(b.width() * 100) / 100, std::round(b.height() * 100) / 100};
}
const std::string& name_of(const std::vector<std::string>& classes, int cls) {
  static const std::string unknown = "?";
  return cls >= 0 && cls < static_cast<int>(classes.size()) ? classes[cls] : unknown;
}
}  // namespace

nlohmann::json detections_json(const std::vector<Detection>& detections,
                               const std::vector<std::string>& classes,
                               const std::string& image_id) {
  nlohmann::json out = nlohmann::json::array();
  for (const Detection& d : detections)
    out.push_back({{"image_id", image_id},
                   {"category_id", d.cls},
                   {"category_name", name_of(classes, d.cls)},
                   {"bbox", box_json(d.box)},
                   {"confidence", d.confidence},
                   {"score", d.score},
                   {"peak", d.peak},
                   {"votes", d.votes}});
  return out;
}

nlohmann::json recognition_json(const std::string& image, const Recognition& r,
                                const std::vector<std::string>& names, bool locate,
                                const std::optional<Box>& where) {
  auto name = [&](int i) {
    return i >= 0 && i < static_cast<int>(names.size()) ? nlohmann::json(names[i])
                                                        : nlohmann::json(nullptr);
  };
  nlohmann::json o = {{"image", image},
                      {"class", r.name},
                      {"confidence", r.confidence},
                      {"similarity", r.similarity},
                      {"best", name(r.best)},
                      {"runner_up", name(r.runner_up)},
                      {"runner_up_similarity", r.runner_up_similarity},
                      {"margin", r.margin},
                      {"threshold", r.threshold},
                      {"rule", r.probabilities.empty() ? "prototypes" : "linear classifier"}};
  if (locate) {
    auto round = [](float v) { return std::round(v * 10) / 10; };
    o["box"] = where ? nlohmann::json{round(where->x1), round(where->y1), round(where->x2),
                                      round(where->y2)}
                     : nlohmann::json(nullptr);
  }
  return o;
}

render::Rgb8 annotate_detections(const Tensor& rgb, const DetectResult& result,
                                 const std::vector<std::string>& classes, bool raw) {
  std::vector<render::DrawnBox> boxes;
  if (raw)
    for (const Detection& d : result.raw)
      boxes.push_back({d.box.x1, d.box.y1, d.box.x2, d.box.y2, d.cls, "", 1, true});
  for (auto it = result.merged.rbegin(); it != result.merged.rend(); ++it)  // best on top
    boxes.push_back({it->box.x1, it->box.y1, it->box.x2, it->box.y2, it->cls,
                     short_name(name_of(classes, it->cls)) + " " + percent_label(it->confidence), 2,
                     false});
  return render::draw_boxes(rgb, boxes);
}

}  // namespace overfeat
