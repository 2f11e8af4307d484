// SPDX-License-Identifier: MIT
#pragma once
#include <filesystem>
#include <vector>

#include "overfeat/netspec.hpp"

namespace overfeat {

/// One convolution's parameters: W[out][in][kh][kw] and b[out], as in the official files.
struct ConvWeights {
  int out = 0, in = 0, k = 0;
  std::vector<float> w;
  std::vector<float> b;
};

/// Parameters for every conv module of a NetSpec, in module order.
struct Weights {
  std::vector<ConvWeights> convs;
};

/// The official weight files inside a folder: net_weight_0 (fast) or net_weight_1 (accurate).
std::filesystem::path official_weight_path(const std::filesystem::path& dir, int net_index);

/// Reads a raw little-endian float32 file laid out as the official weights (each conv's W then
/// b, in layer order). Throws WeightFileError naming the file, the expected and the actual size
/// when it is missing, truncated or oversized.
Weights load_weights(const std::filesystem::path& file, const NetSpec& spec);

/// Writes weights in the official layout (used to make synthetic files for tests).
void save_weights(const std::filesystem::path& file, const Weights& weights);

/// Deterministic pseudo-random weights for `spec` with roughly unit-variance activations
/// (He-style scaling); the same seed gives the same bytes on every machine.
Weights random_weights(const NetSpec& spec, unsigned seed);

}  // namespace overfeat
