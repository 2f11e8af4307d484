// SPDX-License-Identifier: MIT
// Frames for the live benchmarks (`overfeat bench soak`, `overfeat bench live`): synthesized in
// memory (moving shapes over noise) or read from a video file, looped and resized.
#pragma once
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include <string>
#include <vector>

#include "overfeat/tensor.hpp"

namespace overfeat::cli {

/// A frame size as videos write it: width first.
struct FrameSize {
  int w = 0, h = 0;
  bool operator==(const FrameSize&) const = default;
  std::string str() const { return std::to_string(w) + "x" + std::to_string(h); }
};

/// "320x240,640x480" -> sizes; throws Error naming the bad item.
std::vector<FrameSize> parse_frame_sizes(const std::string& list);

/// The synthetic scene: a slowly changing background, three shapes moving across it and noise,
/// laid out relative to the frame so every size shows the same scene.
void synthesize(int index, FrameSize size, cv::Mat& rgb, cv::RNG& rng);

/// Frames to analyse: synthesized, or from a video file (looped).
class FrameSource {
 public:
  explicit FrameSource(const std::string& video);
  bool is_video() const { return !video_.empty(); }
  /// Frame `index` as RGB at `size` (a video frame resized to it; 0x0: the video's own size).
  const cv::Mat& next(int index, FrameSize size);
  int loops() const { return loops_; }

 private:
  std::string video_;
  cv::VideoCapture cap_;
  cv::Mat bgr_, rgb_, resized_;
  cv::RNG rng_;
  int loops_ = 0;
};

/// An RGB frame as the engine's image tensor.
Tensor to_tensor(const cv::Mat& rgb);

}  // namespace overfeat::cli
