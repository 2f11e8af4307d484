// SPDX-License-Identifier: MIT
// Winograd F(2x2, 3x3), output transform: each tile's 16 products M (the 1x1 convolutions of
// V with U = G g G^T, [16][OC4][TH][TW]) become the tile's 2x2 outputs Y = A^T M A, with
//   A^T = [1 1 1 0; 0 1 -1 -1],
// plus the bias and the fused activation; outputs past the map's edge are not stored.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(constant_id = 3) const int ACT = 1;
layout(constant_id = 4) const float ACT_A = 0.0;
layout(constant_id = 5) const float ACT_B = 0.0;

#include "activation.glsl"

layout(binding = 0) uniform samplerBuffer prods;           // [16][OC4][TH][TW]
layout(binding = 1) uniform samplerBuffer bias;            // [OC4] texels
layout(binding = 2) writeonly buffer Dst { vec4 dst[]; };  // NC4HW4 output

layout(push_constant) uniform Push {
  int OW, OH, OC4, TW, TH;
  int OC;  // output channels; the last texel's channels past it are padding, written as 0
} p;

void main() {
  const int tiles = p.TW * p.TH;
  const int id = int(gl_GlobalInvocationID.x);
  if (id >= p.OC4 * tiles) return;
  const int c4 = id / tiles;
  const int tile = id - c4 * tiles;
  const int ty = tile / p.TW, tx = tile - ty * p.TW;
  const int plane = p.OC4 * tiles;
  const int base = c4 * tiles + tile;
  vec4 t[2][4];  // A^T M
  [[unroll]] for (int c = 0; c < 4; ++c) {
    const vec4 m0 = FETCH4(prods, base + (0 + c) * plane);
    const vec4 m1 = FETCH4(prods, base + (4 + c) * plane);
    const vec4 m2 = FETCH4(prods, base + (8 + c) * plane);
    const vec4 m3 = FETCH4(prods, base + (12 + c) * plane);
    t[0][c] = m0 + m1 + m2;
    t[1][c] = m1 - m2 - m3;
  }
  const vec4 b = FETCH4(bias, c4);
  const int oy0 = 2 * ty, ox0 = 2 * tx;
  [[unroll]] for (int r = 0; r < 2; ++r) {  // (A^T M) A
    const int oy = oy0 + r;
    if (oy >= p.OH) break;
    const vec4 y0 = t[r][0] + t[r][1] + t[r][2] + b;
    const vec4 y1 = t[r][1] - t[r][2] - t[r][3] + b;
    const int row = (c4 * p.OH + oy) * p.OW;
    dst[row + ox0] = mask_padding(activate(y0), c4, p.OC);
    if (ox0 + 1 < p.OW) dst[row + ox0 + 1] = mask_padding(activate(y1), c4, p.OC);
  }
}
