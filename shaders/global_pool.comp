// SPDX-License-Identifier: MIT
// Global average or max pooling of an NC4HW4 map to C x 1 x 1: one invocation per texel of 4
// channels, looping over the pixels (it runs once, on the last map of a network, where the
// channels are many and the pixels few).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 3) const int MAX = 0;  // 1 max, 0 average

layout(binding = 0) uniform samplerBuffer src;
layout(binding = 1) writeonly buffer Dst { vec4 dst[]; };

layout(push_constant) uniform Push {
  int npix, C, C4;
} p;

void main() {
  const int c4 = int(gl_GlobalInvocationID.x);
  if (c4 >= p.C4) return;
  vec4 r = MAX != 0 ? vec4(uintBitsToFloat(0xff800000u)) : vec4(0.0);
  const int base = c4 * p.npix;
  for (int q = 0; q < p.npix; ++q) {
    const vec4 v = FETCH4(src, base + q);
    r = MAX != 0 ? max(r, v) : r + v;
  }
  if (MAX == 0) r /= float(p.npix);
  dst[c4] = mix(vec4(0.0), r, lessThan(ivec4(4 * c4) + ivec4(0, 1, 2, 3), ivec4(p.C)));
}
