// SPDX-License-Identifier: MIT
// conv.comp with its weights as 16-bit floats packed two to a 32-bit word (conv.glsl,
// PACKED_HALF): ContextOptions::half_weights for the large layers, arithmetic in fp32.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#define PACKED_HALF 1
#include "conv.glsl"
