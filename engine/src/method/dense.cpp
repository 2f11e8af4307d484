// SPDX-License-Identifier: MIT
#include "overfeat/dense.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <sstream>

#include "overfeat/error.hpp"
#include "overfeat/image.hpp"
#include "overfeat/ops.hpp"

namespace overfeat {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// The last pooling's offsets give `k` maps per axis; their outputs interleave into one.
struct AxisSizes {
  std::vector<int> per_offset;
  int total = 0;
};
AxisSizes axis_sizes(const Model& m, int pre_pool, bool fine) {
  const auto& mods = m.net.modules;
  const int t = m.trunk_end();
  const int k = mods[t].kernel;
  AxisSizes a;
  for (int d = 0; d < (fine ? k : 1); ++d) {
    const int pooled = pre_pool - d < k ? 0 : (pre_pool - d) / k;
    a.per_offset.push_back(output_side(mods, t + 1, m.net.num_layers(), pooled));
    a.total += a.per_offset.back();
  }
  return a;
}

}  // namespace

void interleave_offset(const Tensor& part, int k, int dy, int dx, Tensor& fine) {
  for (int c = 0; c < part.c; ++c)
    for (int i = 0; i < part.h; ++i)
      for (int j = 0; j < part.w; ++j) fine.at(c, i * k + dy, j * k + dx) = part.at(c, i, j);
}

std::vector<InputSize> paper_sizes(const NetSpec& net) {
  const std::vector<InputSize> accurate = {{245, 245}, {281, 317}, {317, 389},
                                           {389, 461}, {425, 497}, {461, 569}};
  if (net.window == 221) return accurate;
  if (net.window == 231)
    return {{247, 247}, {279, 311}, {311, 375}, {375, 439}, {407, 471}, {439, 535}};
  // Other nets: the same sizes relative to the window, so that each scale covers the image with
  // as many windows as the paper's did.
  std::vector<InputSize> sizes;
  const double f = static_cast<double>(net.window) / 221.0;
  for (const InputSize& s : accurate)
    sizes.push_back(
        {static_cast<int>(std::lround(s.h * f)), static_cast<int>(std::lround(s.w * f))});
  return sizes;
}

std::vector<InputSize> parse_scales(const std::string& list, const NetSpec& net, int img_h,
                                    int img_w) {
  if (img_h <= 0 || img_w <= 0) throw ImageError("Empty image");
  auto smaller_side = [&](int side) {
    InputSize s;
    image::fill_size(img_h, img_w, side, s.h, s.w);
    return s;
  };
  if (list == "model") {
    const std::string& own = net.detection_scales;
    return parse_scales(own.empty() || own == "model" ? "paper" : own, net, img_h, img_w);
  }
  if (list == "auto")
    throw Error(
        "Scale list 'auto' chooses the scales of live frames from a frame budget (the "
        "app's live scales); give a still image a list such as 'model' or '256,320'");
  std::vector<InputSize> sizes;
  if (list == "paper-exact") {
    sizes = paper_sizes(net);
  } else if (list == "paper") {
    for (const InputSize& p : paper_sizes(net)) sizes.push_back(smaller_side(std::min(p.h, p.w)));
  } else if (list == "window") {
    sizes.push_back({net.window, net.window});
  } else {
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ',')) {
      int h = 0, w = 0;
      char x = 0, extra = 0;
      std::stringstream is(item);
      if ((is >> h >> x >> w) && x == 'x' && !(is >> extra) && h > 0 && w > 0) {
        sizes.push_back({h, w});
        continue;
      }
      std::stringstream one(item);
      if ((one >> h) && !(one >> extra) && h > 0) {
        sizes.push_back(smaller_side(h));
        continue;
      }
      throw Error("Scale list '" + list + "': '" + item +
                  "' is neither a smaller-side length (e.g. 461) nor a size HxW (e.g. 461x569); "
                  "or give one of 'paper', 'paper-exact', 'window'");
    }
  }
  if (sizes.empty()) throw Error("Scale list '" + list + "' is empty");
  for (InputSize& s : sizes) {
    s.h = std::max(s.h, net.window);
    s.w = std::max(s.w, net.window);
    // A very elongated image (1x60000) scaled to a smaller side of 461, or a scale of 20000,
    // would take the machine's memory: the same limit as for decoded images.
    if (static_cast<long long>(s.h) * s.w > image::kMaxPixels)
      throw ImageError("The scale " + std::to_string(s.w) + "x" + std::to_string(s.h) +
                       " of this " + std::to_string(img_w) + "x" + std::to_string(img_h) +
                       " image has " + std::to_string(static_cast<long long>(s.h) * s.w / 1000000) +
                       " megapixels, over the limit of " +
                       std::to_string(image::kMaxPixels / 1000000) +
                       " (a very elongated image, or too large a scale): give smaller scales "
                       "(--scales) or crop the image");
  }
  return sizes;
}

MapGeometry map_geometry(const Model& model, int h, int w, bool fine) {
  MapGeometry g;
  const auto& mods = model.net.modules;
  const int t = model.trunk_end();
  if (t < 0) throw Error("The model " + model.net.name + " has no max pooling to offset");
  const int k = mods[t].kernel;
  g.pre_pool_h = output_side(mods, 0, t, h);
  g.pre_pool_w = output_side(mods, 0, t, w);
  g.h = axis_sizes(model, g.pre_pool_h, fine).total;
  g.w = axis_sizes(model, g.pre_pool_w, fine).total;
  if (g.h == 0 || g.w == 0) g.h = g.w = 0;
  g.offsets = fine ? k : 1;
  g.stride = output_stride(mods, 0, t) * (fine ? 1 : k);
  g.window = model.net.window;
  return g;
}

// ---------------------------------------------------------------------------------------------
// ScaleMap

namespace {
Box to_image(const ScaleMap& m, float x1, float y1, float x2, float y2) {
  const float fx = static_cast<float>(m.image_w) / m.input.w;
  const float fy = static_cast<float>(m.image_h) / m.input.h;
  Box b{x1 * fx, y1 * fy, x2 * fx, y2 * fy};
  if (m.flipped) b = {m.image_w - b.x2, b.y1, m.image_w - b.x1, b.y2};
  b.x1 = std::clamp(b.x1, 0.0f, static_cast<float>(m.image_w));
  b.x2 = std::clamp(b.x2, b.x1, static_cast<float>(m.image_w));
  b.y1 = std::clamp(b.y1, 0.0f, static_cast<float>(m.image_h));
  b.y2 = std::clamp(b.y2, b.y1, static_cast<float>(m.image_h));
  return b;
}
}  // namespace

Box ScaleMap::window_box(int y, int x) const {
  const float ox = static_cast<float>(x * geometry.stride);
  const float oy = static_cast<float>(y * geometry.stride);
  return to_image(*this, ox, oy, ox + geometry.window, oy + geometry.window);
}

Box ScaleMap::box(int cls, int y, int x) const {
  if (boxes.size() == 0) return window_box(y, x);
  const int base = boxes.c == 4 ? 0 : 4 * cls;
  const float ox = static_cast<float>(x * geometry.stride);
  const float oy = static_cast<float>(y * geometry.stride);
  return to_image(*this, ox + boxes.at(base, y, x), oy + boxes.at(base + 1, y, x),
                  ox + boxes.at(base + 2, y, x), oy + boxes.at(base + 3, y, x));
}

std::vector<float> ScaleMap::class_max() const {
  std::vector<float> best(probs.c, 0.0f);
  const size_t n = static_cast<size_t>(probs.h) * probs.w;
  for (int c = 0; c < probs.c; ++c) {
    const float* p = probs.data.data() + c * n;
    best[c] = n ? *std::max_element(p, p + n) : 0.0f;
  }
  return best;
}

Tensor ScaleMap::class_map(int cls) const {
  Tensor t(1, probs.h, probs.w);
  for (int y = 0; y < probs.h; ++y)
    for (int x = 0; x < probs.w; ++x)
      t.at(0, y, flipped ? probs.w - 1 - x : x) = probs.at(cls, y, x);
  return t;
}

void ScaleMap::cell_centers(double& x0, double& y0, double& step_x, double& step_y) const {
  const double fx = static_cast<double>(image_w) / input.w;
  const double fy = static_cast<double>(image_h) / input.h;
  step_x = geometry.stride * fx;
  step_y = geometry.stride * fy;
  y0 = geometry.window / 2.0 * fy;
  x0 = geometry.window / 2.0 * fx;
  // Mirrored back, column x holds the mirror image's column w-1-x, whose window center sits at
  // image_w - ((w-1-x) * stride + window/2) * fx.
  if (flipped) x0 = image_w - ((probs.w - 1) * geometry.stride + geometry.window / 2.0) * fx;
}

// ---------------------------------------------------------------------------------------------
// DenseEvaluator

struct DenseEvaluator::Impl {
  struct Stage {
    enum class Kind { Normalize, Conv, Pool, Relu, Softmax } kind;
    const ops::Conv* conv = nullptr;
    bool relu = false;
    int pool_k = 0, dx = 0, dy = 0;
    int in = -1;  // producing stage, -1: the input
    int slot = 0;
    std::string name;  // for timings: "conv5", "classifier conv6", "regressor conv2", ...
    int c = 0, h = 0, w = 0;
  };
  struct Output {
    int dy = 0, dx = 0;
    // Stages; probs is -1 for an offset whose classifier map is empty while the feature layer's
    // map is not (it still fills in the interleaved feature map).
    int probs = -1, boxes = -1, features = -1;
  };
  struct Plan {
    InputSize size;
    bool fine = true, boxes = true;
    int feature_layer = -1;
    int feature_pad = 0;  // a padding layer's zeros, added on the host around its input's map
    std::vector<Stage> stages;
    std::vector<Output> outputs;
    std::unique_ptr<vk::Recorder> recorder;
    std::unique_ptr<vk::DescriptorArena> arena;
    uint64_t generation = ~0ull;
  };

  const vk::Context* ctx;
  const Model* model;
  ops::PipelineLibrary lib;
  std::unique_ptr<ops::Normalize> normalize;
  std::unique_ptr<ops::Softmax> softmax;
  std::unique_ptr<ops::Relu> relu;  // only for plans that stop at a conv's pre-ReLU output
  std::map<int, std::unique_ptr<ops::MaxPool>> pools;
  std::vector<std::unique_ptr<ops::Conv>> net_convs;  // trunk and classifier, module order
  std::vector<std::unique_ptr<ops::Conv>> reg_convs;
  std::map<int, int> conv_of_module;  // net module index -> net_convs index
  std::map<int, int> reg_conv_of_module;
  vk::GrowingBuffer input;
  std::vector<vk::GrowingBuffer> buffers;  // by slot
  std::map<std::string, int> slot_of_role;
  uint64_t generation = 0;
  std::vector<std::unique_ptr<Plan>> plans;  // most recently used last
  static constexpr size_t kMaxPlans = 16;

  Impl(const vk::Context& c, const Model& m) : ctx(&c), model(&m), lib(c) {
    normalize = std::make_unique<ops::Normalize>(lib, m.net.mean, m.net.stddev);
    softmax = std::make_unique<ops::Softmax>(lib);
    make_convs(m.net.modules, m.weights.convs, net_convs, conv_of_module);
    if (m.regressor)
      make_convs(m.regressor->modules, m.regressor->convs, reg_convs, reg_conv_of_module);
    for (const Module& mod : m.net.modules)
      if (mod.kind == ModuleKind::MaxPool && !pools.count(mod.kernel))
        pools[mod.kernel] = std::make_unique<ops::MaxPool>(lib, mod.kernel);
  }

  void make_convs(const std::vector<Module>& mods, const std::vector<ConvWeights>& weights,
                  std::vector<std::unique_ptr<ops::Conv>>& out, std::map<int, int>& index) {
    int pad = 0;
    size_t next = 0;
    for (size_t i = 0; i < mods.size(); ++i) {
      if (mods[i].kind == ModuleKind::Pad) pad += mods[i].pad;
      if (mods[i].kind != ModuleKind::Conv) continue;
      if (next >= weights.size()) throw WeightFileError("The model has fewer weights than convs");
      index[static_cast<int>(i)] = static_cast<int>(out.size());
      out.push_back(std::make_unique<ops::Conv>(lib, weights[next++], mods[i].stride, pad));
      pad = 0;
    }
  }

  // One buffer per role ("trunk:3", "pooled", "probs:1,2", ...) shared by every plan, so each
  // buffer only grows to the largest map of its own role.
  int slot(Plan&, const std::string& role) {
    auto [it, added] = slot_of_role.emplace(role, static_cast<int>(slot_of_role.size()));
    return it->second;
  }

  // Appends modules [first, last) as stages (pads folded into convs, ReLUs fused into them)
  // reading stage `in`; intermediate outputs go to slots "<role>:<i>". Returns the last stage.
  // Module `feature_module`'s output goes to slot `feature_role` instead and its stage to
  // `*feature_stage`; a conv there is not fused with its ReLU (its own output is the layer), the
  // ReLU then runs as a stage of its own.
  int append_chain(Plan& p, const std::vector<Module>& mods, int first, int last,
                   const std::map<int, int>& conv_index,
                   const std::vector<std::unique_ptr<ops::Conv>>& convs, int in,
                   const std::string& role, int feature_module = -1, int* feature_stage = nullptr,
                   const std::string& feature_role = {}) {
    for (int i = first; i < last; ++i) {
      const Module& m = mods[i];
      const Stage& prev = p.stages[in];
      Stage s{};
      s.in = in;
      if (m.kind == ModuleKind::Relu && i == feature_module) {
        // After a conv the ReLU is fused into it: that stage's output is this layer.
        p.stages[in].slot = slot(p, feature_role);
        *feature_stage = in;
      }
      if (m.kind == ModuleKind::Pad || m.kind == ModuleKind::Relu) continue;  // folded / fused
      bool split_relu = false;
      if (m.kind == ModuleKind::Conv) {
        s.kind = Stage::Kind::Conv;
        s.conv = convs[conv_index.at(i)].get();
        s.relu = i + 1 < last && mods[i + 1].kind == ModuleKind::Relu;
        split_relu = s.relu && i == feature_module;
        if (split_relu) s.relu = false;
        s.c = s.conv->out_channels();
        s.h = s.conv->out_size(prev.h);
        s.w = s.conv->out_size(prev.w);
      } else {
        s.kind = Stage::Kind::Pool;
        s.pool_k = m.kernel;
        s.c = prev.c;
        s.h = prev.h / m.kernel;
        s.w = prev.w / m.kernel;
      }
      if (s.h <= 0 || s.w <= 0) return -1;
      s.slot = slot(p, i == feature_module ? feature_role : role + ":" + std::to_string(i));
      s.name = role == "trunk" ? m.name : role + " " + m.name;
      p.stages.push_back(s);
      in = static_cast<int>(p.stages.size()) - 1;
      if (i == feature_module) *feature_stage = in;
      if (split_relu) {
        Stage r = s;
        r.kind = Stage::Kind::Relu;
        r.conv = nullptr;
        r.in = in;
        r.slot = slot(p, role + ":" + std::to_string(i));
        r.name = role + " " + mods[i + 1].name;
        p.stages.push_back(r);
        in = static_cast<int>(p.stages.size()) - 1;
      }
    }
    return in;
  }

  // Throws unless `layer` is -1 or a layer that dense evaluation computes at every cell: the
  // last max pooling or a later (classifier) layer.
  void check_feature_layer(int layer) const {
    const int first = model->trunk_end() + 1, last = model->net.num_layers();
    if (layer == -1 || (layer >= first && layer <= last)) return;
    throw Error("Feature layer " + std::to_string(layer) + " is not available from dense " +
                "evaluation of the " + model->net.name + " network: choose a layer from " +
                std::to_string(first) + " (" + model->net.modules[first - 1].name +
                ", the last max pooling) to " + std::to_string(last) + " (the last layer, " +
                model->net.modules[last - 1].name + "), or -1 for none");
  }

  Plan& plan_for(InputSize size, bool fine, bool boxes, int feature_layer) {
    check_feature_layer(feature_layer);
    boxes = boxes && model->regressor.has_value();
    for (size_t i = 0; i < plans.size(); ++i) {
      Plan& p = *plans[i];
      if (p.size == size && p.fine == fine && p.boxes == boxes &&
          p.feature_layer == feature_layer) {
        std::rotate(plans.begin() + i, plans.begin() + i + 1, plans.end());
        return *plans.back();
      }
    }
    if (plans.size() >= kMaxPlans) plans.erase(plans.begin());
    auto plan = std::make_unique<Plan>();
    build_stages(*plan, size, fine, boxes, feature_layer);
    plans.push_back(std::move(plan));
    return *plans.back();
  }

  void build_stages(Plan& p, InputSize size, bool fine, bool boxes, int feature_layer) {
    p.size = size;
    p.fine = fine;
    p.boxes = boxes;
    p.feature_layer = feature_layer;
    const NetSpec& net = model->net;
    const int t = model->trunk_end();
    // Layer L is module L - 1's output. A padding layer is its input's map with zeros around
    // (added on the host): the stage to keep is the last module before the paddings.
    int feature_module = feature_layer - 1;
    p.feature_pad = 0;
    if (feature_layer >= 0)
      while (net.modules[feature_module].kind == ModuleKind::Pad)
        p.feature_pad += net.modules[feature_module--].pad;
    Stage norm{Stage::Kind::Normalize};
    norm.c = model->net.input_channels;  // written as one texel per pixel (a zero fourth)
    norm.h = size.h;
    norm.w = size.w;
    norm.slot = slot(p, "input");
    norm.name = "normalize";
    p.stages.push_back(norm);
    const int trunk = append_chain(p, net.modules, 0, t, conv_of_module, net_convs, 0, "trunk");
    if (trunk < 0) throw too_small(size);
    const int k = net.modules[t].kernel;
    const int n = fine ? k : 1;
    for (int dy = 0; dy < n; ++dy)
      for (int dx = 0; dx < n; ++dx) {
        const Stage& pre = p.stages[trunk];
        Stage pool{Stage::Kind::Pool};
        pool.in = trunk;
        pool.pool_k = k;
        pool.dx = dx;
        pool.dy = dy;
        pool.c = pre.c;
        pool.h = pre.h - dy < k ? 0 : (pre.h - dy) / k;
        pool.w = pre.w - dx < k ? 0 : (pre.w - dx) / k;
        if (pool.h <= 0 || pool.w <= 0) continue;  // this offset has no complete window
        const std::string offset = std::to_string(dy) + "," + std::to_string(dx);
        const std::string feature_role = "features:" + offset;
        pool.slot = slot(p, feature_module == t ? feature_role : "pooled");
        pool.name = "offset " + net.modules[t].name;
        p.stages.push_back(pool);
        const int pooled = static_cast<int>(p.stages.size()) - 1;
        Output out{dy, dx};
        if (feature_module == t) out.features = pooled;
        const int scores = append_chain(
            p, net.modules, t + 1, net.num_layers(), conv_of_module, net_convs, pooled,
            "classifier", feature_module > t ? feature_module : -1, &out.features, feature_role);
        if (scores < 0) {
          if (out.features >= 0) p.outputs.push_back(out);
          continue;
        }
        Stage sm = p.stages[scores];
        sm.kind = Stage::Kind::Softmax;
        sm.name = "softmax";
        sm.in = scores;
        sm.slot = slot(p, "probs:" + offset);
        p.stages.push_back(sm);
        out.probs = static_cast<int>(p.stages.size()) - 1;
        if (boxes) {
          const auto& reg = model->regressor->modules;
          out.boxes = append_chain(p, reg, 0, static_cast<int>(reg.size()), reg_conv_of_module,
                                   reg_convs, pooled, "regressor");
          // The last regressor stage writes into a per-offset slot, not a shared one.
          p.stages[out.boxes].slot = slot(p, "boxes:" + offset);
          const Stage& b = p.stages[out.boxes];
          const Stage& s = p.stages[out.probs];
          if (b.h != s.h || b.w != s.w)
            throw Error("The model's regressor and classifier give different map sizes");
        }
        p.outputs.push_back(out);
      }
    if (p.outputs.empty() || p.outputs.front().dx != 0 || p.outputs.front().dy != 0 ||
        p.outputs.front().probs < 0)
      throw too_small(size);
  }

  ImageError too_small(InputSize s) const {
    return ImageError("The input (" + std::to_string(s.w) + "x" + std::to_string(s.h) +
                      ") is too small for the " + model->net.name + " network: it needs at least " +
                      std::to_string(model->net.window) + "x" + std::to_string(model->net.window) +
                      " pixels.");
  }

  ops::Blob blob(const Stage& s) { return {&buffers[s.slot].get(), s.c, s.h, s.w}; }

  void record(Plan& p) {
    bool grew = input.reserve(*ctx, static_cast<VkDeviceSize>(p.size.h) * p.size.w * 3 * 4);
    if (buffers.size() < slot_of_role.size()) buffers.resize(slot_of_role.size());
    for (const Stage& s : p.stages) ops::check_fits(*ctx, {nullptr, s.c, s.h, s.w}, s.name);
    for (const Stage& s : p.stages)
      grew |= buffers[s.slot].reserve(*ctx, ops::Blob{nullptr, s.c, s.h, s.w}.floats() * 4);
    if (grew) ++generation;
    if (p.generation == generation && p.recorder && p.recorder->recorded()) return;
    p.recorder = std::make_unique<vk::Recorder>(*ctx, static_cast<uint32_t>(p.stages.size()) + 1);
    p.arena = std::make_unique<vk::DescriptorArena>(*ctx);
    vk::Recorder& rec = *p.recorder;
    rec.begin();
    rec.timestamp();
    for (const Stage& s : p.stages) {
      const ops::Blob out = blob(s);
      const ops::Blob in = s.in >= 0 ? blob(p.stages[s.in]) : ops::Blob{};
      switch (s.kind) {
        case Stage::Kind::Normalize:
          normalize->record(rec, *p.arena, input.get(), s.h, s.w, {out.buffer, 4, s.h, s.w});
          break;
        case Stage::Kind::Conv:
          s.conv->record(rec, *p.arena, in, out, s.relu);
          break;
        case Stage::Kind::Pool:
          pools.at(s.pool_k)->record(rec, *p.arena, in, out, s.dx, s.dy);
          break;
        case Stage::Kind::Relu:
          if (!relu) relu = std::make_unique<ops::Relu>(lib);
          relu->record(rec, *p.arena, in, out);
          break;
        case Stage::Kind::Softmax:
          softmax->record(rec, *p.arena, in, out);
          break;
      }
      rec.barrier();
      rec.timestamp();
    }
    rec.end();
    p.generation = generation;
  }
};

DenseEvaluator::DenseEvaluator(const vk::Context& ctx, const Model& model)
    : model_(&model), impl_(std::make_unique<Impl>(ctx, model)) {
  model.validate();
  const auto& mods = model.net.modules;
  for (int i = model.trunk_end() + 1; i < model.net.num_layers(); ++i)
    if (mods[i].kind == ModuleKind::Conv && mods[i].stride != 1)
      throw Error("Dense evaluation needs stride-1 layers after the last pooling; " + mods[i].name +
                  " has stride " + std::to_string(mods[i].stride));
}

DenseEvaluator::~DenseEvaluator() = default;

uint64_t DenseEvaluator::activation_bytes() const {
  uint64_t n = impl_->input.get().size();
  for (const auto& b : impl_->buffers) n += b.get().size();
  return n;
}

uint64_t DenseEvaluator::weight_bytes() const {
  uint64_t n = 0;
  for (const auto& c : impl_->net_convs) n += c->weight_bytes();
  for (const auto& c : impl_->reg_convs) n += c->weight_bytes();
  return n;
}

ScaleMap DenseEvaluator::evaluate_input(const Tensor& input, const DenseOptions& options,
                                        int image_h, int image_w, bool flipped, double* gpu_ms,
                                        double* collect_ms) {
  if (input.c != 3) throw ImageError("The network expects an RGB image (3 channels)");
  const InputSize size{input.h, input.w};
  Impl::Plan& plan = impl_->plan_for(size, options.fine, options.boxes, options.feature_layer);
  impl_->record(plan);
  impl_->input.get().upload(input.data);
  plan.recorder->submit();
  const int stamps = static_cast<int>(plan.stages.size());
  if (gpu_ms) *gpu_ms = plan.recorder->elapsed_ms(0, stamps);
  last_stages_.clear();
  for (int i = 0; i < stamps; ++i)
    last_stages_.push_back({plan.stages[i].name, plan.recorder->elapsed_ms(i, i + 1)});

  ScaleMap map;
  map.flipped = flipped;
  map.input = size;
  map.image_h = image_h;
  map.image_w = image_w;
  map.geometry = map_geometry(*model_, size.h, size.w, options.fine);
  const MapGeometry& g = map.geometry;
  const int k = g.offsets;
  map.background = model_->background;
  const int classes = plan.stages[plan.outputs.front().probs].c;
  map.probs = Tensor(classes, g.h, g.w);
  if (plan.boxes) {
    const int box_channels = plan.stages[plan.outputs.front().boxes].c;
    map.boxes = Tensor(box_channels, g.h, g.w);
  }
  // The feature layer's maps interleave like the outputs' (each offset's map starts at the same
  // cell); before the classifier's last spatial conv they are larger than the output maps.
  const int fpad = plan.feature_pad;
  if (plan.feature_layer >= 0) {
    int fc = 0, fh = 0, fw = 0;
    for (const Impl::Output& o : plan.outputs) {
      const Impl::Stage& s = plan.stages[o.features];
      fc = s.c;
      fh = std::max(fh, (s.h + 2 * fpad - 1) * k + o.dy + 1);
      fw = std::max(fw, (s.w + 2 * fpad - 1) * k + o.dx + 1);
    }
    map.features = Tensor(fc, fh, fw);
  }
  double scatter_ms = 0;
  for (const Impl::Output& o : plan.outputs) {
    const Tensor probs = o.probs >= 0 ? ops::download(impl_->blob(plan.stages[o.probs])) : Tensor();
    const Tensor boxes = o.boxes >= 0 ? ops::download(impl_->blob(plan.stages[o.boxes])) : Tensor();
    Tensor features =
        o.features >= 0 ? ops::download(impl_->blob(plan.stages[o.features])) : Tensor();
    const auto t0 = Clock::now();
    if (o.probs >= 0) interleave_offset(probs, k, o.dy, o.dx, map.probs);
    if (o.boxes >= 0) interleave_offset(boxes, k, o.dy, o.dx, map.boxes);
    if (o.features >= 0 && fpad > 0) {
      Tensor padded(features.c, features.h + 2 * fpad, features.w + 2 * fpad, 0.0f);
      for (int c = 0; c < features.c; ++c)
        for (int i = 0; i < features.h; ++i)
          for (int j = 0; j < features.w; ++j)
            padded.at(c, i + fpad, j + fpad) = features.at(c, i, j);
      features = std::move(padded);
    }
    if (o.features >= 0) interleave_offset(features, k, o.dy, o.dx, map.features);
    scatter_ms += ms_since(t0);
  }
  if (collect_ms) *collect_ms = scatter_ms;
  return map;
}

DenseResult DenseEvaluator::evaluate(const Tensor& rgb, const std::vector<InputSize>& sizes,
                                     const DenseOptions& options) {
  impl_->check_feature_layer(options.feature_layer);  // before any work
  DenseResult result;
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto t0 = Clock::now();
    const InputSize s = sizes[i];
    Tensor resized = (s.h == rgb.h && s.w == rgb.w) ? rgb : image::resize(rgb, s.h, s.w);
    result.timings.prepare_ms += ms_since(t0);
    for (int flip = 0; flip < (options.flip ? 2 : 1); ++flip) {
      if (flip) {
        t0 = Clock::now();
        resized = image::flip_horizontal(resized);
        result.timings.prepare_ms += ms_since(t0);
      }
      t0 = Clock::now();
      double gpu = 0, collect = 0;
      ScaleMap m = evaluate_input(resized, options, rgb.h, rgb.w, flip == 1, &gpu, &collect);
      result.timings.network_ms += ms_since(t0) - collect;
      result.timings.collect_ms += collect;
      result.timings.gpu_ms += gpu;
      for (const StageTime& st : last_stages_) {
        auto it = std::find_if(result.timings.stages.begin(), result.timings.stages.end(),
                               [&](const StageTime& a) { return a.name == st.name; });
        if (it == result.timings.stages.end())
          result.timings.stages.push_back(st);
        else
          it->ms += st.ms;
      }
      m.scale = static_cast<int>(i);
      result.maps.push_back(std::move(m));
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Classification and raw boxes

std::vector<float> classify(const DenseResult& result) {
  std::vector<float> mean;
  for (const ScaleMap& m : result.maps) {
    const std::vector<float> best = m.class_max();
    if (mean.empty()) mean.assign(best.size(), 0.0f);
    for (size_t c = 0; c < best.size(); ++c) mean[c] += best[c];
  }
  for (float& v : mean) v /= static_cast<float>(result.maps.size());
  return mean;
}

std::vector<float> classify_ten_views(DenseEvaluator& evaluator, const Tensor& rgb) {
  const int win = evaluator.model().net.window;
  int h = 0, w = 0;
  image::fill_size(rgb.h, rgb.w, std::max(256, win), h, w);
  const Tensor resized = image::resize(rgb, h, w);
  const int ys[] = {0, 0, h - win, h - win, (h - win) / 2};
  const int xs[] = {0, w - win, 0, w - win, (w - win) / 2};
  DenseOptions coarse;
  coarse.fine = false;
  coarse.boxes = false;
  std::vector<float> mean;
  for (int v = 0; v < 5; ++v) {
    Tensor view = image::crop(resized, ys[v], xs[v], win, win);
    for (int flip = 0; flip < 2; ++flip) {
      if (flip) view = image::flip_horizontal(view);
      const ScaleMap m = evaluator.evaluate_input(view, coarse, win, win, flip == 1);
      const std::vector<float> p = m.class_max();
      if (mean.empty()) mean.assign(p.size(), 0.0f);
      for (size_t c = 0; c < p.size(); ++c) mean[c] += p[c] / 10.0f;
    }
  }
  return mean;
}

std::vector<Detection> raw_detections(const DenseResult& result, int top_classes,
                                      float min_confidence) {
  std::vector<Detection> out;
  for (const ScaleMap& m : result.maps) {
    const std::vector<float> best = m.class_max();
    std::vector<int> order(best.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return best[a] > best[b]; });
    int taken = 0;
    for (int cls : order) {
      if (taken >= top_classes) break;
      if (cls == m.background) continue;
      ++taken;
      for (int y = 0; y < m.probs.h; ++y)
        for (int x = 0; x < m.probs.w; ++x) {
          const float p = m.probs.at(cls, y, x);
          if (p < min_confidence) continue;
          Detection d;
          d.cls = cls;
          d.score = p;
          d.peak = p;
          d.confidence = p;
          d.box = m.box(cls, y, x);
          d.scale = m.scale;
          out.push_back(d);
        }
    }
  }
  return out;
}

}  // namespace overfeat
