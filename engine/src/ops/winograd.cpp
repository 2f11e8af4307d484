// SPDX-License-Identifier: MIT
// 3x3, 5x5 and 7x7 stride-1 convolutions, and images' strided first layers by their phases, by
// Winograd F(m x n, r x r) (WinogradConv::tile): input transform (winograd_in.comp), one 1x1
// convolution per element of the transformed tile in one batched dispatch of the tuned
// conv.comp, output transform with the bias and the activation (winograd_out.comp).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "ops/ops.hpp"
#include "overfeat/error.hpp"

namespace overfeat::ops {
namespace {

constexpr uint32_t kLocal = 64;
constexpr VkDescriptorType kTexel = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
constexpr VkDescriptorType kStorage = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;

// tb: the map's first tile in a batch's row of tt tiles.
struct InPush {
  int32_t iw, ih, ic4, tw, th, tb, tt;
};
struct OutPush {
  int32_t ow, oh, oc4, tw, th, oc, tb, tt;
};

// The transforms' coefficients, the rows' matrix then the columns', as the float specialization
// constants 10 to 265 (winograd_coefficients.glsl), after each shader's own constants 3 to 9.
constexpr size_t kOwnConstants = 7, kCoefficientConstants = 256;
void append_coefficients(const std::vector<double>& rows, const std::vector<double>& cols,
                         std::vector<int32_t>& constants) {
  if (constants.size() != kOwnConstants || rows.size() + cols.size() > kCoefficientConstants)
    throw Error("WinogradConv: the transform's coefficients do not fit its constants");
  for (const auto* m : {&rows, &cols})
    for (double x : *m) constants.push_back(std::bit_cast<int32_t>(static_cast<float>(x)));
}

// U = G_r g G_c^T for every pair in blocks (G_r of the tile's rows, G_c of its columns), the
// pairs innermost and the loops of a fixed length so that they vectorize: pair by pair, the
// bundled model's classifier conv6 (131,072 pairs, F(4x4, 7x7)) took 164 ms at every start of
// the program. Single precision: the sums have at most 7 terms.
void transform_all(const WinogradMatrices& rows, const WinogradMatrices& cols, size_t pairs,
                   const float* w, float* u) {
  const int Ar = rows.alpha, Ac = cols.alpha, R = rows.r;
  constexpr size_t kBlock = 256;
  std::vector<float> wt(static_cast<size_t>(R) * R * kBlock, 0.0f);  // [tap][pair]
  std::vector<float> gg(static_cast<size_t>(Ar) * R * kBlock);       // G_r g: [i][c][pair]
  std::vector<float> out(kBlock);
  const std::vector<float> Gr(rows.g.begin(), rows.g.end()), Gc(cols.g.begin(), cols.g.end());
  // d[p] += coef * src[p] for a whole block.
  const auto axpy = [](float coef, const float* __restrict src, float* __restrict d) {
    for (size_t p = 0; p < kBlock; ++p) d[p] += coef * src[p];
  };
  for (size_t first = 0; first < pairs; first += kBlock) {
    const size_t n = std::min(kBlock, pairs - first);
    for (size_t p = 0; p < n; ++p)
      for (int e = 0; e < R * R; ++e) wt[e * kBlock + p] = w[(first + p) * R * R + e];
    for (int i = 0; i < Ar; ++i)
      for (int c = 0; c < R; ++c) {
        float* d = &gg[(i * R + c) * kBlock];
        std::fill_n(d, kBlock, 0.0f);
        for (int k = 0; k < R; ++k) axpy(Gr[i * R + k], &wt[(k * R + c) * kBlock], d);
      }
    for (int i = 0; i < Ar; ++i)  // (G_r g) G_c^T
      for (int j = 0; j < Ac; ++j) {
        std::fill(out.begin(), out.end(), 0.0f);
        for (int k = 0; k < R; ++k) axpy(Gc[j * R + k], &gg[(i * R + k) * kBlock], out.data());
        std::copy_n(out.data(), n, u + (i * Ac + j) * pairs + first);
      }
  }
}

// A stride-s kernel [out][in][k][k] as the stride-1 kernel of its phases (WinogradConv::computes):
// [out][in'][r][r] with r = ceil(k / s) and input channel in' = (phase * in4 + c / 4) * 4 + c % 4
// for phase = dy * s + dx and in4 = ceil(in / 4) (the input transform writes the phases' texels
// one after the other); taps past the kernel and channels past `in` are zero.
std::vector<float> phase_kernels(int out, int in, int k, int s, std::span<const float> w) {
  const int r = (k + s - 1) / s, in4 = (in + 3) / 4, wide = in4 * 4 * s * s;
  std::vector<float> v(static_cast<size_t>(out) * wide * r * r, 0.0f);
  for (int o = 0; o < out; ++o)
    for (int c = 0; c < in; ++c)
      for (int ky = 0; ky < k; ++ky)
        for (int kx = 0; kx < k; ++kx) {
          const int phase = (ky % s) * s + kx % s;
          const size_t i = (static_cast<size_t>(phase) * in4 + c / 4) * 4 + c % 4;
          v[((static_cast<size_t>(o) * wide + i) * r + ky / s) * r + kx / s] =
              w[((static_cast<size_t>(o) * in + c) * k + ky) * k + kx];
        }
  return v;
}

// U = G_r g G_c^T for every (out, in) pair: [alpha_r][alpha_c][out][in], the weights of the
// alpha_r alpha_c 1x1 convolutions.
std::vector<float> transform_weights(const WinogradMatrices& rows, const WinogradMatrices& cols,
                                     int out, int in, std::span<const float> w) {
  const size_t pairs = static_cast<size_t>(out) * in;
  std::vector<float> u(static_cast<size_t>(rows.alpha) * cols.alpha * pairs);
  transform_all(rows, cols, pairs, w.data(), u.data());
  return u;
}

}  // namespace

WinogradMatrices winograd_matrices(int m, int r) {
  WinogradMatrices t;
  t.m = m;
  t.r = r;
  t.alpha = m + r - 1;
  const int a = t.alpha, n = a - 1;  // n finite points and infinity
  // The first n. For nine (F(4, 7)) +-3/4 rather than +-3: an fp32 error of about 7e-5 of the
  // outputs' range over 256 channels against 3e-4 (numpy, 200 random tiles).
  const double candidates[] = {0, 1, -1, 2, -2, 0.5, -0.5, 0.75, -0.75, 3, -3};
  if (m < 1 || r < 1 || n > static_cast<int>(std::size(candidates)))
    throw Error("Winograd F(" + std::to_string(m) + ", " + std::to_string(r) + "): too large");
  const std::vector<double> pts(candidates, candidates + n);
  // Coefficients, lowest degree first, of the product of (x - q) over `roots`.
  auto poly = [](const std::vector<double>& roots) {
    std::vector<double> c{1.0};
    for (double q : roots) {
      std::vector<double> next(c.size() + 1, 0.0);
      for (size_t k = 0; k < c.size(); ++k) {
        next[k] -= q * c[k];
        next[k + 1] += c[k];
      }
      c = std::move(next);
    }
    return c;
  };
  t.at.assign(static_cast<size_t>(m) * a, 0.0);
  t.g.assign(static_cast<size_t>(a) * r, 0.0);
  t.bt.assign(static_cast<size_t>(a) * a, 0.0);
  for (int i = 0; i < n; ++i) {
    std::vector<double> others;
    double denominator = 1;
    for (int j = 0; j < n; ++j)
      if (j != i) {
        others.push_back(pts[j]);
        denominator *= pts[i] - pts[j];
      }
    for (int k = 0; k < m; ++k) t.at[k * a + i] = std::pow(pts[i], k);
    for (int k = 0; k < r; ++k) t.g[i * r + k] = std::pow(pts[i], k) / denominator;
    const auto c = poly(others);
    for (size_t k = 0; k < c.size(); ++k) t.bt[i * a + k] = c[k];
  }
  // The point at infinity: the highest coefficients.
  t.at[(m - 1) * a + n] = 1;
  t.g[n * r + r - 1] = 1;
  const auto c = poly(pts);
  for (size_t k = 0; k < c.size(); ++k) t.bt[n * a + k] = c[k];
  return t;
}

namespace {
// OVERFEAT_WINOGRAD: 0 for no Winograd, 2 or 4 for that output tile; unset: the default.
int forced_tile() {
  static const int m = [] {
    const char* e = std::getenv("OVERFEAT_WINOGRAD");
    if (!e) return -1;
    if (std::strcmp(e, "0") == 0) return 0;
    if (std::strcmp(e, "2") == 0) return 2;
    if (std::strcmp(e, "4") == 0) return 4;
    return -1;
  }();
  return m;
}
}  // namespace

WinogradConv::Tile WinogradConv::tile(int r) {
  const int forced = forced_tile();
  if (forced > 0) return {forced, forced};
  // 5x5: F(5x5, 5x5) on 9x9 tiles, 81 multiplies per 25 outputs instead of 64 per 16 (the
  // bundled model's conv2 about a fifth faster; the transforms' fetches and stores per output
  // fall with the products'). fp32 error 3e-5 of the outputs' range over 48 channels, within
  // the 7x7 layers' 8e-5. 3x3 at 6x6 tiles: measured no faster.
  if (r == 5) return {5, 5};
  // 7x7: 4 rows by 6 columns, 120 multiplies per 24 outputs instead of 100 per 16: the dense
  // evaluation's heads run on maps a few rows high and wider than high (7 x 12 at each offset
  // of a 240x320 frame: 4 tiles of 4 x 6 instead of 6 of 4 x 4, a fifth fewer products). fp32
  // error 2.8e-4 of the outputs' range over 256 channels (numpy, random tiles), against 8e-5
  // at 4x4 and 9e-4 at 6x6.
  if (r == 7) return {4, 6};
  return {4, 4};
}

bool WinogradConv::suits(const ConvGeometry& g, int out, int in) {
  const bool off = forced_tile() == 0;
  // Few channels: the transforms' traffic outweighs the multiply-adds saved. 5x5 and 7x7: only
  // where the transformed weights (64 per 25, 100 per 49) stay small; the "full" layers of the
  // official nets run on single windows, where a 4x4 tile computes 16 outputs for the one
  // needed.
  if (off || !computes(g) || out < kMinChannels) return false;
  // An image's first layer: few channels in, but its phases are 4 s^2 product channels.
  if (g.stride_h > 1) return in <= 4;
  return (g.kh == 3 || static_cast<uint64_t>(out) * in <= kMaxLargePairs) && in >= kMinChannels;
}

bool WinogradConv::computes(const ConvGeometry& g) {
  const int s = g.stride_h, r = (g.kh + s - 1) / std::max(s, 1);
  const bool taps =
      s == 1 ? (g.kh == 3 || g.kh == 5 || g.kh == 7) : s >= 2 && s <= 4 && r >= 2 && r <= 5;
  return g.kh == g.kw && g.stride_w == s && taps && g.pad_top >= 0 && g.pad_left >= 0 &&
         g.pad_bottom >= 0 && g.pad_right >= 0;
}

WinogradConv::WinogradConv(PipelineLibrary& lib, int out, int in, const ConvGeometry& g,
                           std::span<const float> w, std::span<const float> b)
    : lib_(&lib), out_(out), in_(in), g_(g) {
  if (!computes(g) || out <= 0 || in <= 0)
    throw Error(
        "WinogradConv: only 3x3, 5x5 and 7x7 kernels at stride 1, or kernels of 2 to 5 "
        "taps a phase at stride 2 to 4");
  const size_t taps = static_cast<size_t>(g.kh) * g.kw;
  if (w.size() != static_cast<size_t>(out) * in * taps || b.size() != static_cast<size_t>(out))
    throw Error("WinogradConv: weight tensor sizes do not match out=" + std::to_string(out) +
                " in=" + std::to_string(in));
  const int s = g.stride_h;
  std::vector<float> phased;
  if (s > 1) {
    phased = phase_kernels(out, in, g.kh, s, w);
    w = phased;
  }
  const int r = (g.kh + s - 1) / s;  // taps a side (of each phase)
  const Tile t = tile(r);
  rows_ = winograd_matrices(t.rows, r);
  cols_ = winograd_matrices(t.cols, r);
  // The input transform's pipeline depends on the layer alone, not on the input size: queued
  // now, it compiles on the library's threads while the weights are transformed and packed
  // (lavapipe takes 20-120 ms for each, the largest single compiles of a first image).
  vk::PipelineDesc d;
  d.shader = ShaderId::winograd_in;
  d.bindings = {kTexel, kStorage};
  d.push_bytes = sizeof(InPush);
  d.local_size = {kLocal, 1, 1};
  d.constants = {g_.pad_top, g_.pad_left, rows_.alpha, rows_.m, s, cols_.alpha, cols_.m};
  append_coefficients(rows_.bt, cols_.bt, d.constants);
  input_pipeline_ = &lib.get(d);
  const int wide = product_in();
  const auto u = transform_weights(rows_, cols_, out, wide, w);
  const std::vector<float> zero(static_cast<size_t>(out), 0.0f);  // the bias comes at the end
  products_ =
      std::make_unique<Conv>(lib, out, wide, ConvGeometry{}, u, zero, rows_.alpha * cols_.alpha);
  std::vector<float> padded(((out + 3) / 4) * 4, 0.0f);
  std::copy(b.begin(), b.end(), padded.begin());
  const auto& ctx = lib.context();
  bias_ = vk::Buffer(ctx, padded.size() * 4);
  bias_.upload(padded);
}

WinogradConv::~WinogradConv() = default;

bool WinogradConv::shares_input_transform(const WinogradConv& other) const {
  return in_ == other.in_ && g_ == other.g_ && rows_.m == other.rows_.m &&
         cols_.m == other.cols_.m && rows_.r == other.rows_.r;
}

uint64_t WinogradConv::tiles(int in_h, int in_w) const {
  const int oh = out_height(in_h), ow = out_width(in_w);
  if (oh <= 0 || ow <= 0) return 0;
  return static_cast<uint64_t>(row_tiles(oh)) * col_tiles(ow);
}

WinogradConv::Scratch WinogradConv::scratch_for_tiles(uint64_t tiles) const {
  const uint64_t elements = static_cast<uint64_t>(rows_.alpha) * cols_.alpha;
  return {elements * tiles * ((product_in() + 3) / 4) * 16,
          elements * tiles * ((out_ + 3) / 4) * 16};
}

WinogradConv::Scratch WinogradConv::scratch_bytes(int in_h, int in_w) const {
  return scratch_for_tiles(tiles(in_h, in_w));
}

uint64_t WinogradConv::weight_bytes() const {
  return products_->weight_bytes() + bias_.size();
}

void WinogradConv::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in,
                          const Blob& out, const FusedActivation& act,
                          const ScratchBuffers& scratch) const {
  record_batch(rec, arena, {&in, 1}, {&out, 1}, act, scratch);
}

void WinogradConv::record_batch(vk::Recorder& rec, vk::DescriptorArena& arena,
                                std::span<const Blob> ins, std::span<const Blob> outs,
                                const FusedActivation& act, const ScratchBuffers& scratch,
                                bool input_ready) const {
  if (ins.empty() || ins.size() != outs.size())
    throw Error("WinogradConv: a batch needs as many outputs as inputs, and one or more");
  uint64_t total = 0;
  for (size_t i = 0; i < ins.size(); ++i) {
    const Blob &in = ins[i], &out = outs[i];
    if (in.c != in_)
      throw Error("WinogradConv: input has " + std::to_string(in.c) + " channels, expected " +
                  std::to_string(in_));
    if (out.h != out_height(in.h) || out.w != out_width(in.w) || out.c != out_)
      throw Error("WinogradConv: output blob has the wrong shape");
    total += tiles(in.h, in.w);
  }
  const Scratch need = scratch_for_tiles(total);
  if (!scratch.input || !scratch.products || scratch.input->size() < need.input ||
      scratch.products->size() < need.products)
    throw Error("WinogradConv: scratch buffers missing or too small");
  // The products are 1x1 convolutions: the tiles of every map of the batch as one row of
  // pixels, so that the weights are read once for all of them and the tuned shader's row
  // segments do not end at every row of tiles (less idle work in its groups).
  const int all = static_cast<int>(total);
  const Blob v{scratch.input, product_in(), 1, all}, m{scratch.products, out_, 1, all};

  const vk::ComputePipeline& pin = *input_pipeline_;
  int first = 0;  // each map's first tile in the row
  if (!input_ready) {
    for (const Blob& in : ins) {  // disjoint parts of the row: no barrier between them
      const int th = row_tiles(out_height(in.h)), tw = col_tiles(out_width(in.w));
      InPush ip{in.w, in.h, in.c4(), tw, th, first, all};
      VkDescriptorSet set = arena.allocate(pin, {{in.buffer, true}, {v.buffer}});
      const int threads = v.c4() * th * tw;
      rec.dispatch(pin, set, &ip, sizeof(ip), (threads + kLocal - 1) / kLocal, 1, 1);
      first += th * tw;
    }
    rec.barrier();
  }

  products_->record(rec, arena, v, m, FusedActivation{}, Conv::Variant::Tiled);
  rec.barrier();

  vk::PipelineDesc d;
  d.shader = ShaderId::winograd_out;
  d.bindings = {kTexel, kTexel, kStorage};
  d.push_bytes = sizeof(OutPush);
  d.local_size = {kLocal, 1, 1};
  act.append_to(d.constants);
  for (const WinogradMatrices* t : {&rows_, &cols_}) {
    d.constants.push_back(t->alpha);
    d.constants.push_back(t->m);
  }
  append_coefficients(rows_.at, cols_.at, d.constants);
  const auto& pout = lib_->get(d);
  first = 0;
  for (const Blob& out : outs) {
    const int th = row_tiles(out.h), tw = col_tiles(out.w);
    OutPush op{out.w, out.h, out.c4(), tw, th, out.c, first, all};
    VkDescriptorSet set = arena.allocate(pout, {{m.buffer, true}, {&bias_, true}, {out.buffer}});
    const int threads = out.c4() * th * tw;
    rec.dispatch(pout, set, &op, sizeof(op), (threads + kLocal - 1) / kLocal, 1, 1);
    first += th * tw;
  }
}

}  // namespace overfeat::ops
