// SPDX-License-Identifier: MIT
// `overfeat bench live`: the app's live figure. It runs what the app runs per camera frame in
// Detect mode (dense evaluation at the live scales, fine stride, voting, at most 5 boxes) over
// frames of one size, with the live scales "auto" (LiveScaleGovernor: the largest scale list that
// keeps --target-fps, found by measuring, as the app does) or a fixed list, and reports the frame
// rate, the scales it settled on and the size of the heat map at the finest of them.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>

#include "common.hpp"
#include "frames.hpp"
#include "overfeat/live_scales.hpp"
#include "overfeat/pipeline.hpp"

namespace overfeat::cli {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

}  // namespace

int run_bench_live(int argc, char** argv) {
  Common c;
  c.detect.scales = "auto";
  c.detect.max_detections = 5;  // the app's default for live frames
  std::string video, size_arg = "640x480";
  int frames = 120;
  double target_fps = 8;
  bool json_out = false;
  CLI::App app{
      "The app's live figure: Detect mode on camera-sized frames with the live scales 'auto' "
      "(the largest that keep --target-fps, chosen by measuring, as the app does) or a fixed "
      "list; prints the frame rate, the scales settled on and the heat map's size."};
  add_common(app, c, true);
  app.add_option("--target-fps", target_fps, "Rate that --scales auto keeps")
      ->check(CLI::Range(1.0, 60.0))
      ->capture_default_str();
  app.add_option("--video", video, "Video file to read (looped); default: synthesized frames");
  app.add_option("--size", size_arg, "Frame size WxH (a webcam's 640x480 by default)")
      ->capture_default_str();
  app.add_option("--frames", frames, "Frames to run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--json", json_out, "Print JSON lines: one per rung visited, then a summary");
  // The command's own default for --scales is 'auto' (add_common's help names the others).
  if (const int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;

  const FrameSize size = parse_frame_sizes(size_arg).front();
  FrameSource source(video);
  Session s(c);
  s.require_overfeat_model("`overfeat bench live`");
  const bool governed = s.opt.scales == "auto";
  std::optional<LiveScaleGovernor> governor;
  if (governed) governor.emplace(s.model.net, target_fps);

  // One row per stay on a scale list (the governor may come back to one).
  struct Visit {
    std::string scales;
    int frames = 0;
    std::vector<double> ms;  // steady frames only
    int rows = 0, cols = 0;
    size_t boxes = 0;
  };
  std::vector<Visit> visits;
  const std::string device = vk::capability_line(*s.ctx);
  if (!json_out)
    std::cout << "Device: " << device << "\nModel: " << s.model.net.name << " (window "
              << s.model.net.window << "), " << (s.opt.dense.fine ? "fine" : "coarse")
              << " stride, frames " << size.str() << " "
              << (video.empty() ? "synthesized" : "from " + video) << ", scales "
              << (governed ? "auto for " + std::to_string(static_cast<int>(target_fps)) + " fps"
                           : s.opt.scales)
              << "\n\n"
              << std::left << std::setw(22) << "scales" << std::right << std::setw(8) << "frames"
              << std::setw(11) << "ms/frame" << std::setw(8) << "fps" << std::setw(11) << "heat map"
              << std::setw(7) << "boxes\n"
              << std::flush;
  const auto t0 = Clock::now();
  std::string scales;
  for (int i = 0; i < frames; ++i) {
    const Tensor rgb = to_tensor(source.next(i, size));
    DetectOptions opt = s.opt;
    if (governor) opt.scales = governor->scales();
    scales = opt.scales;
    const auto f0 = Clock::now();
    const DetectResult r = detect(*s.eval, rgb, opt);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - f0).count();
    if (visits.empty() || visits.back().scales != scales) visits.push_back({scales});
    Visit& v = visits.back();
    // The first frames of a new size record command buffers: not the steady rate.
    if (++v.frames > LiveScaleGovernor::kSettleFrames || !governor) v.ms.push_back(ms);
    v.boxes = r.merged.size();
    for (const ScaleMap& m : r.dense.maps) {  // the finest map: the most cells
      if (m.probs.h * m.probs.w > v.rows * v.cols) {
        v.rows = m.probs.h;
        v.cols = m.probs.w;
      }
    }
    if (governor) governor->frame_done(scales, ms);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  for (const Visit& v : visits) {
    const double m = median(v.ms);
    if (json_out)
      std::cout << json{{"type", "visit"},
                        {"scales", v.scales},
                        {"frames", v.frames},
                        {"ms_per_frame", m},
                        {"fps", m > 0 ? 1000 / m : 0},
                        {"map_rows", v.rows},
                        {"map_cols", v.cols},
                        {"boxes", v.boxes}}
                       .dump()
                << "\n";
    else
      std::cout << std::left << std::setw(22) << v.scales << std::right << std::setw(8) << v.frames
                << std::fixed << std::setprecision(1) << std::setw(11) << m << std::setw(8)
                << (m > 0 ? 1000 / m : 0) << std::setw(11)
                << (std::to_string(v.rows) + "x" + std::to_string(v.cols)) << std::setw(6)
                << v.boxes << "\n";
  }
  // The steady state: the scale list of the last frame, over every stay on it.
  Visit last{scales};
  for (const Visit& v : visits)
    if (v.scales == scales) {
      last.ms.insert(last.ms.end(), v.ms.begin(), v.ms.end());
      last.rows = v.rows;
      last.cols = v.cols;
    }
  const double m = median(last.ms);
  json summary{{"type", "summary"},
               {"device", device},
               {"model", s.model.net.name},
               {"frame", size.str()},
               {"fine", s.opt.dense.fine},
               {"target_fps", governed ? target_fps : 0.0},
               {"scales", scales},
               {"ms_per_frame", m},
               {"fps", m > 0 ? 1000 / m : 0},
               {"map_rows", last.rows},
               {"map_cols", last.cols},
               {"frames", frames},
               {"seconds", seconds}};
  if (json_out)
    std::cout << summary.dump() << std::endl;
  else
    std::cout << "\nSettled on " << scales << ": " << std::fixed << std::setprecision(1) << m
              << " ms per frame (" << (m > 0 ? 1000 / m : 0) << " fps), heat map " << last.rows
              << "x" << last.cols << " cells at its finest scale; " << frames << " frames in "
              << seconds << " s" << std::endl;
  return 0;
}

}  // namespace overfeat::cli
