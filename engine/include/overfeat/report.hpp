// SPDX-License-Identifier: MIT
// How results are presented, shared by the command line and the app: class names, the top
// classes without the background, detections as COCO-results JSON, annotated images.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "overfeat/classes.hpp"
#include "overfeat/detection.hpp"
#include "overfeat/oneshot.hpp"
#include "overfeat/pipeline.hpp"
#include "overfeat/render.hpp"

namespace overfeat {

/// The folder searched for the official weights (net_weight_0/1) when none is given:
/// $OVERFEAT_WEIGHTS, else $XDG_DATA_HOME/overfeat-studio/weights (default
/// ~/.local/share/overfeat-studio/weights).
std::filesystem::path default_weights_dir();

/// A class name up to its first comma ("tabby, tabby cat" -> "tabby").
std::string short_name(const std::string& name);

/// The best `n` classes of `probs`, the model's background class never among them.
std::vector<ScoredClass> top_foreground(const std::vector<float>& probs, int background, int n);

/// `value` with `digits` decimals.
std::string fixed(double value, int digits);

/// A probability as people read it on a box: "74%", "<1%" below 0.5 %, ">99%" above 99.5 %.
std::string percent_label(double p);

/// Detections in the COCO results style: one object per box with image_id, category_id,
/// category_name, bbox [x, y, width, height] (rounded to 0.01 px), confidence (Detection::
/// confidence, 0..1), score (the accumulated votes), peak (the best window) and votes.
nlohmann::json detections_json(const std::vector<Detection>& detections,
                               const std::vector<std::string>& classes,
                               const std::string& image_id);

/// One image's one-shot answer as `overfeat recognize --json` writes it and the app saves it:
/// image, class, confidence, similarity, best, runner_up, runner_up_similarity, margin,
/// threshold, and with `locate` the box [x1, y1, x2, y2] (0.1 px) or null. `names`: the store's
/// classes in order.
nlohmann::json recognition_json(const std::string& image, const Recognition& r,
                                const std::vector<std::string>& names, bool locate,
                                const std::optional<Box>& where);

/// The image with the merged boxes (tag "name 74%", the confidence, best drawn last, on top) and,
/// with `raw`, the pre-merge boxes drawn faint underneath.
render::Rgb8 annotate_detections(const Tensor& rgb, const DetectResult& result,
                                 const std::vector<std::string>& classes, bool raw);

}  // namespace overfeat
