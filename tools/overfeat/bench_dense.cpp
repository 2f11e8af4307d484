// SPDX-License-Identifier: MIT
// `overfeat bench dense`: the paper's six-scale fine-stride evaluation of one image, with and
// without flips, split into network time and the time spent outside it (resizing,
// interleaving, box merging).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <random>

#include "common.hpp"
#include "overfeat/image.hpp"
#include "overfeat/pipeline.hpp"

namespace overfeat::cli {
namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A paper-sized box regressor (two hidden layers of 4096 and 1024, then 4 edges) with random
// weights, for timing.
Head random_regressor(const Model& m, bool per_class) {
  int c = 0, h = 0, w = 0;
  m.net.layer_shape(m.trunk_end() + 1, m.net.window, m.net.window, c, h, w);
  const int outputs = per_class ? 4 * static_cast<int>(m.classes.size()) : 4;
  NetSpec spec = NetSpec::parse(
      "regressor", "conv:4096:" + std::to_string(h) +
                       ":1 relu conv:1024:1:1 relu conv:" + std::to_string(outputs) + ":1:1");
  spec.input_channels = c;
  Head head;
  head.modules = spec.modules;
  head.convs = random_weights(spec, 3).convs;
  return head;
}

}  // namespace

int run_bench_dense(int argc, char** argv) {
  std::string net = "fast", model_arg, device, weights_dir, image_file, scales = "paper",
              regressor = "none";
  int repeat = 3, warmup = 1;
  bool json_out = false, coarse = false;
  CLI::App app{
      "Times the paper's dense evaluation of one image: six scales, fine stride, with "
      "and without flips, and the share of time spent outside the network."};
  app.add_option("--net", net, "fast or accurate (random weights unless --weights)")
      ->check(CLI::IsMember({"fast", "accurate"}));
  app.add_option("-m,--model", model_arg,
                 "A model instead of --net: bundled (the project's model), fast | accurate "
                 "(official weights) or FILE.onnx of the project's format; its scales are "
                 "--scales model");
  app.add_option("--weights", weights_dir, "Folder with the official weights (default: random)");
  app.add_option("--image", image_file, "Image to evaluate (default: random pixels, 461x569)");
  app.add_option("--scales", scales, "Scale list (see `overfeat detect --help`)")
      ->capture_default_str();
  app.add_option("--regressor", regressor,
                 "Add a paper-sized random box regressor: none, agnostic or per-class")
      ->check(CLI::IsMember({"none", "agnostic", "per-class"}))
      ->capture_default_str();
  app.add_flag("--coarse", coarse, "Coarse stride (no offset pooling), for comparison");
  app.add_option("--repeat", repeat, "Timed runs")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "Untimed runs first")->check(CLI::NonNegativeNumber);
  app.add_option("--device", device, "Vulkan device index or name");
  app.add_flag("--json", json_out, "Print JSON");
  if (const int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;

  const int index = net == "fast" ? 0 : 1;
  Model model;
  if (!model_arg.empty()) {
    std::filesystem::path file = model_arg;
    if (model_arg == "bundled") {
      file = bundled_model_path();
      if (file.empty()) throw Error("bench dense -m bundled: the bundled model is not installed");
    }
    const bool official = model_arg == "fast" || model_arg == "accurate";
    model = load_model_choice(
        official ? model_arg : file.string(),
        weights_dir.empty() ? default_weights_dir() : std::filesystem::path(weights_dir));
    net = model.net.name;
  } else if (!weights_dir.empty()) {
    model = official_model(index, weights_dir);
  } else {
    model.net = NetSpec::official(index);
    model.weights = random_weights(model.net, 1);
    model.classes.assign(1000, "class");
  }
  if (regressor != "none") model.regressor = random_regressor(model, regressor == "per-class");
  Tensor rgb;
  if (!image_file.empty()) {
    rgb = image::load_rgb(image_file);
  } else {
    rgb = Tensor(3, 461, 569);
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> d(0, 255);
    for (float& v : rgb.data) v = d(rng);
  }
  auto ctx = open_context(device, false);
  DenseEvaluator eval(*ctx, model);
  nlohmann::json report = {{"device", vk::capability_line(*ctx)},
                           {"net", net},
                           {"image", {rgb.h, rgb.w}},
                           {"regressor", regressor},
                           {"runs", nlohmann::json::array()}};
  if (!json_out)
    std::cout << "Device: " << vk::capability_line(*ctx) << "\n"
              << net << " net, " << rgb.h << "x" << rgb.w << " image, scales " << scales << " ("
              << parse_scales(scales, model.net, rgb.h, rgb.w).size()
              << (coarse ? "), coarse" : "), fine") << " stride, regressor " << regressor
              << "; median of " << repeat << "\n\n"
              << std::left << std::setw(8) << "flips" << std::right << std::setw(10) << "total"
              << std::setw(10) << "network" << std::setw(10) << "GPU" << std::setw(10) << "resize"
              << std::setw(12) << "interleave" << std::setw(10) << "merge" << std::setw(10)
              << "outside"
              << "  (ms)\n";
  std::vector<StageTime> no_flip_stages;
  for (bool flip : {false, true}) {
    DetectOptions opt;
    opt.scales = scales;
    opt.dense.flip = flip;
    opt.dense.fine = !coarse;
    std::vector<double> total, network, gpu, prepare, collect, merge;
    size_t raw = 0;
    std::vector<StageTime> stages;
    for (int r = 0; r < warmup + repeat; ++r) {
      const DetectResult res = detect(eval, rgb, opt);
      if (r < warmup) continue;
      const DetectTimings& t = res.timings;
      total.push_back(t.total_ms);
      network.push_back(t.dense.network_ms);
      gpu.push_back(t.dense.gpu_ms);
      prepare.push_back(t.dense.prepare_ms);
      collect.push_back(t.dense.collect_ms);
      merge.push_back(t.merge_ms);
      raw = res.raw.size();
      stages = t.dense.stages;
    }
    const double outside = 100.0 * (median(total) - median(network)) / median(total);
    report["runs"].push_back({{"flips", flip},
                              {"total_ms", median(total)},
                              {"network_ms", median(network)},
                              {"gpu_ms", median(gpu)},
                              {"resize_ms", median(prepare)},
                              {"interleave_ms", median(collect)},
                              {"merge_ms", median(merge)},
                              {"raw_boxes", raw},
                              {"outside_percent", outside}});
    if (!json_out)
      std::cout << std::left << std::setw(8) << (flip ? "yes" : "no") << std::right << std::fixed
                << std::setprecision(1) << std::setw(10) << median(total) << std::setw(10)
                << median(network) << std::setw(10) << median(gpu) << std::setw(10)
                << median(prepare) << std::setw(12) << median(collect) << std::setw(10)
                << median(merge) << std::setw(9) << outside << "%  (" << raw
                << " raw boxes merged)\n";
    nlohmann::json per_stage = nlohmann::json::array();
    for (const StageTime& st : stages) per_stage.push_back({{"name", st.name}, {"ms", st.ms}});
    report["runs"].back()["stages"] = per_stage;
    if (!flip) no_flip_stages = stages;
  }
  if (!json_out) {  // where the GPU time goes, from the last run without flips
    std::sort(no_flip_stages.begin(), no_flip_stages.end(),
              [](const StageTime& a, const StageTime& b) { return a.ms > b.ms; });
    double gpu = 0;
    for (const StageTime& st : no_flip_stages) gpu += st.ms;
    std::cout << "\nGPU time by stage (no flips, all scales and offsets):\n";
    for (size_t i = 0; i < no_flip_stages.size() && i < 12; ++i)
      std::cout << "  " << std::left << std::setw(22) << no_flip_stages[i].name << std::right
                << std::setw(10) << no_flip_stages[i].ms << " ms" << std::setw(7)
                << 100 * no_flip_stages[i].ms / gpu << " %\n";
  }
  if (json_out) std::cout << report.dump(2) << "\n";
  return 0;
}

}  // namespace overfeat::cli
