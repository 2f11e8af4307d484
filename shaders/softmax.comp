// SPDX-License-Identifier: MIT
// Softmax over channels at every pixel of an NC4HW4 map (numerically stable: subtract the max).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(binding = 0) uniform samplerBuffer src;
layout(binding = 1) writeonly buffer Dst { float dst[]; };

layout(push_constant) uniform Push {
  int npix, C;
} p;


void main() {
  const int q = int(gl_GlobalInvocationID.x);
  if (q >= p.npix) return;
  float m = -3.402823e38;
  for (int c = 0; c < p.C; ++c)
    m = max(m, texelFetch(src, (c >> 2) * p.npix + q)[c & 3]);
  float s = 0.0;
  for (int c = 0; c < p.C; ++c) s += exp(texelFetch(src, (c >> 2) * p.npix + q)[c & 3] - m);
  const float inv = 1.0 / s;
  for (int c = 0; c < p.C; ++c)
    dst[((c >> 2) * p.npix + q) * 4 + (c & 3)] =
        exp(texelFetch(src, (c >> 2) * p.npix + q)[c & 3] - m) * inv;
  // The last texel's padding channels are zero, as every op leaves them for the next.
  for (int c = p.C; c < ((p.C + 3) & ~3); ++c) dst[((c >> 2) * p.npix + q) * 4 + (c & 3)] = 0.0;
}
