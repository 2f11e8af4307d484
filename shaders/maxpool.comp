// SPDX-License-Identifier: MIT
// Max pooling with kernel = stride = K over NC4HW4, starting at pixel offset (DX, DY): the
// fine-stride trick pools the same map once per offset. Output size: (in - offset) / K.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 3) const int K = 2;

layout(binding = 0) uniform samplerBuffer src;
layout(binding = 1) writeonly buffer Dst { vec4 dst[]; };

layout(push_constant) uniform Push {
  int IW, IH, C4, OW, OH, DX, DY;
} p;

void main() {
  const int i = int(gl_GlobalInvocationID.x);
  const int npix = p.OW * p.OH;
  if (i >= npix * p.C4) return;
  const int c4 = i / npix, q = i - c4 * npix;
  const int oy = q / p.OW, ox = q - oy * p.OW;
  const int base = (c4 * p.IH + oy * K + p.DY) * p.IW + ox * K + p.DX;
  vec4 m = FETCH4(src, base);
  for (int ky = 0; ky < K; ++ky)
    for (int kx = 0; kx < K; ++kx) m = max(m, FETCH4(src, base + ky * p.IW + kx));
  dst[i] = m;
}
