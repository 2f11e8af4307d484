// SPDX-License-Identifier: MIT
#include "overfeat/npy.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <system_error>

#include "overfeat/error.hpp"

namespace overfeat::npy {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw Error(file.string() + ": " + what);
}

// .npy data and header lengths are little-endian; swap on a big-endian host.
void to_little_endian(char* bytes, std::size_t count, std::size_t width) {
  if constexpr (std::endian::native == std::endian::big)
    for (std::size_t i = 0; i < count; ++i)
      std::reverse(bytes + i * width, bytes + (i + 1) * width);
}

std::string shape_text(const std::vector<size_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Magic, version 1.0, header length, then the dict padded with spaces and a newline so the data
// starts at a multiple of 64 bytes, as NumPy itself writes it.
std::string header_for(const std::vector<size_t>& shape) {
  std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text(shape) + ", }";
  const std::size_t fixed = kMagicSize + 4;
  const std::size_t total = (fixed + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - fixed - dict.size() - 1, ' ');
  dict += '\n';
  const auto len = static_cast<uint16_t>(dict.size());
  std::string out(kMagic, kMagicSize);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  return out + dict;
}

std::size_t element_count(const std::vector<size_t>& shape) {
  std::size_t n = 1;
  for (std::size_t d : shape) {
    if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d) return 0;
    n *= d;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Header parsing (the dict NumPy writes with repr: quoted keys, a tuple shape)

std::size_t value_start(const std::string& dict, const std::string& key) {
  for (const char q : {'\'', '"'}) {
    const auto at = dict.find(q + key + q);
    if (at == std::string::npos) continue;
    auto colon = dict.find(':', at + key.size() + 2);
    if (colon == std::string::npos) return std::string::npos;
    ++colon;
    while (colon < dict.size() && std::isspace(static_cast<unsigned char>(dict[colon]))) ++colon;
    return colon;
  }
  return std::string::npos;
}

std::string parse_descr(const std::string& dict) {
  const auto at = value_start(dict, "descr");
  if (at == std::string::npos || at >= dict.size()) return {};
  const char q = dict[at];
  const auto end = dict.find(q, at + 1);
  if ((q != '\'' && q != '"') || end == std::string::npos) return {};
  return dict.substr(at + 1, end - at - 1);
}

bool parse_shape(const std::string& dict, std::vector<size_t>& shape) {
  auto at = value_start(dict, "shape");
  if (at == std::string::npos || at >= dict.size() || dict[at] != '(') return false;
  const auto end = dict.find(')', at);
  if (end == std::string::npos) return false;
  shape.clear();
  for (std::size_t i = at + 1; i < end;) {
    const char ch = dict[i];
    if (std::isdigit(static_cast<unsigned char>(ch))) {
      std::size_t used = 0;
      shape.push_back(std::stoull(dict.substr(i, end - i), &used));
      i += used;
    } else if (ch == ',' || std::isspace(static_cast<unsigned char>(ch))) {
      ++i;
    } else {
      return false;
    }
  }
  return true;
}

void check_header(const std::filesystem::path& file, const std::string& dict,
                  std::vector<size_t>& shape) {
  const std::string descr = parse_descr(dict);
  if (descr != "<f4")
    fail(file, "dtype '" + descr + "' is not supported; save the array as float32 ('<f4')");
  const auto fortran = value_start(dict, "fortran_order");
  if (fortran == std::string::npos || dict.compare(fortran, 5, "False") != 0)
    fail(file, "Fortran-order arrays are not supported; save with numpy.ascontiguousarray");
  if (!parse_shape(dict, shape)) fail(file, "malformed .npy header (no shape tuple)");
}

std::string read_header(const std::filesystem::path& file, std::ifstream& in) {
  char pre[kMagicSize + 2] = {};
  if (!in.read(pre, sizeof pre) || std::memcmp(pre, kMagic, kMagicSize) != 0)
    fail(file, "not a NumPy .npy file (bad magic)");
  const int major = static_cast<unsigned char>(pre[kMagicSize]);
  if (major != 1 && major != 2)
    fail(file, ".npy format version " + std::to_string(major) + " is not supported (1 or 2)");
  unsigned char len_bytes[4] = {};
  const std::size_t len_size = major == 1 ? 2 : 4;
  if (!in.read(reinterpret_cast<char*>(len_bytes), static_cast<std::streamsize>(len_size)))
    fail(file, "truncated .npy header");
  uint32_t len = 0;
  for (std::size_t i = len_size; i-- > 0;) len = len << 8 | len_bytes[i];
  std::string dict(len, '\0');
  if (!in.read(dict.data(), len)) fail(file, "truncated .npy header");
  return dict;
}

}  // namespace

void write(const std::filesystem::path& file, const float* data, const std::vector<size_t>& shape) {
  const std::size_t n = element_count(shape);
  if (n > 0 && !data) fail(file, "no data to write");
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) fail(file, "cannot open for writing (check the folder exists and is writable)");
  const std::string header = header_for(shape);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  std::vector<char> bytes(n * sizeof(float));
  if (n) std::memcpy(bytes.data(), data, bytes.size());
  to_little_endian(bytes.data(), n, sizeof(float));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) fail(file, "write failed (disk full?)");
}

void write(const std::filesystem::path& file, const Tensor& t) {
  const std::vector<size_t> shape{static_cast<size_t>(std::max(t.c, 0)),
                                  static_cast<size_t>(std::max(t.h, 0)),
                                  static_cast<size_t>(std::max(t.w, 0))};
  if (t.c < 0 || t.h < 0 || t.w < 0 || t.data.size() != element_count(shape))
    fail(file, "the tensor's data does not match its " + shape_text(shape) + " shape");
  write(file, t.data.data(), shape);
}

std::vector<float> read(const std::filesystem::path& file, std::vector<size_t>& shape) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot open for reading (missing or unreadable)");
  check_header(file, read_header(file, in), shape);
  const std::size_t n = element_count(shape);
  const auto data_start = static_cast<std::uintmax_t>(in.tellg());
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(file, ec);
  const bool overflow = n == 0 && std::find(shape.begin(), shape.end(), 0) == shape.end();
  if (ec || overflow || size < data_start || (size - data_start) / sizeof(float) < n)
    fail(file, "truncated: the data is shorter than the shape " + shape_text(shape) + " needs");
  std::vector<float> values(n);
  auto* bytes = reinterpret_cast<char*>(values.data());
  if (!in.read(bytes, static_cast<std::streamsize>(n * sizeof(float))))
    fail(file, "truncated: the data is shorter than the shape " + shape_text(shape) + " needs");
  to_little_endian(bytes, n, sizeof(float));
  return values;
}

}  // namespace overfeat::npy
