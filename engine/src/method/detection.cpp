// SPDX-License-Identifier: MIT
#include "overfeat/detection.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <queue>
#include <string>
#include <tuple>
#include <utility>

#include "overfeat/error.hpp"
#include "overfeat/logistic.hpp"

namespace overfeat {

namespace {

inline float intersection_of(const Box& a, const Box& b) {
  const float w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const float h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  return (w > 0 && h > 0) ? w * h : 0.0f;
}

bool same_box(const Box& a, const Box& b) {
  return a.x1 == b.x1 && a.y1 == b.y1 && a.x2 == b.x2 && a.y2 == b.y2;
}

// Inline here: the greedy merge computes the match score for most pairs of a class's boxes.
inline float iou_of(const Box& a, const Box& b) {
  const float inter = intersection_of(a, b);
  const float uni = a.area() + b.area() - inter;
  if (!(uni > 0)) return same_box(a, b) ? 1.0f : 0.0f;
  return std::min(1.0f, inter / uni);
}

inline float match_score_of(const Box& a, const Box& b) {
  const float dx = a.cx() - b.cx();
  const float dy = a.cy() - b.cy();
  const float dist = std::sqrt(dx * dx + dy * dy);
  const float mean_area = 0.5f * (a.area() + b.area());
  float centre = 0;
  if (mean_area > 0) {
    centre = dist / std::sqrt(mean_area);
  } else if (dist > 0) {
    centre = std::numeric_limits<float>::infinity();
  }
  return centre + (1.0f - iou_of(a, b));
}

}  // namespace

float intersection_area(const Box& a, const Box& b) {
  return intersection_of(a, b);
}

float iou(const Box& a, const Box& b) {
  return iou_of(a, b);
}

float match_score(const Box& a, const Box& b) {
  return match_score_of(a, b);
}

namespace {

float weighted(float a, float wa, float b, float wb) {
  return (wa * a + wb * b) / (wa + wb);
}

Box merge_boxes(const Box& a, float wa, const Box& b, float wb) {
  if (wa == wb || !(wa + wb > 0)) {
    return {0.5f * (a.x1 + b.x1), 0.5f * (a.y1 + b.y1), 0.5f * (a.x2 + b.x2), 0.5f * (a.y2 + b.y2)};
  }
  return {weighted(a.x1, wa, b.x1, wb), weighted(a.y1, wa, b.y1, wb), weighted(a.x2, wa, b.x2, wb),
          weighted(a.y2, wa, b.y2, wb)};
}

}  // namespace

Detection merge_detections(const Detection& a, const Detection& b) {
  Detection m;
  m.cls = a.cls;
  m.score = a.score + b.score;
  m.box = merge_boxes(a.box, std::max(a.score, 0.0f), b.box, std::max(b.score, 0.0f));
  m.votes = a.votes + b.votes;
  m.scale = a.scale == b.scale ? a.scale : -1;
  m.peak = std::max(a.peak, b.peak);  // the confidence is set after merging (set_confidences)
  return m;
}

std::array<double, 3> DetectionCalibration::features(const Detection& d, int maps) {
  const double peak = std::clamp(static_cast<double>(d.peak), 1e-4, 1 - 1e-4);
  const double mass = std::max(static_cast<double>(d.score) / std::max(maps, 1), 1e-6);
  return {1.0, std::log(peak / (1 - peak)), std::log(mass)};
}

float DetectionCalibration::confidence(const Detection& d, int maps) const {
  const auto f = features(d, maps);
  const double z = bias * f[0] + w_peak * f[1] + w_mass * f[2];
  return static_cast<float>(1 / (1 + std::exp(-std::clamp(z, -50.0, 50.0))));
}

const DetectionCalibration* calibration_for(const std::vector<DetectionCalibration>& calibrations,
                                            int maps) {
  const DetectionCalibration* best = nullptr;
  double best_distance = 0;
  for (const DetectionCalibration& c : calibrations) {
    const double distance =
        c.maps > 0 ? std::abs(std::log(static_cast<double>(c.maps) / std::max(maps, 1))) : 1e9;
    if (!best || distance < best_distance) {
      best = &c;
      best_distance = distance;
    }
  }
  return best;
}

void set_confidences(std::vector<Detection>& detections, const DetectionCalibration* calibration,
                     int maps) {
  for (Detection& d : detections)
    d.confidence = calibration ? calibration->confidence(d, maps) : d.peak;
}

DetectionCalibration fit_detection_calibration(const std::vector<Detection>& detections,
                                               const std::vector<bool>& right, int maps) {
  if (detections.size() != right.size())
    throw Error("fit_detection_calibration: " + std::to_string(detections.size()) +
                " detections, " + std::to_string(right.size()) + " outcomes");
  const auto positives = std::count(right.begin(), right.end(), true);
  if (positives < 2 || static_cast<size_t>(positives) + 2 > right.size())
    throw Error("cannot fit a detection calibration from " + std::to_string(positives) +
                " right and " + std::to_string(right.size() - positives) +
                " wrong detections: evaluate more images");
  std::vector<std::vector<double>> x;
  std::vector<int> y;
  x.reserve(detections.size());
  for (size_t i = 0; i < detections.size(); ++i) {
    const auto f = DetectionCalibration::features(detections[i], maps);
    x.emplace_back(f.begin(), f.end());
    y.push_back(right[i] ? 1 : 0);
  }
  const std::vector<double> w = fit_logistic(x, y);
  DetectionCalibration c;
  c.maps = maps;
  c.bias = static_cast<float>(w[0]);
  c.w_peak = static_cast<float>(w[1]);
  c.w_mass = static_cast<float>(w[2]);
  return c;
}

namespace {

void check_boxes(const std::vector<Detection>& boxes, const char* who) {
  for (size_t i = 0; i < boxes.size(); ++i) {
    const Detection& d = boxes[i];
    const Box& b = d.box;
    if (!std::isfinite(d.score) || !std::isfinite(b.x1) || !std::isfinite(b.y1) ||
        !std::isfinite(b.x2) || !std::isfinite(b.y2)) {
      throw Error(std::string(who) + ": detection " + std::to_string(i) +
                  " has a non-finite score or coordinate");
    }
    if (b.x2 < b.x1 || b.y2 < b.y1) {
      throw Error(std::string(who) + ": detection " + std::to_string(i) +
                  " has an inverted box (x2 < x1 or y2 < y1)");
    }
  }
}

/// Full order on detections: score descending, then class, coordinates, votes, scale.
bool ranks_before(const Detection& a, const Detection& b) {
  if (a.score != b.score) return a.score > b.score;
  return std::tie(a.cls, a.box.x1, a.box.y1, a.box.x2, a.box.y2, b.votes, a.scale) <
         std::tie(b.cls, b.box.x1, b.box.y1, b.box.x2, b.box.y2, a.votes, b.scale);
}

/// A set of boxes as columns (corners, centres, areas), so that the match scores of one box
/// against many are one loop the compiler turns into vector code: the greedy merge spends most
/// of its time there. The scores equal match_score_of's, operation for operation.
class BoxColumns {
 public:
  size_t size() const { return x1_.size(); }
  void push_back(const Box& b) {
    x1_.push_back(b.x1), y1_.push_back(b.y1), x2_.push_back(b.x2), y2_.push_back(b.y2);
    cx_.push_back(b.cx()), cy_.push_back(b.cy()), area_.push_back(b.area());
  }
  /// Moves the last box to place i and drops the last place.
  void swap_remove(size_t i) {
    for (std::vector<float>* c : columns()) {
      (*c)[i] = c->back();
      c->pop_back();
    }
  }
  const float* x1() const { return x1_.data(); }

  /// out[j - begin] = match_score_of(box j, b) for j in [begin, end).
  void scores(size_t begin, size_t end, const Box& b, float* __restrict out) const {
    const float bx1 = b.x1, by1 = b.y1, bx2 = b.x2, by2 = b.y2;
    const float bcx = b.cx(), bcy = b.cy(), barea = b.area();
    const float* __restrict x1 = x1_.data();
    const float* __restrict y1 = y1_.data();
    const float* __restrict x2 = x2_.data();
    const float* __restrict y2 = y2_.data();
    const float* __restrict cx = cx_.data();
    const float* __restrict cy = cy_.data();
    const float* __restrict area = area_.data();
    constexpr float inf = std::numeric_limits<float>::infinity();
    // Branch-free (both sides of every choice computed, & not &&), so that it vectorizes.
    for (size_t j = begin; j < end; ++j) {
      const float w = std::min(x2[j], bx2) - std::max(x1[j], bx1);
      const float h = std::min(y2[j], by2) - std::max(y1[j], by1);
      const float inter = ((w > 0) & (h > 0)) ? w * h : 0.0f;
      const float uni = area[j] + barea - inter;
      const bool same = (x1[j] == bx1) & (y1[j] == by1) & (x2[j] == bx2) & (y2[j] == by2);
      const float ratio = std::min(1.0f, inter / uni);  // used only when uni > 0
      const float iou = uni > 0 ? ratio : (same ? 1.0f : 0.0f);
      const float dx = cx[j] - bcx;
      const float dy = cy[j] - bcy;
      const float dist = std::sqrt(dx * dx + dy * dy);
      const float mean_area = 0.5f * (area[j] + barea);
      const float spread = dist / std::sqrt(mean_area);  // used only when mean_area > 0
      const float centre = mean_area > 0 ? spread : (dist > 0 ? inf : 0.0f);
      out[j - begin] = centre + (1.0f - iou);
    }
  }

 private:
  std::array<std::vector<float>*, 7> columns() {
    return {&x1_, &y1_, &x2_, &y2_, &cx_, &cy_, &area_};
  }
  std::vector<float> x1_, y1_, x2_, y2_, cx_, cy_, area_;
};

/// A qualifying partner of a box: an older box (created before it) and their match score.
struct Partner {
  float score;
  uint32_t other;
  bool operator>(const Partner& r) const {
    return std::tie(score, other) > std::tie(r.score, r.other);
  }
};

/// The best remaining pair of one box: (partner a < owner b) and its match score.
struct Candidate {
  float score;
  uint32_t a, b;
};

struct WorseCandidate {
  bool operator()(const Candidate& l, const Candidate& r) const {
    return std::tie(l.score, l.a, l.b) > std::tie(r.score, r.a, r.b);
  }
};

/// Greedy merge of the boxes of one class. Every qualifying pair is kept once, in the partner
/// list (a min-heap) of its newer box; a global min-heap holds one entry per box, the head of
/// its list. An entry whose partner has died since is advanced lazily when it comes to the top,
/// so an entry with both boxes alive at the top is the best pair (ties: smallest indices).
class ClassMerger {
 public:
  ClassMerger(std::vector<Detection> boxes, float threshold)
      : nodes_(std::move(boxes)),
        alive_(nodes_.size(), 1),
        alive_list_(nodes_.size()),
        where_(nodes_.size()),
        partners_(nodes_.size()),
        threshold_(threshold) {
    std::iota(alive_list_.begin(), alive_list_.end(), 0u);
    std::iota(where_.begin(), where_.end(), 0u);
    for (const Detection& d : nodes_) alive_boxes_.push_back(d.box);
  }

  void run() {
    if (threshold_ < 1) {
      seed_overlapping();
    } else {
      seed_near();
    }
    for (uint32_t i = 0; i < nodes_.size(); ++i) start(i);
    while (!heap_.empty()) {
      const Candidate c = heap_.top();
      heap_.pop();
      if (!alive_[c.b]) continue;
      if (alive_[c.a]) {
        merge(c.a, c.b);
      } else {
        push_head(c.b);  // the partner died since: on to the next alive one
      }
    }
  }

  void append_alive(std::vector<Detection>& out) const {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (alive_[i]) out.push_back(nodes_[i]);
    }
  }

 private:
  /// Scores box ids[p] against boxes ids[begin..end) (`boxes` holds box ids[j] at place j) and
  /// records each qualifying pair in the list of its newer box.
  void consider(const BoxColumns& boxes, const std::vector<uint32_t>& ids, uint32_t one,
                size_t begin, size_t end) {
    scores_.resize(end - begin);
    boxes.scores(begin, end, nodes_[one].box, scores_.data());
    for (size_t j = begin; j < end; ++j) {
      const float s = scores_[j - begin];
      if (!(s <= threshold_)) continue;
      const auto [a, b] = std::minmax(one, ids[j]);
      partners_[b].push_back({s, a});
    }
  }

  /// Turns the list of a new box i into a min-heap and pushes its head.
  void start(uint32_t i) {
    std::make_heap(partners_[i].begin(), partners_[i].end(), std::greater<>());
    push_head(i);
  }

  /// Drops the head of box i's list.
  void advance(uint32_t i) {
    std::vector<Partner>& list = partners_[i];
    std::pop_heap(list.begin(), list.end(), std::greater<>());
    list.pop_back();
  }

  /// Pushes the best alive partner of box i, if any, dropping dead ones.
  void push_head(uint32_t i) {
    const std::vector<Partner>& list = partners_[i];
    while (!list.empty() && !alive_[list.front().other]) advance(i);
    if (!list.empty()) heap_.push({list.front().score, list.front().other, i});
  }

  std::vector<uint32_t> order_by(auto key) const {
    std::vector<uint32_t> order(nodes_.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t l, uint32_t r) { return key(l) < key(r); });
    return order;
  }

  BoxColumns columns_of(const std::vector<uint32_t>& ids) const {
    BoxColumns c;
    for (uint32_t i : ids) c.push_back(nodes_[i].box);
    return c;
  }

  // threshold < 1: only overlapping pairs qualify; sweep over boxes sorted by x1.
  void seed_overlapping() {
    const auto order = order_by([&](uint32_t i) { return nodes_[i].box.x1; });
    const BoxColumns sorted = columns_of(order);
    for (size_t p = 0; p < order.size(); ++p) {
      const float right = nodes_[order[p]].box.x2;
      size_t end = p + 1;
      while (end < order.size() && sorted.x1()[end] <= right) ++end;
      consider(sorted, order, order[p], p + 1, end);
    }
  }

  // threshold >= 1: a qualifying pair has centre distance <= threshold * sqrt(mean area) <=
  // threshold * sqrt((area_i + max area) / 2); sweep over boxes sorted by cx.
  void seed_near() {
    const auto order = order_by([&](uint32_t i) { return nodes_[i].box.cx(); });
    const BoxColumns sorted = columns_of(order);
    double max_area = 0;
    for (const Detection& d : nodes_) max_area = std::max(max_area, double(d.box.area()));
    for (size_t p = 0; p < order.size(); ++p) {
      const Box& b = nodes_[order[p]].box;
      // Slack so that float rounding in match_score can never drop a qualifying pair.
      const double bound =
          double(threshold_) * std::sqrt(0.5 * (b.area() + max_area)) * 1.001 + 1e-3;
      size_t end = p + 1;
      while (end < order.size() && double(nodes_[order[end]].box.cx()) - b.cx() <= bound) ++end;
      consider(sorted, order, order[p], p + 1, end);
    }
  }

  void kill(uint32_t i) {
    alive_[i] = 0;
    const uint32_t last = alive_list_.back();  // swap-remove i from the alive list
    alive_list_[where_[i]] = last;
    alive_boxes_.swap_remove(where_[i]);
    where_[last] = where_[i];
    alive_list_.pop_back();
    std::vector<Partner>().swap(partners_[i]);
  }

  void merge(uint32_t a, uint32_t b) {
    const auto k = static_cast<uint32_t>(nodes_.size());
    nodes_.push_back(merge_detections(nodes_[a], nodes_[b]));
    kill(a);
    kill(b);
    alive_.push_back(1);
    partners_.emplace_back();
    // Only the alive boxes: most of the k made so far have been merged away.
    consider(alive_boxes_, alive_list_, k, 0, alive_list_.size());
    where_.push_back(static_cast<uint32_t>(alive_list_.size()));
    alive_list_.push_back(k);
    alive_boxes_.push_back(nodes_[k].box);
    start(k);
  }

  std::vector<Detection> nodes_;
  std::vector<char> alive_;
  std::vector<uint32_t> alive_list_;            ///< the alive boxes, in no order
  BoxColumns alive_boxes_;                      ///< their boxes, in alive_list_'s order
  std::vector<float> scores_;                   ///< consider()'s scratch
  std::vector<uint32_t> where_;                 ///< box -> its place in alive_list_ while alive
  std::vector<std::vector<Partner>> partners_;  ///< per box: qualifying older boxes, a min-heap
  float threshold_;
  std::priority_queue<Candidate, std::vector<Candidate>, WorseCandidate> heap_;
};

void rank_and_truncate(std::vector<Detection>& out, int max_output) {
  std::sort(out.begin(), out.end(), ranks_before);
  if (max_output > 0 && out.size() > size_t(max_output)) out.resize(size_t(max_output));
}

}  // namespace

std::vector<Detection> greedy_merge(std::vector<Detection> boxes, const MergeOptions& opts) {
  check_boxes(boxes, "greedy_merge");
  std::map<int, std::vector<Detection>> by_class;
  for (Detection& d : boxes) by_class[d.cls].push_back(d);
  std::vector<Detection> out;
  for (auto& [cls, group] : by_class) {
    ClassMerger merger(std::move(group), opts.threshold);
    merger.run();
    merger.append_alive(out);
  }
  rank_and_truncate(out, opts.max_output);
  return out;
}

std::vector<Detection> non_max_suppression(std::vector<Detection> boxes, float iou_threshold,
                                           int max_output) {
  check_boxes(boxes, "non_max_suppression");
  std::stable_sort(boxes.begin(), boxes.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
  std::map<int, std::vector<Box>> kept;
  std::vector<Detection> out;
  for (const Detection& d : boxes) {
    if (max_output > 0 && out.size() >= size_t(max_output)) break;
    std::vector<Box>& same = kept[d.cls];
    const bool suppressed = std::any_of(
        same.begin(), same.end(), [&](const Box& k) { return iou(k, d.box) > iou_threshold; });
    if (suppressed) continue;
    same.push_back(d.box);
    out.push_back(d);
  }
  return out;
}

std::vector<Detection> suppress_other_classes(std::vector<Detection> boxes, float iou_threshold) {
  check_boxes(boxes, "suppress_other_classes");
  for (size_t i = 0; i < boxes.size(); ++i)
    if (!std::isfinite(boxes[i].confidence))
      throw Error("suppress_other_classes: detection " + std::to_string(i) +
                  " has a non-finite confidence");
  std::vector<size_t> order(boxes.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return boxes[a].confidence > boxes[b].confidence; });
  std::vector<char> keep(boxes.size(), 0);
  std::vector<size_t> kept;  // by confidence
  for (size_t i : order) {
    const Detection& d = boxes[i];
    const bool covered = std::any_of(kept.begin(), kept.end(), [&](size_t k) {
      return boxes[k].cls != d.cls && iou(boxes[k].box, d.box) > iou_threshold;
    });
    if (covered) continue;
    keep[i] = 1;
    kept.push_back(i);
  }
  std::vector<Detection> out;
  out.reserve(kept.size());
  for (size_t i = 0; i < boxes.size(); ++i)
    if (keep[i]) out.push_back(std::move(boxes[i]));
  return out;
}

}  // namespace overfeat
