// SPDX-License-Identifier: MIT
// Input normalization: planar RGB 0..255 (CHW, 3 channels) to NC4HW4 with (v - mean) / std;
// the fourth channel is zero.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(binding = 0) uniform samplerBuffer src;  // [3][H][W] floats
layout(binding = 1) writeonly buffer Dst { vec4 dst[]; };  // [1][H][W] vec4

layout(push_constant) uniform Push {
  int W, H;
  float mean, inv_std;
} p;

void main() {
  int i = int(gl_GlobalInvocationID.x);
  int n = p.W * p.H;
  if (i >= n) return;
  vec4 v = vec4(FETCH1(src, i), FETCH1(src, n + i), FETCH1(src, 2 * n + i), p.mean);
  v = (v - vec4(p.mean)) * p.inv_std;
  dst[i] = v;
}
