// SPDX-License-Identifier: MIT
#include "overfeat/render.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "overfeat/error.hpp"

namespace overfeat::render {
namespace {

using Color = std::array<uint8_t, 3>;

const cv::Scalar kPanel(30, 31, 34);      // legend and grid background
const cv::Scalar kText(236, 236, 236);    // text on the panel
const cv::Scalar kSubtle(150, 152, 158);  // tick marks and the color bar's frame
constexpr int kFontFace = cv::FONT_HERSHEY_SIMPLEX;

// ---------------------------------------------------------------------------------------------
// Pixels

cv::Mat wrap(Rgb8& image) {
  return cv::Mat(image.height, image.width, CV_8UC3, image.pixels.data());
}

// A read-only view (OpenCV has no const Mat header over const data).
cv::Mat view(const Rgb8& image) {
  return wrap(const_cast<Rgb8&>(image));
}

Rgb8 from_mat(const cv::Mat& rgb) {
  Rgb8 out{rgb.cols, rgb.rows, {}};
  out.pixels.resize(static_cast<std::size_t>(rgb.cols) * rgb.rows * 3);
  cv::Mat dst = wrap(out);
  rgb.copyTo(dst);
  return out;
}

void check_rgb8(const Rgb8& image, const std::string& what) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<std::size_t>(image.width) * image.height * 3)
    throw Error(what + ": the image is empty or its pixels do not match its " +
                std::to_string(image.width) + "x" + std::to_string(image.height) + " size");
}

uint8_t to_byte(double v) {
  if (!(v > 0)) return 0;  // also NaN
  return v >= 255 ? 255 : static_cast<uint8_t>(std::lround(v));
}

cv::Scalar scalar(const Color& c) {
  return cv::Scalar(c[0], c[1], c[2]);
}

// ---------------------------------------------------------------------------------------------
// Text (Hershey font: ASCII only)

// Replacement for a code point the Hershey font cannot draw.
std::string_view transliterate(char32_t cp) {
  static constexpr std::string_view kLatin1 =  // U+00C0..U+00FF
      "AAAAAAACEEEEIIIIDNOOOOOxOUUUUYTsaaaaaaaceeeeiiiidnooooo/ouuuuyty";
  if (cp >= 0xC0 && cp <= 0xFF) return kLatin1.substr(cp - 0xC0, 1);
  switch (cp) {
    case 0x2010:
    case 0x2011:
    case 0x2012:
    case 0x2013:
    case 0x2014:
    case 0x2212:
      return "-";
    case 0x2018:
    case 0x2019:
    case 0x00B4:
      return "'";
    case 0x201C:
    case 0x201D:
      return "\"";
    case 0x2026:
      return "...";
    case 0x00D7:
      return "x";
    case 0x00A0:
      return " ";
    case 0x00B0:
      return "deg";
    default:
      return "?";
  }
}

// Decodes UTF-8 (invalid bytes become '?') and keeps printable ASCII.
std::string ascii(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      out += (b >= 0x20 && b < 0x7F) ? static_cast<char>(b) : ' ';
      ++i;
      continue;
    }
    const int len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    char32_t cp = len == 1 ? 0 : b & (0x7F >> len);
    bool ok = len > 1 && i + len <= text.size();
    for (int k = 1; ok && k < len; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      ok = (c & 0xC0) == 0x80;
      cp = cp << 6 | (c & 0x3F);
    }
    out += ok ? transliterate(cp) : "?";
    i += ok ? len : 1;
  }
  return out;
}

// A font size: `px` is the height of a line from ascender to descender.
struct Font {
  int px = 14;
  double scale = 0.5;
  int thickness = 1;
};

Font font_of(int px) {
  Font f;
  f.px = px;
  f.thickness = px >= 30 ? 2 : 1;
  f.scale = cv::getFontScaleFromHeight(kFontFace, px, f.thickness);
  return f;
}

// Text height for an image (or panel) of this size, so text looks alike from 200 to 2000 px.
int text_px(int width, int height, double fraction, int lo, int hi) {
  const int px = static_cast<int>(std::lround(fraction * std::max(width, height)));
  return std::clamp(std::min(px, std::max(lo, width / 9)), lo, hi);
}

int text_width(const std::string& text, const Font& f) {
  int baseline = 0;
  return cv::getTextSize(text, kFontFace, f.scale, f.thickness, &baseline).width;
}

// Cap height of the font, for centering text vertically.
int cap_height(const Font& f) {
  int baseline = 0;
  return cv::getTextSize("H", kFontFace, f.scale, f.thickness, &baseline).height;
}

void put_text(cv::Mat& img, const std::string& text, cv::Point baseline_left, const Font& f,
              const cv::Scalar& color) {
  cv::putText(img, text, baseline_left, kFontFace, f.scale, color, f.thickness, cv::LINE_AA);
}

std::string elide(std::string text, const Font& f, int max_width) {
  if (text_width(text, f) <= max_width) return text;
  while (!text.empty() && text_width(text + "...", f) > max_width) text.pop_back();
  return text.empty() ? "" : text + "...";
}

// Greedy word wrap into at most max_lines lines; the last one is elided when text remains.
std::vector<std::string> wrap_text(const std::string& text, const Font& f, int max_width,
                                   int max_lines) {
  std::vector<std::string> lines;
  std::string line, word;
  std::size_t pos = 0;
  while (pos < text.size() && static_cast<int>(lines.size()) < max_lines - 1) {
    const auto end = std::min(text.find(' ', pos), text.size());
    word = text.substr(pos, end - pos);
    const std::string joined = line.empty() ? word : line + " " + word;
    if (!line.empty() && text_width(joined, f) > max_width) {
      lines.push_back(elide(line, f, max_width));
      line.clear();
      continue;
    }
    line = joined;
    pos = end + 1;
  }
  std::string rest = pos < text.size() ? text.substr(pos) : "";
  line = line.empty() ? rest : rest.empty() ? line : line + " " + rest;
  if (!line.empty()) lines.push_back(elide(line, f, max_width));
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Color maps

int cv_colormap(Colormap map) {
  switch (map) {
    case Colormap::Inferno:
      return cv::COLORMAP_INFERNO;
    case Colormap::Turbo:
      return cv::COLORMAP_TURBO;
    case Colormap::Viridis:
      break;
  }
  return cv::COLORMAP_VIRIDIS;
}

using Lut = std::array<Color, 256>;

Lut make_lut(Colormap map) {
  cv::Mat ramp(1, 256, CV_8UC1), bgr;
  for (int i = 0; i < 256; ++i) ramp.at<uint8_t>(0, i) = static_cast<uint8_t>(i);
  cv::applyColorMap(ramp, bgr, cv_colormap(map));
  Lut lut{};
  for (int i = 0; i < 256; ++i) {
    const auto& p = bgr.at<cv::Vec3b>(0, i);
    lut[i] = {p[2], p[1], p[0]};
  }
  return lut;
}

const Lut& lut_of(Colormap map) {
  static const Lut viridis = make_lut(Colormap::Viridis);
  static const Lut inferno = make_lut(Colormap::Inferno);
  static const Lut turbo = make_lut(Colormap::Turbo);
  return map == Colormap::Inferno ? inferno : map == Colormap::Turbo ? turbo : viridis;
}

// ---------------------------------------------------------------------------------------------
// Heat map sampling

// Where one image row or column falls on the map: the two cells to interpolate and the weight
// of the second (0 for blocky cells), or covered = false.
struct Sample {
  bool covered = false;
  int a = 0, b = 0;
  float t = 0;
};

std::vector<Sample> samples(int pixels, int cells, double origin, double step, bool smooth) {
  std::vector<Sample> out(pixels);
  for (int p = 0; p < pixels; ++p) {
    const double u = (p - origin) / step;
    const double cell = std::floor(u + 0.5);
    if (cell < 0 || cell >= cells) continue;
    Sample& s = out[p];
    s.covered = true;
    s.a = s.b = static_cast<int>(cell);
    if (!smooth) continue;
    const double c = std::clamp(u, 0.0, cells - 1.0);
    s.a = static_cast<int>(std::floor(c));
    s.b = std::min(s.a + 1, cells - 1);
    s.t = static_cast<float>(c - s.a);
  }
  return out;
}

struct Range {
  float lo = 0, hi = 1;
};

Range value_range(const float* values, std::size_t n, const HeatmapStyle& style) {
  Range r{style.vmin, style.vmax};
  if (r.hi <= r.lo) {
    r.hi = -INFINITY;
    for (std::size_t i = 0; i < n; ++i)
      if (std::isfinite(values[i])) r.hi = std::max(r.hi, values[i]);
    if (!(r.hi > r.lo)) r.hi = r.lo + 1e-6f;
  }
  return r;
}

int lut_index(float v, const Range& r) {
  const float t = (v - r.lo) / (r.hi - r.lo);
  if (!(t > 0)) return 0;  // also NaN
  return t >= 1 ? 255 : static_cast<int>(std::lround(t * 255.0f));
}

void blend_pixel(uint8_t* px, const Color& c, float a) {
  for (int k = 0; k < 3; ++k) px[k] = to_byte((1 - a) * px[k] + a * c[k]);
}

void paint_map(Rgb8& img, const float* values, int map_h, int map_w, const MapPlacement& where,
               const HeatmapStyle& style) {
  const auto xs = samples(img.width, map_w, where.x0, where.step_x, style.smooth);
  const auto ys = samples(img.height, map_h, where.y0, where.step_y, style.smooth);
  const Range range = value_range(values, static_cast<std::size_t>(map_h) * map_w, style);
  const Lut& lut = lut_of(style.colormap);
  const float a = std::clamp(style.opacity, 0.0f, 1.0f);
  auto at = [&](int y, int x) { return values[static_cast<std::size_t>(y) * map_w + x]; };
  for (int y = 0; y < img.height; ++y) {
    uint8_t* row = img.pixels.data() + static_cast<std::size_t>(y) * img.width * 3;
    const Sample& sy = ys[y];
    for (int x = 0; x < img.width; ++x) {
      uint8_t* px = row + 3 * x;
      const Sample& sx = xs[x];
      if (!sy.covered || !sx.covered) {
        for (int k = 0; k < 3; ++k) px[k] = to_byte(px[k] * kUncoveredBrightness);
        continue;
      }
      const float top = at(sy.a, sx.a) * (1 - sx.t) + at(sy.a, sx.b) * sx.t;
      const float bottom = at(sy.b, sx.a) * (1 - sx.t) + at(sy.b, sx.b) * sx.t;
      blend_pixel(px, lut[lut_index(top * (1 - sy.t) + bottom * sy.t, range)], a);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Legend

std::string tick_text(float v, const Range& r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, (r.hi - r.lo) < 0.05f ? "%.3g" : "%.2f", static_cast<double>(v));
  return buf;
}

struct LegendLayout {
  Font font, title_font;
  int pad = 0, line_h = 0, bar_y = 0, bar_h = 0, tick_len = 0, height = 0;
  std::vector<std::string> title;
};

// The title on one line, in a slightly smaller font if that avoids wrapping, else on two lines.
void layout_title(LegendLayout& l, const std::string& title, int width) {
  l.title_font = l.font;
  if (title.empty()) return;
  const std::string text = ascii(title);
  const Font smaller = font_of(std::max(12, l.font.px * 17 / 20));
  if (text_width(text, l.font) > width && text_width(text, smaller) <= width)
    l.title_font = smaller;
  l.title = wrap_text(text, l.title_font, width, 2);
}

LegendLayout legend_layout(int width, int height, const std::string& title) {
  LegendLayout l;
  l.font = font_of(text_px(width, height, 0.034, 14, 44));
  const int f = l.font.px;
  l.pad = std::max(6, f * 3 / 4);
  l.line_h = f * 3 / 2;
  l.bar_h = std::max(8, f * 4 / 5);
  l.tick_len = std::max(3, f / 3);
  layout_title(l, title, width - 2 * l.pad);
  l.bar_y = l.pad + static_cast<int>(l.title.size()) * l.line_h + (l.title.empty() ? 0 : l.pad / 3);
  l.height = l.bar_y + l.bar_h + l.tick_len + l.line_h + l.pad * 2 / 3;
  return l;
}

void draw_color_bar(cv::Mat& strip, cv::Rect bar, const Lut& lut) {
  for (int x = 0; x < bar.width; ++x) {
    const int i = bar.width > 1 ? (x * 255 + (bar.width - 1) / 2) / (bar.width - 1) : 255;
    cv::line(strip, {bar.x + x, bar.y}, {bar.x + x, bar.y + bar.height - 1}, scalar(lut[i]));
  }
  cv::rectangle(strip, cv::Rect(bar.x - 1, bar.y - 1, bar.width + 2, bar.height + 2), kSubtle, 1);
}

void draw_ticks(cv::Mat& strip, cv::Rect bar, const LegendLayout& l, const Range& r) {
  const float values[3] = {r.lo, (r.lo + r.hi) / 2, r.hi};
  const int baseline = bar.y + bar.height + l.tick_len + (l.line_h + cap_height(l.font)) / 2;
  for (int i = 0; i < 3; ++i) {
    const int x = bar.x + (bar.width - 1) * i / 2;
    cv::line(strip, {x, bar.y + bar.height}, {x, bar.y + bar.height + l.tick_len - 1}, kSubtle,
             l.font.thickness);
    const std::string text = tick_text(values[i], r);
    const int w = text_width(text, l.font);
    const int left = i == 0 ? bar.x : i == 1 ? x - w / 2 : bar.x + bar.width - w;
    put_text(strip, text, {left, baseline}, l.font, kText);
  }
}

cv::Mat legend_strip(int width, int height, const HeatmapStyle& style, const Range& r) {
  const LegendLayout l = legend_layout(width, height, style.title);
  cv::Mat strip(l.height, width, CV_8UC3, kPanel);
  int y = l.pad;
  for (const auto& line : l.title) {
    put_text(strip, line, {l.pad, y + (l.line_h + cap_height(l.title_font)) / 2}, l.title_font,
             kText);
    y += l.line_h;
  }
  const cv::Rect bar(l.pad, l.bar_y, width - 2 * l.pad, l.bar_h);
  draw_color_bar(strip, bar, lut_of(style.colormap));
  draw_ticks(strip, bar, l, r);
  return strip;
}

void check_map(const float* values, int map_h, int map_w, const MapPlacement& where) {
  if (!values || map_h <= 0 || map_w <= 0)
    throw Error("heatmap_overlay: the score map is empty (" + std::to_string(map_h) + "x" +
                std::to_string(map_w) + ")");
  if (!(where.step_x > 0) || !(where.step_y > 0) || !std::isfinite(where.x0) ||
      !std::isfinite(where.y0))
    throw Error("heatmap_overlay: the map placement needs finite origins and positive steps");
}

// ---------------------------------------------------------------------------------------------
// Boxes

double line_scale(const cv::Mat& img) {
  return std::max(1.0, std::max(img.cols, img.rows) / 640.0);
}

int line_width(float thickness, double scale) {
  const double t = thickness > 0 ? std::min<double>(thickness, 100) * scale : 1;
  return std::max(1, static_cast<int>(std::lround(t)));
}

bool drawable(const DrawnBox& b) {
  return std::isfinite(b.x1) && std::isfinite(b.y1) && std::isfinite(b.x2) && std::isfinite(b.y2);
}

int coord(float v) {
  return static_cast<int>(std::lround(std::clamp(v, -1e6f, 1e6f)));
}

cv::Rect box_rect(const DrawnBox& b) {
  const int x1 = coord(std::min(b.x1, b.x2)), y1 = coord(std::min(b.y1, b.y2));
  const int x2 = coord(std::max(b.x1, b.x2)), y2 = coord(std::max(b.y1, b.y2));
  return {x1, y1, x2 - x1 + 1, y2 - y1 + 1};
}

void draw_faint(cv::Mat& canvas, const std::vector<DrawnBox>& boxes) {
  cv::Mat layer = canvas.clone();
  bool any = false;
  for (const auto& b : boxes) {
    if (!b.faint || !drawable(b)) continue;
    any = true;
    const int t = line_width(b.thickness / 2, line_scale(canvas));
    cv::rectangle(layer, box_rect(b), scalar(class_color(b.cls)), t, cv::LINE_AA);
  }
  if (any) cv::addWeighted(canvas, 0.55, layer, 0.45, 0, canvas);
}

// Black or white, whichever reads better on the tag color.
cv::Scalar tag_text_color(const Color& c) {
  const double luma = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
  return luma > 150 ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255);
}

Font tag_font(const cv::Mat& canvas) {
  return font_of(text_px(canvas.cols, canvas.rows, 0.03, 13, 40));
}

int tag_pad(const Font& f) {
  return std::max(3, f.px / 4);
}

// The tag's size; the box as place_labels sees it (its outer edge, the line included).
LabelRect tag_size(const cv::Mat& canvas, const DrawnBox& b) {
  const Font f = tag_font(canvas);
  const int w = std::min(text_width(ascii(b.label), f) + 2 * tag_pad(f), canvas.cols);
  return {0, 0, static_cast<double>(w), static_cast<double>(f.px + tag_pad(f))};
}

LabelRect outer_box(const DrawnBox& b, int line) {
  const cv::Rect r = box_rect(b);
  return {static_cast<double>(r.x - line / 2), static_cast<double>(r.y - line / 2),
          static_cast<double>(r.width + line), static_cast<double>(r.height + line)};
}

void draw_tag(cv::Mat& canvas, const DrawnBox& b, const LabelRect& where) {
  const std::string text = ascii(b.label);
  if (text.empty()) return;
  const Font f = tag_font(canvas);
  const int pad = tag_pad(f);
  const cv::Rect r(static_cast<int>(std::lround(where.x)), static_cast<int>(std::lround(where.y)),
                   static_cast<int>(where.w), static_cast<int>(where.h));
  const Color c = class_color(b.cls);
  cv::rectangle(canvas, r, scalar(c), cv::FILLED);
  const std::string shown = elide(text, f, r.width - 2 * pad);
  put_text(canvas, shown, {r.x + pad, r.y + (r.height + cap_height(f)) / 2}, f, tag_text_color(c));
}

// ---------------------------------------------------------------------------------------------
// Grid

struct GridLayout {
  int cols = 1, rows = 1, cell_w = 0, cell_h = 0, caption_h = 0, gap = 0;
  Font font;
};

GridLayout grid_layout(const std::vector<Rgb8>& images, int columns) {
  GridLayout g;
  const int n = static_cast<int>(images.size());
  g.cols = std::min(columns, n);
  g.rows = (n + g.cols - 1) / g.cols;
  for (const auto& im : images) {
    g.cell_w = std::max(g.cell_w, im.width);
    g.cell_h = std::max(g.cell_h, im.height);
  }
  g.font = font_of(text_px(g.cell_w, g.cell_h, 0.036, 14, 40));
  g.caption_h = g.font.px * 8 / 5;
  g.gap = std::max(12, g.font.px);
  return g;
}

void place(cv::Mat& canvas, const GridLayout& g, int index, const Rgb8& image,
           const std::string& caption) {
  const int col = index % g.cols, row = index / g.cols;
  const int cell_x = g.gap + col * (g.cell_w + g.gap);
  const int cell_y = g.gap + row * (g.cell_h + g.caption_h + g.gap);
  const int x = cell_x + (g.cell_w - image.width) / 2;
  const int y = cell_y + g.cell_h - image.height;
  view(image).copyTo(canvas(cv::Rect(x, y, image.width, image.height)));
  const std::string text = elide(ascii(caption), g.font, g.cell_w);
  const int tx = cell_x + (g.cell_w - text_width(text, g.font)) / 2;
  const int ty = cell_y + g.cell_h + (g.caption_h + cap_height(g.font)) / 2;
  put_text(canvas, text, {tx, ty}, g.font, kText);
}

void check_grid(const std::vector<Rgb8>& images, const std::vector<std::string>& captions,
                int columns) {
  if (images.empty()) throw Error("grid: no images to tile");
  if (columns < 1) throw Error("grid: columns must be at least 1, got " + std::to_string(columns));
  if (captions.size() > images.size())
    throw Error("grid: " + std::to_string(captions.size()) + " captions for " +
                std::to_string(images.size()) + " images");
  for (std::size_t i = 0; i < images.size(); ++i)
    check_rgb8(images[i], "grid: image " + std::to_string(i));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API

Rgb8 to_rgb8(const Tensor& rgb) {
  if ((rgb.c != 3 && rgb.c != 1) || rgb.h <= 0 || rgb.w <= 0 ||
      rgb.data.size() != static_cast<std::size_t>(rgb.c) * rgb.h * rgb.w)
    throw Error("to_rgb8: expected a 3-channel (RGB) or 1-channel image tensor, got " +
                std::to_string(rgb.c) + "x" + std::to_string(rgb.h) + "x" + std::to_string(rgb.w) +
                " with " + std::to_string(rgb.data.size()) + " values");
  Rgb8 out{rgb.w, rgb.h, std::vector<uint8_t>(static_cast<std::size_t>(rgb.w) * rgb.h * 3)};
  const std::size_t plane = static_cast<std::size_t>(rgb.h) * rgb.w;
  for (std::size_t i = 0; i < plane; ++i)
    for (int k = 0; k < 3; ++k)
      out.pixels[3 * i + k] = to_byte(rgb.data[(rgb.c == 3 ? k : 0) * plane + i]);
  return out;
}

void write_png(const std::filesystem::path& file, const Rgb8& image) {
  check_rgb8(image, "write_png " + file.string());
  cv::Mat bgr;
  cv::cvtColor(view(image), bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> bytes;
  if (!cv::imencode(".png", bgr, bytes)) throw Error(file.string() + ": PNG encoding failed");
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out)
    throw Error(file.string() +
                ": cannot open for writing (check the folder exists and is "
                "writable)");
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw Error(file.string() + ": write failed (disk full?)");
}

std::array<uint8_t, 3> colormap_color(Colormap map, float t) {
  return lut_of(map)[lut_index(t, Range{0, 1})];
}

Rgb8 heatmap_overlay(const Tensor& image, const float* values, int map_h, int map_w,
                     const MapPlacement& where, const HeatmapStyle& style) {
  check_map(values, map_h, map_w, where);
  Rgb8 out = to_rgb8(image);
  paint_map(out, values, map_h, map_w, where, style);
  if (!style.legend) return out;
  const Range range = value_range(values, static_cast<std::size_t>(map_h) * map_w, style);
  cv::Mat stacked;
  cv::vconcat(wrap(out), legend_strip(out.width, out.height, style, range), stacked);
  return from_mat(stacked);
}

std::array<uint8_t, 3> class_color(int cls) {
  if (cls < 0) return {160, 160, 160};
  // Golden-ratio hue steps keep neighbouring indices far apart on the color wheel; saturation
  // and value cycle with different periods so that hues that come close differ otherwise.
  const double h = std::fmod(cls * 0.6180339887498949, 1.0) * 6.0;
  const double s = (cls % 3 == 0) ? 0.85 : (cls % 3 == 1) ? 0.65 : 1.0;
  const double v = ((cls / 3) % 2 == 0) ? 1.0 : 0.82;
  const int sector = static_cast<int>(h) % 6;
  const double f = h - std::floor(h);
  const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const double rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  return {to_byte(rgb[sector][0] * 255), to_byte(rgb[sector][1] * 255),
          to_byte(rgb[sector][2] * 255)};
}

Rgb8 draw_boxes(const Tensor& image, const std::vector<DrawnBox>& boxes) {
  Rgb8 out = to_rgb8(image);
  cv::Mat canvas = wrap(out);
  draw_faint(canvas, boxes);
  const double scale = line_scale(canvas);
  for (const auto& b : boxes)
    if (!b.faint && drawable(b))
      cv::rectangle(canvas, box_rect(b), scalar(class_color(b.cls)),
                    line_width(b.thickness, scale));
  // Tags: the last box (drawn on top, the best in annotate_detections) chooses its place first.
  std::vector<const DrawnBox*> tagged;
  std::vector<LabelRect> outer, sizes;
  for (auto it = boxes.rbegin(); it != boxes.rend(); ++it)
    if (!it->faint && drawable(*it) && !ascii(it->label).empty()) {
      tagged.push_back(&*it);
      outer.push_back(outer_box(*it, line_width(it->thickness, scale)));
      sizes.push_back(tag_size(canvas, *it));
    }
  const std::vector<LabelRect> where = place_labels(outer, sizes, canvas.cols, canvas.rows);
  for (size_t i = tagged.size(); i-- > 0;) draw_tag(canvas, *tagged[i], where[i]);
  return out;
}

std::vector<LabelRect> place_labels(const std::vector<LabelRect>& boxes,
                                    const std::vector<LabelRect>& sizes, double width,
                                    double height, const std::vector<LabelRect>& taken) {
  std::vector<LabelRect> placed, used = taken;  // used: what a new tag must not cover
  placed.reserve(boxes.size());
  const auto clamp_in = [&](LabelRect r) {
    r.x = std::clamp(r.x, 0.0, std::max(0.0, width - r.w));
    r.y = std::clamp(r.y, 0.0, std::max(0.0, height - r.h));
    return r;
  };
  const auto is_free = [&](const LabelRect& r) {
    return std::none_of(used.begin(), used.end(),
                        [&](const LabelRect& o) { return r.intersects(o); });
  };
  for (size_t i = 0; i < boxes.size() && i < sizes.size(); ++i) {
    const LabelRect& b = boxes[i];
    const double w = sizes[i].w, h = std::max(1.0, sizes[i].h);
    const LabelRect above = clamp_in({b.x, b.y - h, w, h});
    std::vector<LabelRect> candidates = {above, clamp_in({b.x, b.y, w, h}),
                                         clamp_in({b.x, b.y + b.h, w, h})};
    // Then stacked below and above those places, a tag height at a time.
    const int steps = static_cast<int>(std::min(64.0, height / h));
    for (int k = 1; k <= steps; ++k)
      for (const double dy : {k * h, -k * h})
        candidates.push_back(clamp_in({b.x, b.y - h + dy, w, h}));
    LabelRect chosen = above;
    for (const LabelRect& c : candidates)
      if (is_free(c)) {
        chosen = c;
        break;
      }
    placed.push_back(chosen);
    used.push_back(chosen);
  }
  return placed;
}

Rgb8 grid(const std::vector<Rgb8>& images, const std::vector<std::string>& captions, int columns) {
  check_grid(images, captions, columns);
  const GridLayout g = grid_layout(images, columns);
  const int width = g.cols * g.cell_w + (g.cols + 1) * g.gap;
  const int height = g.rows * (g.cell_h + g.caption_h) + (g.rows + 1) * g.gap;
  cv::Mat canvas(height, width, CV_8UC3, kPanel);
  for (std::size_t i = 0; i < images.size(); ++i)
    place(canvas, g, static_cast<int>(i), images[i], i < captions.size() ? captions[i] : "");
  return from_mat(canvas);
}

}  // namespace overfeat::render
