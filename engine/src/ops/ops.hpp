// SPDX-License-Identifier: MIT
// The layers as Vulkan compute operations. Each op creates (or shares) its pipelines, owns its
// uploaded parameters, and has a const record() that only records commands, so a whole pass is
// recorded once and submitted once. Maps live on the device in NC4HW4 layout (4 channels per
// texel).
#pragma once
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <tuple>
#include <vector>

#include "overfeat/tensor.hpp"
#include "overfeat/weights.hpp"
#include "vk/buffer.hpp"
#include "vk/pipeline.hpp"

namespace overfeat::ops {

/// A feature map on the device: `c` channels of h x w in NC4HW4 layout.
struct Blob {
  const vk::Buffer* buffer = nullptr;
  int c = 0, h = 0, w = 0;
  int c4() const { return (c + 3) / 4; }
  size_t floats() const { return static_cast<size_t>(c4()) * h * w * 4; }
};

/// Pipelines keyed by their description, shared by every op that needs the same specialization.
/// A new pipeline is compiled on the library's threads (one per core, at most 8, started with
/// the first one): the ops ask for their pipelines while a plan is recorded, and the recorder
/// waits for them only when it writes the command buffer (vk::Recorder::end), so they compile in
/// parallel. On lavapipe a pipeline takes tens of milliseconds: the bundled model's 35 took 0.44 s
/// one after the other, the first image's largest cost.
class PipelineLibrary {
 public:
  explicit PipelineLibrary(const vk::Context& ctx) : ctx_(&ctx) {}
  ~PipelineLibrary();
  PipelineLibrary(const PipelineLibrary&) = delete;
  PipelineLibrary& operator=(const PipelineLibrary&) = delete;
  const vk::ComputePipeline& get(const vk::PipelineDesc& desc);
  const vk::Context& context() const { return *ctx_; }
  size_t size() const { return pipelines_.size(); }

 private:
  using Key = std::tuple<int, std::vector<int32_t>, uint32_t, uint32_t, uint32_t>;
  void work();
  const vk::Context* ctx_;
  std::mutex mutex_;
  std::map<Key, std::unique_ptr<vk::ComputePipeline>> pipelines_;
  // The compile queue; destroyed (its threads joined) before the pipelines.
  std::condition_variable wake_;
  std::deque<vk::ComputePipeline*> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

/// A fused activation as the shaders take it (specialization constants): graph.hpp's Activation
/// without the graph types.
struct FusedActivation {
  enum Kind : int32_t { None = 0, Relu = 1, Clip = 2, LeakyRelu = 3 };
  int32_t kind = None;
  float a = 0, b = 0;  ///< Clip: a..b; LeakyRelu: slope a
  /// Appends kind, a and b (the floats' bits) to a pipeline's specialization constants.
  void append_to(std::vector<int32_t>& constants) const;
};

/// Where a convolution's kernel goes beyond the official networks' square kernels, strides and
/// pads: the geometry of the classic networks (graph.hpp ConvParams with one group and no
/// dilation). The trailing pads only set the output size.
struct ConvGeometry {
  int kh = 1, kw = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool operator==(const ConvGeometry&) const = default;
};

/// Convolution with bias, zero padding, stride and a fused activation (ReLU or none in the
/// official networks).
class Conv {
 public:
  /// Tiled: invocations over output pixels (conv.comp). Streaming: invocations over output
  /// channels, weights streamed once for a few pixels (fc.comp). Auto picks by pixel count.
  enum class Variant { Auto, Tiled, Streaming };

  /// Square kernel of weights.k, the same stride and pad on every side.
  Conv(PipelineLibrary& lib, const ConvWeights& weights, int stride, int pad);
  /// Any ConvGeometry; `w` is [out][in][kh][kw], `b` is [out]. With `batch` > 1, `batch`
  /// independent convolutions of these shapes run in one dispatch (the tiled shader): `w` is
  /// [batch][out][in][kh][kw] (the bias is shared), and the input and output buffers hold
  /// `batch` maps of the blobs' shape one after the other.
  Conv(PipelineLibrary& lib, int out, int in, const ConvGeometry& geometry,
       std::span<const float> w, std::span<const float> b, int batch = 1);
  void record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out,
              bool relu, Variant variant = Variant::Auto) const;
  void record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out,
              const FusedActivation& act, Variant variant = Variant::Auto) const;
  /// Fixes the register tile (tests use this to cover every variant); by default it is chosen
  /// per output size by tile_for().
  void set_tile(int ocb, int pix, int split = 1) {
    tile_ = {ocb, pix, split};
    tile_fixed_ = true;
  }
  /// Output height/width for an input of h x w (0 when too small); out_size is for the square
  /// constructor, where both are the same function.
  int out_size(int in) const { return out_height(in); }
  int out_height(int in) const {
    return out_extent(in, g_.kh, g_.stride_h, g_.pad_top + g_.pad_bottom);
  }
  int out_width(int in) const {
    return out_extent(in, g_.kw, g_.stride_w, g_.pad_left + g_.pad_right);
  }
  int out_channels() const { return out_; }
  int in_channels() const { return in_; }
  const ConvGeometry& geometry() const { return g_; }
  uint64_t weight_bytes() const { return weights_.size(); }
  /// Weights stored as 16-bit floats (vk::Context::half_weights() and kHalfMinWeights or more).
  bool half_weights() const { return half_; }
  /// Weights a convolution needs to be stored in 16 bits when the context asks: the "full"
  /// layers that stream their weights (OverFeat's 6x6x1024x3072 and the like), not small convs.
  static constexpr size_t kHalfMinWeights = size_t{1} << 20;
  static Variant choose(int out_pixels);
  /// Register tile of the tiled shader: output channels x pixels per invocation, and the
  /// invocations that split the input channels between them (a divisor of local_size()); or
  /// split 0: a work group's lanes take consecutive blocks of output channels of one segment
  /// of pixels (conv.glsl CHANNEL_LANES).
  struct TileShape {
    int ocb = 8, pix = 1, split = 1;
  };
  /// The tile for an output map of out_w x out_h pixels and out_c channels from in_c, a kernel
  /// kh x kw at stride_w and work groups of `local` invocations (OVERFEAT_CONV_TILE=OCBxPIX or
  /// OCBxPIXxSPLIT overrides, for experiments; SPLIT 0 for lanes over channels).
  static TileShape tile_for(int out_w, int out_h, int out_c, int kw, int stride_w, int local,
                            int in_c, int kh);
  /// Invocations per work group of the tiled shader: the device's subgroup size, 4 to 64
  /// (OVERFEAT_CONV_LOCAL overrides).
  static uint32_t local_size(const vk::Context& ctx);
  /// OVERFEAT_CONV_BOUNDS set: keep the per-tap bounds test even where no tap leaves the input
  /// (for comparisons).
  static bool bounds_forced();

 private:
  static int out_extent(int in, int k, int stride, int pads) {
    return in + pads < k ? 0 : (in + pads - k) / stride + 1;
  }
  PipelineLibrary* lib_;
  int out_, in_;
  ConvGeometry g_;
  int batch_ = 1;
  TileShape tile_;
  bool tile_fixed_ = false;
  vk::Buffer weights_;  ///< [OC8][IC4][KH][KW][8] texels of 4 input channels
  bool half_ = false;   ///< weights_ holds 16-bit floats (read through its RGBA16F view)
  vk::Buffer bias_;     ///< OC rounded up to 8
};

/// Winograd's minimal filtering F(m, r) in one dimension, by Toom-Cook at the points 0, 1, -1,
/// 2, -2, 1/2, -1/2, 3/4, -3/4 (as many as needed) and infinity: y = A^T [(G g) * (B^T d)]
/// computes the m outputs of an r-tap correlation of d (alpha = m + r - 1 inputs) with alpha
/// multiplies. Row major: `at` is m x alpha, `g` alpha x r, `bt` alpha x alpha.
struct WinogradMatrices {
  int m = 0, r = 0, alpha = 0;
  std::vector<double> at, g, bt;
};
WinogradMatrices winograd_matrices(int m, int r);

/// A 3x3, 5x5 or 7x7, stride-1 convolution by Winograd's minimal filtering F(m x n, r x r)
/// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2015), m x n = tile(r):
/// each m x n block of outputs from an (m + r - 1) x (n + r - 1) input tile with as many
/// multiplies per channel pair (3x3: 36 per 16 outputs instead of 144; 5x5: 81 per 25 instead
/// of 625; 7x7: 120 per 24 instead of 1176). Three dispatches: the input transform into
/// `ScratchBuffers::input`, the element-wise products as one batched 1x1 convolution
/// (conv.comp) into `ScratchBuffers::products`, and the output transform with the bias and the
/// fused activation. Only the transformed weights are kept (4x the kernel's for 3x3, 3.2x for
/// 5x5, 2.4x for 7x7). fp32 error, relative to the outputs' range (numpy, random tiles): 3x3
/// 4e-6 (192 input channels), 5x5 3e-5 (48), 7x7 3e-4 (256; 8e-5 at 4x4) (F(2x2, r x r): 5e-7,
/// 4e-6, 7e-6; a direct sum 1e-7).
class WinogradConv {
 public:
  /// Fewer input or output channels than this: the transforms' memory traffic outweighs the
  /// multiplies saved.
  static constexpr int kMinChannels = 16;
  /// 5x5 and 7x7 layers with more channel pairs than this (the official nets' "full" layers,
  /// which run on single windows) keep the direct shaders.
  static constexpr uint64_t kMaxLargePairs = uint64_t{1} << 18;
  /// Whether a convolution runs so: 3x3, or 5x5 and 7x7 up to kMaxLargePairs, stride 1,
  /// kMinChannels or more in and out; or a first layer (4 input channels or fewer: an image)
  /// at stride 2 to 4 with kMinChannels or more out. Off for every layer with
  /// OVERFEAT_WINOGRAD=0 (for comparisons).
  static bool suits(const ConvGeometry& g, int out, int in);
  /// Whether the op can compute this geometry at all: a square 3x3, 5x5 or 7x7 kernel at stride
  /// 1, or a square kernel at stride s of 2 to 4 whose phases (below) have 2 to 5 taps a side;
  /// any pads.
  ///
  /// At stride s the convolution is the sum of s^2 stride-1 convolutions of the input's
  /// polyphase components (every s-th pixel from row phase dy and column phase dx) with the
  /// matching taps of the kernel (ceil(k / s) a side): y[o] = sum over dy, a of
  /// w[s a + dy] x[s (o + a) + dy]. The phases become input channels (the input transform reads
  /// each at stride s), so the products are those of a stride-1 convolution with s^2 times the
  /// channels and a kernel s times smaller: a 7x7 stride-2 layer on an image runs as F(4x4, 4x4)
  /// on 16 channels, 49 multiplies per 16 outputs and channel instead of 196.
  static bool computes(const ConvGeometry& g);
  /// The output tile of F(rows x cols, r x r) for r taps a side: 5x5 for 5x5 kernels, 4 rows by
  /// 6 columns for 7x7, else 4x4 (OVERFEAT_WINOGRAD=2 or 4 forces a square one for every layer,
  /// for comparisons).
  struct Tile {
    int rows = 4, cols = 4;
  };
  static Tile tile(int r);
  /// `w` is [out][in][k][k], `b` is [out]; a geometry computes() accepts.
  WinogradConv(PipelineLibrary& lib, int out, int in, const ConvGeometry& g,
               std::span<const float> w, std::span<const float> b);
  ~WinogradConv();
  /// Bytes of the two scratch buffers for an input of in_h x in_w.
  struct Scratch {
    uint64_t input = 0, products = 0;
  };
  Scratch scratch_bytes(int in_h, int in_w) const;
  /// Output tiles for an input of in_h x in_w, and the scratch for a batch of `tiles` in all.
  uint64_t tiles(int in_h, int in_w) const;
  Scratch scratch_for_tiles(uint64_t tiles) const;
  struct ScratchBuffers {
    const vk::Buffer* input = nullptr;
    const vk::Buffer* products = nullptr;
  };
  /// Records the three dispatches, with barriers between them (none after the last).
  void record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out,
              const FusedActivation& act, const ScratchBuffers& scratch) const;
  /// The same convolution of several inputs (of any sizes), with one dispatch of the products
  /// for all of them: their tiles side by side in one row, so that the transformed weights are
  /// read once (the dense evaluation's pooling offsets, whose maps are small). `scratch` holds
  /// scratch_for_tiles() of their tiles in all.
  ///
  /// `input_ready`: the input transform of these inputs is in `scratch.input` already, from
  /// the batch recorded just before by a convolution with shares_input_transform(*this) (two
  /// heads on the same maps): only the products and the output transform are recorded.
  void record_batch(vk::Recorder& rec, vk::DescriptorArena& arena, std::span<const Blob> ins,
                    std::span<const Blob> outs, const FusedActivation& act,
                    const ScratchBuffers& scratch, bool input_ready = false) const;
  /// Whether `other` transforms its input exactly as this one does (the same input channels,
  /// kernel, stride, pads and tile), so that one input transform serves both.
  bool shares_input_transform(const WinogradConv& other) const;
  int out_height(int in) const { return out_size(in + g_.pad_top + g_.pad_bottom); }
  int out_width(int in) const { return out_size(in + g_.pad_left + g_.pad_right); }
  /// Tiles along an output's `oh` rows and `ow` columns.
  int row_tiles(int oh) const { return (oh + rows_.m - 1) / rows_.m; }
  int col_tiles(int ow) const { return (ow + cols_.m - 1) / cols_.m; }
  uint64_t weight_bytes() const;

 private:
  int out_size(int padded) const { return padded < g_.kh ? 0 : (padded - g_.kh) / g_.stride_h + 1; }
  /// Input channels of the products: the input's, or at a stride its phases' (texels whole).
  int product_in() const {
    return g_.stride_h == 1 ? in_ : (in_ + 3) / 4 * 4 * g_.stride_h * g_.stride_w;
  }

  PipelineLibrary* lib_;
  int out_, in_;
  ConvGeometry g_;
  WinogradMatrices rows_, cols_;  ///< F(m, r) along the tile's rows and along its columns
  const vk::ComputePipeline* input_pipeline_ = nullptr;  ///< requested by the constructor
  std::unique_ptr<Conv> products_;  ///< a 1x1 convolution per element of a tile, batched, bias 0
  vk::Buffer bias_;                 ///< [OC4] texels
};

/// Softmax over channels at every pixel.
class Softmax {
 public:
  explicit Softmax(PipelineLibrary& lib);
  void record(vk::Recorder& rec, vk::DescriptorArena& arena, const Blob& in, const Blob& out) const;

 private:
  const vk::ComputePipeline* pipeline_;
};

/// Throws OutOfDeviceMemory, naming `what` and the sizes, when a map of this shape cannot be
/// bound on `ctx` (larger than a storage buffer's or a texel buffer's range).
void check_fits(const vk::Context& ctx, const Blob& shape, const std::string& what);

/// Host-side layout conversions between CHW tensors and NC4HW4 device maps.
std::vector<float> to_nc4hw4(const Tensor& t);
Tensor from_nc4hw4(const std::vector<float>& data, int c, int h, int w);
/// Downloads a blob as a CHW tensor.
Tensor download(const Blob& blob);

/// One-op runs for tests and tools: upload, record, submit, download.
Tensor run_conv(PipelineLibrary& lib, const Tensor& in, const ConvWeights& w, int stride, int pad,
                bool relu, Conv::Variant variant = Conv::Variant::Auto,
                std::optional<Conv::TileShape> tile = std::nullopt);
Tensor run_softmax(PipelineLibrary& lib, const Tensor& in);

}  // namespace overfeat::ops
