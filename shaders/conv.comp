// SPDX-License-Identifier: MIT
// Convolution (cross-correlation) with bias, zero padding and a fused activation, for outputs
// with many pixels. Kernel, stride and the leading pads may differ between rows and columns (the
// trailing pads only set the output size, which the host gives). Invocations map to output
// pixels, PIX of them each; a work group's y index picks a block of OCB (4 or 8) output
// channels. At each kernel tap an invocation reads OCB weight texels and does PIX*OCB*4 FMAs on
// registers. The weight texels are the same for
// every lane; lavapipe serves such fetches far more cheaply than a subgroupBroadcast (measured:
// 5x), so every lane fetches them itself. A work group's z index picks one of a batch of
// independent convolutions laid out one after the other in the input, weights and output (the
// 16 element-wise products of a Winograd convolution, winograd_in.comp); 0 elsewhere. (Numbering
// the batch's row segments one after the other instead, so that a small map's last group is not
// idle in each, measured slower: a group's lanes then read two batches' weights.)
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "conv.glsl"
