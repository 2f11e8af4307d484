// SPDX-License-Identifier: MIT
// ReLU as its own pass, copying NC4HW4; used only where a caller asked for a convolution's
// output before its activation (the engine otherwise fuses ReLU into the convolution).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(binding = 0) uniform samplerBuffer src;
layout(binding = 1) writeonly buffer Dst { vec4 dst[]; };

layout(push_constant) uniform Push {
  int n;
} p;

void main() {
  const int i = int(gl_GlobalInvocationID.x);
  if (i < p.n) dst[i] = max(FETCH4(src, i), vec4(0.0));
}
