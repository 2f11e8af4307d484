// SPDX-License-Identifier: MIT
// The original release's command line: `overfeat [-n N] [-f | -L k] [-l] [-d DIR] [-p] images`.
// Output is byte-for-byte the release's: `name probability` lines, or `n h w` followed by the
// n*h*w values, each followed by a space, then a newline. `--json` and `--device` are ours.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "common.hpp"
#include "overfeat/classes.hpp"
#include "overfeat/error.hpp"
#include "overfeat/graph_executor.hpp"
#include "overfeat/graph_model.hpp"
#include "overfeat/image.hpp"

namespace overfeat::cli {
namespace {

struct Options {
  int ntop = 5;
  bool features = false;
  int layer = -1;
  bool large = false;
  std::string data_dir;
  bool ppm = false;
  bool verbose = false;
  bool json = false;
  std::string device;
  std::string model;  // fast | accurate | FILE.onnx (a classic network, graph_model.hpp)
  std::string mean, stddev;
  std::string layer_name;  // FILE.onnx: a node by name
  std::vector<std::string> images;
};

bool is_official_name(const std::string& model) {
  return model.empty() || model == "fast" || model == "accurate";
}

constexpr int kClassifySide = 231;  // both nets: the release's wrapper resized to 231

void print_features(const Tensor& t) {
  std::cout << t.c << " " << t.h << " " << t.w << "\n";
  std::string line;
  for (float v : t.data) {
    line += release_float(v);
    line += ' ';
  }
  std::cout << line << "\n";
}

class Runner {
 public:
  explicit Runner(const Options& o) : opt_(o) {
    if (!is_official_name(o.model)) {
      open_graph_model();
      return;
    }
    ctx_ = open_context(o.device, o.verbose);
    const auto dir = o.data_dir.empty() ? default_weights_dir() : std::filesystem::path(o.data_dir);
    net_ = load_official(*ctx_, dir, o.large || o.model == "accurate" ? 1 : 0);
    layer_ = o.layer >= 0 ? o.layer : net_->spec().default_feature_layer;
    if (features() && layer_ > net_->spec().num_layers())
      throw Error("Layer " + std::to_string(layer_) + " does not exist: the " + net_->spec().name +
                  " network has layers 0 to " + std::to_string(net_->spec().num_layers()) +
                  " (-L)");
  }
  bool features() const { return opt_.features || opt_.layer >= 0; }

  // `from_file`: the release's wrapper resized files (classification only); PPM streams were
  // passed through untouched.
  void process(const std::string& label, Tensor rgb, bool from_file) {
    if (graph_) return process_graph(label, std::move(rgb), from_file);
    if (features()) {
      ForwardResult r = net_->forward(rgb, {layer_});
      const Tensor& t = r.layers.at(layer_);
      if (opt_.json)
        json_.add(
            {{"image", label}, {"layer", layer_}, {"shape", {t.c, t.h, t.w}}, {"data", t.data}});
      else
        print_features(t);
      std::cout.flush();
      return;
    }
    if (from_file) {
      int h, w;
      image::fill_size(rgb.h, rgb.w, kClassifySide, h, w);
      rgb = image::resize_like_imagemagick(rgb, h, w);
    }
    rgb = image::center_crop(rgb);
    ForwardResult r = net_->forward(rgb, {}, true);
    const Tensor& p = r.layers.at(-1);
    if (p.h != 1 || p.w != 1)
      throw ImageError("Can only determine class if the output is 1x1. Reduce input size (" +
                       label + " gives " + std::to_string(p.h) + "x" + std::to_string(p.w) +
                       "; use `overfeat classify` for dense multi-scale classification).");
    const auto& names = official_class_names();
    auto top = top_classes(p.data, opt_.ntop);
    nlohmann::json classes = nlohmann::json::array();
    for (const auto& c : top) {
      if (opt_.json)
        classes.push_back(
            {{"index", c.index}, {"name", names.at(c.index)}, {"probability", c.score}});
      else
        std::cout << names.at(c.index) << " " << release_float(c.score) << "\n";
    }
    if (opt_.json) json_.add({{"image", label}, {"classes", classes}});
    std::cout.flush();
  }

  /// Runs `fn` for one input (cli::guarded); a failure is entered in the JSON too.
  template <typename Fn>
  bool guarded(const std::string& label, Fn fn) {
    return cli::guarded(label, fn, [&](const std::string& message) {
      if (opt_.json) json_.add({{"image", label}, {"error", message}});
    });
  }

  // A classic network from a file: the smaller side resized to the model's input size (files
  // only, as the release's wrapper did), the centre cropped to it, softmax, top N.
  void process_graph(const std::string& label, Tensor rgb, bool from_file) {
    const GraphModel& m = *graph_model_;
    if (from_file) {
      int h, w;
      image::fill_size(rgb.h, rgb.w, std::max(m.input_h, m.input_w), h, w);
      if (h != rgb.h || w != rgb.w) rgb = image::resize(rgb, h, w);
    }
    if (rgb.h < m.input_h || rgb.w < m.input_w)
      throw ImageError(label + " (" + std::to_string(rgb.w) + "x" + std::to_string(rgb.h) +
                       ") is smaller than the model's input, " + std::to_string(m.input_w) + "x" +
                       std::to_string(m.input_h));
    rgb = image::crop(rgb, (rgb.h - m.input_h) / 2, (rgb.w - m.input_w) / 2, m.input_h, m.input_w);
    const Tensor input = preprocess(m.pre, rgb);
    if (features()) {
      const int node = opt_.layer >= 0 ? opt_.layer : m.feature_node;
      const Tensor t = graph_->run(input, {node}).at(node);
      if (opt_.json)
        json_.add({{"image", label},
                   {"layer", node},
                   {"name", m.graph.nodes[node].name},
                   {"shape", {t.c, t.h, t.w}},
                   {"data", t.data}});
      else
        print_features(t);
      std::cout.flush();
      return;
    }
    Tensor out = graph_->run(input).at(m.graph.output);
    if (out.h != 1 || out.w != 1)
      throw ImageError("Can only determine class if the output is 1x1 (" + label + " gives " +
                       std::to_string(out.h) + "x" + std::to_string(out.w) + ")");
    if (!m.ends_in_softmax()) out = softmax_host(out);
    auto top = top_classes(out.data, opt_.ntop);
    nlohmann::json classes = nlohmann::json::array();
    for (const auto& c : top) {
      if (opt_.json)
        classes.push_back(
            {{"index", c.index}, {"name", m.classes.at(c.index)}, {"probability", c.score}});
      else
        std::cout << m.classes.at(c.index) << " " << release_float(c.score) << "\n";
    }
    if (opt_.json) json_.add({{"image", label}, {"classes", classes}});
    std::cout.flush();
  }

  void finish() {
    json_.close();
    std::cout.flush();
  }

 private:
  static Tensor softmax_host(Tensor t) {
    float top = -INFINITY;
    for (float v : t.data) top = std::max(top, v);
    double sum = 0;
    for (float& v : t.data) sum += (v = std::exp(v - top));
    for (float& v : t.data) v = static_cast<float>(v / sum);
    return t;
  }

  void open_graph_model() {
    const std::filesystem::path file = opt_.model;
    if (is_overfeat_model_file(file))
      throw Error(file.string() +
                  " is an OverFeat Studio model (overfeat.* metadata): run it with `overfeat "
                  "classify -m " +
                  file.string() + "` (dense, multi-scale) instead");
    graph_model_ = std::make_unique<GraphModel>(load_graph_model(file));
    GraphModel& m = *graph_model_;
    if (!opt_.mean.empty()) m.pre.mean = parse_triple(opt_.mean, "--mean");
    if (!opt_.stddev.empty()) m.pre.std = parse_triple(opt_.stddev, "--std");
    if (!opt_.mean.empty() || !opt_.stddev.empty()) m.pre.source = "--mean / --std";
    if (!opt_.layer_name.empty()) {
      opt_.layer = m.graph.find(opt_.layer_name);
      if (opt_.layer < 0) {
        std::string names;
        for (size_t i = 1; i < m.graph.nodes.size() && i <= 12; ++i)
          names += (i > 1 ? ", " : "") + m.graph.nodes[i].name;
        throw Error(m.name + " has no node named '" + opt_.layer_name + "' (--layer); its nodes: " +
                    names + (m.graph.nodes.size() > 13 ? ", ..." : ""));
      }
    }
    if (opt_.layer >= static_cast<int>(m.graph.nodes.size()))
      throw Error("Layer " + std::to_string(opt_.layer) + " does not exist: " + m.name +
                  " has nodes 0 to " + std::to_string(m.graph.nodes.size() - 1) + " (-L)");
    ctx_ = open_context(opt_.device, opt_.verbose);
    graph_ = std::make_unique<GraphExecutor>(*ctx_, m.graph.structure(),
                                             GraphExecutor::lending(m.graph));
    if (opt_.verbose)
      std::cerr << "Model: " << m.name << " (" << m.graph.nodes.size() << " nodes, input "
                << m.input_w << "x" << m.input_h << ", opset " << m.opset << ")\n"
                << "Preprocessing: " << m.pre.source << "\nClasses: " << m.classes_source << "\n";
  }

  Options opt_;
  vk::ContextPtr ctx_;
  std::unique_ptr<GraphModel> graph_model_;
  std::unique_ptr<GraphExecutor> graph_;
  std::unique_ptr<Network> net_;
  int layer_ = 0;
  JsonArrayWriter json_{opt_.json ? "-" : ""};
};

}  // namespace

int run_release(int argc, char** argv) {
  Options o;
  CLI::App app{
      "OverFeat (Vulkan): classify images or print features, compatible with the original "
      "release's `overfeat` command.\nSubcommands: classify, detect, heatmap, eval (dense "
      "multi-scale; see `overfeat SUBCOMMAND --help`), learn, recognize, learned (one-shot "
      "learning), bench [dense|oneshot], devices, weights (the official weight files)."};
  app.add_option("-n,--n_top_classes", o.ntop, "Number of top classes to print")
      ->check(CLI::PositiveNumber);
  app.add_flag("-f,--features", o.features,
               "Print features (layer 19 fast, 22 accurate) instead of classes");
  app.add_option("-L,--features-layer", o.layer,
                 "Print the output of layer L (release numbering); overrides -f")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("-l,--large_net", o.large, "Use the accurate (larger, slower) network");
  app.add_option("-m,--model", o.model,
                 "fast | accurate | FILE.onnx: a classic network (AlexNet, VGG, ResNet, ...; "
                 "README, \"Classic networks\")");
  app.add_option("--layer", o.layer_name,
                 "FILE.onnx: print the map of the node named NAME (as Netron shows it), like -L");
  app.add_option("--mean", o.mean,
                 "FILE.onnx: per-channel mean r,g,b of 0..1 RGB (default "
                 "ImageNet's 0.485,0.456,0.406, or the model's sidecar)");
  app.add_option("--std", o.stddev,
                 "FILE.onnx: per-channel standard deviation r,g,b (default "
                 "0.229,0.224,0.225)");
  app.add_option("-d,--data_dir", o.data_dir, "Folder with net_weight_0 / net_weight_1");
  app.add_flag("-p,--ppm", o.ppm, "Read a stream of binary PPM images from stdin");
  app.add_flag("-v,--verbose", o.verbose, "Print the Vulkan device and timings on stderr");
  app.add_flag("--json", o.json, "Write JSON instead of the release's text format");
  app.add_option("--device", o.device, "Vulkan device index or name (see `overfeat devices`)");
  app.add_option("images", o.images, "Image files (any format OpenCV reads)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (o.images.empty() && !o.ppm) {
    std::cerr << "Missing input image path (or -p option)\n" << app.help();
    return 2;
  }
  Runner runner(o);
  int failures = 0, inputs = 0;
  if (o.ppm) {
    // One bad image of the stream costs only itself: a sound header's raster is skipped, a
    // garbled one is passed over to the next "P6".
    for (int i = 0;; ++i) {
      const std::string label = "stdin#" + std::to_string(i);
      bool end = false, read = false;
      const bool ok = runner.guarded(label, [&] {
        Tensor rgb;
        end = !image::read_ppm(std::cin, rgb);
        read = true;
        if (!end) runner.process(label, std::move(rgb), false);
      });
      if (end) break;  // the clean end of the stream
      ++inputs;
      if (!ok) ++failures;
      if (!read && !image::skip_to_next_ppm(std::cin)) break;
    }
  }
  for (const auto& path : o.images) {
    ++inputs;
    failures += !runner.guarded(path, [&] {
      runner.process(path, image::load_rgb(path, image::Orientation::kAsStored), true);
    });
  }
  runner.finish();
  return batch_status(failures, static_cast<std::size_t>(inputs), "inputs");
}

}  // namespace overfeat::cli
