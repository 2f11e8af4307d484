// SPDX-License-Identifier: MIT
// Plain C++ reference implementations of every layer. The tests hold the Vulkan shaders to
// these; they are written for clarity, not speed.
#pragma once
#include <vector>

#include "overfeat/netspec.hpp"
#include "overfeat/tensor.hpp"
#include "overfeat/weights.hpp"

namespace overfeat::ref {

/// (v - mean) / stddev on every element.
Tensor normalize(const Tensor& in, float mean, float stddev);
/// Cross-correlation with `pad` zeros on every side, stride, bias, optional ReLU.
Tensor conv(const Tensor& in, const ConvWeights& wt, int stride, int pad, bool relu);
Tensor relu(const Tensor& in);
/// Zero padding of `pad` pixels on every side.
Tensor pad(const Tensor& in, int pad);
/// Max pooling with kernel = stride = k, starting at pixel offset (dx, dy);
/// output size (in - offset) / k.
Tensor maxpool(const Tensor& in, int k, int dx = 0, int dy = 0);
/// Softmax over channels at every pixel.
Tensor softmax(const Tensor& in);

/// Runs `spec` on a raw RGB input (values 0..255, CHW) and returns the output of every layer,
/// index 0 being the normalized input (release numbering).
std::vector<Tensor> forward_all(const NetSpec& spec, const Weights& weights, const Tensor& rgb);

}  // namespace overfeat::ref
