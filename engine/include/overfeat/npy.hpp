// SPDX-License-Identifier: MIT
// NumPy .npy files of float32 arrays, for handing score maps and features to Python.
#pragma once
#include <cstddef>
#include <filesystem>
#include <vector>

#include "overfeat/tensor.hpp"

namespace overfeat::npy {

/// Writes a float32 array in NumPy's .npy format (version 1.0, '<f4', C order) with the given
/// shape (an empty shape writes a 0-d array of one value). Throws Error naming the file when it
/// cannot be written.
void write(const std::filesystem::path& file, const float* data, const std::vector<size_t>& shape);

/// Writes a tensor as a (c, h, w) array. Throws Error when its data does not match its shape.
void write(const std::filesystem::path& file, const Tensor& t);

/// Reads a '<f4' C-order .npy (format version 1.x or 2.x) and stores its shape in `shape`.
/// Throws Error naming the file on anything else: missing, truncated, another dtype, Fortran
/// order, or a malformed header.
std::vector<float> read(const std::filesystem::path& file, std::vector<size_t>& shape);

}  // namespace overfeat::npy
