// SPDX-License-Identifier: MIT
// Rendering of score maps and detections onto images, for PNG export and the GUI.
//
// Coordinates are image pixels with the center of pixel (x, y) at (x, y): a pixel range
// [a, b] has its center at (a + b) / 2, which is how receptive-field centers are computed.
// Text is drawn with OpenCV's Hershey font, which has ASCII glyphs only: common punctuation
// (dashes, quotes, x signs, ellipses) and accented Latin letters are transliterated, anything
// else becomes '?'. Text size follows the image size, so labels stay legible from 200 px to
// 2000 px images.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "overfeat/tensor.hpp"

namespace overfeat::render {

/// 8-bit interleaved RGB image (what PNG files and the GUI's QImage::Format_RGB888 want):
/// row-major, 3 bytes per pixel, stride = 3 * width.
struct Rgb8 {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;
};

/// Converts a 3-channel (RGB) or 1-channel (grey) CHW tensor of values 0..255 to 8 bits,
/// clamping to 0..255 and rounding to nearest. Throws Error for other channel counts.
Rgb8 to_rgb8(const Tensor& rgb);

/// Writes a PNG file. Throws Error naming the file when it cannot be written.
void write_png(const std::filesystem::path& file, const Rgb8& image);

/// Where a score map lies on the image: the center of cell (0,0) and the spacing between cell
/// centers, in image pixels. Each cell is painted as a step_x x step_y rectangle around its
/// center: pixel x belongs to column floor((x - x0) / step_x + 0.5), likewise for rows.
struct MapPlacement {
  double x0 = 0, y0 = 0, step_x = 1, step_y = 1;
};

/// Perceptual color maps (OpenCV's applyColorMap tables).
enum class Colormap { Viridis, Inferno, Turbo };

/// The color of `t` in 0..1 (clamped) on a colormap: OpenCV's table entry round(255 t), in RGB.
std::array<uint8_t, 3> colormap_color(Colormap map, float t);

/// How heatmap_overlay draws a map.
struct HeatmapStyle {
  Colormap colormap = Colormap::Viridis;
  /// Weight of the map's color over the image: out = (1 - opacity) image + opacity color.
  float opacity = 0.6f;
  /// Value range mapped to the colormap's ends (values outside are clamped). A fixed range keeps
  /// maps comparable across scales; vmax <= vmin means use the map's own max as vmax.
  float vmin = 0, vmax = 1;
  /// Bilinear interpolation between cell centers instead of blocky cells.
  bool smooth = false;
  /// Adds a strip below the image with the color bar, ticks at vmin, middle and vmax, and title.
  bool legend = true;
  /// Shown in the legend, e.g. "tabby cat - scale 3 (389x461), fine stride".
  std::string title;
};

/// Brightness factor of image pixels that no map cell covers in heatmap_overlay.
inline constexpr float kUncoveredBrightness = 0.4f;

/// The image with a map_h x map_w row-major map blended over the area the map covers (pixels no
/// cell covers are the image times kUncoveredBrightness). With style.legend the result has the
/// same width and the overlay unchanged in its top image.h rows, with a legend strip below (its
/// height grows with the image size, and the title wraps to at most two lines). Throws Error on
/// a bad image, an empty map, null values or non-positive steps. NaN values get the low color.
Rgb8 heatmap_overlay(const Tensor& image, const float* values, int map_h, int map_w,
                     const MapPlacement& where, const HeatmapStyle& style);

/// A stable, distinct, saturated color per class index (same index -> same color in every run
/// and in the GUI; indices 0..999 give pairwise different colors; negative indices are grey).
std::array<uint8_t, 3> class_color(int cls);

/// A box to draw, in image pixel coordinates (corners inclusive).
struct DrawnBox {
  float x1, y1, x2, y2;
  int cls;
  /// Text of the tag, e.g. "dog 0.93"; empty draws no tag.
  std::string label;
  /// Line width in pixels for images up to 640 px on their longer side; scaled up
  /// proportionally beyond, so boxes look alike at any size.
  float thickness = 2;
  /// Thin translucent line without a tag, for raw pre-merge boxes.
  bool faint = false;
};

/// An axis-aligned rectangle in pixels (x, y: top-left corner).
struct LabelRect {
  double x = 0, y = 0, w = 0, h = 0;
  bool intersects(const LabelRect& o) const {
    return x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h;
  }
};

/// Where to put each box's tag of size `sizes[i]` (w, h used) so that no two tags overlap: for
/// boxes[i] (x, y, w, h), first above its top-left corner, then inside its top, then below it,
/// then moved down or up in steps of its height from those places; within the `width` x
/// `height` image. `boxes[0]` chooses first (pass the best first). Where no free place exists
/// (too many tags for the picture), a tag goes above its box, overlapping. Shared by
/// draw_boxes and the app, so that labels never cover each other (on a bus photo one once
/// showed only ".55"). `taken`: places already used (a caption) that tags also avoid.
std::vector<LabelRect> place_labels(const std::vector<LabelRect>& boxes,
                                    const std::vector<LabelRect>& sizes, double width,
                                    double height, const std::vector<LabelRect>& taken = {});

/// Draws boxes, on a copy of the image, in the class colors. Faint boxes are drawn first, under
/// the others; each other box gets its tag (filled in the class color, black or white text by
/// luminance) placed by place_labels (the last box, drawn on top, chooses first). Boxes with
/// non-finite coordinates are skipped.
Rgb8 draw_boxes(const Tensor& image, const std::vector<DrawnBox>& boxes);

/// Tiles images (same or different sizes) row by row into a grid of `columns` columns (fewer
/// when there are fewer images) on a dark background, for per-scale overviews. Every cell is as
/// large as the largest image plus a caption line; each image is centered horizontally and sits
/// right above its caption (elided when too long), so captions line up along each row. Images
/// are copied pixel for pixel (never scaled). captions may be shorter than
/// images (missing captions are blank). Throws Error when there are no images, more captions
/// than images, an image whose pixels do not match its size, or columns < 1.
Rgb8 grid(const std::vector<Rgb8>& images, const std::vector<std::string>& captions, int columns);

}  // namespace overfeat::render
