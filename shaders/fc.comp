// SPDX-License-Identifier: MIT
// Convolution for outputs with very few pixels (the "full" layers on a single window): an
// invocation per output channel, so the weights stream through the lanes: a subgroup of 8
// output channels reads one contiguous run of 8 texels per step ([OC8][IC4*KH*KW][8] layout).
// The input texel at each step is the same for every lane. PIX output pixels share each weight.
// Geometry and activation as in conv.comp.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 3) const int KW = 6;
layout(constant_id = 4) const int KH = 6;
layout(constant_id = 5) const int STRIDE = 1;
layout(constant_id = 6) const int PAD = 0;
layout(constant_id = 7) const int ACT = 1;  // activation.glsl
layout(constant_id = 8) const int PIX = 1;
layout(constant_id = 9) const int STRIDE_X = 1;
layout(constant_id = 10) const int PAD_X = 0;
layout(constant_id = 11) const float ACT_A = 0.0;
layout(constant_id = 12) const float ACT_B = 0.0;

#include "activation.glsl"

layout(binding = 0) uniform samplerBuffer src;      // NC4HW4 input
layout(binding = 1) uniform samplerBuffer weights;  // [OC8][IC4][KH][KW][8] texels
layout(binding = 2) uniform samplerBuffer bias;     // [OC] floats
layout(binding = 3) writeonly buffer Dst { float dst[]; };  // NC4HW4 output, as floats

layout(push_constant) uniform Push {
  int IW, IH, IC4, OW, OH, OC;  // OC: output channels rounded up to 4
  int OC_REAL;                  // channels past it are padding, written as 0
} p;

void main() {
  const int oc = int(gl_GlobalInvocationID.x);
  const int npix = p.OW * p.OH;
  const int pix0 = int(gl_WorkGroupID.y) * PIX;
  const int occ = min(oc, p.OC - 1);
  int iy0[PIX], ix0[PIX];
  float acc[PIX];
  const float b = FETCH1(bias, occ);
  for (int i = 0; i < PIX; ++i) {
    const int q = min(pix0 + i, npix - 1);
    const int oy = q / p.OW;
    iy0[i] = oy * STRIDE - PAD;
    ix0[i] = (q - oy * p.OW) * STRIDE_X - PAD_X;
    acc[i] = b;
  }
  int w = (occ >> 3) * p.IC4 * KH * KW * 8 + (occ & 7);
  for (int c4 = 0; c4 < p.IC4; ++c4) {
    for (int ky = 0; ky < KH; ++ky) {
      for (int kx = 0; kx < KW; ++kx) {
        const vec4 wt = FETCH4(weights, w);
        w += 8;
        for (int i = 0; i < PIX; ++i) {
          const int iy = iy0[i] + ky, ix = ix0[i] + kx;
          const bool ok = iy >= 0 && iy < p.IH && ix >= 0 && ix < p.IW;
          vec4 x = FETCH4(src, (c4 * p.IH + clamp(iy, 0, p.IH - 1)) * p.IW + clamp(ix, 0, p.IW - 1));
          x = ok ? x : vec4(0.0);
          acc[i] = fma(wt.x, x.x, fma(wt.y, x.y, fma(wt.z, x.z, fma(wt.w, x.w, acc[i]))));
        }
      }
    }
  }
  if (oc >= p.OC) return;
  const int c4 = oc >> 2, cc = oc & 3;
  for (int i = 0; i < PIX; ++i) {
    if (pix0 + i >= npix) break;
    const float v = oc < p.OC_REAL ? activate(acc[i]) : 0.0;
    dst[((c4 * npix) + pix0 + i) * 4 + cc] = v;
  }
}
