// SPDX-License-Identifier: MIT
// Convolution: weight packing and the choice between the tiled and the streaming shader.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "overfeat/error.hpp"
#include "overfeat/ops.hpp"

namespace overfeat::ops {
namespace {

constexpr uint32_t kStreamingLocal = 64;  // fc.comp: invocations over output channels

struct ConvPush {
  int32_t iw, ih, ic4, ow, oh, oc;  // oc: OC4 for conv.comp, padded OC for fc.comp
};

// [OC8][IC4][K][K][8 output channels][4 input channels]: a subgroup reads 8 consecutive texels
// per kernel tap, whichever shader runs.
std::vector<float> pack_weights(const ConvWeights& w) {
  const int oc8 = (w.out + 7) / 8, ic4 = (w.in + 3) / 4, k = w.k;
  std::vector<float> packed(static_cast<size_t>(oc8) * ic4 * k * k * 32, 0.0f);
  for (int o = 0; o < w.out; ++o)
    for (int i = 0; i < w.in; ++i)
      for (int ky = 0; ky < k; ++ky)
        for (int kx = 0; kx < k; ++kx) {
          size_t texel =
              ((((static_cast<size_t>(o / 8) * ic4 + i / 4) * k + ky) * k + kx) * 8 + o % 8);
          packed[texel * 4 + i % 4] = w.w[((static_cast<size_t>(o) * w.in + i) * k + ky) * k + kx];
        }
  return packed;
}

}  // namespace

Conv::Conv(PipelineLibrary& lib, const ConvWeights& w, int stride, int pad)
    : lib_(&lib), out_(w.out), in_(w.in), k_(w.k), stride_(stride), pad_(pad) {
  if (w.w.size() != static_cast<size_t>(w.out) * w.in * w.k * w.k ||
      w.b.size() != static_cast<size_t>(w.out))
    throw Error("Conv: weight tensor sizes do not match out=" + std::to_string(w.out) +
                " in=" + std::to_string(w.in) + " k=" + std::to_string(w.k));
  const auto& ctx = lib.context();
  auto packed = pack_weights(w);
  weights_ = vk::Buffer(ctx, packed.size() * 4);
  weights_.upload(packed);
  std::vector<float> b(((w.out + 7) / 8) * 8, 0.0f);
  std::copy(w.b.begin(), w.b.end(), b.begin());
  bias_ = vk::Buffer(ctx, b.size() * 4);
  bias_.upload(b);
  if (packed.size() / 4 > ctx.limits().maxTexelBufferElements)
    throw OutOfDeviceMemory("Conv: " + std::to_string(packed.size() / 4) +
                            " weight texels exceed this device's texel-buffer limit");
}

// Measured on lavapipe (fast net, 231x231): one subgroup (8 invocations) per work group, 8
// output channels and 6 pixels per invocation took conv1-5 from 451 to 197 ms against 64-wide
// groups with 8x1 tiles. Idle lanes in the last group of a small map cost as much as busy ones,
// so the pixels per invocation are chosen per layer with a small cost model.
uint32_t Conv::local_size() {
  static const uint32_t local = [] {
    const char* e = std::getenv("OVERFEAT_CONV_LOCAL");
    const int v = e ? std::atoi(e) : 8;
    return static_cast<uint32_t>(std::clamp(v, 1, 256));
  }();
  return local;
}

Conv::TileShape Conv::tile_for(int out_pixels) {
  if (const char* e = std::getenv("OVERFEAT_CONV_TILE")) {
    TileShape t;
    std::sscanf(e, "%dx%d", &t.ocb, &t.pix);
    if (t.ocb != 4 && t.ocb != 8) t.ocb = 8;
    t.pix = std::clamp(t.pix, 1, 8);
    return t;
  }
  // Cost model: every invocation slot, busy or idle, fetches one input texel per pixel and the
  // 8 weight texels once for all its pixels. It agrees with the measurements above (e.g. at
  // 12x12, 8x6 beats 8x8, whose third group is mostly idle).
  const int local = static_cast<int>(local_size());
  TileShape best{8, 1};
  double best_cost = 1e300;
  for (int pix : {8, 6, 4, 3, 2, 1}) {
    const int per_group = local * pix;
    const double slots = static_cast<double>((out_pixels + per_group - 1) / per_group) * per_group;
    const double cost = slots * (1.0 + 8.0 / pix);
    if (cost < best_cost) {
      best_cost = cost;
      best = {8, pix};
    }
  }
  return best;
}

Conv::Variant Conv::choose(int out_pixels) {
  return out_pixels <= 4 ? Variant::Streaming : Variant::Tiled;
}

void Conv::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out,
                  bool relu, Variant variant) const {
  if (in.c != in_)
    throw Error("Conv: input has " + std::to_string(in.c) + " channels, expected " +
                std::to_string(in_));
  if (out.h != out_size(in.h) || out.w != out_size(in.w) || out.c != out_)
    throw Error("Conv: output blob has the wrong shape");
  const int npix = out.h * out.w;
  if (variant == Variant::Auto) variant = choose(npix);
  const uint32_t tex = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
  vk::PipelineDesc d;
  d.bindings = {VkDescriptorType(tex), VkDescriptorType(tex), VkDescriptorType(tex),
                VK_DESCRIPTOR_TYPE_STORAGE_BUFFER};
  d.push_bytes = sizeof(ConvPush);
  d.local_size = {kStreamingLocal, 1, 1};
  ConvPush push{in.w, in.h, in.c4(), out.w, out.h, 0};
  if (variant == Variant::Tiled) {
    d.shader = ShaderId::conv;
    const TileShape t = tile_fixed_ ? tile_ : tile_for(npix);
    d.constants = {k_, k_, stride_, pad_, relu ? 1 : 0, t.ocb, t.pix};
    const uint32_t local = local_size();
    d.local_size = {local, 1, 1};
    push.oc = out.c4();
    const auto& p = lib_->get(d);
    VkDescriptorSet set =
        arena.allocate(p, {{in.buffer, true}, {&weights_, true}, {&bias_, true}, {out.buffer}});
    const int per_group = static_cast<int>(local) * t.pix;
    rec.dispatch(p, set, &push, sizeof(push), (npix + per_group - 1) / per_group,
                 (out_ + t.ocb - 1) / t.ocb, 1);
  } else {
    const int pix = npix >= 4 ? 4 : npix >= 2 ? 2 : 1;
    d.shader = ShaderId::fc;
    d.constants = {k_, k_, stride_, pad_, relu ? 1 : 0, pix};
    push.oc = out.c4() * 4;
    const auto& p = lib_->get(d);
    VkDescriptorSet set =
        arena.allocate(p, {{in.buffer, true}, {&weights_, true}, {&bias_, false}, {out.buffer}});
    rec.dispatch(p, set, &push, sizeof(push), (push.oc + kStreamingLocal - 1) / kStreamingLocal,
                 (npix + pix - 1) / pix, 1);
  }
}

}  // namespace overfeat::ops
