// SPDX-License-Identifier: MIT
// Winograd F(M x M_X, R x R), input transform (Lavin and Gray, 2015): each ALPHA x ALPHA_X
// input tile d (ALPHA = M + R - 1 rows, ALPHA_X = M_X + R - 1 columns), at strides M and M_X
// and shifted by the convolution's leading pads, becomes V = B^T d B_X. B^T and B_X^T come from
// the host as specialization constants (winograd_coefficients.glsl; ops::winograd_matrices:
// Toom-Cook at the points 0, 1, -1, 2, -2, 1/2, -1/2, 3/4, -3/4, 3, -3, as many as needed, and
// infinity). The ALPHA ALPHA_X elements of V are as many maps [ALPHA][ALPHA_X][IC4][TT] of
// texels: for each element, the tiles are the pixels
// of a 1x1 convolution's input (conv.comp, one batch per element); a batch of maps puts its
// tiles side by side in that row (TB, TT). Taps outside the input read zero
// (the padding, and past the last tile's end).
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "winograd_coefficients.glsl"

layout(constant_id = 3) const int PAD_T = 1;
layout(constant_id = 4) const int PAD_L = 1;
layout(constant_id = 5) const int ALPHA = 4;
layout(constant_id = 6) const int M = 2;
// A strided convolution (ops::WinogradConv::computes): each input texel block is read once per
// phase (dy, dx), every STRIDE-th pixel from there, and the phases' tiles are the product
// input's texel blocks phase * IC4 + c4.
layout(constant_id = 7) const int STRIDE = 1;
layout(constant_id = 8) const int ALPHA_X = 4;  // the columns'
layout(constant_id = 9) const int M_X = 2;

layout(binding = 0) uniform samplerBuffer src;            // NC4HW4 input
layout(binding = 1) writeonly buffer Dst { vec4 dst[]; };  // [ALPHA][ALPHA_X][IC4][TT]

layout(push_constant) uniform Push {
  int IW, IH, IC4, TW, TH;
  int TB, TT;  // this map's first tile in a batch's row of TT tiles (one map: 0 and TW * TH)
} p;

void main() {
  const int tiles = p.TW * p.TH;
  const int phases = STRIDE * STRIDE;
  const int id = int(gl_GlobalInvocationID.x);
  if (id >= p.IC4 * phases * tiles) return;
  const int block = id / tiles;  // the product input's texel block
  const int tile = id - block * tiles;
  const int phase = block / p.IC4;
  const int c4 = block - phase * p.IC4;
  const int dy = phase / STRIDE, dx = phase - dy * STRIDE;
  const int ty = tile / p.TW, tx = tile - ty * p.TW;
  const int iy0 = STRIDE * M * ty + dy - PAD_T, ix0 = STRIDE * M_X * tx + dx - PAD_L;
  const float wc[WC_COUNT] = WC_ARRAY;  // B^T [ALPHA][ALPHA], then B_X^T [ALPHA_X][ALPHA_X]
  float b[ALPHA][ALPHA], bx[ALPHA_X][ALPHA_X];
  [[unroll]] for (int i = 0; i < ALPHA; ++i)
    [[unroll]] for (int k = 0; k < ALPHA; ++k) b[i][k] = wc[i * ALPHA + k];
  [[unroll]] for (int i = 0; i < ALPHA_X; ++i)
    [[unroll]] for (int k = 0; k < ALPHA_X; ++k) bx[i][k] = wc[ALPHA * ALPHA + i * ALPHA_X + k];
  vec4 t[ALPHA][ALPHA_X];  // B^T d, one input column at a time
  [[unroll]] for (int c = 0; c < ALPHA_X; ++c) {
    const int ix = ix0 + STRIDE * c;
    vec4 col[ALPHA];
    [[unroll]] for (int r = 0; r < ALPHA; ++r) {
      const int iy = iy0 + STRIDE * r;
      const bool ok = iy >= 0 && iy < p.IH && ix >= 0 && ix < p.IW;
      const vec4 x =
          FETCH4(src, (c4 * p.IH + clamp(iy, 0, p.IH - 1)) * p.IW + clamp(ix, 0, p.IW - 1));
      col[r] = ok ? x : vec4(0.0);
    }
    [[unroll]] for (int i = 0; i < ALPHA; ++i) {
      vec4 s = vec4(0.0);
      [[unroll]] for (int k = 0; k < ALPHA; ++k) s += b[i][k] * col[k];
      t[i][c] = s;
    }
  }
  const int plane = p.IC4 * phases * p.TT;  // texels per element of V
  const int base = block * p.TT + p.TB + tile;
  [[unroll]] for (int i = 0; i < ALPHA; ++i)  // (B^T d) B_X
    [[unroll]] for (int j = 0; j < ALPHA_X; ++j) {
      vec4 s = vec4(0.0);
      [[unroll]] for (int k = 0; k < ALPHA_X; ++k) s += t[i][k] * bx[j][k];
      dst[base + (i * ALPHA_X + j) * plane] = s;
    }
}
