// SPDX-License-Identifier: MIT
// A picture on its way through the app (a still, a video frame, a camera frame), and the
// conversions between Qt images and the engine's tensors.
#pragma once
#include <QImage>
#include <QMetaType>
#include <QString>

#include <chrono>

#include "overfeat/render.hpp"
#include "overfeat/tensor.hpp"

namespace overfeat::studio {

using Clock = std::chrono::steady_clock;

struct Frame {
  QImage image;       ///< Format_RGB888, owning its pixels (never a view of a reused buffer)
  qint64 index = -1;  ///< frame number in its source (0, 1, ...), or the image's list position
  Clock::time_point captured{};  ///< when it was captured or loaded
  QString source;                ///< file path, or the camera's name
  bool live = false;             ///< from a camera or video (latest-wins), not a still
};

/// Any QImage as an RGB tensor (CHW, 0..255); alpha is dropped.
Tensor to_tensor(const QImage& image);
/// An engine-rendered image as a QImage (deep copy, Format_RGB888).
QImage to_qimage(const render::Rgb8& image);
/// A QImage (any format) as the engine's 8-bit RGB image.
render::Rgb8 to_rgb8(const QImage& image);

/// Milliseconds between two instants.
inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace overfeat::studio

Q_DECLARE_METATYPE(overfeat::studio::Frame)
