// SPDX-License-Identifier: MIT
// Convolution with what conv.comp does not cover: groups (depthwise included) and dilation,
// besides rectangular kernels and strides, asymmetric pads, bias and a fused activation. One
// invocation per output pixel and texel of 4 output channels (x: pixels, y: output texels).
// MODE picks how the weights are laid out and the input is read:
//   0: any grouping; scalar reads of the input (R32F view) and of the weights
//      [OC][ICG][KH][KW] as the file has them. Four output channels of a texel may each belong
//      to another group.
//   1: each group's input and output channels fill whole texels (or one group): RGBA reads,
//      weights [OC4][ICG4][KH][KW][4 output channels] texels of 4 input channels.
//   2: depthwise with one output channel per input channel: output texel c4 reads input texel
//      c4, weights [C4][KH][KW] texels of 4 channels.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 3) const int KH = 1;
layout(constant_id = 4) const int KW = 1;
layout(constant_id = 5) const int SH = 1;
layout(constant_id = 6) const int SW = 1;
layout(constant_id = 7) const int DH = 1;
layout(constant_id = 8) const int DW = 1;
layout(constant_id = 9) const int PT = 0;   // top pad; the bottom pad only sets the output size
layout(constant_id = 10) const int PL = 0;  // left pad
layout(constant_id = 11) const int MODE = 0;
layout(constant_id = 12) const int ACT = 0;
layout(constant_id = 13) const float ACT_A = 0.0;
layout(constant_id = 14) const float ACT_B = 0.0;

#include "activation.glsl"

layout(binding = 0) uniform samplerBuffer src;      // NC4HW4 input; R32F view in mode 0
layout(binding = 1) uniform samplerBuffer weights;  // R32F view in mode 0, else RGBA
layout(binding = 2) uniform samplerBuffer bias;     // [OC4] texels, zero past OC
layout(binding = 3) writeonly buffer Dst { vec4 dst[]; };  // NC4HW4 output

layout(push_constant) uniform Push {
  int IW, IH, OW, OH, OC;
  int ICG, OCG;  // input and output channels per group
  int ICG4;      // mode 1: input texels per group
} p;

void main() {
  const int q = int(gl_GlobalInvocationID.x);
  const int oc4 = int(gl_GlobalInvocationID.y);
  const int npix = p.OW * p.OH;
  if (q >= npix) return;
  const int oy = q / p.OW;
  const int iy0 = oy * SH - PT, ix0 = (q - oy * p.OW) * SW - PL;
  vec4 acc = FETCH4(bias, oc4);
  if (MODE == 2) {
    int w = oc4 * KH * KW;
    for (int ky = 0; ky < KH; ++ky) {
      const int iy = iy0 + ky * DH;
      for (int kx = 0; kx < KW; ++kx, ++w) {
        const int ix = ix0 + kx * DW;
        const bool ok = iy >= 0 && iy < p.IH && ix >= 0 && ix < p.IW;
        vec4 x = FETCH4(src, (oc4 * p.IH + clamp(iy, 0, p.IH - 1)) * p.IW + clamp(ix, 0, p.IW - 1));
        acc = fma(FETCH4(weights, w), ok ? x : vec4(0.0), acc);
      }
    }
  } else if (MODE == 1) {
    const int first4 = (oc4 * 4 / p.OCG) * p.ICG4;  // the group's first input texel
    int w = oc4 * p.ICG4 * KH * KW * 4;
    for (int c = 0; c < p.ICG4; ++c) {
      const int plane = (first4 + c) * p.IH;
      for (int ky = 0; ky < KH; ++ky) {
        const int iy = iy0 + ky * DH;
        for (int kx = 0; kx < KW; ++kx, w += 4) {
          const int ix = ix0 + kx * DW;
          const bool ok = iy >= 0 && iy < p.IH && ix >= 0 && ix < p.IW;
          vec4 x = FETCH4(src, (plane + clamp(iy, 0, p.IH - 1)) * p.IW + clamp(ix, 0, p.IW - 1));
          x = ok ? x : vec4(0.0);
          acc += vec4(dot(FETCH4(weights, w), x), dot(FETCH4(weights, w + 1), x),
                      dot(FETCH4(weights, w + 2), x), dot(FETCH4(weights, w + 3), x));
        }
      }
    }
  } else {
    for (int j = 0; j < 4; ++j) {
      const int oc = oc4 * 4 + j;
      if (oc >= p.OC) break;
      const int first = (oc / p.OCG) * p.ICG;  // the group's first input channel
      float s = acc[j];
      int w = oc * p.ICG * KH * KW;
      for (int i = 0; i < p.ICG; ++i) {
        const int ic = first + i;
        const int plane = (ic >> 2) * p.IH, lane = ic & 3;
        for (int ky = 0; ky < KH; ++ky) {
          const int iy = iy0 + ky * DH;
          for (int kx = 0; kx < KW; ++kx, ++w) {
            const int ix = ix0 + kx * DW;
            if (iy < 0 || iy >= p.IH || ix < 0 || ix >= p.IW) continue;
            s = fma(FETCH1(weights, w), FETCH1(src, ((plane + iy) * p.IW + ix) * 4 + lane), s);
          }
        }
      }
      acc[j] = s;
    }
  }
  dst[oc4 * npix + q] = mask_padding(activate(acc), oc4, p.OC);
}
