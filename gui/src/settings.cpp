// SPDX-License-Identifier: MIT
#include "settings.hpp"

namespace overfeat::studio {

StudioSettings StudioSettings::load(QSettings& s) {
  StudioSettings o;
  const int mode = s.value("mode", static_cast<int>(o.mode)).toInt();
  if (mode >= 0 && mode < kModeCount) o.mode = static_cast<Mode>(mode);
  o.model.choice = s.value("model/choice", o.model.choice).toString();
  o.model.weights_dir = s.value("model/weightsDir", o.model.weights_dir).toString();
  o.model.device = s.value("model/device", o.model.device).toString();
  o.model.half_weights = s.value("model/halfWeights", o.model.half_weights).toBool();
  o.taught_everywhere = s.value("oneshot/taughtEverywhere", o.taught_everywhere).toBool();
  o.scales = s.value("analysis/scales", o.scales).toString();
  o.live_scales = s.value("analysis/liveScales", o.live_scales).toString();
  bool rate_ok = false;
  const double rate = s.value("analysis/liveTargetFps", o.live_target_fps).toDouble(&rate_ok);
  if (rate_ok && rate >= 1 && rate <= 60) o.live_target_fps = rate;
  o.fine = s.value("analysis/fineStride", o.fine).toBool();
  o.flip = s.value("analysis/flip", o.flip).toBool();
  o.min_confidence = s.value("analysis/minConfidence", o.min_confidence).toDouble();
  // A damaged value (text, NaN, 50) keeps the default rather than hiding every box.
  bool number = false;
  const double v = s.value("view/minBoxConfidence", o.min_box_confidence).toDouble(&number);
  if (number && v >= 0 && v <= 1) o.min_box_confidence = v;
  o.nms = s.value("analysis/nms", o.nms).toBool();
  o.threshold = s.value("analysis/threshold", o.threshold).toDouble();
  o.max_detections = s.value("analysis/maxDetections", o.max_detections).toInt();
  o.one_label = s.value("analysis/oneLabel", o.one_label).toBool();
  o.top_classes = s.value("analysis/topClasses", o.top_classes).toInt();
  o.show_raw = s.value("view/showRaw", o.show_raw).toBool();
  o.opacity = s.value("view/opacity", o.opacity).toDouble();
  o.last_dir = s.value("lastDir", o.last_dir).toString();
  o.geometry = s.value("window/geometry").toByteArray();
  o.window_state = s.value("window/state").toByteArray();
  return o;
}

void StudioSettings::save(QSettings& s) const {
  s.setValue("mode", static_cast<int>(mode));
  s.setValue("model/choice", model.choice);
  s.setValue("model/weightsDir", model.weights_dir);
  s.setValue("model/device", model.device);
  s.setValue("model/halfWeights", model.half_weights);
  s.setValue("oneshot/taughtEverywhere", taught_everywhere);
  s.setValue("analysis/scales", scales);
  s.setValue("analysis/liveScales", live_scales);
  s.setValue("analysis/liveTargetFps", live_target_fps);
  s.setValue("analysis/fineStride", fine);
  s.setValue("analysis/flip", flip);
  s.setValue("analysis/minConfidence", min_confidence);
  s.setValue("view/minBoxConfidence", min_box_confidence);
  s.setValue("analysis/nms", nms);
  s.setValue("analysis/threshold", threshold);
  s.setValue("analysis/maxDetections", max_detections);
  s.setValue("analysis/oneLabel", one_label);
  s.setValue("analysis/topClasses", top_classes);
  s.setValue("view/showRaw", show_raw);
  s.setValue("view/opacity", opacity);
  s.setValue("lastDir", last_dir);
  s.setValue("window/geometry", geometry);
  s.setValue("window/state", window_state);
}

DetectOptions StudioSettings::detect_options(bool live) const {
  DetectOptions o;
  o.scales = (live ? live_scales : scales).toStdString();
  o.dense.fine = fine;
  o.dense.flip = flip;
  o.min_confidence = static_cast<float>(min_confidence);
  o.merge = nms ? DetectOptions::Merge::Nms : DetectOptions::Merge::Greedy;
  o.merge_threshold = static_cast<float>(threshold);
  o.max_detections = max_detections;
  o.other_class_iou = one_label ? kOneLabelIou : 0.0f;
  o.top_classes = top_classes;
  return o;
}

}  // namespace overfeat::studio
