// SPDX-License-Identifier: MIT
// The paper's inference end to end, as the command line and the app run it: choose a model,
// evaluate densely at several scales, classify, regress boxes and merge them.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "overfeat/dense.hpp"
#include "overfeat/detection.hpp"
#include "overfeat/model.hpp"

namespace overfeat {

/// Where models come from. `choice` is "fast" or "accurate" (the official weights in
/// `weights_dir`), a path to a model file, or empty for the default: $OVERFEAT_MODEL, else the
/// bundled model when installed, else the official fast net. Throws WeightFileError with what to
/// do when nothing loads, phrased for `reader`: the command line's options or the app's menus.
enum class Reader { CommandLine, App };
Model load_model_choice(const std::string& choice, const std::filesystem::path& weights_dir,
                        Reader reader = Reader::CommandLine);
/// The bundled model's path when present (next to the sources or installed), else empty.
std::filesystem::path bundled_model_path();

/// Everything a detection run can tune; the defaults are the command line's.
struct DetectOptions {
  std::string scales = "model";  ///< see parse_scales: the model's own, else the paper's
  DenseOptions dense;            ///< fine stride, flips
  int top_classes = 5;           ///< per scale, classes whose boxes enter the merge
  float min_confidence = 0.02f;  ///< raw boxes below this window confidence are dropped
  enum class Merge { Greedy, Nms } merge = Merge::Greedy;
  float merge_threshold = 0.8f;  ///< greedy: match score; nms: IoU
  /// Greedy only: after voting, a merged box is dropped when it overlaps a better-scored merged
  /// box of its class by more than this IoU (0 = keep all, the paper's merge alone). Voting
  /// leaves several boxes on one object when the raw boxes disagree (parts of it, different
  /// scales); they are duplicates to a user and false positives to VOC's AP.
  float suppress_iou = 0.3f;
  /// Greedy only: after voting and suppress_iou, one label per object: a box is dropped when a
  /// more confident box of another class overlaps it by more than this IoU
  /// (suppress_other_classes; 0 = off, the paper's merge, which keeps every class's boxes).
  float other_class_iou = 0.0f;
  int max_detections = 20;  ///< after merging (0 = all)
};

/// Timings of one detection, wall clock, milliseconds.
struct DetectTimings {
  DenseTimings dense;
  double merge_ms = 0;
  double total_ms = 0;
};

struct DetectResult {
  DenseResult dense;               ///< the per-scale maps (heat maps, raw boxes)
  std::vector<float> class_probs;  ///< the paper's classification (mean of spatial maxima)
  std::vector<Detection> raw;      ///< boxes before merging
  std::vector<Detection> merged;   ///< final, ranked by accumulated score
  DetectTimings timings;
  /// What the merged boxes' confidences are: the calibration's fitted_on, or empty when they
  /// are the peak window probabilities (no calibration, or NMS).
  std::string confidence_source;
};

/// Runs the whole method on one image (RGB, CHW, 0..255).
DetectResult detect(DenseEvaluator& evaluator, const Tensor& rgb, const DetectOptions& options);
/// The method's second half on maps already evaluated (by DenseEvaluator or, for the classic
/// networks, GraphDenseEvaluator): classification, raw boxes, merge, calibrated confidences
/// (`calibrations`: the model's, possibly none).
DetectResult detect_in_maps(DenseResult dense,
                            const std::vector<DetectionCalibration>& calibrations,
                            const DetectOptions& options);

}  // namespace overfeat
