// SPDX-License-Identifier: MIT
// Local response normalization across channels (AlexNet, GoogLeNet; ONNX LRN):
// y = x / (bias + alpha / size * sum of x^2 over channels c - before .. c + after) ^ beta, the
// window cut at the first and last channel. The window crosses texels, so the input is read
// through its R32F view, one channel at a time. One invocation per pixel (x) and output texel (y).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(binding = 0) uniform samplerBuffer src;  // NC4HW4 input, R32F view
layout(binding = 1) writeonly buffer Dst { vec4 dst[]; };

layout(push_constant) uniform Push {
  int npix, C, before, after;
  float alpha_over_size, beta, bias;
} p;

float at(int c, int q) {
  return FETCH1(src, ((c >> 2) * p.npix + q) * 4 + (c & 3));
}

void main() {
  const int q = int(gl_GlobalInvocationID.x);
  const int c4 = int(gl_GlobalInvocationID.y);
  if (q >= p.npix) return;
  vec4 r = vec4(0.0);  // padding channels stay 0
  for (int j = 0; j < 4; ++j) {
    const int c = c4 * 4 + j;
    if (c >= p.C) break;
    float sum = 0.0;
    for (int k = max(0, c - p.before); k <= min(p.C - 1, c + p.after); ++k) {
      const float v = at(k, q);
      sum = fma(v, v, sum);
    }
    r[j] = at(c, q) / pow(p.bias + p.alpha_over_size * sum, p.beta);
  }
  dst[c4 * p.npix + q] = r;
}
