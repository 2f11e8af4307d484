// SPDX-License-Identifier: MIT
#include "overfeat/pipeline.hpp"

#include <chrono>
#include <cstdlib>

#include "overfeat/error.hpp"
#include "overfeat/paths.hpp"

#ifndef OVERFEAT_MODEL_NAME
#define OVERFEAT_MODEL_NAME "overfeat-studio.onnx"
#endif

namespace overfeat {
namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}
}  // namespace

std::filesystem::path bundled_model_path() {
  const std::filesystem::path relative = std::filesystem::path("models") / OVERFEAT_MODEL_NAME;
  return find_data_file(relative, source_tree_file("resources" / relative));
}

Model load_model_choice(const std::string& choice, const std::filesystem::path& weights_dir,
                        Reader reader) {
  std::string c = choice;
  if (c.empty())
    if (const char* e = std::getenv("OVERFEAT_MODEL"); e && *e) c = e;
  if (c == "fast" || c == "accurate") return official_model(c == "fast" ? 0 : 1, weights_dir);
  if (!c.empty()) return load_model(c);
  if (auto bundled = bundled_model_path(); !bundled.empty()) return load_model(bundled);
  std::error_code ec;
  if (std::filesystem::exists(official_weight_path(weights_dir, 0), ec))
    return official_model(0, weights_dir);
  const std::string what =
      "No model to run: the bundled model is not installed and there are no official weights "
      "in " +
      weights_dir.string() + ". ";
  throw WeightFileError(
      what + (reader == Reader::App
                  ? "Choose Model > Get the official weights... to check and install them, or "
                    "Model > Open model file (ONNX) for another model."
                  : "Pass a model file with --model FILE.onnx, or put the official net_weight_0 / "
                    "net_weight_1 there (or name their folder with -d DIR / OVERFEAT_WEIGHTS) "
                    "and use --model fast or --model accurate."));
}

DetectResult detect(DenseEvaluator& evaluator, const Tensor& rgb, const DetectOptions& options) {
  const auto t0 = Clock::now();
  const auto sizes = parse_scales(options.scales, evaluator.model().net, rgb.h, rgb.w);
  DenseResult dense = evaluator.evaluate(rgb, sizes, options.dense);
  DetectResult r =
      detect_in_maps(std::move(dense), evaluator.model().detection_calibrations, options);
  r.timings.total_ms = ms_since(t0);
  return r;
}

DetectResult detect_in_maps(DenseResult dense,
                            const std::vector<DetectionCalibration>& calibrations,
                            const DetectOptions& options) {
  const auto t1 = Clock::now();
  DetectResult r;
  r.dense = std::move(dense);
  r.class_probs = classify(r.dense);
  r.raw = raw_detections(r.dense, options.top_classes, options.min_confidence);
  if (options.merge == DetectOptions::Merge::Greedy) {
    // Every step keeps the score ranking, so the best max_detections are cut once, at the end.
    r.merged = greedy_merge(r.raw, {options.merge_threshold, 0});
    if (options.suppress_iou > 0)
      r.merged = non_max_suppression(std::move(r.merged), options.suppress_iou);
    // The calibration was fitted on the voting merge's evidence; NMS keeps raw windows.
    const int maps = static_cast<int>(r.dense.maps.size());
    const DetectionCalibration* cal = calibration_for(calibrations, maps);
    set_confidences(r.merged, cal, maps);
    if (cal) r.confidence_source = cal->fitted_on;
    if (options.other_class_iou > 0)
      r.merged = suppress_other_classes(std::move(r.merged), options.other_class_iou);
    if (options.max_detections > 0 && r.merged.size() > size_t(options.max_detections))
      r.merged.resize(options.max_detections);
  } else
    r.merged = non_max_suppression(r.raw, options.merge_threshold, options.max_detections);
  r.timings.dense = r.dense.timings;
  r.timings.merge_ms = ms_since(t1);
  r.timings.total_ms = ms_since(t1) + r.dense.timings.prepare_ms + r.dense.timings.network_ms +
                       r.dense.timings.collect_ms;
  return r;
}

}  // namespace overfeat
