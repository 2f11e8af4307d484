// SPDX-License-Identifier: MIT
// Helpers shared by the two ONNX readers (model_onnx.cpp: the project's models; graph/
// onnx_import.cpp: classic networks): messages, node attributes, half precision, indices.
// Internal to the engine (it includes the protobuf classes).
#pragma once
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "overfeat/half.hpp"

namespace overfeat::onnx_common {

/// A file holds at most 2 GB, so at most 2^29 float32 values: larger shapes are damage.
constexpr uint64_t kMaxValues = uint64_t{1} << 29;

/// The number of values of a tensor of `dims`, or nullopt when a dimension is negative or the
/// count exceeds what a file can hold. Shapes come from files (and from their constants'
/// values): a damaged one must neither overflow on the way nor wrap around to a small count.
/// With a 0 among them the count is 0, whatever the others.
inline std::optional<uint64_t> count_of(const std::vector<int64_t>& dims) {
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return std::nullopt;
    if (d == 0) n = 0;
    if (n && static_cast<uint64_t>(d) > kMaxValues / n) return std::nullopt;
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

/// "[1, 2, 3]".
inline std::string join(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

/// `text` for a message: control characters as \xNN, cut after 80 bytes (names come from files
/// and would otherwise reach the terminal as escape sequences).
inline std::string printable(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < 80; ++i) {
    const auto ch = static_cast<unsigned char>(text[i]);
    if (ch < 0x20 || ch == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", ch);
      out += hex;
    } else {
      out += static_cast<char>(ch);
    }
  }
  if (text.size() > 80) out += "...";
  return out;
}

/// The float32 value of the binary16 bits `h` (exact: every finite half is a float); nullopt for
/// infinities and NaNs.
inline std::optional<float> half_to_float(uint16_t h) {
  if (((h >> 10) & 0x1fu) == 0x1fu) return std::nullopt;
  return half_value(h);
}

/// A value from a file as an index, clamped so that a huge or infinite one cannot overflow.
inline int64_t to_index(double x) {
  return static_cast<int64_t>(std::clamp(x, -9.0e18, 9.0e18));
}

/// Indices [start, end) by `step` along an axis of size d, with ONNX Slice's clamping.
inline std::vector<int64_t> slice_indices(double start, double end, int64_t step, int64_t d) {
  auto fix = [&](double x, int64_t lo, int64_t hi) {
    x = x < 0 ? x + static_cast<double>(d) : x;
    return std::clamp(to_index(x), lo, hi);
  };
  std::vector<int64_t> idx;
  if (step > 0)
    for (int64_t i = fix(start, 0, d), e = fix(end, 0, d); i < e; i += step) idx.push_back(i);
  if (step < 0)
    for (int64_t i = fix(start, 0, d - 1), e = fix(end, -1, d - 1); i > e; i += step)
      idx.push_back(i);
  return idx;
}

inline const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

inline std::vector<int64_t> ints_attr(const onnx::NodeProto& n, const std::string& name,
                                      std::vector<int64_t> fallback) {
  const auto* a = find_attr(n, name);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : fallback;
}

inline int64_t int_attr(const onnx::NodeProto& n, const std::string& name, int64_t fallback) {
  const auto* a = find_attr(n, name);
  return a ? a->i() : fallback;
}

inline std::string string_attr(const onnx::NodeProto& n, const std::string& name) {
  const auto* a = find_attr(n, name);
  return a ? a->s() : std::string();
}

}  // namespace overfeat::onnx_common
