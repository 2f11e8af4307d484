// SPDX-License-Identifier: MIT
// The body of conv.comp (fp32 weights) and conv_half.comp (PACKED_HALF: fp16 weights, two to a
// 32-bit word), after their #version and #extension lines.
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
// 0 when the host knows that every tap of every output pixel lies inside the input (no padding
// reached): the per-tap bounds test and clamps are left out.
layout(constant_id = 14) const int BOUNDS = 1;
// Split of the input channels: SPLIT consecutive invocations of a work group share one row
// segment, each summing every SPLIT-th block of 4 input channels, and the first adds the
// others' sums (shared memory). For maps with few pixels and many input channels (the heads'
// 7x7 layers on a few cells per offset), where whole segments per invocation would leave most
// of a work group idle.
layout(constant_id = 15) const int SPLIT = 1;
// 1: the work group's lanes take consecutive blocks of OCB output channels of one row segment
// (the work group's x index), instead of segments of one block: for the same small maps, all
// lanes busy without splitting the input channels and exchanging partial sums (SPLIT 1 then).
layout(constant_id = 16) const int CHANNEL_LANES = 0;

#include "activation.glsl"

layout(binding = 0) uniform samplerBuffer src;      // NC4HW4 input
#ifdef PACKED_HALF
// The same texels as 16-bit floats, two to a uint texel: texel t of the layout is half of uint
// texel t / 2. One fetch brings 8 weights instead of 4 (on lavapipe a fetch is a call that costs
// what ~10 multiply-adds do).
layout(binding = 1) uniform usamplerBuffer weights;
#else
layout(binding = 1) uniform samplerBuffer weights;  // [OC8][IC4][KH][KW][8] texels
#endif
layout(binding = 2) uniform samplerBuffer bias;     // [OC4] texels
layout(binding = 3) writeonly buffer Dst { vec4 dst[]; };  // NC4HW4 output

layout(push_constant) uniform Push {
  int IW, IH, IC4, OW, OH, OC4;
  int OC;  // output channels; the last texel's channels past it are padding, written as 0
} p;

shared vec4 partial[SPLIT > 1 ? gl_WorkGroupSize.x : 1][PIX * OCB / 4];

// An invocation's PIX pixels are consecutive in one output row, so at each kernel row it reads
// the (PIX - 1) * STRIDE_X + KW input texels they share once, not PIX * KW (a 7x7 layer with 3
// pixels: 9 fetches, not 21).
const int ROW = (PIX - 1) * STRIDE_X + KW;

void main() {
  const int blocks = (p.OC + OCB - 1) / OCB;
  // Block of OCB output channels; blocks past the end compute a clamped duplicate, not stored.
  const int lane_block = CHANNEL_LANES == 1
                             ? int(gl_WorkGroupID.y * gl_WorkGroupSize.x + gl_LocalInvocationID.x)
                             : int(gl_WorkGroupID.y);
  const int block = min(lane_block, blocks - 1);
  const int oc4 = block * (OCB / 4);
  const int segs = (p.OW + PIX - 1) / PIX;  // row segments of PIX pixels
  // Segments past the end compute a clamped duplicate and skip the store.
  const int slot =
      CHANNEL_LANES == 1 ? int(gl_WorkGroupID.x) : int(gl_GlobalInvocationID.x) / SPLIT;
  const int slice =  // of the input channels
      CHANNEL_LANES == 1 ? 0 : int(gl_GlobalInvocationID.x) - slot * SPLIT;
  const int seg = min(slot, p.OH * segs - 1);
  const int batch = int(gl_WorkGroupID.z);
  const int oy = seg / segs;
  const int ox0 = (seg - oy * segs) * PIX;
  const int iy0 = oy * STRIDE - PAD;
  const int ix0 = ox0 * STRIDE_X - PAD_X;
  // Weight texels of this block: 8 per tap in the [OC8] layout, of which we use OCB.
  const int taps8 = p.IC4 * KH * KW * 8;  // texels of one block of 8 output channels
  int wbase = (batch * ((p.OC4 + 1) / 2) + oc4 / 2) * taps8 + (oc4 & 1) * 4 + slice * KH * KW * 8;

  vec4 acc[PIX][OCB / 4];
  for (int i = 0; i < PIX; ++i)
    for (int b = 0; b < OCB / 4; ++b) acc[i][b] = slice == 0 ? FETCH4(bias, oc4 + b) : vec4(0.0);
  for (int c4 = slice; c4 < p.IC4; c4 += SPLIT) {
    const int plane = (batch * p.IC4 + c4) * p.IH;  // this batch's input channel block
    for (int ky = 0; ky < KH; ++ky) {
      const int iy = iy0 + ky;
      vec4 row[ROW];
      [[unroll]] for (int j = 0; j < ROW; ++j) {
        // Pixels past the row's end (a short last segment) read clamped texels, never stored.
        const int ix = ix0 + j;
        if (BOUNDS == 0) {
          row[j] = FETCH4(src, (plane + iy) * p.IW + min(ix, p.IW - 1));
        } else {
          const bool ok = iy >= 0 && iy < p.IH && ix >= 0 && ix < p.IW;
          const vec4 x =
              FETCH4(src, (plane + clamp(iy, 0, p.IH - 1)) * p.IW + clamp(ix, 0, p.IW - 1));
          row[j] = ok ? x : vec4(0.0);
        }
      }
      [[unroll]] for (int kx = 0; kx < KW; ++kx) {
        vec4 w[OCB];
#ifdef PACKED_HALF
        [[unroll]] for (int j = 0; j < OCB; j += 2) {  // wbase is a multiple of 4
          const uvec4 u = texelFetch(weights, (wbase + j) >> 1);
          w[j] = vec4(unpackHalf2x16(u.x), unpackHalf2x16(u.y));
          w[j + 1] = vec4(unpackHalf2x16(u.z), unpackHalf2x16(u.w));
        }
#else
        [[unroll]] for (int j = 0; j < OCB; ++j) w[j] = FETCH4(weights, wbase + j);
#endif
        wbase += 8;
        [[unroll]] for (int i = 0; i < PIX; ++i) {
          const vec4 x = row[i * STRIDE_X + kx];
          [[unroll]] for (int b = 0; b < OCB / 4; ++b) {
            acc[i][b].x = fma(w[4 * b + 0].x, x.x, fma(w[4 * b + 0].y, x.y, fma(w[4 * b + 0].z, x.z, fma(w[4 * b + 0].w, x.w, acc[i][b].x))));
            acc[i][b].y = fma(w[4 * b + 1].x, x.x, fma(w[4 * b + 1].y, x.y, fma(w[4 * b + 1].z, x.z, fma(w[4 * b + 1].w, x.w, acc[i][b].y))));
            acc[i][b].z = fma(w[4 * b + 2].x, x.x, fma(w[4 * b + 2].y, x.y, fma(w[4 * b + 2].z, x.z, fma(w[4 * b + 2].w, x.w, acc[i][b].z))));
            acc[i][b].w = fma(w[4 * b + 3].x, x.x, fma(w[4 * b + 3].y, x.y, fma(w[4 * b + 3].z, x.z, fma(w[4 * b + 3].w, x.w, acc[i][b].w))));
          }
        }
      }
    }
    wbase += (SPLIT - 1) * KH * KW * 8;  // the other slices' input channels
  }
  if (SPLIT > 1) {
    const int lane = int(gl_LocalInvocationID.x);
    for (int i = 0; i < PIX; ++i)
      for (int b = 0; b < OCB / 4; ++b) partial[lane][i * (OCB / 4) + b] = acc[i][b];
    barrier();
    if (slice != 0) return;
    for (int s = 1; s < SPLIT; ++s)
      for (int i = 0; i < PIX; ++i)
        for (int b = 0; b < OCB / 4; ++b) acc[i][b] += partial[lane + s][i * (OCB / 4) + b];
  }
  if (slot >= p.OH * segs || lane_block >= blocks) return;
  const int npix = p.OW * p.OH;
  const int dst_base = batch * p.OC4 * npix;
  for (int i = 0; i < PIX; ++i) {
    if (ox0 + i >= p.OW) break;
    const int q = oy * p.OW + ox0 + i;
    for (int b = 0; b < OCB / 4; ++b) {
      if (oc4 + b >= p.OC4) break;
      dst[dst_base + (oc4 + b) * npix + q] = mask_padding(activate(acc[i][b]), oc4 + b, p.OC);
    }
  }
}
