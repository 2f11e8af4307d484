// SPDX-License-Identifier: MIT
// Shared declarations. Activations live in NC4HW4 layout: texel (c4 * H + y) * W + x holds
// channels 4*c4 .. 4*c4+3 at (y, x). Reads go through uniform texel buffers (samplerBuffer),
// which Mesa's lavapipe compiles to gathers, while plain SSBO reads there become per-lane loops.

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

#define FETCH4(buf, i) texelFetch(buf, int(i))
#define FETCH1(buf, i) texelFetch(buf, int(i)).x
