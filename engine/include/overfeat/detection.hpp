// SPDX-License-Identifier: MIT
// Post-processing of detection boxes (no GPU): box geometry, the paper's greedy merge
// ("accumulate instead of suppress", docs/overfeat.md section 5) and plain non-maximum
// suppression for comparison.
#pragma once
#include <array>
#include <string>
#include <vector>

namespace overfeat {

/// Axis-aligned box in image pixels: (x1, y1) top-left, (x2, y2) bottom-right, x2 >= x1.
struct Box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;

  /// x2 - x1, or 0 for an inverted box.
  float width() const { return x2 > x1 ? x2 - x1 : 0.0f; }
  /// y2 - y1, or 0 for an inverted box.
  float height() const { return y2 > y1 ? y2 - y1 : 0.0f; }
  /// width() * height().
  float area() const { return width() * height(); }
  /// Horizontal centre.
  float cx() const { return 0.5f * (x1 + x2); }
  /// Vertical centre.
  float cy() const { return 0.5f * (y1 + y2); }
};

/// Area of the intersection of two boxes (0 when they are disjoint or only touch).
float intersection_area(const Box& a, const Box& b);

/// Intersection over union in [0, 1]. When the union is empty (both boxes have zero area) it is
/// 1 for identical boxes and 0 otherwise, so it is never NaN.
float iou(const Box& a, const Box& b);

/// A scored box of one class. `votes` counts the raw boxes merged into it; `scale` is the scale
/// index it came from (-1 when merged from several).
struct Detection {
  int cls = 0;
  /// A raw box: its window's class probability. A merged box: the sum of its raw boxes' (the
  /// paper's accumulated score, which grows with the number of scales evaluated).
  float score = 0;
  Box box;
  int votes = 1;
  int scale = -1;
  /// The best window probability among the raw boxes merged into it (a raw box: its score).
  float peak = 0;
  /// What people are shown, 0..1: the calibrated probability that the box is right (its class,
  /// IoU >= 0.5 with an object of it) when the model has a DetectionCalibration; else `peak`.
  float confidence = 0;
};

/// How a merged detection's evidence becomes the probability that it is right (right class,
/// IoU >= 0.5 with an object of that class, as PASCAL VOC counts a true positive): logistic in
/// the log-odds of its peak window probability and the log of its accumulated score per
/// evaluated map (scales and mirrors), so that a still's six scales and a live frame's one or
/// two give comparable numbers:
///   p = 1 / (1 + exp(-(bias + w_peak * logit(peak) + w_mass * log(score / maps)))).
/// Fitted per model by `overfeat eval --fit-confidence` and stored in the model file
/// (docs/model-format.md, overfeat.detection_calibration).
struct DetectionCalibration {
  float bias = 0, w_peak = 0, w_mass = 0;
  /// The maps per image (scales and mirrors) of the evaluations it was fitted on (0: unknown).
  /// A live frame's one window and a still's six scales see an object differently, so a model
  /// may carry one calibration for each (calibration_for picks).
  int maps = 0;
  std::string fitted_on;  ///< for people: the data and options it was fitted with
  float confidence(const Detection& d, int maps) const;
  /// The three features it weighs (1, logit(peak), log(score / maps)), clamped to be finite.
  static std::array<double, 3> features(const Detection& d, int maps);
};

/// The calibration fitted on the number of maps nearest to `maps` (by ratio; the first of equals,
/// and one with maps 0 only when none other), or nullptr when there is none.
const DetectionCalibration* calibration_for(const std::vector<DetectionCalibration>& calibrations,
                                            int maps);

/// Sets every detection's `confidence`: the calibration's when there is one, else its `peak`.
void set_confidences(std::vector<Detection>& detections, const DetectionCalibration* calibration,
                     int maps);

/// Logistic regression (fit_logistic) of `right[i]` on the features of `detections[i]`. Throws
/// Error unless both outcomes occur at least twice.
DetectionCalibration fit_detection_calibration(const std::vector<Detection>& detections,
                                               const std::vector<bool>& right, int maps);

/// The paper's match score between two boxes of one class: lower is a better match.
/// Defined as center_distance / sqrt(mean of the two areas) + (1 - IoU): 0 for identical boxes,
/// >= 1 for disjoint ones. Symmetric. When both boxes have zero area the first term is 0 for
/// coincident centres and +infinity otherwise (never NaN).
float match_score(const Box& a, const Box& b);

/// Options of greedy_merge.
struct MergeOptions {
  /// Merge pairs whose match_score <= threshold. The default 0.8 merges two equal boxes shifted
  /// along one axis by up to about a third of their side (score r + 2r/(1+r) for a shift r of
  /// the side), i.e. while their IoU stays above about 0.5, the PASCAL criterion for "the same
  /// object"; concentric boxes merge while their IoU is at least 0.2. Below 1 only overlapping
  /// boxes can merge.
  float threshold = 0.8f;
  /// Keep the best N after merging (0 = all).
  int max_output = 0;
};

/// Merges two detections of one class as greedy_merge does: the box is the score-weighted
/// average of the two boxes (weights max(score, 0); the plain average when the weights are
/// equal or both zero), the score and the votes are summed, and the scale is kept when both
/// share it, else -1. The class is a's.
Detection merge_detections(const Detection& a, const Detection& b);

/// The paper's greedy merge ("accumulate instead of suppress"): repeatedly merge the
/// best-matching pair of same-class boxes while its score <= threshold; the merged box is the
/// score-weighted average of the two boxes' coordinates (equal to the plain average when scores
/// are equal), its score the sum of both, votes summed (see merge_detections). With non-negative
/// scores a merged box is thus the score-weighted mean of all the raw boxes it holds.
/// Ties between equally good pairs go to the pair of earliest boxes (input order, merged boxes
/// after all inputs in the order they were made), so the result is deterministic. Returns boxes
/// ranked by score, descending (ties by class, then coordinates). About O(n^2) per class in
/// the worst case, with memory for the pairs that qualify. Throws Error on a non-finite score
/// or coordinate or an inverted box (x2 < x1 or y2 < y1).
std::vector<Detection> greedy_merge(std::vector<Detection> boxes, const MergeOptions& opts);

/// Standard non-maximum suppression per class (for comparison): keep the best, drop same-class
/// boxes with IoU > iou_threshold, repeat. Ranked by score (ties in input order); max_output
/// keeps the best N (0 = all). Throws Error on a non-finite score or coordinate or an inverted
/// box.
std::vector<Detection> non_max_suppression(std::vector<Detection> boxes, float iou_threshold = 0.5f,
                                           int max_output = 0);

/// One label per object: visits the boxes by confidence (descending; ties in input order) and
/// drops a box when a box of another class already kept overlaps it by more than
/// iou_threshold. Voting merges per class, so where the model hesitates between classes it
/// leaves a box of each on one object ("car 35 %", "aeroplane 30 %" ... on one car); this keeps
/// the most confident. Boxes of one class never suppress each other. The survivors keep their
/// input order. Throws Error on a non-finite score, confidence or coordinate or an inverted box.
std::vector<Detection> suppress_other_classes(std::vector<Detection> boxes, float iou_threshold);

}  // namespace overfeat
