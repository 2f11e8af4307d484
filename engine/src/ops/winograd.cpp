// SPDX-License-Identifier: MIT
// 3x3 stride-1 convolution by Winograd F(2x2, 3x3): input transform (winograd_in.comp), 16
// 1x1 convolutions in one batched dispatch of the tuned conv.comp, output transform with the
// bias and the activation (winograd_out.comp).
#include <array>
#include <cstdlib>
#include <cstring>

#include "ops/ops.hpp"
#include "overfeat/error.hpp"

namespace overfeat::ops {
namespace {

constexpr uint32_t kLocal = 64;
constexpr VkDescriptorType kTexel = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
constexpr VkDescriptorType kStorage = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;

struct InPush {
  int32_t iw, ih, ic4, tw, th;
};
struct OutPush {
  int32_t ow, oh, oc4, tw, th, oc;
};

// U = G g G^T for every (out, in) pair: [16][out][in] (element r * 4 + c of U), the weights of
// the 16 1x1 convolutions. G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
std::vector<float> transform_weights(int out, int in, std::span<const float> w) {
  const size_t pairs = static_cast<size_t>(out) * in;
  std::vector<float> u(16 * pairs);
  for (size_t pair = 0; pair < pairs; ++pair) {
    const float* g = &w[pair * 9];
    float t[4][3];  // G g
    for (int c = 0; c < 3; ++c) {
      t[0][c] = g[c];
      t[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
      t[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
      t[3][c] = g[6 + c];
    }
    for (int r = 0; r < 4; ++r) {  // (G g) G^T
      const float e[4] = {t[r][0], 0.5f * (t[r][0] + t[r][1] + t[r][2]),
                          0.5f * (t[r][0] - t[r][1] + t[r][2]), t[r][2]};
      for (int c = 0; c < 4; ++c) u[(r * 4 + c) * pairs + pair] = e[c];
    }
  }
  return u;
}

}  // namespace

bool WinogradConv::suits(const ConvGeometry& g, int out, int in) {
  static const bool off = [] {
    const char* e = std::getenv("OVERFEAT_WINOGRAD");
    return e && std::strcmp(e, "0") == 0;
  }();
  // Few channels: the transforms' traffic outweighs the 2.25x fewer multiply-adds.
  return !off && g.kh == 3 && g.kw == 3 && g.stride_h == 1 && g.stride_w == 1 &&
         out >= kMinChannels && in >= kMinChannels;
}

WinogradConv::WinogradConv(PipelineLibrary& lib, int out, int in, const ConvGeometry& g,
                           std::span<const float> w, std::span<const float> b)
    : lib_(&lib), out_(out), in_(in), g_(g) {
  if (g.kh != 3 || g.kw != 3 || g.stride_h != 1 || g.stride_w != 1 || out <= 0 || in <= 0 ||
      g.pad_top < 0 || g.pad_left < 0 || g.pad_bottom < 0 || g.pad_right < 0)
    throw Error("WinogradConv: only 3x3 kernels at stride 1");
  if (w.size() != static_cast<size_t>(out) * in * 9 || b.size() != static_cast<size_t>(out))
    throw Error("WinogradConv: weight tensor sizes do not match out=" + std::to_string(out) +
                " in=" + std::to_string(in));
  const auto u = transform_weights(out, in, w);
  const std::vector<float> zero(static_cast<size_t>(out), 0.0f);  // the bias comes at the end
  products_ = std::make_unique<Conv>(lib, out, in, ConvGeometry{}, u, zero, 16);
  std::vector<float> padded(((out + 3) / 4) * 4, 0.0f);
  std::copy(b.begin(), b.end(), padded.begin());
  bias_ = vk::Buffer(lib.context(), padded.size() * 4);
  bias_.upload(padded);
}

WinogradConv::~WinogradConv() = default;

WinogradConv::Scratch WinogradConv::scratch_bytes(int in_h, int in_w) const {
  const int oh = out_height(in_h), ow = out_width(in_w);
  if (oh <= 0 || ow <= 0) return {};
  const uint64_t tiles = static_cast<uint64_t>((oh + 1) / 2) * ((ow + 1) / 2);
  return {16 * tiles * ((in_ + 3) / 4) * 16, 16 * tiles * ((out_ + 3) / 4) * 16};
}

uint64_t WinogradConv::weight_bytes() const {
  return products_->weight_bytes() + bias_.size();
}

void WinogradConv::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in,
                          const Blob& out, const FusedActivation& act,
                          const ScratchBuffers& scratch) const {
  if (in.c != in_)
    throw Error("WinogradConv: input has " + std::to_string(in.c) + " channels, expected " +
                std::to_string(in_));
  if (out.h != out_height(in.h) || out.w != out_width(in.w) || out.c != out_)
    throw Error("WinogradConv: output blob has the wrong shape");
  const Scratch need = scratch_bytes(in.h, in.w);
  if (!scratch.input || !scratch.products || scratch.input->size() < need.input ||
      scratch.products->size() < need.products)
    throw Error("WinogradConv: scratch buffers missing or too small");
  const int th = (out.h + 1) / 2, tw = (out.w + 1) / 2;
  // The products are 1x1 convolutions: the tiles as one row of pixels, so that the tuned
  // shader's row segments do not end at every row of tiles (less idle work in its groups).
  const Blob v{scratch.input, in_, 1, th * tw}, m{scratch.products, out_, 1, th * tw};

  vk::PipelineDesc d;
  d.shader = ShaderId::winograd_in;
  d.bindings = {kTexel, kStorage};
  d.push_bytes = sizeof(InPush);
  d.local_size = {kLocal, 1, 1};
  d.constants = {g_.pad_top, g_.pad_left};
  const auto& pin = lib_->get(d);
  InPush ip{in.w, in.h, in.c4(), tw, th};
  VkDescriptorSet set = arena.allocate(pin, {{in.buffer, true}, {v.buffer}});
  const int in_threads = in.c4() * th * tw;
  rec.dispatch(pin, set, &ip, sizeof(ip), (in_threads + kLocal - 1) / kLocal, 1, 1);
  rec.barrier();

  products_->record(rec, arena, v, m, FusedActivation{}, Conv::Variant::Tiled);
  rec.barrier();

  d.shader = ShaderId::winograd_out;
  d.bindings = {kTexel, kTexel, kStorage};
  d.push_bytes = sizeof(OutPush);
  d.constants.clear();
  act.append_to(d.constants);
  const auto& pout = lib_->get(d);
  OutPush op{out.w, out.h, out.c4(), tw, th, out.c};
  set = arena.allocate(pout, {{m.buffer, true}, {&bias_, true}, {out.buffer}});
  const int out_threads = out.c4() * th * tw;
  rec.dispatch(pout, set, &op, sizeof(op), (out_threads + kLocal - 1) / kLocal, 1, 1);
}

}  // namespace overfeat::ops
