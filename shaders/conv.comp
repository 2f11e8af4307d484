// SPDX-License-Identifier: MIT
// Convolution (cross-correlation) with bias, zero padding and optional fused ReLU, for outputs
// with many pixels: invocations map to output pixels, a work group's y index to a block of 8
// output channels. Each pass over a kernel tap reads one input texel (4 input channels) and the
// block's 8x4 weights; with SUBGROUP_WEIGHTS the first 8 lanes fetch one weight texel each and
// subgroupBroadcast hands them to every lane, so weights are read once per subgroup.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 3) const int KW = 3;
layout(constant_id = 4) const int KH = 3;
layout(constant_id = 5) const int STRIDE = 1;
layout(constant_id = 6) const int PAD = 0;
layout(constant_id = 7) const int RELU = 1;
layout(constant_id = 8) const int SUBGROUP_WEIGHTS = 1;

layout(binding = 0) uniform samplerBuffer src;      // NC4HW4 input
layout(binding = 1) uniform samplerBuffer weights;  // [OC8][IC4][KH][KW][8] texels
layout(binding = 2) uniform samplerBuffer bias;     // [OC4] texels
layout(binding = 3) writeonly buffer Dst { vec4 dst[]; };  // NC4HW4 output

layout(push_constant) uniform Push {
  int IW, IH, IC4, OW, OH, OC4;
} p;

void main() {
  const int oc8 = int(gl_WorkGroupID.y);
  const int npix = p.OW * p.OH;
  const int pix = int(gl_GlobalInvocationID.x);
  // Lanes past the end still take part in the broadcasts; they only skip the store.
  const int q = min(pix, npix - 1);
  const int oy = q / p.OW, ox = q - oy * p.OW;
  const int iy0 = oy * STRIDE - PAD, ix0 = ox * STRIDE - PAD;
  const int lane = int(gl_SubgroupInvocationID) & 7;
  const bool use_subgroup = SUBGROUP_WEIGHTS != 0 && gl_SubgroupSize >= 8;

  vec4 acc0 = FETCH4(bias, oc8 * 2);
  vec4 acc1 = FETCH4(bias, oc8 * 2 + 1);
  int wbase = oc8 * p.IC4 * KH * KW * 8;
  for (int c4 = 0; c4 < p.IC4; ++c4) {
    for (int ky = 0; ky < KH; ++ky) {
      const int iy = iy0 + ky;
      const bool row_ok = iy >= 0 && iy < p.IH;
      const int row = (c4 * p.IH + clamp(iy, 0, p.IH - 1)) * p.IW;
      for (int kx = 0; kx < KW; ++kx) {
        const int ix = ix0 + kx;
        const bool ok = row_ok && ix >= 0 && ix < p.IW;
        vec4 x = FETCH4(src, row + clamp(ix, 0, p.IW - 1));
        x = ok ? x : vec4(0.0);
        vec4 w[8];
        if (use_subgroup) {
          vec4 mine = FETCH4(weights, wbase + lane);
          w[0] = subgroupBroadcast(mine, 0);
          w[1] = subgroupBroadcast(mine, 1);
          w[2] = subgroupBroadcast(mine, 2);
          w[3] = subgroupBroadcast(mine, 3);
          w[4] = subgroupBroadcast(mine, 4);
          w[5] = subgroupBroadcast(mine, 5);
          w[6] = subgroupBroadcast(mine, 6);
          w[7] = subgroupBroadcast(mine, 7);
        } else {
          for (int j = 0; j < 8; ++j) w[j] = FETCH4(weights, wbase + j);
        }
        acc0.x = fma(w[0].x, x.x, fma(w[0].y, x.y, fma(w[0].z, x.z, fma(w[0].w, x.w, acc0.x))));
        acc0.y = fma(w[1].x, x.x, fma(w[1].y, x.y, fma(w[1].z, x.z, fma(w[1].w, x.w, acc0.y))));
        acc0.z = fma(w[2].x, x.x, fma(w[2].y, x.y, fma(w[2].z, x.z, fma(w[2].w, x.w, acc0.z))));
        acc0.w = fma(w[3].x, x.x, fma(w[3].y, x.y, fma(w[3].z, x.z, fma(w[3].w, x.w, acc0.w))));
        acc1.x = fma(w[4].x, x.x, fma(w[4].y, x.y, fma(w[4].z, x.z, fma(w[4].w, x.w, acc1.x))));
        acc1.y = fma(w[5].x, x.x, fma(w[5].y, x.y, fma(w[5].z, x.z, fma(w[5].w, x.w, acc1.y))));
        acc1.z = fma(w[6].x, x.x, fma(w[6].y, x.y, fma(w[6].z, x.z, fma(w[6].w, x.w, acc1.z))));
        acc1.w = fma(w[7].x, x.x, fma(w[7].y, x.y, fma(w[7].z, x.z, fma(w[7].w, x.w, acc1.w))));
        wbase += 8;
      }
    }
  }
  if (pix >= npix) return;
  if (RELU != 0) {
    acc0 = max(acc0, vec4(0.0));
    acc1 = max(acc1, vec4(0.0));
  }
  const int oc4 = oc8 * 2;
  dst[oc4 * npix + pix] = acc0;
  if (oc4 + 1 < p.OC4) dst[(oc4 + 1) * npix + pix] = acc1;
}
