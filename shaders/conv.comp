// SPDX-License-Identifier: MIT
// Convolution (cross-correlation) with bias, zero padding and a fused activation, for outputs
// with many pixels. Kernel, stride and the leading pads may differ between rows and columns (the
// trailing pads only set the output size, which the host gives). Invocations map to output
// pixels, PIX of them each; a work group's y index picks a block of OCB (4 or 8) output
// channels. At each kernel tap an invocation reads PIX input texels (4 input channels each) and
// OCB weight texels, and does PIX*OCB*4 FMAs on registers. The weight texels are the same for
// every lane; lavapipe serves such fetches far more cheaply than a subgroupBroadcast (measured:
// 5x), so every lane fetches them itself.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 3) const int KW = 3;
layout(constant_id = 4) const int KH = 3;
layout(constant_id = 5) const int STRIDE = 1;  // rows
layout(constant_id = 6) const int PAD = 0;     // top
layout(constant_id = 7) const int ACT = 1;     // activation.glsl: 0 none, 1 ReLU, 2 clip, 3 leaky
layout(constant_id = 8) const int OCB = 8;     // output channels per invocation: 4 or 8
layout(constant_id = 9) const int PIX = 1;     // output pixels per invocation
layout(constant_id = 10) const int STRIDE_X = 1;
layout(constant_id = 11) const int PAD_X = 0;  // left
layout(constant_id = 12) const float ACT_A = 0.0;
layout(constant_id = 13) const float ACT_B = 0.0;

#include "activation.glsl"

layout(binding = 0) uniform samplerBuffer src;      // NC4HW4 input
layout(binding = 1) uniform samplerBuffer weights;  // [OC8][IC4][KH][KW][8] texels
layout(binding = 2) uniform samplerBuffer bias;     // [OC4] texels
layout(binding = 3) writeonly buffer Dst { vec4 dst[]; };  // NC4HW4 output

layout(push_constant) uniform Push {
  int IW, IH, IC4, OW, OH, OC4;
  int OC;  // output channels; the last texel's channels past it are padding, written as 0
} p;

void main() {
  const int block = int(gl_WorkGroupID.y);  // block of OCB output channels
  const int oc4 = block * (OCB / 4);
  const int npix = p.OW * p.OH;
  const int pix0 = int(gl_GlobalInvocationID.x) * PIX;
  // Weight texels of this block: 8 per tap in the [OC8] layout, of which we use OCB.
  int wbase = (oc4 / 2) * p.IC4 * KH * KW * 8 + (oc4 & 1) * 4;

  int iy0[PIX], ix0[PIX];
  vec4 acc[PIX][OCB / 4];
  for (int i = 0; i < PIX; ++i) {
    // Pixels past the end compute a clamped duplicate and skip the store.
    const int q = min(pix0 + i, npix - 1);
    const int oy = q / p.OW;
    iy0[i] = oy * STRIDE - PAD;
    ix0[i] = (q - oy * p.OW) * STRIDE_X - PAD_X;
    for (int b = 0; b < OCB / 4; ++b) acc[i][b] = FETCH4(bias, oc4 + b);
  }
  for (int c4 = 0; c4 < p.IC4; ++c4) {
    const int plane = c4 * p.IH;
    for (int ky = 0; ky < KH; ++ky) {
      for (int kx = 0; kx < KW; ++kx) {
        vec4 w[OCB];
        for (int j = 0; j < OCB; ++j) w[j] = FETCH4(weights, wbase + j);
        wbase += 8;
        for (int i = 0; i < PIX; ++i) {
          const int iy = iy0[i] + ky, ix = ix0[i] + kx;
          const bool ok = iy >= 0 && iy < p.IH && ix >= 0 && ix < p.IW;
          vec4 x = FETCH4(src, (plane + clamp(iy, 0, p.IH - 1)) * p.IW + clamp(ix, 0, p.IW - 1));
          x = ok ? x : vec4(0.0);
          for (int b = 0; b < OCB / 4; ++b) {
            acc[i][b].x = fma(w[4 * b + 0].x, x.x, fma(w[4 * b + 0].y, x.y, fma(w[4 * b + 0].z, x.z, fma(w[4 * b + 0].w, x.w, acc[i][b].x))));
            acc[i][b].y = fma(w[4 * b + 1].x, x.x, fma(w[4 * b + 1].y, x.y, fma(w[4 * b + 1].z, x.z, fma(w[4 * b + 1].w, x.w, acc[i][b].y))));
            acc[i][b].z = fma(w[4 * b + 2].x, x.x, fma(w[4 * b + 2].y, x.y, fma(w[4 * b + 2].z, x.z, fma(w[4 * b + 2].w, x.w, acc[i][b].z))));
            acc[i][b].w = fma(w[4 * b + 3].x, x.x, fma(w[4 * b + 3].y, x.y, fma(w[4 * b + 3].z, x.z, fma(w[4 * b + 3].w, x.w, acc[i][b].w))));
          }
        }
      }
    }
  }
  for (int i = 0; i < PIX; ++i) {
    const int q = pix0 + i;
    if (q >= npix) break;
    for (int b = 0; b < OCB / 4; ++b) {
      if (oc4 + b >= p.OC4) break;
      dst[(oc4 + b) * npix + q] = mask_padding(activate(acc[i][b]), oc4 + b, p.OC);
    }
  }
}
