// SPDX-License-Identifier: MIT
// Max or average pooling over NC4HW4 with any kernel and stride, pads and ceil mode (graph.hpp
// PoolParams): one invocation per output pixel (x) and texel of 4 channels (y). A window is cut
// at the trailing pads (ceil mode's overhang past them never counts), then at the input. Max
// ignores the pads; average divides by the positions in the input, or with INCLUDE_PAD by those
// in the input and the pads. OY, OX shift the windows (offset pooling, without pads).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 3) const int KH = 2;
layout(constant_id = 4) const int KW = 2;
layout(constant_id = 5) const int SH = 2;
layout(constant_id = 6) const int SW = 2;
layout(constant_id = 7) const int PT = 0;
layout(constant_id = 8) const int PL = 0;
layout(constant_id = 9) const int PB = 0;
layout(constant_id = 10) const int PR = 0;
layout(constant_id = 11) const int MAX = 1;  // 1 max, 0 average
layout(constant_id = 12) const int INCLUDE_PAD = 0;
layout(constant_id = 13) const int OY = 0;  // offset pooling: windows start OY, OX pixels in
layout(constant_id = 14) const int OX = 0;

layout(binding = 0) uniform samplerBuffer src;
layout(binding = 1) writeonly buffer Dst { vec4 dst[]; };

layout(push_constant) uniform Push {
  int IW, IH, OW, OH, C;
} p;

void main() {
  const int q = int(gl_GlobalInvocationID.x);
  const int c4 = int(gl_GlobalInvocationID.y);
  const int npix = p.OW * p.OH;
  if (q >= npix) return;
  const int oy = q / p.OW, ox = q - oy * p.OW;
  const int ys = oy * SH - PT + OY, xs = ox * SW - PL + OX;
  const int ye = min(ys + KH, p.IH + PB), xe = min(xs + KW, p.IW + PR);
  const int y0 = max(ys, 0), y1 = min(ye, p.IH), x0 = max(xs, 0), x1 = min(xe, p.IW);
  // An empty window (all pads, possible only when a pad is at least the kernel) gives -inf for
  // max, as the reference does, and 0 for average.
  vec4 r = MAX != 0 ? vec4(uintBitsToFloat(0xff800000u)) : vec4(0.0);
  for (int y = y0; y < y1; ++y) {
    const int row = (c4 * p.IH + y) * p.IW;
    for (int x = x0; x < x1; ++x) {
      const vec4 v = FETCH4(src, row + x);
      r = MAX != 0 ? max(r, v) : r + v;
    }
  }
  if (MAX == 0) {
    const int count = INCLUDE_PAD != 0 ? (ye - ys) * (xe - xs) : max(0, y1 - y0) * max(0, x1 - x0);
    r = count > 0 ? r / float(count) : vec4(0.0);
  }
  // Padding channels: 0 whatever the input holds there.
  dst[c4 * npix + q] = mix(vec4(0.0), r, lessThan(ivec4(4 * c4) + ivec4(0, 1, 2, 3), ivec4(p.C)));
}
