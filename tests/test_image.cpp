// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "opencv_support.hpp"
#include "overfeat/error.hpp"
#include "overfeat/image.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
namespace img = overfeat::image;
using overfeat::ImageError;
using overfeat::Tensor;
using overfeat::testing::TempDir;

namespace {

// ----------------------------------------------------------------------------------------------
// Helpers

// Deterministic noise without depending on the standard library's distributions.
class Lcg {
 public:
  explicit Lcg(uint32_t seed) : state_(seed) {}
  uint32_t next() {
    state_ = state_ * 1664525u + 1013904223u;
    return state_ >> 8;
  }

 private:
  uint32_t state_;
};

// Smooth gradients, hard-edged shapes and noise: the mix that exposes a wrong filter, a wrong
// sample phase and a missing clamp in the resampler.
Tensor synthetic(int h, int w, uint32_t seed) {
  Lcg rng(seed);
  Tensor t(3, h, w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double fx = static_cast<double>(x) / w, fy = static_cast<double>(y) / h;
      double v[3] = {255 * fx, 255 * fy, 127.5 + 120 * std::sin(9 * fx + 5 * fy)};
      if ((x / 23 + y / 17) % 5 == 0) v[0] = 255, v[1] = 0;  // checker-ish blocks
      if (std::hypot(x - 0.6 * w, y - 0.4 * h) < 0.15 * std::min(h, w)) v[2] = 0;  // disc
      if (x % 41 == 7) v[0] = v[1] = v[2] = 255;  // thin vertical lines
      for (double& c : v) {
        c += static_cast<double>(rng.next() % 41) - 20.0;
        c = std::clamp(std::round(c), 0.0, 255.0);
      }
      for (int c = 0; c < 3; ++c) t.at(c, y, x) = static_cast<float>(v[c]);
    }
  return t;
}

// Two colours in small blocks, no noise: filtered values land exactly on rounding ties, which
// only an emulation that rounds like ImageMagick resolves the same way.
Tensor two_tone(int h, int w) {
  Tensor t(3, h, w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const bool on = (x / 5 + y / 3) % 2 != 0;
      t.at(0, y, x) = t.at(2, y, x) = on ? 255.0f : 0.0f;
      t.at(1, y, x) = on ? 0.0f : 255.0f;
    }
  return t;
}

using overfeat::testing::to_bgr_mat;

void write_png(const Tensor& t, const fs::path& file) {
  ASSERT_TRUE(cv::imwrite(file.string(), to_bgr_mat(t))) << file;
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ppm(int w, int h, const std::vector<uint8_t>& pixels, const std::string& header = "") {
  std::string s =
      header.empty() ? "P6\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n" : header;
  s.append(pixels.begin(), pixels.end());
  return s;
}

std::vector<uint8_t> ramp(int n, int start) {
  std::vector<uint8_t> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = static_cast<uint8_t>(start + i);
  return v;
}

void expect_pixels(const Tensor& t, int w, int h, const std::vector<uint8_t>& rgb) {
  ASSERT_EQ(t.c, 3);
  ASSERT_EQ(t.w, w);
  ASSERT_EQ(t.h, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(t.at(c, y, x), rgb[static_cast<std::size_t>((y * w + x) * 3 + c)])
            << "c=" << c << " y=" << y << " x=" << x;
}

// Runs fn and returns the ImageError message; fails the test when nothing is thrown.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const ImageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected overfeat::ImageError";
  return {};
}

Tensor read_one_ppm(const std::string& bytes) {
  std::istringstream in(bytes);
  Tensor t;
  if (!img::read_ppm(in, t)) throw std::runtime_error("empty stream");
  return t;
}

// A tensor whose value encodes its position, so crops and flips can be checked exactly.
Tensor positional(int h, int w) {
  Tensor t(3, h, w);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) t.at(c, y, x) = static_cast<float>(c * 10000 + y * 100 + x);
  return t;
}

// ----------------------------------------------------------------------------------------------
// ImageMagick and data-set plumbing

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The ImageMagick version line, or nothing when `convert` is absent or is not ImageMagick.
std::optional<std::string> imagemagick_version() {
  const fs::path out =
      fs::temp_directory_path() / ("overfeat_image_convert_version_" + std::to_string(::getpid()));
  const std::string cmd = "convert -version > " + shell_quote(out.string()) + " 2>/dev/null";
  const int rc = std::system(cmd.c_str());
  const std::string text = slurp(out);
  std::error_code ec;
  fs::remove(out, ec);
  // A stand-in or another program called convert must not pass for ImageMagick.
  const auto pos = text.find("Version: ImageMagick");
  if (rc != 0 || pos == std::string::npos) return std::nullopt;
  return text.substr(pos + 9, text.find('\n', pos) - pos - 9);
}

#define SKIP_WITHOUT_IMAGEMAGICK()                                                          \
  do {                                                                                      \
    if (!imagemagick_version())                                                             \
      GTEST_SKIP() << "ImageMagick's `convert` is not on PATH; install imagemagick to run " \
                      "the comparison with the original release's resize";                  \
  } while (0)

void run(const std::string& cmd) {
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// `convert FILE [ARGS] ppm:OUT`, read back with the PPM reader under test.
Tensor convert_to_ppm(const fs::path& in, const std::string& args, const fs::path& out) {
  run("convert " + shell_quote(in.string()) + " " + args + " ppm:" + shell_quote(out.string()));
  std::ifstream s(out, std::ios::binary);
  Tensor t;
  EXPECT_TRUE(img::read_ppm(s, t)) << "convert wrote no image to " << out;
  return t;
}

struct Diff {
  double max = 0, mean = 0;
  std::size_t differing = 0;
};

Diff difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.c, b.c);
  EXPECT_EQ(a.h, b.h);
  EXPECT_EQ(a.w, b.w);
  Diff d;
  if (a.data.size() != b.data.size() || a.data.empty()) return {1e9, 1e9};
  double sum = 0;
  for (std::size_t i = 0; i < a.data.size(); ++i) {
    const double e = std::abs(static_cast<double>(a.data[i]) - b.data[i]);
    d.max = std::max(d.max, e);
    d.differing += e != 0;
    sum += e;
  }
  d.mean = sum / static_cast<double>(a.data.size());
  return d;
}

void report(const std::string& key, const Diff& d) {
  std::printf("[ measured ] %s: max |diff| %.0f, mean |diff| %.3g, %zu values differ\n",
              key.c_str(), d.max, d.mean, d.differing);
  ::testing::Test::RecordProperty(key + "_max_abs_diff", std::to_string(d.max));
  ::testing::Test::RecordProperty(key + "_mean_abs_diff", std::to_string(d.mean));
}

using overfeat::testing::shared_data_dir;

std::vector<fs::path> voc_photographs(std::size_t count) {
  std::vector<fs::path> files;
  const auto data = shared_data_dir();
  std::error_code ec;
  if (!data || !fs::is_directory(*data / "voc2007" / "images", ec)) return files;
  for (const auto& entry : fs::directory_iterator(*data / "voc2007" / "images", ec))
    if (entry.path().extension() == ".jpg") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (files.size() > count) files.resize(count);
  return files;
}

// ----------------------------------------------------------------------------------------------
// PPM stream reader

TEST(ImagePpm, ReadsSeveralImagesFromOneStream) {
  const auto a = ramp(2 * 3 * 3, 0), b = ramp(4 * 1 * 3, 100), c = ramp(1 * 1 * 3, 250);
  // Back to back as `convert` writes them, then with stray whitespace in between and after.
  std::istringstream in(ppm(2, 3, a) + ppm(4, 1, b) + "\n \n" + ppm(1, 1, c) + "\n\n");
  Tensor t;
  ASSERT_TRUE(img::read_ppm(in, t));
  expect_pixels(t, 2, 3, a);
  ASSERT_TRUE(img::read_ppm(in, t));
  expect_pixels(t, 4, 1, b);
  ASSERT_TRUE(img::read_ppm(in, t));
  expect_pixels(t, 1, 1, c);
  EXPECT_FALSE(img::read_ppm(in, t));
  EXPECT_FALSE(img::read_ppm(in, t));  // stays at the end
}

TEST(ImagePpm, AcceptsCommentsAndAllNetpbmWhitespace) {
  const auto px = ramp(2 * 2 * 3, 7);
  expect_pixels(read_one_ppm(ppm(2, 2, px, "P6\n# made by a test\n2 # width\n\t2\r\n255\n")), 2, 2,
                px);
  expect_pixels(read_one_ppm(ppm(2, 2, px, "P6#comment straight after the magic\n2 2 255 ")), 2, 2,
                px);
  // A comment right after the maxval ends with the newline that delimits the raster.
  expect_pixels(read_one_ppm(ppm(2, 2, px, "P6 2 2 255# trailing comment\n")), 2, 2, px);
  // Pixel bytes that look like whitespace or '#' are data, not header.
  const std::vector<uint8_t> tricky = {'\n', '#', ' ', '\r', '\t', '0', 255, 0, 10, 35, 32, 9};
  expect_pixels(read_one_ppm(ppm(2, 2, tricky)), 2, 2, tricky);
}

TEST(ImagePpm, EmptyOrBlankStreamIsACleanEnd) {
  for (const std::string s : {"", " ", "\n\n\t\r\n"}) {
    std::istringstream in(s);
    Tensor t;
    EXPECT_FALSE(img::read_ppm(in, t)) << "stream: '" << s << "'";
  }
}

TEST(ImagePpm, IgnoresTheCallersStreamExceptionMask) {
  std::istringstream in(ppm(1, 1, {1, 2, 3}));
  in.exceptions(std::ios::failbit | std::ios::badbit | std::ios::eofbit);
  Tensor t;
  EXPECT_TRUE(img::read_ppm(in, t));
  EXPECT_NO_THROW(EXPECT_FALSE(img::read_ppm(in, t)));
}

TEST(ImagePpm, TruncatedPixelDataThrows) {
  const std::string msg = error_of([] { read_one_ppm(ppm(4, 4, ramp(10, 0))); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("48 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("after 10"), std::string::npos) << msg;
  // A second image cut short in a stream: the first still arrives.
  std::istringstream in(ppm(1, 1, {1, 2, 3}) + ppm(2, 2, ramp(5, 0)));
  Tensor t;
  ASSERT_TRUE(img::read_ppm(in, t));
  EXPECT_THROW(img::read_ppm(in, t), ImageError);
  // A header claiming a huge image must fail on the missing data, not on allocating it.
  EXPECT_THROW(read_one_ppm(ppm(16000, 16000, ramp(100, 0))), ImageError);
}

TEST(ImagePpm, MalformedHeadersThrow) {
  const std::vector<std::string> bad = {
      "P3\n1 1\n255\n1 2 3\n",     // ASCII PPM
      "P5\n1 1\n255\nx",           // greyscale
      "GIF89a\x01\x00\x01\x00",    // another format entirely
      "P6",                        // nothing after the magic
      "P6\n1",                     // header cut short
      "P6\n1 1\n255",              // no raster delimiter
      "P6\n-1 1\n255\nabc",        // sign
      "P6\n1 x\n255\nabc",         // letter
      "P61 1 255\nabc",            // magic not followed by whitespace
      "P6\n0 1\n255\n",            // empty
      "P6\n1 1\n65535\nabcdef",    // 16-bit samples
      "P6\n1 1\n15\nabc",          // other maxval
      "P6\n99999999999 1\n255\n",  // overflowing width
      "P6\n20000 20000\n255\n",    // over the pixel limit
      "P6\n1 1\n255xabc",          // junk where the delimiter belongs
  };
  for (const auto& s : bad) {
    const std::string msg = error_of([&] { read_one_ppm(s); });
    EXPECT_NE(msg.find("PPM"), std::string::npos) << msg;
  }
}

TEST(ImagePpm, RandomGarbageNeverCrashes) {
  Lcg rng(1234);
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes = trial % 3 == 0 ? "P6 " : "";  // sometimes get past the magic
    const int n = static_cast<int>(rng.next() % 64);
    for (int i = 0; i < n; ++i) bytes += static_cast<char>(rng.next() & 0xff);
    std::istringstream in(bytes);
    Tensor t;
    try {
      while (img::read_ppm(in, t)) {
      }
    } catch (const ImageError&) {
    }
  }
}

// ----------------------------------------------------------------------------------------------
// Decoding files

TEST(ImageLoad, ReadsAnRgbPngWrittenByOpenCv) {
  TempDir dir("image");
  const Tensor expected = synthetic(7, 5, 42);
  write_png(expected, dir / "small.png");
  const Tensor t = img::load_rgb(dir / "small.png");
  EXPECT_EQ(difference(t, expected).max, 0.0);
}

TEST(ImageLoad, ExpandsGreyAndDropsAlpha) {
  TempDir dir("image");
  cv::Mat grey(2, 3, CV_8UC1);
  for (int i = 0; i < 6; ++i) grey.data[i] = static_cast<uint8_t>(40 * i);
  ASSERT_TRUE(cv::imwrite((dir / "grey.png").string(), grey));
  cv::Mat bgra(1, 2, CV_8UC4, cv::Scalar(10, 20, 30, 0));  // fully transparent
  ASSERT_TRUE(cv::imwrite((dir / "alpha.png").string(), bgra));

  const Tensor g = img::load_rgb(dir / "grey.png");
  ASSERT_EQ(g.c, 3);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(g.at(c, 1, 2), 200.0f);
  const Tensor a = img::load_rgb(dir / "alpha.png");
  ASSERT_EQ(a.c, 3);
  EXPECT_EQ(a.at(0, 0, 1), 30.0f);
  EXPECT_EQ(a.at(1, 0, 1), 20.0f);
  EXPECT_EQ(a.at(2, 0, 1), 10.0f);
}

std::vector<uint8_t> jpeg_with_exif_orientation_6(const cv::Mat& bgr) {
  std::vector<uint8_t> jpeg;
  EXPECT_TRUE(cv::imencode(".jpg", bgr, jpeg));
  return overfeat::testing::with_exif_orientation_6(std::move(jpeg));
}

// Stored 40 wide and 20 high, its left half red and its right half blue; the tag says "turn
// 90 degrees clockwise", which puts the left half on top.
TEST(ImageLoad, TurnsAPhotoUprightByItsExifOrientation) {
  TempDir dir("image");
  cv::Mat bgr(20, 40, CV_8UC3, cv::Scalar(255, 0, 0));       // blue
  bgr(cv::Rect(0, 0, 20, 20)).setTo(cv::Scalar(0, 0, 255));  // red left half
  const auto jpeg = jpeg_with_exif_orientation_6(bgr);
  write_bytes(dir / "rotated.jpg", std::string(jpeg.begin(), jpeg.end()));
  const auto red = [](const Tensor& t, int y, int x) {
    return t.at(0, y, x) > 200.0f && t.at(2, y, x) < 60.0f;
  };
  const auto blue = [](const Tensor& t, int y, int x) {
    return t.at(2, y, x) > 200.0f && t.at(0, y, x) < 60.0f;
  };

  const Tensor up = img::load_rgb(dir / "rotated.jpg");  // the default
  ASSERT_EQ(up.h, 40);
  ASSERT_EQ(up.w, 20);
  EXPECT_TRUE(red(up, 5, 10));
  EXPECT_TRUE(blue(up, 34, 10));

  // The release's pipeline (ImageMagick without -auto-orient) read the pixels as stored.
  const Tensor stored = img::load_rgb(dir / "rotated.jpg", img::Orientation::kAsStored);
  ASSERT_EQ(stored.h, 20);
  ASSERT_EQ(stored.w, 40);
  EXPECT_TRUE(red(stored, 10, 5));
  EXPECT_TRUE(blue(stored, 10, 34));
  // The same decoded pixels, turned: nothing else changes.
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < up.h; ++y)
      for (int x = 0; x < up.w; ++x)
        ASSERT_EQ(up.at(c, y, x), stored.at(c, stored.h - 1 - x, y)) << c << " " << y << " " << x;
}

TEST(ImageLoad, CorruptFileThrowsNamingIt) {
  TempDir dir("image");
  Lcg rng(99);
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk += static_cast<char>(rng.next() & 0xff);
  write_bytes(dir / "random.jpg", junk);
  // A real header followed by garbage is the nastier case for a decoder.
  write_bytes(dir / "cut.png", "\x89PNG\r\n\x1a\n" + junk.substr(0, 100));
  write_bytes(dir / "empty.png", "");
  for (const char* name : {"random.jpg", "cut.png", "empty.png"}) {
    const fs::path file = dir / name;
    const std::string msg = error_of([&] { img::load_rgb(file); });
    EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  }
}

TEST(ImageLoad, MissingFileThrowsNamingThePath) {
  TempDir dir("image");
  const fs::path file = dir / "no such photo.jpg";
  const std::string msg = error_of([&] { img::load_rgb(file); });
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
}

TEST(ImageLoad, DirectoryIsNotAnImage) {
  TempDir dir("image");
  fs::create_directories(dir / "sub");
  const std::string msg = error_of([&] { img::load_rgb(dir / "sub"); });
  EXPECT_NE(msg.find("directory"), std::string::npos) << msg;
}

// ----------------------------------------------------------------------------------------------
// Hostile files: cut short, huge, not regular files

std::string encoded(const char* ext, const cv::Mat& bgr) {
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(cv::imencode(ext, bgr, bytes));
  return std::string(bytes.begin(), bytes.end());
}

cv::Mat noisy_bgr(int h, int w) {
  cv::Mat m(h, w, CV_8UC3);
  cv::randu(m, 0, 255);
  return m;
}

TEST(ImageProbe, ReadsTheSizeOfEveryProbedFormat) {
  const cv::Mat bgr = noisy_bgr(37, 53);
  for (const char* ext : {".jpg", ".png", ".bmp", ".ppm", ".tiff", ".webp"}) {
    const auto info = img::probe(encoded(ext, bgr));
    ASSERT_TRUE(info) << ext;
    EXPECT_EQ(info->width, 53) << ext;
    EXPECT_EQ(info->height, 37) << ext;
    EXPECT_TRUE(info->complete) << ext;
  }
  EXPECT_FALSE(img::probe("GIF89a and so on"));
}

TEST(ImageProbe, FindsJpegAndPngCutShortAnywhere) {
  // A JPEG with an EXIF thumbnail's own end marker inside APP1 must not pass for complete.
  const std::string jpeg = encoded(".jpg", noisy_bgr(120, 160));
  std::string thumb = encoded(".jpg", noisy_bgr(8, 8));
  std::string app1 = "\xff\xe1..Exif" + std::string(2, '\0') + thumb;
  app1[2] = static_cast<char>((app1.size() - 2) >> 8);
  app1[3] = static_cast<char>((app1.size() - 2) & 0xff);
  const std::string with_thumb = jpeg.substr(0, 2) + app1 + jpeg.substr(2);
  const std::string png = encoded(".png", noisy_bgr(120, 160));
  for (const std::string* whole : {&jpeg, &with_thumb, &png}) {
    ASSERT_TRUE(img::probe(*whole)->complete);
    for (double cut : {0.1, 0.5, 0.9, 0.999}) {
      const auto info = img::probe(whole->substr(0, static_cast<size_t>(whole->size() * cut)));
      ASSERT_TRUE(info);
      EXPECT_FALSE(info->complete) << info->format << " cut at " << cut;
    }
  }
  // Bytes after the end marker (some cameras append data) are not damage.
  EXPECT_TRUE(img::probe(jpeg + "trailing data")->complete);
}

TEST(ImageLoad, TruncatedJpegAndPngAreRefusedNamingTheFile) {
  TempDir dir("image");
  const std::string jpeg = encoded(".jpg", noisy_bgr(240, 320));
  const std::string png = encoded(".png", noisy_bgr(240, 320));
  write_bytes(dir / "cut.jpg", jpeg.substr(0, jpeg.size() * 9 / 10));
  write_bytes(dir / "cut2.jpg", jpeg.substr(0, jpeg.size() - 2));  // only EOI missing
  write_bytes(dir / "cut.png", png.substr(0, png.size() / 2));
  for (const char* name : {"cut.jpg", "cut2.jpg", "cut.png"}) {
    const std::string msg = error_of([&] { img::load_rgb(dir / name); });
    EXPECT_NE(msg.find((dir / name).string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("cut short"), std::string::npos) << msg;
  }
  write_bytes(dir / "whole.jpg", jpeg);
  EXPECT_EQ(img::load_rgb(dir / "whole.jpg").w, 320);
}

TEST(ImageLoad, AnImageOverThePixelLimitIsRefusedBeforeDecoding) {
  // A real PNG whose header claims 20000x20000: refused from the header, nothing allocated.
  TempDir dir("image");
  std::string png = encoded(".png", noisy_bgr(4, 4));
  for (int i = 0; i < 2; ++i) {
    const uint32_t side = 20000;
    for (int b = 0; b < 4; ++b)
      png[16 + 4 * i + b] = static_cast<char>((side >> (24 - 8 * b)) & 0xff);
  }
  write_bytes(dir / "huge.png", png);
  const std::string msg = error_of([&] { img::load_rgb(dir / "huge.png"); });
  EXPECT_NE(msg.find("20000x20000"), std::string::npos) << msg;
  EXPECT_NE(msg.find("megapixels"), std::string::npos) << msg;
  EXPECT_NE(msg.find("huge.png"), std::string::npos) << msg;
  // The limit itself decodes: a 1-pixel-high image of kMaxPixels / 8192 columns would be slow to
  // write, so check the arithmetic on the JPEG header path with a claimed size just over it.
  std::string jpeg = encoded(".jpg", noisy_bgr(8, 8));
  const size_t sof = jpeg.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 5] = static_cast<char>(0x20), jpeg[sof + 6] = 0;     // height 8192
  jpeg[sof + 7] = static_cast<char>(0x20), jpeg[sof + 8] = 0x01;  // width 8193
  write_bytes(dir / "just_over.jpg", jpeg);
  EXPECT_NE(error_of([&] { img::load_rgb(dir / "just_over.jpg"); }).find("8193x8192"),
            std::string::npos);
}

TEST(ImageLoad, SpecialFilesAreRefusedWithoutBlocking) {
  TempDir dir("image");
  const fs::path fifo = dir / "pipe.jpg";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string msg = error_of([&] { img::load_rgb(fifo); });  // would block forever
  EXPECT_NE(msg.find("named pipe"), std::string::npos) << msg;
  const std::string dev = error_of([] { img::load_rgb("/dev/zero"); });
  EXPECT_NE(dev.find("character device"), std::string::npos) << dev;
}

TEST(ImagePpm, AStreamGoesOnAfterABadImage) {
  // good, garbage, a sound header with 16-bit samples, good: both good ones arrive.
  const std::string stream = ppm(1, 1, {1, 2, 3}) + "garbage P7 bytes\n" + "P6\n2 1\n65535\n" +
                             std::string(12, '\x7f') + ppm(1, 1, {4, 5, 6});
  std::istringstream in(stream);
  Tensor t;
  std::vector<float> firsts;
  int errors = 0;
  for (;;) {
    try {
      if (!img::read_ppm(in, t)) break;
      firsts.push_back(t.data[0]);
    } catch (const ImageError&) {
      ++errors;
      if (!img::skip_to_next_ppm(in)) break;
    }
  }
  EXPECT_EQ(errors, 2);
  EXPECT_EQ(firsts, (std::vector<float>{1, 4}));
}

TEST(ImageLoad, FromRgb8HonoursTheStride) {
  const std::vector<uint8_t> buf = {1, 2, 3, 4, 5, 6, 99, 99, 7, 8, 9, 10, 11, 12, 99, 99};
  const Tensor t = img::from_rgb8(buf.data(), 2, 2, 8);
  expect_pixels(t, 2, 2, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  EXPECT_THROW(img::from_rgb8(buf.data(), 2, 2, 5), ImageError);
  EXPECT_THROW(img::from_rgb8(nullptr, 2, 2, 6), ImageError);
}

// ----------------------------------------------------------------------------------------------
// Geometry

TEST(ImageGeometry, FillSizeMatchesImageMagick) {
  // {w, h, expected w, expected h}, taken from `convert -size WxH xc: -resize 231x231^`.
  const int cases[][4] = {
      {500, 375, 308, 231},  {375, 500, 231, 308},   {300, 217, 319, 231},   {180, 400, 231, 513},
      {231, 231, 231, 231},  {100, 100, 231, 231},   {333, 500, 231, 347},   {500, 333, 347, 231},
      {641, 427, 347, 231},  {232, 231, 232, 231},   {462, 463, 231, 232},   {10, 7, 330, 231},
      {7, 10, 231, 330},     {499, 500, 231, 231},   {501, 500, 231, 231},   {3, 2, 347, 231},
      {697, 1045, 231, 346}, {20, 1000, 231, 11550}, {4000, 3000, 308, 231},
  };
  for (const auto& c : cases) {
    int h = 0, w = 0;
    img::fill_size(c[1], c[0], 231, h, w);
    EXPECT_EQ(w, c[2]) << c[0] << "x" << c[1];
    EXPECT_EQ(h, c[3]) << c[0] << "x" << c[1];
  }
  int h = 0, w = 0;
  EXPECT_THROW(img::fill_size(0, 10, 231, h, w), ImageError);
  EXPECT_THROW(img::fill_size(10, 10, 0, h, w), ImageError);
}

TEST(ImageGeometry, CenterCropUsesTheReleaseOffsets) {
  struct Case {
    int h, w, y, x;
  };
  // Odd margins round down, as the release's integer division did.
  for (const Case c : {Case{5, 9, 0, 2}, Case{5, 10, 0, 2}, Case{10, 7, 1, 0}, Case{11, 7, 2, 0},
                       Case{6, 6, 0, 0}, Case{231, 308, 0, 38}, Case{347, 231, 58, 0}}) {
    const Tensor t = img::center_crop(positional(c.h, c.w));
    const int side = std::min(c.h, c.w);
    ASSERT_EQ(t.h, side);
    ASSERT_EQ(t.w, side);
    EXPECT_EQ(t.at(0, 0, 0), c.y * 100 + c.x) << c.h << "x" << c.w;
    EXPECT_EQ(t.at(2, side - 1, side - 1), 20000 + (c.y + side - 1) * 100 + c.x + side - 1);
  }
}

TEST(ImageGeometry, FlipMirrorsColumns) {
  const Tensor t = positional(3, 4);
  const Tensor f = img::flip_horizontal(t);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 4; ++x) EXPECT_EQ(f.at(c, y, x), t.at(c, y, 3 - x));
  EXPECT_EQ(img::flip_horizontal(f).data, t.data);
}

TEST(ImageGeometry, CropCopiesTheRectangleAndChecksBounds) {
  const Tensor t = positional(6, 8);
  const Tensor r = img::crop(t, 2, 3, 4, 5);
  ASSERT_EQ(r.h, 4);
  ASSERT_EQ(r.w, 5);
  EXPECT_EQ(r.at(1, 0, 0), 10000 + 203);
  EXPECT_EQ(r.at(2, 3, 4), 20000 + 507);
  EXPECT_EQ(img::crop(t, 0, 0, 6, 8).data, t.data);
  EXPECT_THROW(img::crop(t, -1, 0, 2, 2), ImageError);
  EXPECT_THROW(img::crop(t, 0, -1, 2, 2), ImageError);
  EXPECT_THROW(img::crop(t, 5, 0, 2, 2), ImageError);
  EXPECT_THROW(img::crop(t, 0, 7, 2, 2), ImageError);
  EXPECT_THROW(img::crop(t, 0, 0, 0, 2), ImageError);
  EXPECT_THROW(img::crop(t, 0, 0, 2, -3), ImageError);
  EXPECT_THROW(img::crop(t, 1, 1, 2147483647, 1), ImageError);
  EXPECT_THROW(img::crop(Tensor(), 0, 0, 1, 1), ImageError);
}

// ----------------------------------------------------------------------------------------------
// Resizing

TEST(ImageResize, GeneralResizeKeepsConstantsAndIsNotRounded) {
  Tensor flat(3, 40, 30, 77.25f);
  for (auto [h, w] : {std::pair{20, 15}, std::pair{90, 61}, std::pair{13, 50}}) {
    const Tensor r = img::resize(flat, h, w);
    ASSERT_EQ(r.h, h);
    ASSERT_EQ(r.w, w);
    for (float v : r.data) ASSERT_NEAR(v, 77.25f, 1e-3f);
  }
  const Tensor up = img::resize(positional(2, 2), 2, 4);  // 0 .. 1 across: halves appear
  EXPECT_FLOAT_EQ(up.at(0, 0, 1), 0.25f);
  const Tensor down = img::resize(positional(1, 4), 1, 2);  // area: mean of pairs
  EXPECT_FLOAT_EQ(down.at(0, 0, 0), 0.5f);
  EXPECT_FLOAT_EQ(down.at(0, 0, 1), 2.5f);
  EXPECT_THROW(img::resize(flat, 0, 5), ImageError);
}

TEST(ImageResize, ImageMagickResizeKeepsConstantsAndRounds) {
  for (auto [h, w] : {std::pair{20, 15}, std::pair{90, 61}, std::pair{40, 30}, std::pair{40, 7}}) {
    const Tensor r = img::resize_like_imagemagick(Tensor(3, 40, 30, 77.0f), h, w);
    ASSERT_EQ(r.h, h);
    ASSERT_EQ(r.w, w);
    for (float v : r.data) ASSERT_EQ(v, 77.0f);
  }
  const Tensor r = img::resize_like_imagemagick(synthetic(50, 40, 3), 33, 27);
  for (float v : r.data) ASSERT_EQ(v, std::round(v));
  EXPECT_THROW(img::resize_like_imagemagick(Tensor(), 3, 3), ImageError);
}

// ----------------------------------------------------------------------------------------------
// Against ImageMagick itself (the original release's preprocessing)

TEST(ImageMagickParity, FillSizeMatchesConvert) {
  SKIP_WITHOUT_IMAGEMAGICK();
  TempDir dir("image");
  for (auto [w, h] : {std::pair{301, 217}, std::pair{179, 403}, std::pair{641, 427},
                      std::pair{1023, 767}, std::pair{462, 463}}) {
    const fs::path out = dir / "size.txt";
    run("convert -size " + std::to_string(w) + "x" + std::to_string(h) +
        " xc:gray -resize '231x231^' -format '%w %h' info: > " + shell_quote(out.string()));
    std::istringstream s(slurp(out));
    int iw = 0, ih = 0, ow = 0, oh = 0;
    s >> iw >> ih;
    img::fill_size(h, w, 231, oh, ow);
    EXPECT_EQ(ow, iw) << w << "x" << h;
    EXPECT_EQ(oh, ih) << w << "x" << h;
  }
}

// Tolerances: the emulation follows ImageMagick 6 Q16's arithmetic (16-bit intermediate,
// border renormalisation, pass order, 8-bit output scaling); what remains is the polynomial
// sinc ImageMagick uses and summation order, which can flip a rounding now and then.
constexpr double kMaxDiff = 1.0;
constexpr double kMeanDiff = 0.01;

TEST(ImageMagickParity, ResizeMatchesConvertOnSyntheticImages) {
  SKIP_WITHOUT_IMAGEMAGICK();
  RecordProperty("imagemagick", *imagemagick_version());
  TempDir dir("image");
  struct Case {
    int w, h;
    bool noisy;
  };
  // Enlarging (Mitchell) and shrinking (Lanczos) cases, landscape and portrait.
  for (const Case c :
       {Case{300, 217, true}, Case{180, 400, true}, Case{500, 375, true}, Case{333, 999, true},
        Case{232, 230, true}, Case{380, 330, false}, Case{66, 76, false}}) {
    const auto [w, h, noisy] = c;
    const std::string name =
        std::to_string(w) + "x" + std::to_string(h) + (noisy ? "" : "_two_tone");
    const Tensor src =
        noisy ? synthetic(h, w, static_cast<uint32_t>(w * 7919 + h)) : two_tone(h, w);
    write_png(src, dir / (name + ".png"));
    const Tensor theirs =
        convert_to_ppm(dir / (name + ".png"), "-resize '231x231^'", dir / (name + ".ppm"));
    int oh = 0, ow = 0;
    img::fill_size(h, w, 231, oh, ow);
    const Tensor ours = img::resize_like_imagemagick(img::load_rgb(dir / (name + ".png")), oh, ow);
    const Diff d = difference(ours, theirs);
    report("synthetic_" + name, d);
    EXPECT_LE(d.max, kMaxDiff) << name;
    EXPECT_LT(d.mean, kMeanDiff) << name;
  }
}

TEST(ImageMagickParity, ResizeMatchesConvertOnPhotographs) {
  SKIP_WITHOUT_IMAGEMAGICK();
  const auto photos = voc_photographs(4);
  if (photos.empty())
    GTEST_SKIP() << "no VOC2007 photographs found (looked in $OVERFEAT_SHARED_DATA, else "
                    "shared/data/voc2007/images beside the working directory or its ancestors)";
  TempDir dir("image");
  for (const fs::path& photo : photos) {
    const std::string name = photo.stem().string();
    const Tensor theirs = convert_to_ppm(photo, "-resize '231x231^'", dir / (name + "_r.ppm"));
    // ImageMagick's own decode (the release's `convert FILE ppm:-`) isolates the resampler
    // from JPEG decoder differences.
    const Tensor decoded = convert_to_ppm(photo, "", dir / (name + ".ppm"));
    int oh = 0, ow = 0;
    img::fill_size(decoded.h, decoded.w, 231, oh, ow);
    const Diff d = difference(img::resize_like_imagemagick(decoded, oh, ow), theirs);
    report("photo_" + name, d);
    EXPECT_LE(d.max, kMaxDiff) << photo;
    EXPECT_LT(d.mean, kMeanDiff) << photo;
    // End to end through OpenCV's JPEG decoder: only decoder rounding differs.
    const Diff e = difference(img::resize_like_imagemagick(img::load_rgb(photo), oh, ow), theirs);
    report("photo_" + name + "_opencv_decode", e);
    EXPECT_LE(e.max, 8.0) << photo;
    EXPECT_LT(e.mean, 0.25) << photo;
  }
}

}  // namespace
