// SPDX-License-Identifier: MIT
// Test helpers that need OpenCV (for the binaries that link it).
#pragma once
#include <opencv2/core.hpp>

#include <cmath>
#include <cstdint>

#include "overfeat/tensor.hpp"

namespace overfeat::testing {

/// An RGB tensor of 0..255 values as an 8-bit BGR image, as OpenCV writes and encodes them.
inline cv::Mat to_bgr_mat(const Tensor& t) {
  cv::Mat m(t.h, t.w, CV_8UC3);
  for (int y = 0; y < t.h; ++y)
    for (int x = 0; x < t.w; ++x)
      for (int c = 0; c < 3; ++c)
        m.at<cv::Vec3b>(y, x)[2 - c] = static_cast<uint8_t>(std::lround(t.at(c, y, x)));
  return m;
}

}  // namespace overfeat::testing
