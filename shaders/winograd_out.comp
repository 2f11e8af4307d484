// SPDX-License-Identifier: MIT
// Winograd F(M x M_X, R x R), output transform: each tile's ALPHA x ALPHA_X products P (the 1x1
// convolutions of V with U = G g G_X^T, [ALPHA][ALPHA_X][OC4][TT]) become the tile's M x M_X
// outputs Y = A^T P A_X (A^T [M][ALPHA] and A_X^T [M_X][ALPHA_X] from the host as
// specialization constants, winograd_coefficients.glsl), plus the bias and the fused
// activation; outputs past the map's edge are not stored.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(constant_id = 3) const int ACT = 1;
layout(constant_id = 4) const float ACT_A = 0.0;
layout(constant_id = 5) const float ACT_B = 0.0;
layout(constant_id = 6) const int ALPHA = 4;
layout(constant_id = 7) const int M = 2;
layout(constant_id = 8) const int ALPHA_X = 4;  // the columns'
layout(constant_id = 9) const int M_X = 2;

#include "activation.glsl"
#include "winograd_coefficients.glsl"

layout(binding = 0) uniform samplerBuffer prods;           // [ALPHA][ALPHA_X][OC4][TT]
layout(binding = 1) uniform samplerBuffer bias;            // [OC4] texels
layout(binding = 2) writeonly buffer Dst { vec4 dst[]; };  // NC4HW4 output

layout(push_constant) uniform Push {
  int OW, OH, OC4, TW, TH;
  int OC;  // output channels; the last texel's channels past it are padding, written as 0
  int TB, TT;  // this map's first tile in a batch's row of TT tiles (one map: 0 and TW * TH)
} p;

void main() {
  const int tiles = p.TW * p.TH;
  const int id = int(gl_GlobalInvocationID.x);
  if (id >= p.OC4 * tiles) return;
  const int c4 = id / tiles;
  const int tile = id - c4 * tiles;
  const int ty = tile / p.TW, tx = tile - ty * p.TW;
  const int plane = p.OC4 * p.TT;
  const int base = c4 * p.TT + p.TB + tile;
  const float wc[WC_COUNT] = WC_ARRAY;  // A^T [M][ALPHA], then A_X^T [M_X][ALPHA_X]
  float a[M][ALPHA], ax[M_X][ALPHA_X];
  [[unroll]] for (int i = 0; i < M; ++i)
    [[unroll]] for (int k = 0; k < ALPHA; ++k) a[i][k] = wc[i * ALPHA + k];
  [[unroll]] for (int i = 0; i < M_X; ++i)
    [[unroll]] for (int k = 0; k < ALPHA_X; ++k) ax[i][k] = wc[M * ALPHA + i * ALPHA_X + k];
  vec4 t[M][ALPHA_X];  // A^T P, one column of P at a time
  [[unroll]] for (int c = 0; c < ALPHA_X; ++c) {
    vec4 col[ALPHA];
    [[unroll]] for (int r = 0; r < ALPHA; ++r)
      col[r] = FETCH4(prods, base + (r * ALPHA_X + c) * plane);
    [[unroll]] for (int i = 0; i < M; ++i) {
      vec4 s = vec4(0.0);
      [[unroll]] for (int k = 0; k < ALPHA; ++k) s += a[i][k] * col[k];
      t[i][c] = s;
    }
  }
  const vec4 b = FETCH4(bias, c4);
  [[unroll]] for (int i = 0; i < M; ++i) {  // (A^T P) A_X
    const int oy = M * ty + i;
    if (oy >= p.OH) break;
    [[unroll]] for (int j = 0; j < M_X; ++j) {
      const int ox = M_X * tx + j;
      if (ox >= p.OW) break;
      vec4 s = b;
      [[unroll]] for (int k = 0; k < ALPHA_X; ++k) s += t[i][k] * ax[j][k];
      dst[(c4 * p.OH + oy) * p.OW + ox] = mask_padding(activate(s), c4, p.OC);
    }
  }
}
