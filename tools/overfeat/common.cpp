// SPDX-License-Identifier: MIT
#include "common.hpp"

#include <CLI/CLI.hpp>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "overfeat/error.hpp"
#include "overfeat/graph_oneshot.hpp"
#include "overfeat/report.hpp"
#include "overfeat/weights.hpp"

namespace overfeat::cli {

namespace {
constexpr const char* kWriteHint =
    " (is its folder writable, the disk full?); the results so far are lost for this file";
}  // namespace

vk::ContextPtr open_context(const std::string& device, bool verbose) {
  vk::ContextOptions opt;
  opt.device = device;
  auto ctx = vk::open_context(opt);
  if (verbose) std::cerr << "Vulkan device: " << vk::capability_line(*ctx) << "\n";
  return ctx;
}

std::unique_ptr<Network> load_official(const vk::Context& ctx, const std::filesystem::path& dir,
                                       int net_index) {
  NetSpec spec = NetSpec::official(net_index);
  const auto file = official_weight_path(dir, net_index);
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    throw WeightFileError(
        "No OverFeat weights at " + file.string() + ".\n" +
        "The official files (net_weight_0 for the fast net, net_weight_1 for the accurate net, "
        "from the release's overfeat-weights.tgz, folder data/default) are not shipped with "
        "OverFeat Studio. Put them in " +
        default_weights_dir().string() +
        " or pass their folder with -d DIR (or set OVERFEAT_WEIGHTS).");
  Weights weights = load_weights(file, spec);
  return std::make_unique<Network>(ctx, std::move(spec), std::move(weights));
}

CLI::Option* output_file(CLI::Option* option) {
  return option->check(CLI::Validator(
      [](const std::string& value) -> std::string {
        std::string ext = std::filesystem::path(value).extension().string();
        for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        static const char* kInputs[] = {".jpg",  ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif",
                                        ".tiff", ".webp", ".gif", ".mp4", ".avi", ".mkv", ".onnx"};
        for (const char* e : kInputs)
          if (ext == e)
            return "'" + value + "' looks like an input (an image, a video or a model), not a " +
                   "file to write: this option takes the output file's name first (e.g. out.json)";
        return {};
      },
      "FILE", "output file"));
}

int parse_or_exit(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return -1;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
}

std::string release_float(float v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void add_common(CLI::App& app, Common& c, bool boxes, bool dense) {
  app.add_option("-m,--model", c.model,
                 "fast | accurate (official weights) | FILE.onnx; default: $OVERFEAT_MODEL, the "
                 "bundled model, else fast");
  app.add_option("-d,--data_dir,--weights-dir", c.weights_dir,
                 "Folder with the official net_weight_0 / net_weight_1");
  app.add_option("--device", c.device, "Vulkan device index or name (see `overfeat devices`)");
  if (dense) {
    app.add_option("-s,--scales", c.detect.scales,
                   "model (the model's own, else paper) | paper | paper-exact | window | list of N "
                   "(smaller side) or HxW")
        ->capture_default_str();
    app.add_flag("--coarse", c.coarse, "Coarse stride (no offset pooling)");
    app.add_flag("--flip,!--no-flip", c.detect.dense.flip, "Also evaluate the mirror image");
  }
  app.add_flag("-v,--verbose", c.verbose, "Print the device, the model and timings on stderr");
  if (!dense || !boxes) return;
  app.add_option("--top-classes", c.detect.top_classes,
                 "Per scale, how many classes' boxes enter the merge")
      ->capture_default_str();
  app.add_option("--min-confidence", c.detect.min_confidence,
                 "Drop raw boxes whose window confidence is below this")
      ->capture_default_str();
  app.add_option("--merge", c.merge, "greedy (the paper's voting) | nms")
      ->check(CLI::IsMember({"greedy", "nms"}))
      ->capture_default_str();
  c.threshold =
      app.add_option(
             "--threshold", c.detect.merge_threshold,
             "greedy: largest match score merged; nms: IoU above which boxes are suppressed")
          ->capture_default_str();
  app.add_option("--suppress", c.detect.suppress_iou,
                 "greedy: after voting, drop merged boxes overlapping a better one of their "
                 "class by more than this IoU (0 = the paper's merge alone)")
      ->check(CLI::Range(0.0f, 1.0f))
      ->capture_default_str();
  app.add_option("--cross-class", c.detect.other_class_iou,
                 "greedy: one label per object: drop a box that overlaps a more confident box "
                 "of another class by more than this IoU (0 = keep every class's boxes, the "
                 "paper's merge; the app's \"One label per object\" is 0.6)")
      ->check(CLI::Range(0.0f, 1.0f))
      ->capture_default_str();
  c.max = app.add_option("--max", c.detect.max_detections, "Detections kept per image (0 = all)")
              ->capture_default_str();
}

Session::Session(Common& c, bool device) : device_(c.device), verbose_(c.verbose) {
  opt = c.detect;
  opt.dense.fine = !c.coarse;
  opt.merge = c.merge == "nms" ? DetectOptions::Merge::Nms : DetectOptions::Merge::Greedy;
  if (c.merge == "nms" && c.threshold && c.threshold->count() == 0)
    opt.merge_threshold = 0.5f;  // NMS's customary IoU
  const std::filesystem::path dir =
      c.weights_dir.empty() ? default_weights_dir() : std::filesystem::path(c.weights_dir);
  const std::filesystem::path file = c.model;
  std::error_code ec;
  if (file.extension() == ".onnx" && std::filesystem::is_regular_file(file, ec) &&
      !is_overfeat_model_file(file)) {
    graph = std::make_unique<GraphModel>(load_graph_model(file));
    model.net = graph_net_spec(*graph);
    model.classes = graph->classes;
  } else {
    model = load_model_choice(c.model, dir);
  }
  if (device) open_device();
}

void Session::require_overfeat_model(const std::string& what) const {
  if (graph)
    throw Error(what +
                " needs a model of OverFeat Studio's format (trunk, classifier and "
                "regressor heads); " +
                graph->file.string() +
                " is a classic network, which `overfeat -m`, classify, heatmap, detect "
                "(window boxes), learn and recognize run");
}

std::string Session::fingerprint() const {
  return graph ? graph_model_fingerprint(*graph) : model_fingerprint(model);
}

DenseResult Session::evaluate(const Tensor& rgb, const std::vector<InputSize>& sizes,
                              const DenseOptions& options) {
  if (graph_eval) return graph_eval->evaluate(rgb, sizes, options.flip, -1, options.fine);
  return eval->evaluate(rgb, sizes, options);
}

DetectResult Session::detect(const Tensor& rgb) {
  if (!graph_eval) return overfeat::detect(*eval, rgb, opt);
  const auto sizes = parse_scales(opt.scales, model.net, rgb.h, rgb.w);
  return detect_in_maps(graph_eval->evaluate(rgb, sizes, opt.dense.flip, -1, opt.dense.fine), {},
                        opt);
}

void Session::open_device() {
  if (eval || graph_eval) return;
  ctx = open_context(device_, verbose_);
  if (graph) {
    graph_eval = std::make_unique<GraphDenseEvaluator>(*ctx, *graph);
    // Fine stride where the last pooling allows it (VGG), else coarse, and said so (-v, JSON).
    if (graph_eval->offsets() == 1) opt.dense.fine = false;
    if (verbose_)
      std::cerr << "Model: " << graph->name << " (classic network, " << graph->classes.size()
                << " classes, input " << graph->input_w << "x" << graph->input_h
                << "; boxes are windows; " << graph_eval->removed_poolings()
                << " global pooling(s) removed: class maps per cell; "
                << (graph_eval->offsets() > 1
                        ? std::to_string(graph_eval->offsets()) + "x" +
                              std::to_string(graph_eval->offsets()) + " offset pooling"
                        : std::string("coarse stride only: no last pooling to offset"))
                << ")\n";
    return;
  }
  eval = std::make_unique<DenseEvaluator>(*ctx, model);
  if (verbose_)
    std::cerr << "Model: " << model.net.name << " (" << model.classes.size() << " classes"
              << (model.regressor ? ", box regressor" : ", no box regressor: boxes are windows")
              << ")\n";
}

void write_text(const std::filesystem::path& file, const std::string& text) {
  if (file == "-") {
    std::cout << text;
    return;
  }
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file);
  out << text;
  if (!out) throw OutputError("Cannot write " + file.string() + kWriteHint);
}

std::string item_error(const std::string& item) {
  std::string message;
  try {
    throw;
  } catch (const VulkanUnavailable&) {
    throw;
  } catch (const WeightFileError&) {
    throw;
  } catch (const OutputError&) {
    throw;
  } catch (const std::bad_alloc&) {
    message = "out of memory (" + item +
              "); the image is too large for this machine: shrink it, or use fewer scales";
  } catch (const std::exception& e) {
    message = e.what();
  }
  if (message.find(item) == std::string::npos) message = item + ": " + message;
  return message;
}

int batch_status(int failures, std::size_t total, const char* what) {
  if (failures == 0) return 0;
  if (total > 1)
    std::cerr << "overfeat: " << failures << " of " << total << " " << what
              << " failed (exit code 5); the others' results are complete\n";
  return 5;
}

JsonArrayWriter::JsonArrayWriter(const std::string& file, int indent)
    : name_(file), indent_(indent) {
  if (file.empty()) return;
  if (file == "-") {
    out_ = &std::cout;
  } else {
    const std::filesystem::path path(file);
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    file_ = std::make_unique<std::ofstream>(path);
    if (!*file_) throw OutputError("Cannot write " + file + kWriteHint);
    out_ = file_.get();
  }
  *out_ << "[" << std::flush;
}

JsonArrayWriter::~JsonArrayWriter() {
  try {
    close();
  } catch (...) {  // a destructor must not throw; close() was called on the normal path
  }
}

void JsonArrayWriter::add(const nlohmann::json& item) {
  if (!out_) return;
  std::string text = item.dump(indent_);
  if (indent_ >= 0) {  // indented like a whole array's dump
    std::string shifted = std::string(indent_, ' ');
    for (char ch : text) {
      shifted += ch;
      if (ch == '\n') shifted.append(indent_, ' ');
    }
    text = std::move(shifted);
  }
  *out_ << (first_ ? "" : ",") << (indent_ >= 0 ? "\n" : "") << text << std::flush;
  first_ = false;
  if (!*out_) throw OutputError("Cannot write " + name_ + kWriteHint);
}

void JsonArrayWriter::close() {
  if (!out_) return;
  *out_ << (first_ || indent_ < 0 ? "" : "\n") << "]\n" << std::flush;
  const bool ok = static_cast<bool>(*out_);
  out_ = nullptr;
  file_.reset();
  if (!ok) throw OutputError("Cannot write " + name_ + kWriteHint);
}

std::vector<std::string> unique_stems(const std::vector<std::string>& paths) {
  std::map<std::string, int> stem_count;
  for (const std::string& p : paths) ++stem_count[std::filesystem::path(p).stem().string()];
  std::vector<std::string> out;
  std::set<std::string> used;
  for (const std::string& p : paths) {
    std::string name = std::filesystem::path(p).stem().string();
    if (stem_count[name] > 1) {
      name = std::filesystem::path(p).lexically_normal().relative_path().string();
      while (name.rfind("../", 0) == 0) name.erase(0, 3);
      for (char& ch : name)
        if (ch == '/' || ch == '.') ch = '_';
    }
    std::string unique = name;
    for (int k = 2; !used.insert(unique).second; ++k) unique = name + "-" + std::to_string(k);
    out.push_back(unique);
  }
  return out;
}

int run_devices(int, char**) {
  auto devices = vk::list_devices();
  const uint32_t chosen = vk::choose_device(devices, "");
  for (const auto& d : devices)
    std::cout << (d.index == chosen ? "* " : "  ") << d.index << ": " << d.name << " (" << d.type
              << ", " << d.driver << ", " << (d.device_local_bytes >> 20) << " MiB, subgroup "
              << d.subgroup_size << ")\n";
  std::cout << "Choose with --device INDEX|NAME or OVERFEAT_DEVICE; * marks the default.\n";
  return 0;
}

}  // namespace overfeat::cli
