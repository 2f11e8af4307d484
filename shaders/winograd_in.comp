// SPDX-License-Identifier: MIT
// Winograd F(2x2, 3x3), input transform (Lavin and Gray, 2015): each 4x4 input tile d, at
// stride 2 and shifted by the convolution's leading pads, becomes V = B^T d B, with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
// The 16 elements of V are 16 maps [16][IC4][TH][TW] of texels: for each element, the tiles are
// the pixels of a 1x1 convolution's input (conv.comp, one batch per element). Taps outside the
// input read zero (the padding, and past the last tile's end).
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(constant_id = 3) const int PAD_T = 1;
layout(constant_id = 4) const int PAD_L = 1;

layout(binding = 0) uniform samplerBuffer src;            // NC4HW4 input
layout(binding = 1) writeonly buffer Dst { vec4 dst[]; };  // [16][IC4][TH][TW]

layout(push_constant) uniform Push {
  int IW, IH, IC4, TW, TH;
} p;

void main() {
  const int tiles = p.TW * p.TH;
  const int id = int(gl_GlobalInvocationID.x);
  if (id >= p.IC4 * tiles) return;
  const int c4 = id / tiles;
  const int tile = id - c4 * tiles;
  const int ty = tile / p.TW, tx = tile - ty * p.TW;
  const int iy0 = 2 * ty - PAD_T, ix0 = 2 * tx - PAD_L;
  vec4 d[4][4];
  [[unroll]] for (int r = 0; r < 4; ++r) {
    const int iy = iy0 + r;
    [[unroll]] for (int c = 0; c < 4; ++c) {
      const int ix = ix0 + c;
      const bool ok = iy >= 0 && iy < p.IH && ix >= 0 && ix < p.IW;
      const vec4 x =
          FETCH4(src, (c4 * p.IH + clamp(iy, 0, p.IH - 1)) * p.IW + clamp(ix, 0, p.IW - 1));
      d[r][c] = ok ? x : vec4(0.0);
    }
  }
  vec4 t[4][4];  // B^T d
  [[unroll]] for (int c = 0; c < 4; ++c) {
    t[0][c] = d[0][c] - d[2][c];
    t[1][c] = d[1][c] + d[2][c];
    t[2][c] = d[2][c] - d[1][c];
    t[3][c] = d[1][c] - d[3][c];
  }
  const int plane = p.IC4 * tiles;  // texels per element of V
  const int base = c4 * tiles + tile;
  [[unroll]] for (int r = 0; r < 4; ++r) {  // (B^T d) B
    dst[base + (4 * r + 0) * plane] = t[r][0] - t[r][2];
    dst[base + (4 * r + 1) * plane] = t[r][1] + t[r][2];
    dst[base + (4 * r + 2) * plane] = t[r][2] - t[r][1];
    dst[base + (4 * r + 3) * plane] = t[r][1] - t[r][3];
  }
}
