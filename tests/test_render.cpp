// SPDX-License-Identifier: MIT
// Tests of overfeat/render.hpp (heat maps, boxes, grids, PNG) and overfeat/npy.hpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "overfeat/error.hpp"
#include "overfeat/image.hpp"
#include "overfeat/npy.hpp"
#include "overfeat/render.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
namespace render = overfeat::render;
namespace npy = overfeat::npy;
using overfeat::Error;
using overfeat::Tensor;
using overfeat::testing::TempDir;
using render::Rgb8;
using Color = std::array<uint8_t, 3>;

namespace {

// ----------------------------------------------------------------------------------------------
// Helpers

// Deterministic pseudo-random image values 0..255.
Tensor noise_image(int h, int w, uint32_t seed) {
  Tensor t(3, h, w);
  for (auto& v : t.data) {
    seed = seed * 1664525u + 1013904223u;
    v = static_cast<float>((seed >> 8) % 256);
  }
  return t;
}

Tensor solid_image(int h, int w, Color c) {
  Tensor t(3, h, w);
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) t.at(k, y, x) = c[k];
  return t;
}

Color pixel(const Rgb8& img, int x, int y) {
  const std::size_t i = (static_cast<std::size_t>(y) * img.width + x) * 3;
  return {img.pixels[i], img.pixels[i + 1], img.pixels[i + 2]};
}

Color tensor_pixel(const Tensor& t, int x, int y) {
  Color c{};
  for (int k = 0; k < 3; ++k) c[k] = static_cast<uint8_t>(std::lround(t.at(k, y, x)));
  return c;
}

// The top (or any) entry of OpenCV's own colormap table, in RGB.
Color opencv_colormap(int cv_map, int index) {
  cv::Mat gray(1, 1, CV_8UC1, cv::Scalar(index)), bgr;
  cv::applyColorMap(gray, bgr, cv_map);
  const auto p = bgr.at<cv::Vec3b>(0, 0);
  return {p[2], p[1], p[0]};
}

void expect_near(Color actual, Color expected, int tolerance, const std::string& what) {
  for (int k = 0; k < 3; ++k)
    EXPECT_NEAR(actual[k], expected[k], tolerance)
        << what << " channel " << k << ": got (" << int(actual[0]) << "," << int(actual[1]) << ","
        << int(actual[2]) << ") expected (" << int(expected[0]) << "," << int(expected[1]) << ","
        << int(expected[2]) << ")";
}

Color blend(Color image, Color map, float opacity) {
  Color c{};
  for (int k = 0; k < 3; ++k)
    c[k] = static_cast<uint8_t>(std::lround((1 - opacity) * image[k] + opacity * map[k]));
  return c;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no Error thrown)";
}

std::size_t count_color(const Rgb8& img, Color c) {
  std::size_t n = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) n += pixel(img, x, y) == c;
  return n;
}

// Runs a shell command and returns its standard output.
std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) return "";
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, pipe.get())) out += buf;
  return out;
}

bool have_numpy() {
  return fs::exists("/usr/bin/python3") &&
         std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

// ----------------------------------------------------------------------------------------------
// to_rgb8 and PNG

TEST(ToRgb8, ClampsAndRounds) {
  Tensor t(3, 1, 6);
  const float in[6] = {-3.0f, 300.0f, 1.4f, 1.6f, 254.5f, 0.49f};
  const uint8_t want[6] = {0, 255, 1, 2, 255, 0};
  for (int x = 0; x < 6; ++x)
    for (int k = 0; k < 3; ++k) t.at(k, 0, x) = in[x] + (k == 1 ? 10.0f : 0.0f) * (x >= 2);
  const Rgb8 out = render::to_rgb8(t);
  ASSERT_EQ(out.width, 6);
  ASSERT_EQ(out.height, 1);
  ASSERT_EQ(out.pixels.size(), 18u);
  for (int x = 0; x < 6; ++x) {
    EXPECT_EQ(out.pixels[3 * x], want[x]) << "x=" << x;
    EXPECT_EQ(out.pixels[3 * x + 2], want[x]) << "x=" << x;
  }
  EXPECT_EQ(out.pixels[3 * 2 + 1], 11);  // green channel kept apart from red and blue
  EXPECT_EQ(out.pixels[3 * 4 + 1], 255);
}

TEST(ToRgb8, GreyExpandsAndOtherChannelCountsThrow) {
  Tensor grey(1, 2, 2, 77.0f);
  const Rgb8 out = render::to_rgb8(grey);
  EXPECT_EQ(pixel(out, 1, 1), (Color{77, 77, 77}));
  EXPECT_THROW(render::to_rgb8(Tensor(2, 2, 2)), Error);
  EXPECT_THROW(render::to_rgb8(Tensor()), Error);
}

TEST(WritePng, RoundTripsExactly) {
  TempDir dir("render");
  const Rgb8 img = render::to_rgb8(noise_image(37, 53, 7));
  const fs::path file = dir / "noise.png";
  render::write_png(file, img);
  const cv::Mat bgr = cv::imread(file.string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(bgr.type(), CV_8UC3);
  ASSERT_EQ(bgr.cols, 53);
  ASSERT_EQ(bgr.rows, 37);
  for (int y = 0; y < 37; ++y)
    for (int x = 0; x < 53; ++x) {
      const auto p = bgr.at<cv::Vec3b>(y, x);
      ASSERT_EQ(pixel(img, x, y), (Color{p[2], p[1], p[0]})) << "at " << x << "," << y;
    }
}

TEST(WritePng, ErrorNamesTheFile) {
  TempDir dir("render");
  const fs::path file = dir / "no_such_folder" / "out.png";
  const std::string msg =
      error_of([&] { render::write_png(file, render::to_rgb8(Tensor(3, 4, 4))); });
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  EXPECT_THROW(render::write_png(dir / "empty.png", Rgb8{}), Error);
}

// ----------------------------------------------------------------------------------------------
// Heat maps

struct MapCase {
  render::Colormap map;
  int cv_map;
  bool smooth;
  const char* name;
};

void PrintTo(const MapCase& c, std::ostream* os) {
  *os << c.name;
}

class HeatmapMaxCell : public ::testing::TestWithParam<MapCase> {};

TEST_P(HeatmapMaxCell, CenterHasTopColorBlendedByOpacity) {
  const Tensor image = noise_image(90, 120, 3);
  std::vector<float> values(4 * 5);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.03f * static_cast<float>(i % 7);
  values[2 * 5 + 3] = 1.0f;  // the max, at row 2, column 3
  const render::MapPlacement where{20, 15, 16, 16};
  render::HeatmapStyle style;
  style.colormap = GetParam().map;
  style.smooth = GetParam().smooth;
  style.opacity = 0.7f;
  style.legend = false;
  const Rgb8 out = render::heatmap_overlay(image, values.data(), 4, 5, where, style);
  ASSERT_EQ(out.width, 120);
  ASSERT_EQ(out.height, 90);
  const int x = 20 + 3 * 16, y = 15 + 2 * 16;
  const Color want =
      blend(tensor_pixel(image, x, y), opencv_colormap(GetParam().cv_map, 255), 0.7f);
  expect_near(pixel(out, x, y), want, 1, "max cell center");
  EXPECT_EQ(render::colormap_color(GetParam().map, 1.0f), opencv_colormap(GetParam().cv_map, 255));
  EXPECT_EQ(render::colormap_color(GetParam().map, 0.0f), opencv_colormap(GetParam().cv_map, 0));
}

INSTANTIATE_TEST_SUITE_P(
    Colormaps, HeatmapMaxCell,
    ::testing::Values(MapCase{render::Colormap::Viridis, cv::COLORMAP_VIRIDIS, false, "Viridis"},
                      MapCase{render::Colormap::Inferno, cv::COLORMAP_INFERNO, false, "Inferno"},
                      MapCase{render::Colormap::Turbo, cv::COLORMAP_TURBO, false, "Turbo"},
                      MapCase{render::Colormap::Viridis, cv::COLORMAP_VIRIDIS, true,
                              "ViridisSmooth"},
                      MapCase{render::Colormap::Turbo, cv::COLORMAP_TURBO, true, "TurboSmooth"}),
    [](const ::testing::TestParamInfo<MapCase>& info) { return std::string(info.param.name); });

TEST(Heatmap, UncoveredPixelsAreDimmedImage) {
  const Tensor image = noise_image(80, 100, 11);
  const std::vector<float> values(3 * 3, 0.5f);
  const render::MapPlacement where{40, 30, 10, 10};  // covers x in [35, 65), y in [25, 55)
  render::HeatmapStyle style;
  style.legend = false;
  for (const bool smooth : {false, true}) {
    style.smooth = smooth;
    const Rgb8 out = render::heatmap_overlay(image, values.data(), 3, 3, where, style);
    for (const auto& [x, y] : {std::pair{0, 0}, {34, 40}, {65, 40}, {50, 24}, {50, 55}, {99, 79}}) {
      const Color img = tensor_pixel(image, x, y);
      Color dim{};
      for (int k = 0; k < 3; ++k)
        dim[k] = static_cast<uint8_t>(std::lround(img[k] * render::kUncoveredBrightness));
      expect_near(pixel(out, x, y), dim, 1,
                  "uncovered " + std::to_string(x) + "," + std::to_string(y));
    }
    const Color inside = blend(tensor_pixel(image, 35, 25),
                               render::colormap_color(style.colormap, 0.5f), style.opacity);
    expect_near(pixel(out, 35, 25), inside, 1, "covered corner");
  }
}

TEST(Heatmap, LegendAddsAStripBelowAndKeepsTheOverlay) {
  const Tensor image = noise_image(120, 160, 5);
  std::vector<float> values(6 * 8);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) / 47.0f;
  const render::MapPlacement where{10, 10, 20, 20};
  render::HeatmapStyle style;
  style.legend = false;
  const Rgb8 plain = render::heatmap_overlay(image, values.data(), 6, 8, where, style);
  style.legend = true;
  style.title =
      "tabby cat \xe2\x80\x94 scale 3 (389\xc3\x97"
      "461), fine stride";
  const Rgb8 legend = render::heatmap_overlay(image, values.data(), 6, 8, where, style);
  EXPECT_EQ(legend.width, plain.width);
  EXPECT_GT(legend.height, plain.height + 20);
  ASSERT_GE(legend.pixels.size(), plain.pixels.size());
  EXPECT_TRUE(std::equal(plain.pixels.begin(), plain.pixels.end(), legend.pixels.begin()))
      << "the image part changed when the legend was added";
  // The color bar shows both ends of the colormap unblended.
  Rgb8 strip{legend.width,
             legend.height - plain.height,
             {legend.pixels.begin() + static_cast<std::ptrdiff_t>(plain.pixels.size()),
              legend.pixels.end()}};
  EXPECT_GT(count_color(strip, render::colormap_color(style.colormap, 1.0f)), 0u);
  EXPECT_GT(count_color(strip, render::colormap_color(style.colormap, 0.0f)), 0u);
}

TEST(Heatmap, AutomaticRangeUsesTheMapsMax) {
  const Tensor image = solid_image(40, 40, {0, 0, 0});
  std::vector<float> values(2 * 2, 0.1f);
  values[3] = 0.5f;
  render::HeatmapStyle style;
  style.legend = false;
  style.opacity = 1.0f;
  style.vmax = 0;  // <= vmin: use the map's own max
  const Rgb8 out = render::heatmap_overlay(image, values.data(), 2, 2, {10, 10, 20, 20}, style);
  EXPECT_EQ(pixel(out, 30, 30), render::colormap_color(style.colormap, 1.0f));
  EXPECT_EQ(pixel(out, 10, 10), render::colormap_color(style.colormap, 0.2f));
}

TEST(Heatmap, SingleHotCellLandsWherePlacementSays) {
  const Tensor image = solid_image(160, 200, {0, 0, 0});
  const int map_h = 6, map_w = 7, hot_y = 3, hot_x = 4;
  std::vector<float> values(map_h * map_w, 0.0f);
  values[hot_y * map_w + hot_x] = 1.0f;
  const render::MapPlacement where{10.3, 17.8, 12.7, 9.4};
  render::HeatmapStyle style;
  style.legend = false;
  style.opacity = 1.0f;
  const Rgb8 out = render::heatmap_overlay(image, values.data(), map_h, map_w, where, style);
  const Color hot = render::colormap_color(style.colormap, 1.0f);
  int x_min = out.width, x_max = -1, y_min = out.height, y_max = -1;
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x)
      if (pixel(out, x, y) == hot) {
        x_min = std::min(x_min, x), x_max = std::max(x_max, x);
        y_min = std::min(y_min, y), y_max = std::max(y_max, y);
      }
  ASSERT_GE(x_max, 0) << "no hot pixel";
  const double cx = where.x0 + hot_x * where.step_x, cy = where.y0 + hot_y * where.step_y;
  EXPECT_NEAR((x_min + x_max) / 2.0, cx, 1.0);
  EXPECT_NEAR((y_min + y_max) / 2.0, cy, 1.0);
  EXPECT_NEAR(x_max - x_min + 1, where.step_x, 1.0);
  EXPECT_NEAR(y_max - y_min + 1, where.step_y, 1.0);
  EXPECT_EQ(count_color(out, hot),
            static_cast<std::size_t>((x_max - x_min + 1) * (y_max - y_min + 1)));
}

TEST(Heatmap, BadArgumentsThrow) {
  const Tensor image = noise_image(20, 20, 1);
  const std::vector<float> values(4, 0.5f);
  render::HeatmapStyle style;
  EXPECT_THROW(render::heatmap_overlay(image, nullptr, 2, 2, {}, style), Error);
  EXPECT_THROW(render::heatmap_overlay(image, values.data(), 0, 2, {}, style), Error);
  EXPECT_THROW(render::heatmap_overlay(image, values.data(), 2, 2, {0, 0, 0, 1}, style), Error);
  EXPECT_THROW(render::heatmap_overlay(Tensor(), values.data(), 2, 2, {}, style), Error);
}

// ----------------------------------------------------------------------------------------------
// Class colors and boxes

TEST(ClassColor, StableAndDistinct) {
  std::set<Color> seen;
  for (int cls = 0; cls < 1000; ++cls) {
    const Color c = render::class_color(cls);
    EXPECT_EQ(c, render::class_color(cls));
    EXPECT_TRUE(seen.insert(c).second) << "class " << cls << " repeats an earlier color";
    EXPECT_GE(std::max({c[0], c[1], c[2]}), 200) << "class " << cls << " is too dark to see";
  }
  // Pinned so the GUI and saved images keep their colors across versions.
  EXPECT_EQ(render::class_color(0), (Color{255, 38, 38}));
  EXPECT_EQ(render::class_color(1), (Color{89, 138, 255}));
  EXPECT_EQ(render::class_color(-1), (Color{160, 160, 160}));
}

TEST(DrawBoxes, ChangesTheEdgeAndTagButNotFarAway) {
  const Tensor image = solid_image(200, 200, {128, 128, 128});
  const render::DrawnBox box{40, 60, 120, 150, 5, "dog 0.93"};
  const Rgb8 out = render::draw_boxes(image, {box});
  const Color cls = render::class_color(5);
  EXPECT_EQ(pixel(out, 80, 150), cls) << "bottom edge";
  EXPECT_EQ(pixel(out, 40, 100), cls) << "left edge";
  EXPECT_EQ(pixel(out, 120, 100), cls) << "right edge";
  EXPECT_EQ(pixel(out, 80, 100), (Color{128, 128, 128})) << "inside the box";
  EXPECT_EQ(pixel(out, 180, 20), (Color{128, 128, 128})) << "far away";
  EXPECT_EQ(pixel(out, 10, 190), (Color{128, 128, 128})) << "far away";
  EXPECT_EQ(pixel(out, 41, 57), cls) << "the tag sits above the top-left corner";
  EXPECT_EQ(render::to_rgb8(image).pixels, render::to_rgb8(image).pixels);  // input untouched
  EXPECT_EQ(image.at(0, 150, 80), 128.0f);
}

TEST(DrawBoxes, FaintBoxesAreTranslucentAndUntagged) {
  const Tensor image = solid_image(120, 120, {0, 0, 0});
  render::DrawnBox box{20, 20, 100, 100, 0, "cat 0.5"};
  box.faint = true;
  const Rgb8 out = render::draw_boxes(image, {box});
  const Color edge = pixel(out, 60, 20), cls = render::class_color(0);
  EXPECT_GT(edge[0], 0);
  EXPECT_LT(edge[0], cls[0]) << "a faint line is translucent";
  EXPECT_EQ(pixel(out, 22, 12), (Color{0, 0, 0})) << "a faint box has no tag";
}

TEST(DrawBoxes, BoxesAtTheBorderAndNonAsciiLabelsDraw) {
  const Tensor image = solid_image(100, 100, {255, 255, 255});
  const std::vector<render::DrawnBox> boxes{{0, 0, 99, 99, 3, "caf\xc3\xa9 \xe6\x97\xa5 0.7"},
                                            {-20, 80, 130, 140, 7, "out of frame"}};
  const Rgb8 out = render::draw_boxes(image, boxes);
  EXPECT_EQ(out.width, 100);
  EXPECT_EQ(pixel(out, 50, 99), render::class_color(3));
  EXPECT_EQ(pixel(out, 2, 3), render::class_color(3)) << "the tag moves inside the box";
  const float nan = std::nanf("");
  const Rgb8 skipped = render::draw_boxes(image, {{nan, 0, 10, 10, 1, "nan"}});
  EXPECT_EQ(skipped.pixels, render::to_rgb8(image).pixels) << "a NaN box is skipped";
}

// ----------------------------------------------------------------------------------------------
// Grid

Rgb8 solid_rgb8(int w, int h, Color c) {
  return render::to_rgb8(solid_image(h, w, c));
}

// Overlapping boxes once got overlapping tags (on a bus photo one showed only ".55").
TEST(PlaceLabels, TagsNeverOverlapWhileThereIsRoom) {
  // Ten boxes on almost the same spot, and two far apart.
  std::vector<render::LabelRect> boxes, sizes;
  for (int i = 0; i < 10; ++i) {
    boxes.push_back({100.0 + 3 * i, 120.0 + 2 * i, 150, 100});
    sizes.push_back({0, 0, 70, 16});
  }
  boxes.push_back({0, 0, 40, 40});  // at the top edge: no room above
  sizes.push_back({0, 0, 60, 16});
  boxes.push_back({560, 400, 80, 80});  // at the bottom-right corner
  sizes.push_back({0, 0, 90, 16});
  const auto where = render::place_labels(boxes, sizes, 640, 480);
  ASSERT_EQ(where.size(), boxes.size());
  for (size_t i = 0; i < where.size(); ++i) {
    EXPECT_GE(where[i].x, 0);
    EXPECT_GE(where[i].y, 0);
    EXPECT_LE(where[i].x + where[i].w, 640);
    EXPECT_LE(where[i].y + where[i].h, 480);
    for (size_t j = 0; j < i; ++j) EXPECT_FALSE(where[i].intersects(where[j])) << i << " " << j;
  }
  // The first (best) box keeps the usual place: above its top-left corner.
  EXPECT_EQ(where[0].x, 100);
  EXPECT_EQ(where[0].y, 120 - 16);
  // More tags than the picture holds: every one still placed, inside the image.
  std::vector<render::LabelRect> many(200, {10, 10, 50, 50}), many_sizes(200, {0, 0, 60, 20});
  for (const auto& r : render::place_labels(many, many_sizes, 100, 100)) {
    EXPECT_GE(r.y, 0);
    EXPECT_LE(r.y + r.h, 100);
  }
}

TEST(PlaceLabels, TagsAvoidWhatIsAlreadyTaken) {
  // A caption across the top-left corner: the tag of a box there goes below it, not over it.
  const render::LabelRect caption{8, 8, 200, 30};
  const auto where =
      render::place_labels({{10, 20, 100, 80}}, {{0, 0, 60, 16}}, 320, 240, {caption});
  ASSERT_EQ(where.size(), 1u);
  EXPECT_FALSE(where[0].intersects(caption));
  EXPECT_EQ(where[0].x, 10);
  // Without it, the usual place (inside the box's top, no room above) is under the caption.
  EXPECT_TRUE(
      render::place_labels({{10, 20, 100, 80}}, {{0, 0, 60, 16}}, 320, 240)[0].intersects(caption));
}

TEST(Grid, SizesAndPlacesEveryImage) {
  const std::vector<Color> colors{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
  const std::vector<Rgb8> images{solid_rgb8(120, 80, colors[0]), solid_rgb8(60, 100, colors[1]),
                                 solid_rgb8(90, 40, colors[2])};
  const Rgb8 g = render::grid(images, {"scale 1", "scale 2", "scale 3"}, 2);
  EXPECT_GE(g.width, 2 * 120);
  EXPECT_LT(g.width, 2 * 120 + 120);
  EXPECT_GE(g.height, 2 * 100 + 2 * 10);  // two rows of cells with captions
  EXPECT_LT(g.height, 2 * 100 + 200);
  for (std::size_t i = 0; i < images.size(); ++i)
    EXPECT_EQ(count_color(g, colors[i]),
              static_cast<std::size_t>(images[i].width) * images[i].height)
        << "image " << i;
  const Rgb8 row = render::grid(images, {}, 5);  // more columns than images: one row
  EXPECT_GE(row.width, 3 * 120);
  EXPECT_LT(row.height, g.height);
  const Rgb8 column = render::grid(images, {"a"}, 1);
  EXPECT_GE(column.height, 3 * 100);
  EXPECT_LT(column.width, g.width);
}

TEST(Grid, BadArgumentsThrow) {
  const std::vector<Rgb8> images{solid_rgb8(10, 10, {1, 2, 3})};
  EXPECT_THROW(render::grid({}, {}, 2), Error);
  EXPECT_THROW(render::grid(images, {}, 0), Error);
  EXPECT_THROW(render::grid(images, {"a", "b"}, 1), Error);
  EXPECT_THROW(render::grid({Rgb8{5, 5, {}}}, {}, 1), Error);
}

// ----------------------------------------------------------------------------------------------
// Sample renderings of a real photo, written for people to look at

Tensor sample_photo() {
  const fs::path chelsea = "/usr/lib/python3/dist-packages/skimage/data/chelsea.png";
  if (fs::exists(chelsea)) return overfeat::image::load_rgb(chelsea);
  Tensor t(3, 300, 451);
  for (int y = 0; y < t.h; ++y)
    for (int x = 0; x < t.w; ++x) {
      t.at(0, y, x) = 60 + 150.0f * x / t.w;
      t.at(1, y, x) = 90 + 100.0f * y / t.h;
      t.at(2, y, x) = 120;
    }
  return t;
}

// A Gaussian blob of probabilities around (cx, cy) in map cells.
std::vector<float> blob(int h, int w, double cx, double cy, double sigma, double peak) {
  std::vector<float> v(static_cast<std::size_t>(h) * w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      v[y * w + x] = static_cast<float>(
          peak * std::exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * sigma * sigma)));
  return v;
}

// OverFeat-fast-like placement: windows of 231 pixels (less on small images) every `stride`.
render::MapPlacement fast_placement(const Tensor& img, int stride, int& map_h, int& map_w) {
  const int window = std::min({231, img.h, img.w});
  map_h = (img.h - window) / stride + 1;
  map_w = (img.w - window) / stride + 1;
  const double center = (window - 1) / 2.0;
  return {center, center, static_cast<double>(stride), static_cast<double>(stride)};
}

Rgb8 sample_overlay(const Tensor& img, int stride, const render::HeatmapStyle& style) {
  int mh = 0, mw = 0;
  const render::MapPlacement where = fast_placement(img, stride, mh, mw);
  const double sigma = 0.13 * std::max(img.w, img.h) / stride;
  const auto values = blob(mh, mw, (img.w * 0.42 - where.x0) / stride,
                           (img.h * 0.45 - where.y0) / stride, sigma, 0.93);
  return render::heatmap_overlay(img, values.data(), mh, mw, where, style);
}

TEST(Samples, WritesPngsOfARealPhoto) {
  const fs::path dir = fs::path(OVERFEAT_TEST_WORK_DIR) / "render";
  fs::create_directories(dir);
  const Tensor photo = sample_photo();
  render::HeatmapStyle style;
  style.title = "tabby cat \xe2\x80\x94 scale 1 (" + std::to_string(photo.w) + "\xc3\x97" +
                std::to_string(photo.h) + "), fine stride";
  render::write_png(dir / "heatmap_viridis.png", sample_overlay(photo, 16, style));
  style.colormap = render::Colormap::Inferno;
  style.smooth = true;
  render::write_png(dir / "heatmap_inferno_smooth.png", sample_overlay(photo, 16, style));
  style.colormap = render::Colormap::Turbo;
  style.smooth = false;
  style.vmax = 0;
  render::write_png(dir / "heatmap_turbo_auto.png", sample_overlay(photo, 32, style));

  const Tensor small = overfeat::image::resize(photo, 160, 240);
  const Tensor big = overfeat::image::resize(photo, 1330, 2000);
  style.colormap = render::Colormap::Viridis;
  style.vmax = 1;
  style.title = "tabby cat \xe2\x80\x94 scale 0 (240x160), a long title that has to wrap";
  render::write_png(dir / "heatmap_small.png", sample_overlay(small, 8, style));
  style.title = "tabby cat \xe2\x80\x94 scale 5 (2000x1330), fine stride";
  render::write_png(dir / "heatmap_big.png", sample_overlay(big, 32, style));

  std::vector<render::DrawnBox> boxes;
  for (int i = 0; i < 6; ++i)
    boxes.push_back(
        {60.0f + 7 * i, 40.0f + 5 * i, 300.0f - 4 * i, 290.0f - 6 * i, 281, "", 2, true});
  boxes.push_back({70, 50, 290, 280, 281, "tabby cat 0.93"});
  boxes.push_back({300, 10, 440, 120, 285, "Egyptian cat 0.41"});
  boxes.push_back({5, 200, 120, 296, 1, "English setter 0.12"});
  render::write_png(dir / "boxes.png", render::draw_boxes(photo, boxes));
  std::vector<render::DrawnBox> big_boxes;
  for (auto b : boxes) {
    for (float* v : {&b.x1, &b.y1, &b.x2, &b.y2}) *v *= 2000.0f / photo.w;
    big_boxes.push_back(b);
  }
  render::write_png(dir / "boxes_big.png", render::draw_boxes(big, big_boxes));

  std::vector<Rgb8> scales;
  std::vector<std::string> captions;
  style.title.clear();
  style.legend = false;
  for (const double f : {0.55, 0.7, 0.85, 1.0}) {
    const Tensor s = overfeat::image::resize(photo, static_cast<int>(photo.h * f),
                                             static_cast<int>(photo.w * f));
    scales.push_back(sample_overlay(s, 16, style));
    captions.push_back("scale " + std::to_string(scales.size()) + " (" + std::to_string(s.w) + "x" +
                       std::to_string(s.h) + ")");
  }
  const Rgb8 overview = render::grid(scales, captions, 2);
  render::write_png(dir / "grid.png", overview);
  EXPECT_GE(overview.width, 2 * photo.w);
  EXPECT_TRUE(fs::exists(dir / "grid.png"));
}

// ----------------------------------------------------------------------------------------------
// .npy

std::vector<float> ramp(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(i) - 3.0f;
  return v;
}

TEST(Npy, RoundTripsShapesAndValues) {
  TempDir dir("render");
  for (const std::vector<size_t>& shape :
       {std::vector<size_t>{2, 3, 4}, std::vector<size_t>{5}, std::vector<size_t>{},
        std::vector<size_t>{0, 3}, std::vector<size_t>{1000, 1000}}) {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    const auto values = ramp(n, 0.25f);
    const fs::path file = dir / "a.npy";
    npy::write(file, values.data(), shape);
    std::vector<size_t> got_shape{99};
    EXPECT_EQ(npy::read(file, got_shape), values);
    EXPECT_EQ(got_shape, shape);
  }
}

TEST(Npy, HeaderIsVersion1AlignedTo64) {
  TempDir dir("render");
  const fs::path file = dir / "t.npy";
  Tensor t(3, 4, 5, 1.5f);
  npy::write(file, t);
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t header =
      10 + static_cast<unsigned char>(bytes[8]) + 256 * static_cast<unsigned char>(bytes[9]);
  EXPECT_EQ(header % 64, 0u);
  EXPECT_EQ(bytes.size(), header + 60 * 4);
  EXPECT_EQ(bytes[header - 1], '\n');
  EXPECT_NE(bytes.find("'shape': (3, 4, 5)"), std::string::npos);
  EXPECT_NE(bytes.find("'descr': '<f4'"), std::string::npos);
}

TEST(Npy, NumpyReadsOurFiles) {
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not installed";
  TempDir dir("render");
  const fs::path file = dir / "ours.npy";
  Tensor t(2, 3, 4);
  for (std::size_t i = 0; i < t.size(); ++i) t.data[i] = 0.5f * static_cast<float>(i);
  npy::write(file, t);
  const std::string out = run("/usr/bin/python3 -c \"import numpy; a=numpy.load('" + file.string() +
                              "'); print(a.shape, a.dtype, float(a.sum()), float(a[1,2,3]))\"");
  EXPECT_EQ(out, "(2, 3, 4) float32 138.0 11.5\n");
  const fs::path one_d = dir / "one_d.npy";
  const float three[3] = {1, 2, 4};
  npy::write(one_d, three, {3});
  EXPECT_EQ(run("/usr/bin/python3 -c \"import numpy; a=numpy.load('" + one_d.string() +
                "'); print(a.shape, a.dtype, float(a.sum()))\""),
            "(3,) float32 7.0\n");
}

TEST(Npy, WeReadNumpysFiles) {
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not installed";
  TempDir dir("render");
  const fs::path v1 = dir / "v1.npy", v2 = dir / "v2.npy", f8 = dir / "f8.npy",
                 fortran = dir / "fortran.npy";
  const std::string script =
      "import numpy; a=(numpy.arange(24, dtype='<f4')*0.5).reshape(2,3,4); numpy.save('" +
      v1.string() + "', a); f=open('" + v2.string() +
      "', 'wb'); numpy.lib.format.write_array(f, a, version=(2,0)); f.close(); numpy.save('" +
      f8.string() + "', a.astype('<f8')); numpy.save('" + fortran.string() +
      "', numpy.asfortranarray(a)); print('ok')";
  ASSERT_EQ(run("/usr/bin/python3 -c \"" + script + "\""), "ok\n");
  for (const auto& file : {v1, v2}) {
    std::vector<size_t> shape;
    const auto values = npy::read(file, shape);
    EXPECT_EQ(shape, (std::vector<size_t>{2, 3, 4})) << file;
    ASSERT_EQ(values.size(), 24u);
    for (std::size_t i = 0; i < 24; ++i) EXPECT_EQ(values[i], 0.5f * i) << file << " " << i;
  }
  std::vector<size_t> shape;
  const std::string f8_msg = error_of([&] { npy::read(f8, shape); });
  EXPECT_NE(f8_msg.find(f8.string()), std::string::npos) << f8_msg;
  EXPECT_NE(f8_msg.find("<f8"), std::string::npos) << f8_msg;
  const std::string fortran_msg = error_of([&] { npy::read(fortran, shape); });
  EXPECT_NE(fortran_msg.find(fortran.string()), std::string::npos) << fortran_msg;
  EXPECT_NE(fortran_msg.find("Fortran"), std::string::npos) << fortran_msg;
}

TEST(Npy, ErrorsNameTheFile) {
  TempDir dir("render");
  const float v[2] = {1, 2};
  const fs::path unwritable = dir / "no_such_folder" / "x.npy";
  const std::string write_msg = error_of([&] { npy::write(unwritable, v, {2}); });
  EXPECT_NE(write_msg.find(unwritable.string()), std::string::npos) << write_msg;

  std::vector<size_t> shape;
  const fs::path missing = dir / "missing.npy";
  const std::string missing_msg = error_of([&] { npy::read(missing, shape); });
  EXPECT_NE(missing_msg.find(missing.string()), std::string::npos) << missing_msg;

  const fs::path garbage = dir / "garbage.npy";
  std::ofstream(garbage) << "this is not numpy";
  const std::string garbage_msg = error_of([&] { npy::read(garbage, shape); });
  EXPECT_NE(garbage_msg.find(garbage.string()), std::string::npos) << garbage_msg;

  const fs::path truncated = dir / "truncated.npy";
  npy::write(truncated, v, {2});
  fs::resize_file(truncated, fs::file_size(truncated) - 3);
  const std::string truncated_msg = error_of([&] { npy::read(truncated, shape); });
  EXPECT_NE(truncated_msg.find(truncated.string()), std::string::npos) << truncated_msg;
  EXPECT_NE(truncated_msg.find("truncated"), std::string::npos) << truncated_msg;

  Tensor bad(2, 2, 2);
  bad.data.pop_back();
  EXPECT_THROW(npy::write(dir / "bad.npy", bad), Error);
}

}  // namespace
