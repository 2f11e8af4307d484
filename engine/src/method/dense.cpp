// SPDX-License-Identifier: MIT
#include "overfeat/dense.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <sstream>

#include "overfeat/error.hpp"
#include "overfeat/graph_dense.hpp"
#include "overfeat/image.hpp"
#include "overfeat/reference.hpp"

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

// The model as one graph (graph.hpp): the trunk, its last max pooling at every offset
// (offset_graph), and each offset's classifier (with a softmax) and regressor, their
// convolutions sharing one copy of the weights on the device. The graph executor runs the
// maps a call asks for in one pass: the trunk once, then each offset's heads.
struct DenseEvaluator::Impl {
  const Model* model;
  std::unique_ptr<GraphExecutor> exec;
  std::vector<std::vector<int>> node;   // offset_graph's: [dy * k + dx][node of offset (0, 0)]
  int k = 1;                            // the last pooling's kernel
  int pool = 0, probs = 0, boxes = -1;  // nodes of offset (0, 0)
  std::vector<int> module_node;         // net module i >= trunk_end() -> its node (a pad: before)

  Impl(const vk::Context& ctx, const Model& m) : model(&m) {
    const NetSpec& net = m.net;
    const int t = m.trunk_end();
    graph::Graph g;
    g.input_channels = net.input_channels;
    g.nodes.push_back({});
    g.nodes[0].name = "input";
    // The graph without weights (their shapes only): the model keeps its weights and lends
    // them to the executor as it uploads each conv, so they are never copied on the host.
    std::map<int, const ConvWeights*> lent;  // conv node -> its weights in the model
    auto shapes_of = [](const std::vector<ConvWeights>& convs) {
      std::vector<ConvWeights> shapes;
      for (const ConvWeights& c : convs) shapes.push_back({c.out, c.in, c.k, {}, {}});
      return shapes;
    };
    auto lend = [&](const graph::Graph& graph, size_t first_node,
                    const std::vector<ConvWeights>& from) {
      size_t next_conv = 0;
      for (size_t i = first_node; i < graph.nodes.size(); ++i)
        if (graph.nodes[i].op == graph::OpKind::Conv)
          lent[static_cast<int>(i)] = &from.at(next_conv++);
    };
    std::vector<ConvWeights> convs = shapes_of(m.weights.convs);
    size_t next = 0;
    int channels = net.input_channels;
    const std::vector<int> trunk =
        append_modules(g, 0, net.modules, 0, t + 1, convs, next, channels);
    pool = trunk.back();
    g.nodes[pool].name = "offset " + net.modules[t].name;
    const int pooled_channels = channels;
    module_node.assign(t, -1);
    module_node.push_back(pool);
    for (int n : append_modules(g, pool, net.modules, t + 1, net.num_layers(), convs, next,
                                channels, "classifier "))
      module_node.push_back(n);
    if (next != convs.size()) throw WeightFileError("The model has more weights than convs");
    lend(g, 1, m.weights.convs);
    graph::Node softmax;
    softmax.name = "softmax";
    softmax.op = graph::OpKind::Softmax;
    softmax.inputs = {module_node.back()};
    g.nodes.push_back(softmax);
    probs = static_cast<int>(g.nodes.size()) - 1;
    g.output = probs;
    if (m.regressor) {
      const size_t first = g.nodes.size();
      std::vector<ConvWeights> reg = shapes_of(m.regressor->convs);
      size_t reg_next = 0;
      int reg_channels = pooled_channels;
      const auto& mods = m.regressor->modules;
      boxes = append_modules(g, pool, mods, 0, static_cast<int>(mods.size()), reg, reg_next,
                             reg_channels, "regressor ")
                  .back();
      lend(g, first, m.regressor->convs);
    }
    OffsetGraph offsets = offset_graph(std::move(g), pool);
    k = offsets.k;
    node = std::move(offsets.node);
    auto lend_weights = [&](int node) -> GraphExecutor::LentWeights {
      const ConvWeights& w = *lent.at(node);
      return {w.w, w.b};
    };
    exec = std::make_unique<GraphExecutor>(ctx, std::move(offsets.graph), lend_weights);
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

  ImageError too_small(InputSize s) const {
    return ImageError("The input (" + std::to_string(s.w) + "x" + std::to_string(s.h) +
                      ") is too small for the " + model->net.name + " network: it needs at least " +
                      std::to_string(model->net.window) + "x" + std::to_string(model->net.window) +
                      " pixels.");
  }
};

DenseEvaluator::DenseEvaluator(const vk::Context& ctx, const Model& model) : model_(&model) {
  model.validate();
  const auto& mods = model.net.modules;
  for (int i = model.trunk_end() + 1; i < model.net.num_layers(); ++i)
    if (mods[i].kind == ModuleKind::Conv && mods[i].stride != 1)
      throw Error("Dense evaluation needs stride-1 layers after the last pooling; " + mods[i].name +
                  " has stride " + std::to_string(mods[i].stride));
  impl_ = std::make_unique<Impl>(ctx, model);
}

DenseEvaluator::~DenseEvaluator() = default;

uint64_t DenseEvaluator::activation_bytes() const {
  return impl_->exec->activation_bytes();
}

int DenseEvaluator::offsets() const {
  return impl_->k;
}

uint64_t DenseEvaluator::weight_bytes() const {
  return impl_->exec->weight_bytes();
}

ScaleMap DenseEvaluator::evaluate_input(const Tensor& input, const DenseOptions& options,
                                        int image_h, int image_w, bool flipped, double* gpu_ms,
                                        double* collect_ms) {
  if (input.c != 3) throw ImageError("The network expects an RGB image (3 channels)");
  Impl& m = *impl_;
  m.check_feature_layer(options.feature_layer);
  const InputSize size{input.h, input.w};
  const bool boxes = options.boxes && m.boxes >= 0;
  // Layer L is module L - 1's output. A padding layer is its input's map with zeros around
  // (added on the host): the node to keep is the last module's before the paddings.
  int feature = -1, fpad = 0;
  if (options.feature_layer >= 0) {
    int module = options.feature_layer - 1;
    while (model_->net.modules[module].kind == ModuleKind::Pad)
      fpad += model_->net.modules[module--].pad;
    feature = m.module_node.at(module);
  }

  // The offsets with a complete pooling window; of those, the ones whose classifier map is not
  // empty, or whose feature map is not (it still fills in the interleaved feature map).
  struct Output {
    int dy = 0, dx = 0, probs = -1, boxes = -1, features = -1;
  };
  const std::vector<graph::Shape> shapes = m.exec->graph().shapes(size.h, size.w);
  std::vector<Output> outputs;
  std::vector<int> want;
  const int k = options.fine ? m.k : 1;
  for (int dy = 0; dy < k; ++dy)
    for (int dx = 0; dx < k; ++dx) {
      const std::vector<int>& at = m.node[dy * m.k + dx];
      if (!shapes[at[m.pool]].valid()) continue;
      Output o{dy, dx};
      if (shapes[at[m.probs]].valid()) {
        o.probs = at[m.probs];
        if (boxes) {
          o.boxes = at[m.boxes];
          const graph::Shape &b = shapes[o.boxes], &p = shapes[o.probs];
          if (b.h != p.h || b.w != p.w)
            throw Error("The model's regressor and classifier give different map sizes");
        }
      }
      if (feature >= 0 && shapes[at[feature]].valid()) o.features = at[feature];
      if (o.probs < 0 && o.features < 0) continue;
      for (int n : {o.probs, o.boxes, o.features})
        if (n >= 0) want.push_back(n);
      outputs.push_back(o);
    }
  if (outputs.empty() || outputs.front().dx != 0 || outputs.front().dy != 0 ||
      outputs.front().probs < 0)
    throw m.too_small(size);

  std::map<int, Tensor> maps = m.exec->run(normalize_input(model_->net, input), want);
  if (gpu_ms) *gpu_ms = m.exec->last_gpu_ms();
  last_stages_ = m.exec->last_stage_times();

  ScaleMap map;
  map.flipped = flipped;
  map.input = size;
  map.image_h = image_h;
  map.image_w = image_w;
  map.geometry = map_geometry(*model_, size.h, size.w, options.fine);
  const MapGeometry& g = map.geometry;
  map.background = model_->background;
  map.probs = Tensor(shapes[m.probs].c, g.h, g.w);
  if (boxes) map.boxes = Tensor(shapes[m.boxes].c, g.h, g.w);
  // The feature layer's maps interleave like the outputs' (each offset's map starts at the same
  // cell); before the classifier's last spatial conv they are larger than the output maps.
  if (feature >= 0) {
    int fh = 0, fw = 0;
    for (const Output& o : outputs) {
      const graph::Shape& s = shapes[o.features];
      fh = std::max(fh, (s.h + 2 * fpad - 1) * k + o.dy + 1);
      fw = std::max(fw, (s.w + 2 * fpad - 1) * k + o.dx + 1);
    }
    map.features = Tensor(shapes[feature].c, fh, fw);
  }
  const auto t0 = Clock::now();
  for (const Output& o : outputs) {
    if (o.probs >= 0) interleave_offset(maps.at(o.probs), k, o.dy, o.dx, map.probs);
    if (o.boxes >= 0) interleave_offset(maps.at(o.boxes), k, o.dy, o.dx, map.boxes);
    if (o.features < 0) continue;
    const Tensor& f = maps.at(o.features);
    interleave_offset(fpad > 0 ? ref::pad(f, fpad) : f, k, o.dy, o.dx, map.features);
  }
  if (collect_ms) *collect_ms = ms_since(t0);
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
