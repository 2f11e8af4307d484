// SPDX-License-Identifier: MIT
// out = act(a + b) over NC4HW4 maps of one shape (residual connections), one invocation per
// pixel (x) and texel of 4 channels (y).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 3) const int ACT = 0;
layout(constant_id = 4) const float ACT_A = 0.0;
layout(constant_id = 5) const float ACT_B = 0.0;

#include "activation.glsl"

layout(binding = 0) uniform samplerBuffer a;
layout(binding = 1) uniform samplerBuffer b;
layout(binding = 2) writeonly buffer Dst { vec4 dst[]; };

layout(push_constant) uniform Push {
  int npix, C;
} p;

void main() {
  const int q = int(gl_GlobalInvocationID.x);
  const int c4 = int(gl_GlobalInvocationID.y);
  if (q >= p.npix) return;
  const int i = c4 * p.npix + q;
  dst[i] = mask_padding(activate(FETCH4(a, i) + FETCH4(b, i)), c4, p.C);
}
