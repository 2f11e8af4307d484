// SPDX-License-Identifier: MIT
// The original release's command line: `overfeat [-n N] [-f | -L k] [-l] [-d DIR] [-p] images`.
// Output is byte-for-byte the release's: `name probability` lines, or `n h w` followed by the
// n*h*w values, each followed by a space, then a newline. `--json` and `--device` are ours.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>

#include "common.hpp"
#include "overfeat/classes.hpp"
#include "overfeat/error.hpp"
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
  std::vector<std::string> images;
};

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
    ctx_ = open_context(o.device, o.verbose);
    const auto dir = o.data_dir.empty() ? default_weights_dir() : std::filesystem::path(o.data_dir);
    net_ = load_official(*ctx_, dir, o.large ? 1 : 0);
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

  void finish() {
    json_.close();
    std::cout.flush();
  }

 private:
  Options opt_;
  std::unique_ptr<vk::Context> ctx_;
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
    failures += !runner.guarded(path, [&] { runner.process(path, image::load_rgb(path), true); });
  }
  runner.finish();
  return batch_status(failures, static_cast<std::size_t>(inputs), "inputs");
}

}  // namespace overfeat::cli
