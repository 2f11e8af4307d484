// SPDX-License-Identifier: MIT
// `overfeat bench soak`: a soak benchmark, not a timed test. It runs the app's live path (dense
// evaluation at the live scales, then classification, voting or one-shot recognition) over many
// frames whose size keeps changing, so that the engine's per-size plans and buffers are built,
// reused and evicted, and samples the process's resident memory (VmRSS, VmHWM) and the Vulkan
// buffer memory as it goes. At the end: start (after warm-up), peak and end, the drift, the
// growth per 1000 frames from a linear fit, frames per second, and a verdict, flat or grows.
// Frames are synthesized in memory (moving shapes over noise) or read from a video file (looped
// and resized to the size of the moment); --write-video makes such a file to test with.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "common.hpp"
#include "frames.hpp"
#include "overfeat/device.hpp"
#include "overfeat/error.hpp"
#include "overfeat/image.hpp"
#include "overfeat/oneshot.hpp"
#include "overfeat/pipeline.hpp"

namespace overfeat::cli {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

/// VmRSS and VmHWM of this process in MB (MiB), from /proc/self/status; 0 where unavailable.
struct Resident {
  double rss_mb = 0, hwm_mb = 0;
};
Resident resident_memory() {
  Resident r;
  std::ifstream in("/proc/self/status");
  std::string key;
  double kb = 0;
  while (in >> key) {
    if (key == "VmRSS:" && in >> kb) r.rss_mb = kb / 1024.0;
    if (key == "VmHWM:" && in >> kb) r.hwm_mb = kb / 1024.0;
    in.ignore(1 << 16, '\n');
  }
  return r;
}

int write_video(const std::string& file, int frames, FrameSize size, double fps) {
  cv::VideoWriter out(file, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), fps,
                      cv::Size(size.w, size.h));
  if (!out.isOpened()) throw Error("Cannot write the video " + file + " (OpenCV, mp4v)");
  cv::RNG rng(7);
  cv::Mat rgb, bgr;
  for (int i = 0; i < frames; ++i) {
    synthesize(i, size, rgb, rng);
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    out.write(bgr);
  }
  out.release();
  std::cout << "Wrote " << frames << " frames of " << size.str() << " at " << fps << " fps to "
            << file << "\n";
  return 0;
}

struct Sample {
  int frame = 0;  ///< frames done
  FrameSize size;
  double rss_mb = 0, hwm_mb = 0, vk_mb = 0, ms_per_frame = 0;
};

/// Least-squares slope of RSS (MB) against frames.
double slope(const std::vector<Sample>& s) {
  if (s.size() < 2) return 0;
  double mx = 0, my = 0;
  for (const Sample& p : s) mx += p.frame, my += p.rss_mb;
  mx /= static_cast<double>(s.size());
  my /= static_cast<double>(s.size());
  double sxy = 0, sxx = 0;
  for (const Sample& p : s) {
    sxy += (p.frame - mx) * (p.rss_mb - my);
    sxx += (p.frame - mx) * (p.frame - mx);
  }
  return sxx > 0 ? sxy / sxx : 0;
}

double mb(uint64_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

}  // namespace

int run_bench_soak(int argc, char** argv) {
  Common c;
  c.detect.scales = "live";
  c.detect.max_detections = 5;  // the app's default for live frames
  std::string video, mode = "detect",
                     sizes_arg =
                         "320x240,640x480,231x231,400x300,1280x720,333x197,"
                         "240x320,175x99";
  std::string write_file, write_size = "640x360";
  int frames = 10000, every = 25, sample = 0, warmup = -1;
  double tolerance = 0.5;
  bool json_out = false;
  CLI::App app{
      "Soak benchmark: runs the app's live path over many frames of changing size and samples "
      "resident memory (start after warm-up, peak, end, growth per 1000 frames)."};
  add_common(app, c, true);
  app.add_option("--mode", mode,
                 "What runs per frame: classify (dense maps, class ranking), detect (also boxes "
                 "and voting: the app's live default), recognize (one-shot: two classes taught "
                 "from the first frame)")
      ->check(CLI::IsMember({"classify", "detect", "recognize"}))
      ->capture_default_str();
  app.add_option("--video", video, "Video file to read (looped); default: synthesized frames");
  app.add_option("--frames", frames, "Frames to run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--sizes", sizes_arg,
                 "Frame sizes WxH, cycled (video frames are resized to them); 'native': the "
                 "video's own size")
      ->capture_default_str();
  app.add_option("--every", every, "Frames per size before the next one")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--sample", sample, "Sample memory every N frames (0: frames / 100, 1 to 100)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--warmup", warmup,
                 "Frames before the start sample (default: until every size has been seen once)");
  app.add_option("--tolerance", tolerance,
                 "Verdict 'grows' above this many MB per 1000 frames (and over 2 MB in all)")
      ->capture_default_str();
  app.add_flag("--json", json_out, "Print JSON lines: one per sample, then a summary");
  app.add_option("--write-video", write_file,
                 "Write --frames synthesized frames to this video file (mp4v) and exit; then "
                 "soak it with --video");
  app.add_option("--video-size", write_size, "Frame size WxH of --write-video")
      ->capture_default_str();
  if (const int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;

  if (!write_file.empty())
    return write_video(write_file, frames, parse_frame_sizes(write_size).front(), 25);

  const bool native = sizes_arg == "native";
  if (native && video.empty()) throw Error("--sizes native needs --video");
  const std::vector<FrameSize> sizes =
      native ? std::vector<FrameSize>{FrameSize{}} : parse_frame_sizes(sizes_arg);
  if (warmup < 0) warmup = native ? std::min(frames, 100) : static_cast<int>(sizes.size()) * every;
  if (sample == 0) sample = std::clamp(frames / 100, 1, 100);

  FrameSource source(video);
  Session s(c);
  s.require_overfeat_model("`overfeat bench soak`");
  // The live scales: the window as the smaller side (aspect kept), so that frames of each
  // shape get an input size, and a plan, of their own. (The app's own live default, "window",
  // squashes every frame to one square.)
  if (s.opt.scales == "live") s.opt.scales = std::to_string(s.model.net.window);
  if (mode == "classify") s.opt.dense.boxes = false;  // as the app: no regressor

  std::optional<OneShotStore> store;
  if (mode == "recognize") {
    // Two classes taught from the first frame, as a user would with the Teach panel: the whole
    // frame and its top-left quarter.
    store = OneShotStore::for_model(s.model);
    const FrameSize first = native ? FrameSize{} : sizes.front();
    const Tensor rgb = to_tensor(FrameSource(video).next(0, first));
    store->add_example("scene", make_example(*s.eval, *store, rgb, std::nullopt, "frame 0"));
    const Box quarter{0, 0, rgb.w / 2.0f, rgb.h / 2.0f};
    store->add_example("corner", make_example(*s.eval, *store, rgb, quarter, "frame 0"));
    s.opt.dense.boxes = false;
    s.opt.dense.feature_layer = store->identity().feature_layer;
  }

  const std::string device = vk::capability_line(*s.ctx);
  auto size_list = [&] {
    std::string out;
    for (const FrameSize& z : sizes) out += (out.empty() ? "" : ",") + z.str();
    return out;
  }();
  if (!json_out) {
    std::cout << "Device: " << device << "\n"
              << "Model: " << s.model.net.name << " (window " << s.model.net.window << ")"
              << ", mode " << mode << ", scales " << s.opt.scales
              << (s.opt.dense.fine ? ", fine" : ", coarse") << " stride"
              << (s.opt.dense.flip ? ", flips" : "") << "\n"
              << "Frames: " << frames << " "
              << (video.empty() ? "synthesized" : "from " + video + " (looped)") << ", sizes "
              << (native ? "native" : size_list)
              << (native ? "" : ", " + std::to_string(every) + " frames each, cycled")
              << "; memory sampled every " << sample << " frames; warm-up " << warmup
              << " frames\n\n"
              << std::right << std::setw(8) << "frame" << std::setw(11) << "size" << std::setw(11)
              << "ms/frame" << std::setw(10) << "RSS MB" << std::setw(10) << "HWM MB"
              << std::setw(11) << "Vulkan MB" << std::setw(7) << "boxes"
              << "\n"
              << std::flush;
  }

  std::vector<Sample> samples;
  const auto t_start = Clock::now();
  auto t_interval = t_start;
  auto t_after_warmup = t_start;
  int interval_frames = 0;
  size_t boxes = 0;
  int known = 0;  // recognize: frames whose answer was a taught class
  FrameSize last_size;
  for (int i = 0; i < frames; ++i) {
    const FrameSize want = sizes[(i / every) % sizes.size()];
    const cv::Mat& frame = source.next(i, want);
    last_size = {frame.cols, frame.rows};
    const Tensor rgb = to_tensor(frame);
    if (mode == "recognize") {
      // What the app's Recognize mode does per frame (gui/src/inference.cpp, recognizeFrame).
      const DenseResult dense =
          s.eval->evaluate(rgb, parse_scales(s.opt.scales, s.model.net, rgb.h, rgb.w), s.opt.dense);
      const std::vector<float> probs = classify(dense);  // the app shows the ranking too
      const Recognition whole = recognize(*store, embed(*s.eval, rgb, std::nullopt, *store));
      const std::vector<Localization> where = localize(*store, dense);
      std::vector<float> similarities = whole.similarities;
      for (size_t k = 0; k < similarities.size() && k < where.size(); ++k)
        similarities[k] = std::max(similarities[k], where[k].score);
      const Recognition answer = recognize_similarities(*store, std::move(similarities));
      boxes = where.size();
      known += answer.cls >= 0 && !probs.empty();
    } else {
      const DetectResult r = detect(*s.eval, rgb, s.opt);
      boxes = mode == "detect" ? r.merged.size() : 0;
    }
    ++interval_frames;
    const int done = i + 1;
    if (done % sample == 0 || done == warmup || done == frames) {
      const auto now = Clock::now();
      Sample p;
      p.frame = done;
      p.size = last_size;
      const Resident r = resident_memory();
      p.rss_mb = r.rss_mb;
      p.hwm_mb = r.hwm_mb;
      p.vk_mb = mb(vk::live_buffer_bytes());
      p.ms_per_frame =
          std::chrono::duration<double, std::milli>(now - t_interval).count() / interval_frames;
      t_interval = now;
      interval_frames = 0;
      if (done == warmup) t_after_warmup = now;
      samples.push_back(p);
      if (json_out) {
        std::cout << json{{"type", "sample"},
                          {"frame", p.frame},
                          {"width", p.size.w},
                          {"height", p.size.h},
                          {"ms_per_frame", p.ms_per_frame},
                          {"rss_mb", p.rss_mb},
                          {"hwm_mb", p.hwm_mb},
                          {"vulkan_mb", p.vk_mb},
                          {"boxes", boxes},
                          {"warm", done >= warmup}}
                         .dump()
                  << std::endl;
      } else {
        std::cout << std::setw(8) << p.frame << std::setw(11) << p.size.str() << std::fixed
                  << std::setprecision(1) << std::setw(11) << p.ms_per_frame << std::setw(10)
                  << p.rss_mb << std::setw(10) << p.hwm_mb << std::setw(11) << p.vk_mb
                  << std::setw(7) << boxes << (done == warmup ? "   <- warm-up done" : "")
                  << std::endl;
      }
    }
  }
  const auto t_end = Clock::now();
  const double seconds = std::chrono::duration<double>(t_end - t_start).count();

  // The summary: memory after warm-up, peak and end; the fitted growth after warm-up.
  std::vector<Sample> warm;
  for (const Sample& p : samples)
    if (p.frame >= warmup) warm.push_back(p);
  const Sample& end = samples.back();
  double peak = 0;
  for (const Sample& p : samples) peak = std::max(peak, p.rss_mb);
  const bool enough = warm.size() >= 3 && warm.back().frame > warm.front().frame;
  const double per_1000 = enough ? 1000.0 * slope(warm) : 0;
  const double span = enough ? warm.back().frame - warm.front().frame : 0;
  const std::string verdict =
      !enough ? "n/a" : (per_1000 > tolerance && per_1000 * span / 1000.0 > 2.0 ? "grows" : "flat");
  const double warm_seconds = std::chrono::duration<double>(t_end - t_after_warmup).count();
  const double fps = frames / seconds;
  json summary = {{"type", "summary"},
                  {"device", device},
                  {"model", s.model.net.name},
                  {"mode", mode},
                  {"scales", s.opt.scales},
                  {"source", video.empty() ? "synthesized" : video},
                  {"sizes", native ? "native" : size_list},
                  {"every", every},
                  {"frames", frames},
                  {"warmup_frames", warmup},
                  {"seconds", seconds},
                  {"fps", fps},
                  {"ms_per_frame", 1000.0 * seconds / frames},
                  {"start_mb", enough ? json(warm.front().rss_mb) : json(nullptr)},
                  {"peak_mb", peak},
                  {"hwm_mb", end.hwm_mb},
                  {"end_mb", end.rss_mb},
                  {"drift_mb", enough ? json(end.rss_mb - warm.front().rss_mb) : json(nullptr)},
                  {"growth_mb_per_1000_frames", enough ? json(per_1000) : json(nullptr)},
                  {"vulkan_start_mb", enough ? json(warm.front().vk_mb) : json(nullptr)},
                  {"vulkan_end_mb", end.vk_mb},
                  {"activation_mb", mb(s.eval->activation_bytes())},
                  {"verdict", verdict}};
  if (source.is_video()) summary["video_loops"] = source.loops();
  if (store) summary["recognized_frames"] = known;
  if (json_out) {
    std::cout << summary.dump() << std::endl;
    return 0;
  }
  std::cout << std::fixed << std::setprecision(1) << "\n";
  if (enough)
    std::cout << "RSS: start " << warm.front().rss_mb << " MB (frame " << warm.front().frame
              << ", after warm-up), peak " << peak << " MB (VmHWM " << end.hwm_mb << "), end "
              << end.rss_mb << " MB, drift " << std::showpos << end.rss_mb - warm.front().rss_mb
              << std::noshowpos << " MB\n"
              << "Growth: " << std::showpos << std::setprecision(2) << per_1000 << std::noshowpos
              << " MB per 1000 frames (linear fit over " << warm.size() << " samples, frames "
              << warm.front().frame << "-" << warm.back().frame << ")\n"
              << std::setprecision(1) << "Vulkan buffers: " << warm.front().vk_mb << " MB -> "
              << end.vk_mb << " MB (activations " << mb(s.eval->activation_bytes()) << " MB)\n";
  else
    std::cout << "RSS: peak " << peak << " MB (VmHWM " << end.hwm_mb << "), end " << end.rss_mb
              << " MB; the run ended within the warm-up (" << warmup
              << " frames): run longer for start, drift and growth\n";
  std::cout << "Speed: " << fps << " frames/s, " << 1000.0 * seconds / frames << " ms per frame"
            << (warm_seconds > 0 && frames > warmup
                    ? " (" +
                          std::to_string(static_cast<int>(
                              std::lround(1000.0 * warm_seconds / (frames - warmup)))) +
                          " ms after warm-up)"
                    : std::string())
            << ", " << seconds << " s in all\n"
            << "Verdict: " << verdict;
  if (enough)
    std::cout << " (" << std::showpos << std::setprecision(2) << per_1000 << std::noshowpos
              << " MB per 1000 frames; 'grows' above " << tolerance << ")";
  std::cout << "\n";
  return 0;
}

}  // namespace overfeat::cli
