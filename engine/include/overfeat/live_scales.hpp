// SPDX-License-Identifier: MIT
// "auto" live scales: the scales of live frames chosen from a frame budget. Which scales a
// device keeps up with differs 50-fold between lavapipe on two cores and a GPU, and with the
// model, the frame size and whatever else runs, so the governor measures instead of guessing:
// it climbs a ladder of scale lists, ordered by cost, while frames come in comfortably under
// budget, and steps down when they do not.
#pragma once
#include <deque>
#include <string>
#include <vector>

#include "overfeat/netspec.hpp"

namespace overfeat {

class LiveScaleGovernor {
 public:
  /// The rungs for a network (its window and own detection scales), cheapest first: single
  /// smaller-side scales from the window up to 2.5 windows, then two-scale lists, with the
  /// model's own list where its cost puts it. Each is a parse_scales list.
  static std::vector<std::string> ladder(const NetSpec& net);

  /// Starts on the first rung (`ladder` cheapest first; "window" means `window` pixels).
  /// `target_fps` > 0.
  LiveScaleGovernor(std::vector<std::string> ladder, int window, double target_fps);
  /// The network's ladder().
  LiveScaleGovernor(const NetSpec& net, double target_fps)
      : LiveScaleGovernor(ladder(net), net.window, target_fps) {}

  /// The scale list for the next frame.
  const std::string& scales() const { return ladder_.at(rung_); }
  int rung() const { return rung_; }
  const std::vector<std::string>& rungs() const { return ladder_; }
  double target_fps() const { return target_fps_; }
  /// Median time of the recent frames at the current rung (0 before any).
  double recent_ms() const;

  /// Reports a frame's time (network and merging, milliseconds) and the scale list it ran with;
  /// frames of another rung than the current one (in flight across a change) are ignored.
  /// Returns true when the rung changed.
  bool frame_done(const std::string& scales_used, double ms);

  /// Frames whose time is ignored after a change (the first frames of a new input size record
  /// command buffers and compile pipelines).
  static constexpr int kSettleFrames = 2;
  /// Frames measured before a decision.
  static constexpr int kWindowFrames = 4;
  /// Frames a rung stays out of reach after it proved too slow.
  static constexpr int kBlockFrames = 60;

 private:
  std::vector<std::string> ladder_;
  std::vector<double> cost_;  // relative cost of each rung (pixels evaluated)
  double target_fps_;
  int rung_ = 0;
  int settle_ = kSettleFrames;
  std::deque<double> recent_;
  std::vector<int> blocked_until_;  // frame counter before which a rung may not be climbed to
  int frames_ = 0;
};

}  // namespace overfeat
