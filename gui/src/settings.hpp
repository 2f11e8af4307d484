// SPDX-License-Identifier: MIT
// What the user chose, kept between runs (QSettings): model, device, mode, scales, thresholds.
#pragma once
#include <QByteArray>
#include <QSettings>
#include <QString>

#include "inference.hpp"

namespace overfeat::studio {

struct StudioSettings {
  Mode mode = Mode::Detect;
  ModelRequest model;        ///< which model and device to load at start
  QString scales = "model";  ///< stills (see overfeat::parse_scales)
  /// Camera and video: "auto" (the largest scales that keep live_target_fps, chosen by measuring)
  /// or a scale list; fewer scales keep up with the camera.
  QString live_scales = "auto";
  double live_target_fps = 8;    ///< "auto" live scales keep this rate
  bool fine = true;              ///< offset pooling: 3x finer stride
  bool flip = false;             ///< also run mirrored images
  double min_confidence = 0.02;  ///< raw boxes below this window probability are dropped
  /// Merged boxes whose confidence (the % they show) is below this are not drawn; the JSON
  /// keeps them. Display only: changing it does not rerun the network.
  double min_box_confidence = 0.05;
  bool nms = false;        ///< merge by non-maximum suppression instead of voting
  double threshold = 0.8;  ///< greedy: match score; NMS: IoU
  int max_detections = 5;  ///< the app shows few, legible boxes; the CLI keeps 20 for mAP
  /// Voting: keep the most confident of boxes of different classes on one object (IoU above
  /// kOneLabelIou), as people expect of a detector; the CLI keeps every class's (--cross-class).
  bool one_label = true;
  static constexpr float kOneLabelIou = 0.6f;
  int top_classes = 5;             ///< per scale, classes whose boxes are kept
  bool show_raw = false;           ///< detect mode: draw the pre-merge boxes too
  double opacity = 0.6;            ///< heat maps
  bool taught_everywhere = false;  ///< Classify, Detect, Heat maps use the taught classes
  QString last_dir;                ///< where the file dialogs open
  QByteArray geometry, window_state;

  static StudioSettings load(QSettings& settings);
  void save(QSettings& settings) const;
  /// The engine's options for a still image or for live video.
  DetectOptions detect_options(bool live) const;
};

}  // namespace overfeat::studio
