// SPDX-License-Identifier: MIT
// Concatenation: copies the channels of one NC4HW4 map into another starting at channel OFFSET,
// which need not be a multiple of 4, so both are addressed per channel (R32F view in, floats
// out). One invocation per pixel (x) and channel (y). Channels IN_C .. COUNT-1 are written as 0:
// the host asks for that on the last input, so the output's padding channels are 0.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(binding = 0) uniform samplerBuffer src;  // R32F view
layout(binding = 1) writeonly buffer Dst { float dst[]; };

layout(push_constant) uniform Push {
  int npix, IN_C, OFFSET, COUNT;
} p;

void main() {
  const int q = int(gl_GlobalInvocationID.x);
  const int c = int(gl_GlobalInvocationID.y);
  if (q >= p.npix || c >= p.COUNT) return;
  const float v = c < p.IN_C ? FETCH1(src, ((c >> 2) * p.npix + q) * 4 + (c & 3)) : 0.0;
  const int o = p.OFFSET + c;
  dst[((o >> 2) * p.npix + q) * 4 + (o & 3)] = v;
}
