// SPDX-License-Identifier: MIT
#include "frame.hpp"

#include <cstring>

#include "overfeat/image.hpp"

namespace overfeat::studio {

Tensor to_tensor(const QImage& image) {
  const QImage rgb = image.format() == QImage::Format_RGB888
                         ? image
                         : image.convertToFormat(QImage::Format_RGB888);
  return image::from_rgb8(rgb.constBits(), rgb.width(), rgb.height(),
                          static_cast<int>(rgb.bytesPerLine()));
}

QImage to_qimage(const render::Rgb8& image) {
  QImage out(image.width, image.height, QImage::Format_RGB888);
  for (int y = 0; y < image.height; ++y)
    std::memcpy(out.scanLine(y), image.pixels.data() + static_cast<size_t>(y) * image.width * 3,
                static_cast<size_t>(image.width) * 3);
  return out;
}

render::Rgb8 to_rgb8(const QImage& image) {
  const QImage rgb = image.convertToFormat(QImage::Format_RGB888);
  render::Rgb8 out{rgb.width(), rgb.height(), {}};
  out.pixels.resize(static_cast<size_t>(rgb.width()) * rgb.height() * 3);
  for (int y = 0; y < rgb.height(); ++y)
    std::memcpy(out.pixels.data() + static_cast<size_t>(y) * rgb.width() * 3, rgb.constScanLine(y),
                static_cast<size_t>(rgb.width()) * 3);
  return out;
}

}  // namespace overfeat::studio
