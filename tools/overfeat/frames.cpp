// SPDX-License-Identifier: MIT
#include "frames.hpp"

#include <opencv2/imgproc.hpp>

#include <cmath>
#include <sstream>

#include "overfeat/error.hpp"
#include "overfeat/image.hpp"

namespace overfeat::cli {

std::vector<FrameSize> parse_frame_sizes(const std::string& list) {
  std::vector<FrameSize> sizes;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    FrameSize s;
    char x = 0, extra = 0;
    std::stringstream is(item);
    if (!(is >> s.w >> x >> s.h) || (x != 'x' && x != 'X') || (is >> extra) || s.w <= 0 ||
        s.h <= 0 || s.w > 8192 || s.h > 8192)
      throw Error(
          "--sizes takes a comma-separated list of WxH frame sizes, e.g. 320x240,640x480 "
          "(got '" +
          item + "')");
    sizes.push_back(s);
  }
  if (sizes.empty()) throw Error("--sizes is empty");
  return sizes;
}

void synthesize(int index, FrameSize size, cv::Mat& rgb, cv::RNG& rng) {
  rgb.create(size.h, size.w, CV_8UC3);
  const double t = index / 25.0;
  const int W = size.w, H = size.h, R = std::max(3, std::min(W, H) / 6);
  rgb.setTo(cv::Scalar(90 + 40 * std::sin(t * 0.3), 110 + 30 * std::sin(t * 0.2 + 1), 130));
  const cv::Point disc(static_cast<int>(W * (0.5 + 0.35 * std::sin(t * 0.9))),
                       static_cast<int>(H * (0.5 + 0.3 * std::sin(t * 1.3))));
  cv::circle(rgb, disc, R, cv::Scalar(220, 40, 40), cv::FILLED);
  const double bx = std::fmod(t * 0.15, 1.0);  // left to right, then again
  const cv::Point b0(static_cast<int>(bx * W) - R, H / 5), b1(b0.x + 2 * R, b0.y + R * 3 / 2);
  cv::rectangle(rgb, b0, b1, cv::Scalar(30, 60, 200), cv::FILLED);
  const int cx = static_cast<int>(W * (0.25 + 0.1 * std::cos(t))), cy = H * 3 / 4;
  const cv::Point tri[3] = {{cx, cy - R}, {cx - R, cy + R}, {cx + R, cy + R}};
  cv::fillConvexPoly(rgb, tri, 3, cv::Scalar(240, 220, 60));
  cv::Mat noise(rgb.size(), CV_8UC3);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 24);
  cv::add(rgb, noise, rgb);
}

FrameSource::FrameSource(const std::string& video) : rng_(7) {
  if (video.empty()) return;
  video_ = video;
  if (!cap_.open(video))
    throw ImageError("Cannot open the video " + video + " (OpenCV's VideoCapture)");
}

const cv::Mat& FrameSource::next(int index, FrameSize size) {
  if (!is_video()) {
    synthesize(index, size, rgb_, rng_);
    return rgb_;
  }
  if (!cap_.read(bgr_) || bgr_.empty()) {  // the end: loop
    cap_.set(cv::CAP_PROP_POS_FRAMES, 0);
    if (!cap_.read(bgr_) || bgr_.empty()) {
      cap_.release();  // some containers do not seek: open it again
      if (!cap_.open(video_) || !cap_.read(bgr_) || bgr_.empty())
        throw ImageError("The video " + video_ + " has no readable frame");
    }
    ++loops_;
  }
  cv::cvtColor(bgr_, rgb_, cv::COLOR_BGR2RGB);
  if (size.w > 0 && (size.w != rgb_.cols || size.h != rgb_.rows)) {
    cv::resize(rgb_, resized_, cv::Size(size.w, size.h), 0, 0,
               size.w < rgb_.cols ? cv::INTER_AREA : cv::INTER_LINEAR);
    return resized_;
  }
  return rgb_;
}

Tensor to_tensor(const cv::Mat& rgb) {
  return image::from_rgb8(rgb.data, rgb.cols, rgb.rows, static_cast<int>(rgb.step));
}

}  // namespace overfeat::cli
