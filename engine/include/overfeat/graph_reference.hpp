// SPDX-License-Identifier: MIT
// Plain C++ references of the graph ops (graph.hpp) and a whole-graph runner on the host. The
// tests hold the Vulkan shaders and the graph executor to these; written for clarity.
#pragma once
#include <vector>

#include "overfeat/graph.hpp"
#include "overfeat/tensor.hpp"

namespace overfeat::graph::ref {

/// Grouped, strided, dilated convolution with asymmetric zero pads, bias and activation.
Tensor conv(const Tensor& in, const ConvParams& p, const Activation& act = {});
Tensor activation(const Tensor& in, const Activation& act);
/// Max or average pooling (PoolParams: pads, ceil mode, count_include_pad).
Tensor pool(const Tensor& in, const PoolParams& p);
/// C x 1 x 1: the mean or the maximum of each channel.
Tensor global_pool(const Tensor& in, PoolParams::Kind kind);
Tensor lrn(const Tensor& in, const LrnParams& p);
/// a + b (same shape), then the activation.
Tensor add(const Tensor& a, const Tensor& b, const Activation& act = {});
/// Channels of every input in order (same h and w).
Tensor concat(const std::vector<const Tensor*>& inputs);
/// Softmax over channels at every pixel.
Tensor softmax(const Tensor& in);

/// Runs the graph on `input` (already normalized, input_channels x h x w) and returns every
/// node's output, indexed by node (node 0: the input itself).
std::vector<Tensor> run(const Graph& g, const Tensor& input);

}  // namespace overfeat::graph::ref
