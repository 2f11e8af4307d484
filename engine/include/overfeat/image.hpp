// SPDX-License-Identifier: MIT
// Image input: decoding (any format OpenCV reads), the release's binary PPM stream, and the
// release's preprocessing geometry. Images are Tensors of RGB values 0..255 in CHW order.
#pragma once
#include <cstdint>
#include <filesystem>
#include <istream>

#include "overfeat/tensor.hpp"

namespace overfeat::image {

/// Decodes an image file to RGB (alpha dropped, grey expanded to 3 channels). Throws ImageError
/// naming the file when it is missing, unreadable or not an image. EXIF orientation is ignored,
/// as the release's ImageMagick pipeline ignored it.
Tensor load_rgb(const std::filesystem::path& file);

/// Wraps 8-bit interleaved RGB pixels (row stride in bytes) as a CHW tensor.
Tensor from_rgb8(const uint8_t* pixels, int width, int height, int stride_bytes);

/// Reads the next binary PPM (P6, maxval 255) from a stream, as the release's `-p` mode does.
/// Returns false at a clean end of stream; throws ImageError on a malformed or truncated image.
bool read_ppm(std::istream& in, Tensor& out);

/// Output size of ImageMagick's `-resize SxS^` (smaller side becomes `side`, aspect kept).
void fill_size(int in_h, int in_w, int side, int& out_h, int& out_w);

/// Resizes as the release's wrapper did with ImageMagick (`convert -resize 231x231^`):
/// ImageMagick's default filter (Lanczos when shrinking, Mitchell when enlarging), rounded to
/// 8-bit values as the PPM it piped carried. Matches ImageMagick 6 Q16 to within an occasional
/// 1-level rounding difference for truecolour files; ImageMagick also uses Mitchell when
/// shrinking palette, greyscale-encoded or alpha files, which a tensor cannot reveal.
Tensor resize_like_imagemagick(const Tensor& rgb, int out_h, int out_w);

/// General-purpose resize (area when shrinking, bilinear when enlarging), for multi-scale use.
Tensor resize(const Tensor& rgb, int out_h, int out_w);

/// The release's square crop: side min(h, w), offset ((w - side) / 2) or ((h - side) / 2).
Tensor center_crop(const Tensor& rgb);

/// Crop of a rectangle (must lie inside the image).
Tensor crop(const Tensor& rgb, int y, int x, int h, int w);

/// Horizontal mirror.
Tensor flip_horizontal(const Tensor& rgb);

}  // namespace overfeat::image
