// SPDX-License-Identifier: MIT
// Convolution: weight packing and the choice between the tiled and the streaming shader.
#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>

#include "ops/ops.hpp"
#include "overfeat/error.hpp"
#include "overfeat/half.hpp"

namespace overfeat::ops {
namespace {

constexpr uint32_t kStreamingLocal = 64;  // fc.comp: invocations over output channels

struct ConvPush {
  int32_t iw, ih, ic4, ow, oh, oc;  // oc: OC4 for conv.comp, padded OC for fc.comp
  int32_t oc_real;                  // output channels: the shaders zero the padding past them
};

// [OC8][IC4][KH][KW][8 output channels][4 input channels]: a subgroup reads 8 consecutive texels
// per kernel tap, whichever shader runs. Writes every element of `packed` (the padding as 0).
void pack_weights(int out, int in, int kh, int kw, std::span<const float> w, float* packed) {
  const int oc8 = (out + 7) / 8, ic4 = (in + 3) / 4;
  const size_t taps = static_cast<size_t>(kh) * kw;
  if (out % 8 != 0 || in % 4 != 0)
    std::fill_n(packed, static_cast<size_t>(oc8) * ic4 * taps * 32, 0.0f);
  for (int o = 0; o < out; ++o)
    for (int i = 0; i < in; ++i) {
      // Texel ((o / 8 * ic4 + i / 4) * taps + tap) * 8 + o % 8, component i % 4.
      float* dst =
          packed + ((static_cast<size_t>(o / 8) * ic4 + i / 4) * taps * 8 + o % 8) * 4 + i % 4;
      const float* src = w.data() + (static_cast<size_t>(o) * in + i) * taps;
      for (size_t tap = 0; tap < taps; ++tap) dst[tap * 32] = src[tap];
    }
}

}  // namespace

void FusedActivation::append_to(std::vector<int32_t>& constants) const {
  constants.push_back(kind);
  constants.push_back(std::bit_cast<int32_t>(a));
  constants.push_back(std::bit_cast<int32_t>(b));
}

Conv::Conv(PipelineLibrary& lib, const ConvWeights& w, int stride, int pad)
    : Conv(lib, w.out, w.in, ConvGeometry{w.k, w.k, stride, stride, pad, pad, pad, pad}, w.w, w.b) {
}

Conv::Conv(PipelineLibrary& lib, int out, int in, const ConvGeometry& g, std::span<const float> w,
           std::span<const float> b, int batch)
    : lib_(&lib), out_(out), in_(in), g_(g), batch_(batch) {
  const std::string what = "out=" + std::to_string(out) + " in=" + std::to_string(in) +
                           " k=" + std::to_string(g.kh) + "x" + std::to_string(g.kw);
  if (out <= 0 || in <= 0 || g.kh <= 0 || g.kw <= 0 || g.stride_h <= 0 || g.stride_w <= 0 ||
      g.pad_top < 0 || g.pad_left < 0 || g.pad_bottom < 0 || g.pad_right < 0 || batch <= 0)
    throw Error("Conv: invalid geometry " + what);
  const size_t per_batch = static_cast<size_t>(out) * in * g.kh * g.kw;
  if (w.size() != per_batch * batch || b.size() != static_cast<size_t>(out))
    throw Error("Conv: weight tensor sizes do not match " + what);
  const auto& ctx = lib.context();
  const size_t packed_per_batch =
      static_cast<size_t>((out + 7) / 8) * ((in + 3) / 4) * g.kh * g.kw * 32;
  const size_t floats = packed_per_batch * batch;
  if (floats / 4 > ctx.limits().maxTexelBufferElements)
    throw OutOfDeviceMemory("Conv: " + std::to_string(floats / 4) +
                            " weight texels exceed this device's texel-buffer limit");
  const auto pack_into = [&](float* packed) {
    for (int i = 0; i < batch; ++i)
      pack_weights(out, in, g.kh, g.kw, w.subspan(per_batch * i, per_batch),
                   packed + packed_per_batch * i);
  };
  half_ = ctx.half_weights() && w.size() >= kHalfMinWeights;
  if (half_) {  // the "full" layers: half the bytes to read, fp32 arithmetic
    std::vector<float> packed(floats);
    pack_into(packed.data());
    std::vector<uint16_t> bits(floats);
    for (size_t i = 0; i < floats; ++i) bits[i] = half_bits(packed[i]);
    weights_ = vk::Buffer(ctx, bits.size() * 2, true);
    weights_.upload(std::span<const uint16_t>(bits));
  } else {
    weights_ = vk::Buffer(ctx, floats * 4);
    if (weights_.host_cached()) {
      // Straight into the device's memory (lavapipe: host memory): no copy of the packed
      // weights to allocate, fill and copy again (the Winograd layers' are tens of MB).
      pack_into(static_cast<float*>(weights_.mapped()));
    } else {
      std::vector<float> packed(floats);
      pack_into(packed.data());
      weights_.upload(packed);
    }
  }
  std::vector<float> padded(((out + 7) / 8) * 8, 0.0f);
  std::copy(b.begin(), b.end(), padded.begin());
  bias_ = vk::Buffer(ctx, padded.size() * 4);
  bias_.upload(padded);
}

// Measured on lavapipe (fast net, 231x231): one subgroup (8 invocations there) per work group,
// 8 output channels and 6 pixels per invocation took conv1-5 from 451 to 197 ms against 64-wide
// groups with 8x1 tiles. Idle lanes in the last group of a small map cost as much as busy ones,
// so the pixels per invocation are chosen per layer with a small cost model. A work group is
// one subgroup of the device it runs on (32 on NVIDIA, 32-64 on AMD), not lavapipe's 8.
uint32_t Conv::local_size(const vk::Context& ctx) {
  static const int forced = [] {
    const char* e = std::getenv("OVERFEAT_CONV_LOCAL");
    return e ? std::clamp(std::atoi(e), 1, 256) : 0;
  }();
  if (forced > 0) return static_cast<uint32_t>(forced);
  const uint32_t subgroup = ctx.info().subgroup_size;
  return subgroup == 0 ? 8u : std::clamp(subgroup, 4u, 64u);
}

bool Conv::bounds_forced() {
  static const bool forced = std::getenv("OVERFEAT_CONV_BOUNDS") != nullptr;
  return forced;
}

Conv::TileShape Conv::tile_for(int out_w, int out_h, int out_c, int kw, int stride_w, int local,
                               int in_c, int kh) {
  const int ic4 = (in_c + 3) / 4;
  auto splits_ok = [&](int split) { return split >= 1 && local % split == 0 && split <= ic4; };
  if (const char* e = std::getenv("OVERFEAT_CONV_TILE")) {
    TileShape t;
    std::sscanf(e, "%dx%dx%d", &t.ocb, &t.pix, &t.split);
    if (t.ocb != 4 && t.ocb != 8) t.ocb = 8;
    t.pix = std::clamp(t.pix, 1, 8);
    if (t.split != 0 && !splits_ok(t.split)) t.split = 1;
    return t;
  }
  // Cost model, per kernel row of every invocation slot, busy or idle (a row's last segment
  // may be short, a work group's last lanes idle): the input texels the segment spans, 1 each;
  // per tap, OCB weight texels (the same for every lane, half as dear) and PIX * OCB * 4 FMAs
  // (1 per 32). Fitted on lavapipe with the loops unrolled (the bundled model at 176 px and the
  // fast net: within 10 % of the measured ratios between tiles). A split of the input channels
  // over SPLIT invocations divides each one's rows by SPLIT and multiplies the slots by it, and
  // adds the partial sums' exchange (one shared store, SPLIT - 1 loads per accumulator).
  // One kernel row of one lane: its input texels, then per tap the weights and the FMAs.
  const auto row_cost = [&](int ocb, int pix) {
    return (pix - 1) * stride_w + kw + kw * (ocb / 2.0 + pix * ocb / 8.0);
  };
  TileShape best{8, 1, 1};
  double best_cost = 1e300;
  for (int split : {1, 2, 4, 8}) {
    if (!splits_ok(split)) continue;
    for (int ocb : {8, 4}) {
      for (int pix = 8; pix >= 1; --pix) {
        const int segs = (out_w + pix - 1) / pix;
        const double slots = static_cast<double>((out_h * segs * split + local - 1) / local) *
                             local * ((out_c + ocb - 1) / ocb);
        const double rows = static_cast<double>((ic4 + split - 1) / split) * kh;
        const double exchange = split > 1 ? split * pix * ocb / 4.0 : 0.0;
        const double cost = slots * (rows * row_cost(ocb, pix) + exchange);
        if (cost < best_cost * 0.999) {
          best_cost = cost;
          best = {ocb, pix, split};
        }
      }
    }
  }
  // The same tile with the lanes over blocks of output channels instead of a split of the input
  // channels (split 0): no partial sums to exchange through shared memory, which on lavapipe
  // are per-lane loops (the bundled model's heads' products 12-15 % faster, 6 alternating
  // rounds). Taken when it keeps no more lane-steps, busy or idle.
  if (best.split > 1) {
    const int segs = out_h * ((out_w + best.pix - 1) / best.pix);
    const int blocks = (out_c + best.ocb - 1) / best.ocb;
    const auto whole = [&](int n) { return static_cast<double>((n + local - 1) / local) * local; };
    const double lanes = static_cast<double>(segs) * whole(blocks) * ic4;
    const double split = whole(segs * best.split) * blocks * ((ic4 + best.split - 1) / best.split);
    if (lanes <= split) {
      // Lanes over channels: a work group per segment, so the segment's length is chosen
      // again by the same cost per lane-step, with no pixel lanes left idle (a row of 24
      // tiles: 3 segments of 8, not 4 of 6; measured about a tenth off the heads' products).
      best.split = 0;
      double lane_cost = 1e300;
      for (int pix = 8; pix >= 1; --pix) {
        const double segments = static_cast<double>(out_h) * ((out_w + pix - 1) / pix);
        const double cost = segments * whole(blocks) * ic4 * kh * row_cost(best.ocb, pix);
        if (cost < lane_cost * 0.999) {
          lane_cost = cost;
          best.pix = pix;
        }
      }
    }
  }
  return best;
}

Conv::Variant Conv::choose(int out_pixels) {
  return out_pixels <= 4 ? Variant::Streaming : Variant::Tiled;
}

void Conv::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out,
                  bool relu, Variant variant) const {
  FusedActivation act;
  act.kind = relu ? FusedActivation::Relu : FusedActivation::None;
  record(rec, arena, in, out, act, variant);
}

void Conv::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out,
                  const FusedActivation& act, Variant variant) const {
  if (in.c != in_)
    throw Error("Conv: input has " + std::to_string(in.c) + " channels, expected " +
                std::to_string(in_));
  if (out.h != out_height(in.h) || out.w != out_width(in.w) || out.c != out_)
    throw Error("Conv: output blob has the wrong shape");
  const int npix = out.h * out.w;
  // A 1x1 stride-1 convolution without pads reads and writes its map as one row of pixels (in
  // NC4HW4 a channel block's plane is the same memory either way): the tiled shader's row
  // segments then run on across the rows' ends (the heads' 1x1 layers on a 7x12 map: 12
  // segments of 7 pixels instead of 14 of 6).
  const bool pointwise = g_ == ConvGeometry{};
  const int iw = pointwise ? npix : in.w, ih = pointwise ? 1 : in.h;
  const int ow = pointwise ? npix : out.w, oh = pointwise ? 1 : out.h;
  if (variant == Variant::Auto) variant = choose(npix);
  if (batch_ > 1) variant = Variant::Tiled;  // fc.comp has no batch
  const uint32_t tex = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
  vk::PipelineDesc d;
  d.bindings = {VkDescriptorType(tex), VkDescriptorType(tex), VkDescriptorType(tex),
                VK_DESCRIPTOR_TYPE_STORAGE_BUFFER};
  d.push_bytes = sizeof(ConvPush);
  d.local_size = {kStreamingLocal, 1, 1};
  ConvPush push{iw, ih, in.c4(), ow, oh, 0, out.c};
  // Specialization constants 3... as conv.comp and fc.comp declare them; the activation's
  // float parameters travel as their bits.
  const int32_t act_a = std::bit_cast<int32_t>(act.a), act_b = std::bit_cast<int32_t>(act.b);
  if (variant == Variant::Tiled) {
    d.shader = half_ ? ShaderId::conv_half : ShaderId::conv;
    const uint32_t local = local_size(lib_->context());
    TileShape t = tile_fixed_ ? tile_
                              : tile_for(ow, oh, out_, g_.kw, g_.stride_w, static_cast<int>(local),
                                         in_, g_.kh);
    const bool channel_lanes = t.split == 0;
    if (channel_lanes || local % t.split != 0) t.split = 1;
    // Every tap inside the input: no leading pads, and the last output's window ends inside.
    const bool inside = g_.pad_top == 0 && g_.pad_left == 0 &&
                        (oh - 1) * g_.stride_h + g_.kh <= ih &&
                        (ow - 1) * g_.stride_w + g_.kw <= iw && !bounds_forced();
    d.constants = {g_.kw, g_.kh,          g_.stride_h, g_.pad_top,           act.kind,
                   t.ocb, t.pix,          g_.stride_w, g_.pad_left,          act_a,
                   act_b, inside ? 0 : 1, t.split,     channel_lanes ? 1 : 0};
    d.local_size = {local, 1, 1};
    push.oc = out.c4();
    const auto& p = lib_->get(d);
    VkDescriptorSet set = arena.allocate(
        p, {{in.buffer, true}, {&weights_, true, false, half_}, {&bias_, true}, {out.buffer}});
    // conv.comp: t.split invocations each segment and block; or a work group per segment with
    // a lane per block
    const int segments = oh * ((ow + t.pix - 1) / t.pix) * t.split;
    const int blocks = (out_ + t.ocb - 1) / t.ocb, groups = static_cast<int>(local);
    if (channel_lanes)
      rec.dispatch(p, set, &push, sizeof(push), segments, (blocks + groups - 1) / groups, batch_);
    else
      rec.dispatch(p, set, &push, sizeof(push), (segments + groups - 1) / groups, blocks, batch_);
  } else {
    const int pix = npix >= 4 ? 4 : npix >= 2 ? 2 : 1;
    d.shader = ShaderId::fc;
    d.constants = {g_.kw, g_.kh,       g_.stride_h, g_.pad_top, act.kind,
                   pix,   g_.stride_w, g_.pad_left, act_a,      act_b};
    push.oc = out.c4() * 4;
    const auto& p = lib_->get(d);
    VkDescriptorSet set = arena.allocate(
        p, {{in.buffer, true}, {&weights_, true, half_}, {&bias_, false}, {out.buffer}});
    rec.dispatch(p, set, &push, sizeof(push), (push.oc + kStreamingLocal - 1) / kStreamingLocal,
                 (npix + pix - 1) / pix, 1);
  }
}

}  // namespace overfeat::ops
