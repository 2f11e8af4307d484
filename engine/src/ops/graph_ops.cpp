// SPDX-License-Identifier: MIT
// The graph ops on the device: convolution (the tuned conv.comp / fc.comp where they fit, else
// conv_general.comp), pooling, global pooling, LRN, residual add, activation and concatenation,
// with their one-op runners for tests.
#include "ops/graph_ops.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "one_shot.hpp"
#include "overfeat/error.hpp"

namespace overfeat::ops {
namespace {

constexpr uint32_t kLocal = 64;
constexpr VkDescriptorType kTexel = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
constexpr VkDescriptorType kStorage = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;

vk::PipelineDesc desc(ShaderId id, std::vector<VkDescriptorType> bindings, uint32_t push_bytes,
                      std::vector<int32_t> constants = {}) {
  vk::PipelineDesc d;
  d.shader = id;
  d.bindings = std::move(bindings);
  d.push_bytes = push_bytes;
  d.local_size = {kLocal, 1, 1};
  d.constants = std::move(constants);
  return d;
}

std::string dims(const Blob& b) {
  return std::to_string(b.c) + "x" + std::to_string(b.h) + "x" + std::to_string(b.w);
}

}  // namespace

FusedActivation fused_activation(const graph::Activation& act) {
  FusedActivation f;
  switch (act.kind) {
    case graph::Activation::Kind::None:
      break;
    case graph::Activation::Kind::Relu:
      f.kind = FusedActivation::Relu;
      break;
    case graph::Activation::Kind::Clip:
      f.kind = FusedActivation::Clip;
      f.a = act.lo;
      f.b = act.hi;
      break;
    case graph::Activation::Kind::LeakyRelu:
      f.kind = FusedActivation::LeakyRelu;
      f.a = act.alpha;
      break;
  }
  return f;
}

namespace {

std::vector<int32_t> act_constants(const graph::Activation& act) {
  std::vector<int32_t> c;
  fused_activation(act).append_to(c);
  return c;
}

/// Dispatches `pipeline` with invocations over a map's pixels (x, kLocal per group) and `rows`
/// (y: texels of 4 channels, or channels). A map too large for one dispatch is refused here
/// rather than computed in part.
void dispatch_map(const vk::ComputePipeline& pipeline, vk::Recorder& rec, VkDescriptorSet set,
                  const void* push, uint32_t push_bytes, const vk::Context& ctx, size_t npix,
                  size_t rows, const char* what) {
  const size_t gx = (npix + kLocal - 1) / kLocal;
  const auto& lim = ctx.limits();
  if (gx > lim.maxComputeWorkGroupCount[0] || rows > lim.maxComputeWorkGroupCount[1])
    throw OutOfDeviceMemory(std::string(what) + ": a map of " + std::to_string(npix) +
                            " pixels and " + std::to_string(rows) +
                            " channel rows exceeds this device's dispatch size");
  rec.dispatch(pipeline, set, push, push_bytes, static_cast<uint32_t>(gx),
               static_cast<uint32_t>(rows), 1);
}

/// Ops that read a map one channel at a time use its R32F view, which covers 4x fewer bytes
/// than the RGBA view that check_fits() measures.
void check_scalar_view(const vk::Context& ctx, const Blob& b, const char* what) {
  if (b.floats() > ctx.limits().maxTexelBufferElements)
    throw OutOfDeviceMemory(std::string(what) + ": a map of " + dims(b) +
                            " exceeds this device's texel-buffer limit");
}

void check_same(const Blob& a, const Blob& b, const char* what) {
  if (a.c != b.c || a.h != b.h || a.w != b.w)
    throw Error(std::string(what) + ": maps of " + dims(a) + " and " + dims(b) +
                " differ in shape");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// GraphConv

namespace {

// conv_general.comp's layouts (see the shader): scalar, grouped texels, depthwise.
enum GeneralMode : int32_t { kScalar = 0, kGroupedTexels = 1, kDepthwise = 2 };

struct GeneralPush {
  int32_t iw, ih, ow, oh, oc, icg, ocg, icg4;
};

const vk::ComputePipeline& general_pipeline(PipelineLibrary& lib, std::vector<int32_t> constants,
                                            const graph::Activation& act) {
  fused_activation(act).append_to(constants);
  return lib.get(desc(ShaderId::conv_general, {kTexel, kTexel, kTexel, kStorage},
                      sizeof(GeneralPush), std::move(constants)));
}

}  // namespace

struct GraphConv::Impl {
  const vk::Context* ctx = nullptr;
  graph::ConvParams geometry;  // the parameters without weights (shapes for record)
  graph::Activation act;
  std::unique_ptr<Conv> fast;              // conv.comp / fc.comp
  std::unique_ptr<WinogradConv> winograd;  // 3x3 stride 1 with channels enough
  // conv_general.comp: with the fused activation, and (made on demand) without it
  PipelineLibrary* lib = nullptr;
  std::vector<int32_t> constants;  // the pipeline's, before the activation's
  const vk::ComputePipeline* pipeline = nullptr;
  const vk::ComputePipeline* plain_pipeline = nullptr;
  int32_t mode = kScalar;
  vk::Buffer weights, bias;
};

GraphConv::GraphConv(PipelineLibrary& lib, const graph::ConvParams& p, const graph::Activation& act)
    : GraphConv(lib, p, act, p.weights, p.bias) {}

GraphConv::GraphConv(PipelineLibrary& lib, const graph::ConvParams& p, const graph::Activation& act,
                     std::span<const float> weights, std::span<const float> bias_values)
    : impl_(std::make_unique<Impl>()) {
  const int g = p.groups;
  if (p.out_channels <= 0 || p.in_channels <= 0 || g <= 0 || p.in_channels % g ||
      p.out_channels % g || p.kh <= 0 || p.kw <= 0 || p.stride_h <= 0 || p.stride_w <= 0 ||
      p.dilation_h <= 0 || p.dilation_w <= 0 || p.pads.top < 0 || p.pads.left < 0 ||
      p.pads.bottom < 0 || p.pads.right < 0)
    throw Error("GraphConv: invalid parameters (out " + std::to_string(p.out_channels) + ", in " +
                std::to_string(p.in_channels) + ", groups " + std::to_string(g) + ")");
  const int icg = p.in_channels / g, ocg = p.out_channels / g;
  if (weights.size() != static_cast<size_t>(p.out_channels) * icg * p.kh * p.kw ||
      bias_values.size() != static_cast<size_t>(p.out_channels))
    throw Error("GraphConv: the weights or biases do not match the parameters");
  Impl& m = *impl_;
  m.ctx = &lib.context();
  m.geometry = p.geometry();  // not the weights: a copy of a 453 MB layer would double its peak
  m.act = act;

  // Dilation along an axis with a 1-tap kernel changes nothing.
  const bool undilated = (p.dilation_h == 1 || p.kh == 1) && (p.dilation_w == 1 || p.kw == 1);
  if (g == 1 && undilated) {
    ConvGeometry geo{p.kh,       p.kw,        p.stride_h,    p.stride_w,
                     p.pads.top, p.pads.left, p.pads.bottom, p.pads.right};
    if (WinogradConv::suits(geo, p.out_channels, p.in_channels)) {
      m.winograd = std::make_unique<WinogradConv>(lib, p.out_channels, p.in_channels, geo, weights,
                                                  bias_values);
    } else {
      m.fast =
          std::make_unique<Conv>(lib, p.out_channels, p.in_channels, geo, weights, bias_values);
    }
    return;
  }

  const int oc4 = (p.out_channels + 3) / 4, taps = p.kh * p.kw;
  std::vector<float> packed;
  if (icg == 1 && ocg == 1) {
    m.mode = kDepthwise;
    packed.assign(static_cast<size_t>(oc4) * taps * 4, 0.0f);
    for (int c = 0; c < p.out_channels; ++c)
      for (int t = 0; t < taps; ++t)
        packed[((static_cast<size_t>(c / 4) * taps + t) * 4) + c % 4] =
            weights[static_cast<size_t>(c) * taps + t];
  } else if (g == 1 || (icg % 4 == 0 && ocg % 4 == 0)) {
    // Every output texel lies in one group whose input starts at a texel (one group: the
    // input's padding channels meet zero weights).
    m.mode = kGroupedTexels;
    const int icg4 = (icg + 3) / 4;
    packed.assign(static_cast<size_t>(oc4) * icg4 * taps * 16, 0.0f);
    for (int o = 0; o < p.out_channels; ++o)
      for (int i = 0; i < icg; ++i)
        for (int t = 0; t < taps; ++t) {
          const size_t texel = ((static_cast<size_t>(o / 4) * icg4 + i / 4) * taps + t) * 4 + o % 4;
          packed[texel * 4 + i % 4] = weights[(static_cast<size_t>(o) * icg + i) * taps + t];
        }
  } else {
    m.mode = kScalar;
    packed.assign(weights.begin(), weights.end());
  }
  const auto& ctx = lib.context();
  const size_t texels = m.mode == kScalar ? packed.size() : packed.size() / 4;
  if (texels > ctx.limits().maxTexelBufferElements)
    throw OutOfDeviceMemory("GraphConv: " + std::to_string(texels) +
                            " weight texels exceed this device's texel-buffer limit");
  m.weights = vk::Buffer(ctx, packed.size() * 4);
  m.weights.upload(packed);
  std::vector<float> bias(static_cast<size_t>(oc4) * 4, 0.0f);
  std::copy(bias_values.begin(), bias_values.end(), bias.begin());
  m.bias = vk::Buffer(ctx, bias.size() * 4);
  m.bias.upload(bias);

  m.lib = &lib;
  m.constants = {p.kh,         p.kw,       p.stride_h,  p.stride_w, p.dilation_h,
                 p.dilation_w, p.pads.top, p.pads.left, m.mode};
  m.pipeline = &general_pipeline(lib, m.constants, act);
}

void GraphConv::prepare_without_activation() {
  Impl& m = *impl_;
  if (general() && !m.plain_pipeline) m.plain_pipeline = &general_pipeline(*m.lib, m.constants, {});
}

GraphConv::~GraphConv() = default;

bool GraphConv::general() const {
  return !impl_->fast && !impl_->winograd;
}

bool GraphConv::winograd() const {
  return impl_->winograd != nullptr;
}

WinogradConv::Scratch GraphConv::scratch_bytes(int in_h, int in_w) const {
  return impl_->winograd ? impl_->winograd->scratch_bytes(in_h, in_w) : WinogradConv::Scratch{};
}

WinogradConv::Scratch GraphConv::scratch_bytes(std::span<const std::pair<int, int>> inputs) const {
  if (!impl_->winograd) return {};
  uint64_t tiles = 0;
  for (const auto& [h, w] : inputs) tiles += impl_->winograd->tiles(h, w);
  return impl_->winograd->scratch_for_tiles(tiles);
}

void GraphConv::record_batch(vk::Recorder& rec, vk::DescriptorArena& arena,
                             std::span<const Blob> ins, std::span<const Blob> outs, bool activation,
                             const WinogradConv::ScratchBuffers& scratch, bool input_ready) const {
  const Impl& m = *impl_;
  if (!m.winograd) throw Error("GraphConv: only a Winograd convolution records a batch");
  m.winograd->record_batch(rec, arena, ins, outs,
                           fused_activation(activation ? m.act : graph::Activation{}), scratch,
                           input_ready);
}

bool GraphConv::shares_input_transform(const GraphConv& other) const {
  return impl_->winograd && other.impl_->winograd &&
         impl_->winograd->shares_input_transform(*other.impl_->winograd);
}

uint64_t GraphConv::weight_bytes() const {
  const Impl& m = *impl_;
  return m.fast       ? m.fast->weight_bytes()
         : m.winograd ? m.winograd->weight_bytes()
                      : m.weights.size();
}

void GraphConv::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in,
                       const Blob& out, bool activation,
                       const WinogradConv::ScratchBuffers& scratch) const {
  const Impl& m = *impl_;
  const FusedActivation act = fused_activation(activation ? m.act : graph::Activation{});
  if (m.fast) {
    m.fast->record(rec, arena, in, out, act);
    return;
  }
  if (m.winograd) {
    m.winograd->record(rec, arena, in, out, act, scratch);
    return;
  }
  if (!activation && !m.plain_pipeline)
    throw Error("GraphConv: prepare_without_activation() was not called before recording");
  const vk::ComputePipeline& pipeline = activation ? *m.pipeline : *m.plain_pipeline;
  const graph::ConvParams& p = m.geometry;
  if (in.c != p.in_channels)
    throw Error("GraphConv: input has " + std::to_string(in.c) + " channels, expected " +
                std::to_string(p.in_channels));
  const int oh =
      graph::window_output(in.h, p.kh, p.stride_h, p.dilation_h, p.pads.top, p.pads.bottom, false);
  const int ow =
      graph::window_output(in.w, p.kw, p.stride_w, p.dilation_w, p.pads.left, p.pads.right, false);
  if (out.c != p.out_channels || out.h != oh || out.w != ow)
    throw Error("GraphConv: output blob is " + dims(out) + ", expected " +
                std::to_string(p.out_channels) + "x" + std::to_string(oh) + "x" +
                std::to_string(ow));
  if (m.mode == kScalar) check_scalar_view(*m.ctx, in, "GraphConv");
  const int icg = p.in_channels / p.groups, ocg = p.out_channels / p.groups;
  GeneralPush push{in.w, in.h, out.w, out.h, out.c, icg, ocg, (icg + 3) / 4};
  const bool rgba = m.mode != kScalar;
  VkDescriptorSet set = arena.allocate(
      pipeline, {{in.buffer, rgba}, {&m.weights, rgba}, {&m.bias, true}, {out.buffer}});
  dispatch_map(pipeline, rec, set, &push, sizeof(push), *m.ctx, static_cast<size_t>(out.h) * out.w,
               static_cast<size_t>(out.c4()), "GraphConv");
}

// ---------------------------------------------------------------------------------------------
// Element-wise and pooling ops

namespace {

struct PoolPush {
  int32_t iw, ih, ow, oh, c;
};
struct GlobalPoolPush {
  int32_t npix, c, c4;
};
struct LrnPush {
  int32_t npix, c, before, after;
  float alpha_over_size, beta, bias;
};
struct MapPush {
  int32_t npix, c;
};
struct CopyPush {
  int32_t npix, in_c, offset, count;
};

std::vector<int32_t> pool_constants(const graph::PoolParams& p) {
  if (p.kh <= 0 || p.kw <= 0 || p.stride_h <= 0 || p.stride_w <= 0 || p.pads.top < 0 ||
      p.pads.left < 0 || p.pads.bottom < 0 || p.pads.right < 0 || p.offset_y < 0 || p.offset_x < 0)
    throw Error("Pool: invalid kernel, stride, pads or offset");
  return {p.kh,
          p.kw,
          p.stride_h,
          p.stride_w,
          p.pads.top,
          p.pads.left,
          p.pads.bottom,
          p.pads.right,
          p.kind == graph::PoolParams::Kind::Max ? 1 : 0,
          p.count_include_pad ? 1 : 0,
          p.offset_y,
          p.offset_x};
}

}  // namespace

Pool::Pool(PipelineLibrary& lib, const graph::PoolParams& p)
    : ctx_(&lib.context()),
      pipeline_(
          &lib.get(desc(ShaderId::pool, {kTexel, kStorage}, sizeof(PoolPush), pool_constants(p)))),
      p_(p) {}

void Pool::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in,
                  const Blob& out) const {
  const int oh = graph::pool_output(p_, in.h, true), ow = graph::pool_output(p_, in.w, false);
  if (out.c != in.c || out.h != oh || out.w != ow)
    throw Error("Pool: output blob is " + dims(out) + ", expected " + std::to_string(in.c) + "x" +
                std::to_string(oh) + "x" + std::to_string(ow));
  PoolPush push{in.w, in.h, out.w, out.h, out.c};
  VkDescriptorSet set = arena.allocate(*pipeline_, {{in.buffer, true}, {out.buffer}});
  dispatch_map(*pipeline_, rec, set, &push, sizeof(push), *ctx_, static_cast<size_t>(out.h) * out.w,
               static_cast<size_t>(out.c4()), "Pool");
}

GlobalPool::GlobalPool(PipelineLibrary& lib, graph::PoolParams::Kind kind)
    : ctx_(&lib.context()),
      pipeline_(&lib.get(desc(ShaderId::global_pool, {kTexel, kStorage}, sizeof(GlobalPoolPush),
                              {kind == graph::PoolParams::Kind::Max ? 1 : 0}))) {}

void GlobalPool::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in,
                        const Blob& out) const {
  if (out.c != in.c || out.h != 1 || out.w != 1)
    throw Error("GlobalPool: output blob is " + dims(out) + ", expected " + std::to_string(in.c) +
                "x1x1");
  GlobalPoolPush push{in.h * in.w, in.c, in.c4()};
  VkDescriptorSet set = arena.allocate(*pipeline_, {{in.buffer, true}, {out.buffer}});
  dispatch_map(*pipeline_, rec, set, &push, sizeof(push), *ctx_, static_cast<size_t>(in.c4()), 1,
               "GlobalPool");
}

Lrn::Lrn(PipelineLibrary& lib, const graph::LrnParams& p)
    : ctx_(&lib.context()),
      pipeline_(&lib.get(desc(ShaderId::lrn, {kTexel, kStorage}, sizeof(LrnPush)))),
      p_(p) {
  if (p.size <= 0) throw Error("Lrn: the window size must be positive");
}

void Lrn::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in,
                 const Blob& out) const {
  check_same(in, out, "Lrn");
  check_scalar_view(*ctx_, in, "Lrn");
  LrnPush push{in.h * in.w, in.c,   (p_.size - 1) / 2, p_.size / 2, p_.alpha / p_.size,
               p_.beta,     p_.bias};
  VkDescriptorSet set = arena.allocate(*pipeline_, {{in.buffer, false}, {out.buffer}});
  dispatch_map(*pipeline_, rec, set, &push, sizeof(push), *ctx_, static_cast<size_t>(in.h) * in.w,
               static_cast<size_t>(in.c4()), "Lrn");
}

Add::Add(PipelineLibrary& lib, const graph::Activation& act)
    : ctx_(&lib.context()),
      pipeline_(&lib.get(
          desc(ShaderId::add, {kTexel, kTexel, kStorage}, sizeof(MapPush), act_constants(act)))) {}

void Add::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& a, const Blob& b,
                 const Blob& out) const {
  check_same(a, b, "Add");
  check_same(a, out, "Add");
  MapPush push{a.h * a.w, a.c};
  VkDescriptorSet set =
      arena.allocate(*pipeline_, {{a.buffer, true}, {b.buffer, true}, {out.buffer}});
  dispatch_map(*pipeline_, rec, set, &push, sizeof(push), *ctx_, static_cast<size_t>(a.h) * a.w,
               static_cast<size_t>(a.c4()), "Add");
}

ActivationOp::ActivationOp(PipelineLibrary& lib, const graph::Activation& act)
    : ctx_(&lib.context()),
      pipeline_(&lib.get(
          desc(ShaderId::activation, {kTexel, kStorage}, sizeof(MapPush), act_constants(act)))) {}

void ActivationOp::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in,
                          const Blob& out) const {
  check_same(in, out, "Activation");
  MapPush push{in.h * in.w, in.c};
  VkDescriptorSet set = arena.allocate(*pipeline_, {{in.buffer, true}, {out.buffer}});
  dispatch_map(*pipeline_, rec, set, &push, sizeof(push), *ctx_, static_cast<size_t>(in.h) * in.w,
               static_cast<size_t>(in.c4()), "Activation");
}

ChannelCopy::ChannelCopy(PipelineLibrary& lib)
    : ctx_(&lib.context()),
      pipeline_(&lib.get(desc(ShaderId::channel_copy, {kTexel, kStorage}, sizeof(CopyPush)))) {}

void ChannelCopy::record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in,
                         const Blob& out, int offset) const {
  if (in.h != out.h || in.w != out.w || offset < 0 || offset + in.c > out.c)
    throw Error("Concat: cannot copy a map of " + dims(in) + " into " + dims(out) + " at channel " +
                std::to_string(offset));
  check_scalar_view(*ctx_, in, "Concat");
  // The input that ends the output also zeroes the output's padding channels, which no input
  // owns (the buffer may hold an earlier map's values there).
  const int count = in.c + (offset + in.c == out.c ? out.c4() * 4 - out.c : 0);
  CopyPush push{in.h * in.w, in.c, offset, count};
  VkDescriptorSet set = arena.allocate(*pipeline_, {{in.buffer, false}, {out.buffer}});
  dispatch_map(*pipeline_, rec, set, &push, sizeof(push), *ctx_, static_cast<size_t>(in.h) * in.w,
               static_cast<size_t>(count), "Concat");
}

// ---------------------------------------------------------------------------------------------
// One-op runs

Tensor run_graph_conv(PipelineLibrary& lib, const Tensor& in, const graph::ConvParams& p,
                      const graph::Activation& act) {
  OneShot run(lib);
  GraphConv op(lib, p, act);
  Blob src = run.upload(in);
  Blob dst = run.output(
      p.out_channels,
      graph::window_output(in.h, p.kh, p.stride_h, p.dilation_h, p.pads.top, p.pads.bottom, false),
      graph::window_output(in.w, p.kw, p.stride_w, p.dilation_w, p.pads.left, p.pads.right, false));
  const WinogradConv::Scratch need = op.scratch_bytes(in.h, in.w);
  WinogradConv::ScratchBuffers scratch;
  if (need.input > 0) scratch = {run.scratch(need.input), run.scratch(need.products)};
  op.record(run.rec, run.arena, src, dst, true, scratch);
  return run.finish(dst);
}

Tensor run_pool(PipelineLibrary& lib, const Tensor& in, const graph::PoolParams& p) {
  OneShot run(lib);
  Pool op(lib, p);
  Blob src = run.upload(in);
  Blob dst =
      run.output(in.c, graph::pool_output(p, in.h, true), graph::pool_output(p, in.w, false));
  op.record(run.rec, run.arena, src, dst);
  return run.finish(dst);
}

Tensor run_global_pool(PipelineLibrary& lib, const Tensor& in, graph::PoolParams::Kind kind) {
  OneShot run(lib);
  GlobalPool op(lib, kind);
  Blob src = run.upload(in);
  Blob dst = run.output(in.c, 1, 1);
  op.record(run.rec, run.arena, src, dst);
  return run.finish(dst);
}

Tensor run_lrn(PipelineLibrary& lib, const Tensor& in, const graph::LrnParams& p) {
  OneShot run(lib);
  Lrn op(lib, p);
  Blob src = run.upload(in);
  Blob dst = run.output(in.c, in.h, in.w);
  op.record(run.rec, run.arena, src, dst);
  return run.finish(dst);
}

Tensor run_add(PipelineLibrary& lib, const Tensor& a, const Tensor& b,
               const graph::Activation& act) {
  OneShot run(lib);
  Add op(lib, act);
  Blob sa = run.upload(a), sb = run.upload(b);
  Blob dst = run.output(a.c, a.h, a.w);
  op.record(run.rec, run.arena, sa, sb, dst);
  return run.finish(dst);
}

Tensor run_activation(PipelineLibrary& lib, const Tensor& in, const graph::Activation& act) {
  OneShot run(lib);
  ActivationOp op(lib, act);
  Blob src = run.upload(in);
  Blob dst = run.output(in.c, in.h, in.w);
  op.record(run.rec, run.arena, src, dst);
  return run.finish(dst);
}

Tensor run_concat(PipelineLibrary& lib, const std::vector<Tensor>& inputs) {
  if (inputs.empty()) throw Error("run_concat: no inputs");
  OneShot run(lib);
  ChannelCopy op(lib);
  int c = 0;
  for (const Tensor& t : inputs) c += t.c;
  Blob dst = run.output(c, inputs[0].h, inputs[0].w);
  int offset = 0;
  for (const Tensor& t : inputs) {
    Blob src = run.upload(t);
    op.record(run.rec, run.arena, src, dst, offset);
    offset += t.c;
  }
  return run.finish(dst);
}

}  // namespace overfeat::ops
