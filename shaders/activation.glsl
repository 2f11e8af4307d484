// SPDX-License-Identifier: MIT
// The fused activations of graph.hpp (Activation::Kind), selected by specialization constants
// that the including shader declares: int ACT (0 none, 1 ReLU, 2 clip ACT_A..ACT_B, 3 leaky ReLU
// with slope ACT_A) and floats ACT_A, ACT_B. The branches fold away when the pipeline is built.

vec4 activate(vec4 v) {
  if (ACT == 1) return max(v, vec4(0.0));
  if (ACT == 2) return min(max(v, vec4(ACT_A)), vec4(ACT_B));
  if (ACT == 3) return mix(v, v * ACT_A, lessThan(v, vec4(0.0)));
  return v;
}

float activate(float v) {
  if (ACT == 1) return max(v, 0.0);
  if (ACT == 2) return min(max(v, ACT_A), ACT_B);
  if (ACT == 3) return v < 0.0 ? v * ACT_A : v;
  return v;
}

// Zeroes the channels of texel `c4` at or past `c` (the padding of the last texel), which an
// activation of the zero padding could otherwise make non-zero (a clip with a positive minimum).
vec4 mask_padding(vec4 v, int c4, int c) {
  return mix(vec4(0.0), v, lessThan(ivec4(4 * c4) + ivec4(0, 1, 2, 3), ivec4(c)));
}
