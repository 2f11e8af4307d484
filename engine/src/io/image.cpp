// SPDX-License-Identifier: MIT
#include "overfeat/image.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "overfeat/error.hpp"
#include "overfeat/files.hpp"

namespace overfeat::image {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw ImageError(message);
}

std::string dims(int h, int w) {
  return std::to_string(w) + "x" + std::to_string(h);
}

void check_tensor(const Tensor& t, const char* what) {
  if (t.c <= 0 || t.h <= 0 || t.w <= 0 ||
      t.data.size() != static_cast<std::size_t>(t.c) * t.h * t.w)
    fail(std::string(what) + ": the image tensor is empty or its data does not match its " +
         std::to_string(t.c) + "x" + std::to_string(t.h) + "x" + std::to_string(t.w) +
         " shape; pass a decoded image");
}

void check_size(int h, int w, const char* what) {
  if (h <= 0 || w <= 0)
    fail(std::string(what) + ": requested size " + dims(h, w) + " is not positive");
}

// ---------------------------------------------------------------------------------------------
// Decoding

void check_pixels(long long width, long long height, const std::string& name) {
  if (width <= 0 || height <= 0 || width * height <= kMaxPixels) return;
  const double side = std::sqrt(static_cast<double>(kMaxPixels));
  fail("image " + name + " is " + std::to_string(width) + "x" + std::to_string(height) + " (" +
       std::to_string(width * height / 1000000) + " megapixels); images of at most " +
       std::to_string(kMaxPixels / 1000000) + " megapixels (e.g. " +
       std::to_string(static_cast<int>(side)) + "x" + std::to_string(static_cast<int>(side)) +
       ") are decoded, so that one image cannot take the machine's memory. Shrink it first, e.g. "
       "`convert IMAGE -resize 4096x4096 smaller.jpg`");
}

Tensor from_bgr_mat(const cv::Mat& bgr) {
  Tensor out(3, bgr.rows, bgr.cols);
  for (int y = 0; y < bgr.rows; ++y) {
    const auto* row = bgr.ptr<cv::Vec3b>(y);
    for (int x = 0; x < bgr.cols; ++x)
      for (int c = 0; c < 3; ++c) out.at(c, y, x) = row[x][2 - c];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Binary PPM stream

// Callers may have armed exceptions on the stream; the parser reports problems as ImageError
// instead, so the mask is lifted for the duration of a read.
class ExceptionMaskGuard {
 public:
  explicit ExceptionMaskGuard(std::istream& in) : in_(in), saved_(in.exceptions()) {
    in_.exceptions(std::ios::goodbit);
  }
  ~ExceptionMaskGuard() {
    try {
      in_.exceptions(saved_);
    } catch (...) {  // re-arming throws when the stream already failed; the caller sees the state
    }
  }
  ExceptionMaskGuard(const ExceptionMaskGuard&) = delete;
  ExceptionMaskGuard& operator=(const ExceptionMaskGuard&) = delete;

 private:
  std::istream& in_;
  std::ios::iostate saved_;
};

// Netpbm whitespace: blanks, TABs, CRs, LFs (and the VT/FF that isspace also accepts).
bool is_pnm_space(int ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

constexpr const char* kPpmHint =
    "; the stream must hold binary PPM images (P6, maxval 255), e.g. from `convert FILE ppm:-`";

[[noreturn]] void ppm_fail(const std::string& problem) {
  fail("PPM input stream: " + problem + kPpmHint);
}

// Garbage streams put arbitrary bytes into messages; keep those printable.
std::string describe_byte(int ch) {
  if (ch > ' ' && ch < 127) return std::string("'") + static_cast<char>(ch) + "'";
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", ch & 0xff);
  return std::string("byte ") + hex;
}

// Skips whitespace and '#' comments (a comment runs to the end of its line).
void skip_space_and_comments(std::istream& in) {
  for (int ch = in.peek(); ch != std::char_traits<char>::eof(); ch = in.peek()) {
    if (ch == '#') {
      while (ch != std::char_traits<char>::eof() && ch != '\n' && ch != '\r') ch = in.get();
    } else if (is_pnm_space(ch)) {
      in.get();
    } else {
      return;
    }
  }
}

int read_header_number(std::istream& in, const char* field, long long max) {
  skip_space_and_comments(in);
  int ch = in.peek();
  if (ch == std::char_traits<char>::eof()) ppm_fail(std::string("header ends before the ") + field);
  if (ch < '0' || ch > '9')
    ppm_fail("header has " + describe_byte(ch) + " where the " + field + " should be");
  long long value = 0;
  for (ch = in.peek(); ch >= '0' && ch <= '9'; ch = in.peek()) {
    value = value * 10 + (in.get() - '0');
    if (value > max) ppm_fail(std::string(field) + " exceeds " + std::to_string(max));
  }
  return static_cast<int>(value);
}

// The raster starts after exactly one whitespace character; like libnetpbm, a comment in that
// place counts as the delimiter (its line end is the whitespace).
void read_raster_delimiter(std::istream& in) {
  int ch = in.get();
  if (ch == '#') {
    while (ch != std::char_traits<char>::eof() && ch != '\n' && ch != '\r') ch = in.get();
  }
  if (ch == std::char_traits<char>::eof()) ppm_fail("header ends without pixel data");
  if (!is_pnm_space(ch)) ppm_fail("no whitespace between the maxval and the pixel data");
}

// Reads row by row so that a garbage header claiming a huge image costs only what the stream
// actually holds before it runs dry.
void read_raster(std::istream& in, int w, int h, std::vector<uint8_t>& bytes) {
  const std::size_t row = static_cast<std::size_t>(w) * 3;
  const std::size_t total = row * h;
  bytes.clear();
  while (bytes.size() < total) {
    const std::size_t have = bytes.size();
    bytes.resize(have + row);
    in.read(reinterpret_cast<char*>(bytes.data() + have), static_cast<std::streamsize>(row));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got < row)
      ppm_fail("pixel data truncated: a " + dims(h, w) + " image needs " + std::to_string(total) +
               " bytes but the stream ended after " + std::to_string(have + got) +
               " (the producer stopped early or the data is corrupt)");
  }
}

// ---------------------------------------------------------------------------------------------
// ImageMagick 6 (Q16, non-HDRI) `-resize` emulation. Values travel as 16-bit quanta, the pass
// between the two 1-D filters included, because the clamping and rounding there are part of
// what ImageMagick produced.

constexpr double kQuantumRange = 65535.0;
constexpr double kMagickEpsilon = 1.0e-12;
constexpr double kPi = 3.14159265358979323846264338327950288;

double sinc(double x) {
  if (x == 0.0) return 1.0;
  const double a = kPi * x;
  return std::sin(a) / a;
}

// Lanczos-3 (sinc windowed by a 3x wider sinc) and Mitchell-Netravali (B = C = 1/3) are what
// ImageMagick 6 picks by default for shrinking and enlarging.
struct Filter {
  double support;
  double (*weight)(double x);
};

// Evaluated in ImageMagick's operation order: on black-and-white edges the filtered values land
// exactly on rounding ties, and the last bit decides which way they go.
double lanczos3(double x) {
  constexpr double kWindowScale = 1.0 / 3.0;
  return sinc(x * kWindowScale) * sinc(x);
}

double mitchell(double x) {
  constexpr double B = 1.0 / 3.0, C = 1.0 / 3.0;
  constexpr double p0 = 1.0 - (1.0 / 3.0) * B, p2 = -3.0 + 2 * B + C, p3 = 2.0 - 1.5 * B - C;
  constexpr double q0 = (4.0 / 3.0) * B + 4.0 * C, q1 = -8.0 * C - 2 * B, q2 = B + 5.0 * C,
                   q3 = (-1.0 / 6.0) * B - C;
  if (x < 1.0) return p0 + x * (x * (p2 + x * p3));
  if (x < 2.0) return q0 + x * (q1 + x * (q2 + x * q3));
  return 0.0;
}

// ImageMagick decides by area, and (since it knows the file) also uses Mitchell for palette,
// greyscale-encoded and alpha images; a tensor cannot say which it came from, so truecolour is
// assumed.
Filter choose_filter(double x_factor, double y_factor) {
  if (x_factor * y_factor > 1.0) return {2.0, mitchell};
  return {3.0, lanczos3};
}

// Taps of one output sample: the input indices [start, start + weights.size()).
struct Taps {
  int start = 0;
  std::vector<double> weights;
};

// ImageMagick widens the filter by the reduction factor, truncates it at the image border and
// renormalises what is left (no edge replication).
std::vector<Taps> contributions(const Filter& f, int in_len, int out_len) {
  const double factor = static_cast<double>(out_len) / in_len;
  double scale = std::max(1.0 / factor + kMagickEpsilon, 1.0);
  const double support = std::max(scale * f.support, 0.5);
  scale = 1.0 / scale;
  std::vector<Taps> taps(out_len);
  for (int o = 0; o < out_len; ++o) {
    const double center = (o + 0.5) / factor + kMagickEpsilon;
    const int start = static_cast<int>(std::max(center - support + 0.5, 0.0));
    const int stop =
        static_cast<int>(std::min(center + support + 0.5, static_cast<double>(in_len)));
    Taps& t = taps[o];
    t.start = start;
    double density = 0.0;
    for (int i = start; i < stop; ++i) {
      t.weights.push_back(f.weight(std::abs(scale * (i - center + 0.5))));
      density += t.weights.back();
    }
    if (density != 0.0 && density != 1.0) {
      const double reciprocal = 1.0 / density;
      for (double& w : t.weights) w *= reciprocal;
    }
  }
  return taps;
}

double clamp_to_quantum(double v) {
  if (v <= 0.0) return 0.0;
  if (v >= kQuantumRange) return kQuantumRange;
  return std::floor(v + 0.5);
}

// What ImageMagick's PPM writer does to a 16-bit quantum at depth 8.
float quantum_to_char(double q) {
  const auto v = static_cast<unsigned>(q) + 128u;
  return static_cast<float>((v - (v >> 8)) >> 8);
}

Tensor filter_horizontal(const Tensor& in, const Filter& f, int out_w) {
  const std::vector<Taps> taps = contributions(f, in.w, out_w);
  Tensor out(in.c, in.h, out_w);
  for (int c = 0; c < in.c; ++c)
    for (int y = 0; y < in.h; ++y) {
      const float* src = &in.data[(static_cast<std::size_t>(c) * in.h + y) * in.w];
      for (int x = 0; x < out_w; ++x) {
        const Taps& t = taps[x];
        double sum = 0.0;
        for (std::size_t k = 0; k < t.weights.size(); ++k) sum += t.weights[k] * src[t.start + k];
        out.at(c, y, x) = static_cast<float>(clamp_to_quantum(sum));
      }
    }
  return out;
}

Tensor filter_vertical(const Tensor& in, const Filter& f, int out_h) {
  const std::vector<Taps> taps = contributions(f, in.h, out_h);
  Tensor out(in.c, out_h, in.w);
  std::vector<double> sum(in.w);
  for (int c = 0; c < in.c; ++c)
    for (int y = 0; y < out_h; ++y) {
      const Taps& t = taps[y];
      std::fill(sum.begin(), sum.end(), 0.0);
      for (std::size_t k = 0; k < t.weights.size(); ++k) {
        const float* src = &in.data[(static_cast<std::size_t>(c) * in.h + t.start + k) * in.w];
        for (int x = 0; x < in.w; ++x) sum[x] += t.weights[k] * src[x];
      }
      for (int x = 0; x < in.w; ++x) out.at(c, y, x) = static_cast<float>(clamp_to_quantum(sum[x]));
    }
  return out;
}

Tensor to_quantum(const Tensor& rgb) {
  Tensor q = rgb;
  // NaN becomes black rather than undefined behaviour in the integer conversions downstream.
  for (float& v : q.data) v = std::isnan(v) ? 0.0f : std::clamp(v, 0.0f, 255.0f) * 257.0f;
  return q;
}

}  // namespace

Tensor load_rgb(const std::filesystem::path& file, Orientation orientation) {
  const std::string name = "'" + file.string() + "'";
  if (const auto problem = files::problem(file, kMaxFileBytes))
    fail("image file " + name + " " + *problem +
         (problem->find("does not exist") != std::string::npos ? "; check the path"
          : problem->find("directory") != std::string::npos    ? "; name an image inside it"
                                                               : "; give an image file"));
  std::string bytes;
  try {
    bytes = files::read_all(file, kMaxFileBytes, "image file");
  } catch (const ImageError&) {
    throw;
  } catch (const Error& e) {
    fail(e.what());
  }
  if (bytes.empty()) fail("image file " + name + " is empty (0 bytes)");
  if (const auto info = probe(bytes)) {
    if (!info->complete)
      fail("image file " + name + " is cut short: the " + info->format +
           " data stops before its end marker (" + std::to_string(bytes.size()) +
           " bytes; an interrupted download or copy?); get the file again");
    if (info->width == 0 || info->height == 0)
      fail("image file " + name + " has an empty size in its " + info->format + " header");
    check_pixels(info->width, info->height, name);
  }
  cv::Mat bgr;
  try {
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8U, bytes.data());
    bgr = cv::imdecode(encoded, orientation == Orientation::kUpright
                                    ? cv::IMREAD_COLOR
                                    : cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception& e) {
    fail("could not decode image " + name + " (" + e.what() +
         "); the file is corrupt or in an unsupported format, convert it to PNG or JPEG");
  } catch (const std::bad_alloc&) {
    fail("out of memory decoding image " + name + "; shrink it (e.g. `convert " + file.string() +
         " -resize 4096x4096 smaller.png`)");
  }
  if (bgr.empty())
    fail("could not decode image " + name +
         ": it is corrupt or not an image format OpenCV supports (JPEG, PNG, BMP, PNM, TIFF, "
         "WebP, ...); convert it to PNG or JPEG");
  if (bgr.depth() != CV_8U || bgr.channels() != 3)
    fail("image " + name +
         " decoded to an unexpected pixel format; convert it to an 8-bit RGB PNG or JPEG");
  check_pixels(bgr.cols, bgr.rows, name);  // formats whose header probe() does not read
  return from_bgr_mat(bgr);
}

Tensor from_rgb8(const uint8_t* pixels, int width, int height, int stride_bytes) {
  check_size(height, width, "from_rgb8");
  if (pixels == nullptr) fail("from_rgb8: no pixel buffer given");
  if (static_cast<long long>(stride_bytes) < 3LL * width)
    fail("from_rgb8: row stride " + std::to_string(stride_bytes) + " bytes is shorter than a " +
         std::to_string(width) + "-pixel RGB row");
  Tensor out(3, height, width);
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = pixels + static_cast<std::size_t>(y) * stride_bytes;
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) out.at(c, y, x) = row[3 * x + c];
  }
  return out;
}

bool read_ppm(std::istream& in, Tensor& out) {
  ExceptionMaskGuard guard(in);
  // Whitespace between concatenated images (or trailing a stream) is tolerated, not required.
  while (is_pnm_space(in.peek())) in.get();
  const int p = in.get();
  if (p == std::char_traits<char>::eof()) return false;
  const int kind = in.get();
  if (p != 'P' || kind != '6') {
    if (p == 'P' && kind >= '1' && kind <= '7')
      ppm_fail(std::string("found a P") + static_cast<char>(kind) + " image, only P6 is supported");
    ppm_fail("does not start with the P6 magic number");
  }
  if (!is_pnm_space(in.peek()) && in.peek() != '#')
    ppm_fail("no whitespace after the P6 magic number");
  // 2^24 per side and 2^28 pixels keep every size computation far from overflow.
  constexpr long long kMaxSide = 1LL << 24;
  const int w = read_header_number(in, "width", kMaxSide);
  const int h = read_header_number(in, "height", kMaxSide);
  const int maxval = read_header_number(in, "maxval", 65535);
  if (w == 0 || h == 0) ppm_fail("image size " + dims(h, w) + " is empty");
  if (static_cast<long long>(w) * h > kMaxPixels)
    ppm_fail("image size " + dims(h, w) + " is over the limit of " +
             std::to_string(kMaxPixels / 1000000) + " megapixels");
  read_raster_delimiter(in);
  if (maxval != 255) {
    // The header is sound, so the raster's length is known: skip it, and the next image of the
    // stream can still be read.
    const long long sample_bytes = maxval > 255 ? 2 : 1;
    in.ignore(static_cast<std::streamsize>(3LL * w * h * sample_bytes));
    ppm_fail("maxval is " + std::to_string(maxval) +
             " but only 8-bit data (maxval 255) is supported; add `-depth 8` to the convert "
             "command");
  }
  std::vector<uint8_t> bytes;
  read_raster(in, w, h, bytes);
  out = from_rgb8(bytes.data(), w, h, w * 3);
  return true;
}

bool skip_to_next_ppm(std::istream& in) {
  ExceptionMaskGuard guard(in);
  for (int ch = in.get(); ch != std::char_traits<char>::eof(); ch = in.get()) {
    if (ch != 'P' || in.peek() != '6') continue;
    // Back to the 'P' (one character of putback is all a stream promises): read_ppm starts at
    // the magic number, and throws again if this "P6" was not one, after consuming it.
    in.unget();
    if (in) return true;
    in.clear();
    return false;
  }
  return false;
}

void fill_size(int in_h, int in_w, int side, int& out_h, int& out_w) {
  check_size(in_h, in_w, "fill_size");
  if (side <= 0) fail("fill_size: target side " + std::to_string(side) + " is not positive");
  // Same arithmetic as ImageMagick's ParseMetaGeometry for "SxS^", rounding included.
  const double scale = std::max(static_cast<double>(side) / in_w, static_cast<double>(side) / in_h);
  const double limit = std::numeric_limits<int>::max();
  out_w = static_cast<int>(std::clamp(std::floor(scale * in_w + 0.5), 1.0, limit));
  out_h = static_cast<int>(std::clamp(std::floor(scale * in_h + 0.5), 1.0, limit));
}

Tensor resize_like_imagemagick(const Tensor& rgb, int out_h, int out_w) {
  check_tensor(rgb, "resize_like_imagemagick");
  check_size(out_h, out_w, "resize_like_imagemagick");
  Tensor q = to_quantum(rgb);
  if (out_h != rgb.h || out_w != rgb.w) {
    const double x_factor = static_cast<double>(out_w) / rgb.w;
    const double y_factor = static_cast<double>(out_h) / rgb.h;
    const Filter f = choose_filter(x_factor, y_factor);
    // ImageMagick filters the direction with the larger factor first (vertical on a tie); the
    // order matters because the intermediate image is clamped and rounded.
    if (x_factor > y_factor)
      q = filter_vertical(filter_horizontal(q, f, out_w), f, out_h);
    else
      q = filter_horizontal(filter_vertical(q, f, out_h), f, out_w);
  } else {
    for (float& v : q.data) v = static_cast<float>(clamp_to_quantum(v));
  }
  for (float& v : q.data) v = quantum_to_char(v);
  return q;
}

Tensor resize(const Tensor& rgb, int out_h, int out_w) {
  check_tensor(rgb, "resize");
  check_size(out_h, out_w, "resize");
  const bool shrinking = out_h <= rgb.h && out_w <= rgb.w;
  const int method = shrinking ? cv::INTER_AREA : cv::INTER_LINEAR;
  Tensor out(rgb.c, out_h, out_w);
  // Planes are resized in place as single-channel views: no interleaving, any channel count.
  for (int c = 0; c < rgb.c; ++c) {
    const cv::Mat src(rgb.h, rgb.w, CV_32F,
                      const_cast<float*>(&rgb.data[static_cast<std::size_t>(c) * rgb.h * rgb.w]));
    cv::Mat dst(out_h, out_w, CV_32F, &out.data[static_cast<std::size_t>(c) * out_h * out_w]);
    cv::resize(src, dst, dst.size(), 0, 0, method);
  }
  return out;
}

Tensor center_crop(const Tensor& rgb) {
  check_tensor(rgb, "center_crop");
  const int side = std::min(rgb.h, rgb.w);
  if (rgb.h < rgb.w) return crop(rgb, 0, (rgb.w - side) / 2, side, side);
  return crop(rgb, (rgb.h - side) / 2, 0, side, side);
}

Tensor crop(const Tensor& rgb, int y, int x, int h, int w) {
  check_tensor(rgb, "crop");
  if (h <= 0 || w <= 0 || y < 0 || x < 0 || static_cast<long long>(y) + h > rgb.h ||
      static_cast<long long>(x) + w > rgb.w)
    fail("crop: rectangle " + dims(h, w) + " at (x=" + std::to_string(x) +
         ", y=" + std::to_string(y) + ") does not lie inside the " + dims(rgb.h, rgb.w) + " image");
  Tensor out(rgb.c, h, w);
  for (int c = 0; c < rgb.c; ++c)
    for (int r = 0; r < h; ++r) {
      const float* src = &rgb.data[(static_cast<std::size_t>(c) * rgb.h + y + r) * rgb.w + x];
      std::copy(src, src + w, &out.at(c, r, 0));
    }
  return out;
}

Tensor flip_horizontal(const Tensor& rgb) {
  check_tensor(rgb, "flip_horizontal");
  Tensor out(rgb.c, rgb.h, rgb.w);
  for (int c = 0; c < rgb.c; ++c)
    for (int y = 0; y < rgb.h; ++y)
      for (int x = 0; x < rgb.w; ++x) out.at(c, y, x) = rgb.at(c, y, rgb.w - 1 - x);
  return out;
}

}  // namespace overfeat::image
