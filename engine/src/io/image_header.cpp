// SPDX-License-Identifier: MIT
// Image headers read without decoding: the size of an image before its pixels are allocated, and
// whether a JPEG or PNG file is whole (libjpeg decodes a cut JPEG as grey with only a warning).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "overfeat/image.hpp"

namespace overfeat::image {
namespace {

using Bytes = std::string_view;

uint32_t be16(Bytes b, std::size_t at) {
  return (static_cast<uint8_t>(b[at]) << 8) | static_cast<uint8_t>(b[at + 1]);
}
uint32_t be32(Bytes b, std::size_t at) {
  return (be16(b, at) << 16) | be16(b, at + 2);
}
uint32_t le16(Bytes b, std::size_t at) {
  return static_cast<uint8_t>(b[at]) | (static_cast<uint8_t>(b[at + 1]) << 8);
}
uint32_t le32(Bytes b, std::size_t at) {
  return le16(b, at) | (le16(b, at + 2) << 16);
}
uint8_t byte(Bytes b, std::size_t at) {
  return static_cast<uint8_t>(b[at]);
}

// PNG: the signature, then chunks (length, type, data, CRC) up to IEND; IHDR comes first.
std::optional<FileInfo> png(Bytes b) {
  if (b.size() < 24 || b.substr(0, 8) != Bytes("\x89PNG\r\n\x1a\n", 8) || b.substr(12, 4) != "IHDR")
    return std::nullopt;
  FileInfo info{"PNG", static_cast<long long>(be32(b, 16)), static_cast<long long>(be32(b, 20)),
                false};
  for (std::size_t at = 8; at + 8 <= b.size();) {
    const std::size_t length = be32(b, at);
    if (b.substr(at + 4, 4) == "IEND") {
      info.complete = true;
      break;
    }
    if (length > b.size() - at - 8) break;  // the chunk runs past the end of the file
    at += 12 + length;
  }
  return info;
}

// JPEG: segments up to the entropy-coded data of each scan, which runs to the next marker; the
// frame header (SOF0..SOF15 but DHT, JPG and DAC) holds the size; the file ends at EOI.
std::optional<FileInfo> jpeg(Bytes b) {
  if (b.size() < 4 || byte(b, 0) != 0xff || byte(b, 1) != 0xd8 || byte(b, 2) != 0xff)
    return std::nullopt;
  FileInfo info{"JPEG", -1, -1, false};
  std::size_t at = 2;
  while (at + 1 < b.size()) {
    if (byte(b, at) != 0xff) {  // entropy-coded data after SOS: skip to the next real marker
      ++at;
      continue;
    }
    uint8_t marker = byte(b, at + 1);
    if (marker == 0xff) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0x00 || (marker >= 0xd0 && marker <= 0xd7) || marker == 0x01) {
      at += 2;  // stuffed 0xff, restart markers, TEM: no length
      continue;
    }
    if (marker == 0xd9) {
      info.complete = info.width > 0;
      return info;
    }
    if (at + 4 > b.size()) break;
    const std::size_t length = be16(b, at + 2);
    if (length < 2) return info;  // malformed: the decoder will say so
    const bool frame =
        marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (frame && info.width < 0 && at + 9 <= b.size()) {
      info.height = be16(b, at + 5);
      info.width = be16(b, at + 7);
    }
    at += 2 + length;
  }
  return info;
}

// BMP: BITMAPINFOHEADER width and height (negative for top-down rows).
std::optional<FileInfo> bmp(Bytes b) {
  if (b.size() < 26 || b.substr(0, 2) != "BM") return std::nullopt;
  const auto w = static_cast<int32_t>(le32(b, 18)), h = static_cast<int32_t>(le32(b, 22));
  return FileInfo{"BMP", w < 0 ? -static_cast<long long>(w) : w,
                  h < 0 ? -static_cast<long long>(h) : h, true};
}

// Netpbm P1..P7: ASCII width and height after the magic number, comments allowed.
std::optional<FileInfo> pnm(Bytes b) {
  if (b.size() < 3 || b[0] != 'P' || b[1] < '1' || b[1] > '6') return std::nullopt;
  std::size_t at = 2;
  long long value[2] = {-1, -1};
  for (long long& v : value) {
    while (at < b.size() && (b[at] == '#' || b[at] == ' ' || (b[at] >= '\t' && b[at] <= '\r'))) {
      if (b[at] == '#')
        while (at < b.size() && b[at] != '\n' && b[at] != '\r') ++at;
      else
        ++at;
    }
    if (at >= b.size() || b[at] < '0' || b[at] > '9') return FileInfo{"PNM", -1, -1, true};
    v = 0;
    while (at < b.size() && b[at] >= '0' && b[at] <= '9' && v < (1LL << 40))
      v = v * 10 + (b[at++] - '0');
  }
  return FileInfo{"PNM", value[0], value[1], true};
}

// TIFF: ImageWidth (256) and ImageLength (257) of the first image file directory.
std::optional<FileInfo> tiff(Bytes b) {
  if (b.size() < 8) return std::nullopt;
  const bool little = b.substr(0, 4) == Bytes("II*\0", 4);
  if (!little && b.substr(0, 4) != Bytes("MM\0*", 4)) return std::nullopt;
  const auto u16 = [&](std::size_t at) { return little ? le16(b, at) : be16(b, at); };
  const auto u32 = [&](std::size_t at) { return little ? le32(b, at) : be32(b, at); };
  FileInfo info{"TIFF", -1, -1, true};
  const std::size_t ifd = u32(4);
  if (ifd > b.size() - 2) return info;
  const std::size_t entries = u16(ifd);
  for (std::size_t i = 0; i < entries && ifd + 2 + 12 * (i + 1) <= b.size(); ++i) {
    const std::size_t e = ifd + 2 + 12 * i;
    const uint32_t tag = u16(e), type = u16(e + 2);
    const long long value = type == 3 ? u16(e + 8) : type == 4 ? u32(e + 8) : -1;
    if (tag == 256) info.width = value;
    if (tag == 257) info.height = value;
  }
  return info;
}

// WebP: the size in the first chunk, VP8 (lossy), VP8L (lossless) or VP8X (extended).
std::optional<FileInfo> webp(Bytes b) {
  if (b.size() < 30 || b.substr(0, 4) != "RIFF" || b.substr(8, 4) != "WEBP") return std::nullopt;
  const Bytes chunk = b.substr(12, 4);
  if (chunk == "VP8 ") return FileInfo{"WebP", le16(b, 26) & 0x3fff, le16(b, 28) & 0x3fff, true};
  if (chunk == "VP8L") {
    const uint32_t bits = le32(b, 21);
    return FileInfo{"WebP", (bits & 0x3fff) + 1LL, ((bits >> 14) & 0x3fff) + 1LL, true};
  }
  if (chunk == "VP8X")
    return FileInfo{"WebP", (le32(b, 24) & 0xffffff) + 1LL, (le32(b, 27) & 0xffffff) + 1LL, true};
  return FileInfo{"WebP", -1, -1, true};
}

}  // namespace

std::optional<FileInfo> probe(std::string_view bytes) {
  for (auto reader : {png, jpeg, bmp, pnm, tiff, webp})
    if (auto info = reader(bytes)) return info;
  return std::nullopt;
}

}  // namespace overfeat::image
