// SPDX-License-Identifier: MIT
// Image input: decoding (any format OpenCV reads), the release's binary PPM stream, and the
// release's preprocessing geometry. Images are Tensors of RGB values 0..255 in CHW order.
#pragma once
#include <cstdint>
#include <filesystem>
#include <istream>
#include <optional>
#include <string>
#include <string_view>

#include "overfeat/tensor.hpp"

namespace overfeat::image {

/// The limits on what load_rgb decodes. A larger image is refused (not downscaled: a result's
/// boxes and maps are in the image's own coordinates) with a message saying how to shrink it.
constexpr std::uintmax_t kMaxFileBytes = 256ull << 20;  ///< the encoded file: 256 MiB
constexpr long long kMaxPixels = 1ll << 26;             ///< 67.1 megapixels, e.g. 8192x8192

/// What an image file's header says, read without decoding it.
struct FileInfo {
  std::string format;    ///< "JPEG", "PNG", "BMP", "PNM", "TIFF", "WebP"
  long long width = -1;  ///< -1 when the header does not say
  long long height = -1;
  bool complete = true;  ///< false for a JPEG without EOI or a PNG without IEND: cut short
};

/// The format, size and completeness of an encoded image, or nullopt for a format not probed
/// (OpenCV may still decode it).
std::optional<FileInfo> probe(std::string_view bytes);

/// What load_rgb does with a photo's EXIF orientation tag (a camera held sideways stores its
/// pixels sideways and says in the tag how to turn them).
enum class Orientation {
  kUpright,   ///< turned as the tag says, as image viewers show the photo
  kAsStored,  ///< the pixels as stored: the release's ImageMagick pipeline never turned them
};

/// Decodes an image file to RGB (alpha dropped, grey expanded to 3 channels). Throws ImageError
/// naming the file when it is missing, not a regular file, unreadable, not an image, cut short
/// (a truncated JPEG or PNG), or over the limits above. Boxes and maps computed on the result
/// are in its coordinates, so in the upright photo's by default.
Tensor load_rgb(const std::filesystem::path& file, Orientation orientation = Orientation::kUpright);

/// Wraps 8-bit interleaved RGB pixels (row stride in bytes) as a CHW tensor.
Tensor from_rgb8(const uint8_t* pixels, int width, int height, int stride_bytes);

/// Reads the next binary PPM (P6, maxval 255) from a stream, as the release's `-p` mode does.
/// Returns false at a clean end of stream; throws ImageError on a malformed or truncated image.
bool read_ppm(std::istream& in, Tensor& out);

/// After read_ppm threw on a malformed image: skips to the next "P6" magic number of the stream,
/// so that the images after a bad one are still read. Returns false when the stream ends first.
bool skip_to_next_ppm(std::istream& in);

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
