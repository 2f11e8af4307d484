// SPDX-License-Identifier: MIT
// Shared by the `overfeat` subcommands: where weights live, opening a device, the model and
// dense-evaluation options of the paper's subcommands, output helpers.
#pragma once
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "overfeat/device.hpp"
#include "overfeat/error.hpp"
#include "overfeat/graph_dense.hpp"
#include "overfeat/graph_model.hpp"
#include "overfeat/image.hpp"
#include "overfeat/network.hpp"
#include "overfeat/pipeline.hpp"
#include "overfeat/report.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace overfeat::cli {

using overfeat::default_weights_dir;

/// Opens the Vulkan device the user chose (--device or OVERFEAT_DEVICE).
vk::ContextPtr open_context(const std::string& device, bool verbose);

/// Loads the official net `net_index` from `dir` onto the device.
std::unique_ptr<Network> load_official(const vk::Context& ctx, const std::filesystem::path& dir,
                                       int net_index);

/// Formats a float the way the release printed it (std::cout's default: %g, 6 digits).
std::string release_float(float v);

/// Parses a subcommand's arguments. Returns -1 to go on, else the exit code: 0 after --help,
/// 2 (usage, as in the release mode) after printing what was wrong.
int parse_or_exit(CLI::App& app, int argc, char** argv);

/// Options every dense subcommand (classify, detect, heatmap, eval, learn, recognize) shares.
struct Common {
  std::string model;
  std::string weights_dir;
  std::string device;
  bool verbose = false;
  DetectOptions detect;
  bool coarse = false;
  std::string merge = "greedy";
  CLI::Option* threshold = nullptr;  ///< given by the user? (NMS has its own default)
  CLI::Option* max = nullptr;        ///< given by the user? (eval keeps more boxes)
};

/// Adds the model and device options (-m, -d, --device, -v); with `dense` the scales, --coarse
/// and --flip; with `boxes` the detection options too.
void add_common(CLI::App& app, Common& c, bool boxes, bool dense = true);

/// A loaded model on a device, with the options resolved.
struct Session {
  vk::ContextPtr ctx;
  /// The model; for a classic network (`graph`) only its name, classes and window.
  Model model;
  std::unique_ptr<DenseEvaluator> eval;
  /// A classic network from an ONNX file without OverFeat metadata (graph_model.hpp), run by
  /// graph_eval instead of eval.
  std::unique_ptr<GraphModel> graph;
  std::unique_ptr<GraphDenseEvaluator> graph_eval;
  DetectOptions opt;

  /// Loads the model and, with `open_device`, opens the device and uploads it (else call
  /// open_device() later: checks that need only the model then fail fast).
  explicit Session(Common& c, bool open_device = true);
  void open_device();
  /// Dense evaluation with whichever evaluator the model has.
  DenseResult evaluate(const Tensor& rgb, const std::vector<InputSize>& sizes,
                       const DenseOptions& options);
  /// The whole detection method on one image, for either kind of model.
  DetectResult detect(const Tensor& rgb);
  /// Throws Error saying that `what` needs a model of the project's format, for a classic
  /// network.
  void require_overfeat_model(const std::string& what) const;
  /// The model's name and fingerprint as one-shot stores know them, for either kind of model.
  const std::string& store_name() const { return graph ? graph->name : model.net.name; }
  std::string fingerprint() const;
  const std::string& name(int cls) const { return model.classes.at(cls); }
  /// The best `n` classes, the background class never among them.
  std::vector<ScoredClass> top(const std::vector<float>& probs, int n) const {
    return top_foreground(probs, model.background, n);
  }

 private:
  std::string device_;
  bool verbose_ = false;
};

/// Writes `text` to `file` (creating its folder), or to stdout for "-". Throws Error.
void write_text(const std::filesystem::path& file, const std::string& text);

/// An output file (or stdout) cannot be written: that ends the run, whatever the input.
class OutputError : public Error {
 public:
  using Error::Error;
};

/// What went wrong with one input, for the message and the JSON error entry. Rethrows what ends
/// the whole run (no Vulkan device, missing weights, an unwritable output); everything else, out of
/// memory included, belongs to this input alone.
std::string item_error(const std::string& item);

/// Prints "overfeat: N of M images failed" on stderr when some did; returns the exit code: 5
/// when any failed, else 0.
int batch_status(int failures, std::size_t total, const char* what = "images");

/// Runs `fn()`, the work on one input `item`, and flushes what it printed. A failure that is
/// this input's alone (item_error) is reported on stderr and passed to `on_error(message)`;
/// returns false then. What ends the whole run is rethrown.
template <typename Fn, typename OnError>
bool guarded(const std::string& item, Fn fn, OnError on_error) {
  try {
    fn();
    std::cout.flush();  // a result is out as soon as it is known
    return true;
  } catch (...) {
    const std::string message = item_error(item);
    std::cerr << "overfeat: " << message << "\n" << std::flush;
    on_error(message);
    return false;
  }
}

/// Runs `fn(i, path, rgb)` on every image `images[i]`. One bad image never costs the others: an
/// unreadable, too large or too small image, or one that runs out of memory, is reported on
/// stderr (and passed to `on_error(i, path, message)`) and the rest go on. Returns
/// batch_status().
template <typename Fn, typename OnError>
int for_each_image_indexed(const std::vector<std::string>& images, Fn fn, OnError on_error) {
  int failures = 0;
  for (std::size_t i = 0; i < images.size(); ++i)
    failures += !guarded(
        images[i], [&] { fn(i, images[i], image::load_rgb(images[i])); },
        [&](const std::string& message) { on_error(i, images[i], message); });
  return batch_status(failures, images.size());
}

/// The same with `fn(path, rgb)` and `on_error(path, message)`.
template <typename Fn, typename OnError>
int for_each_image(const std::vector<std::string>& images, Fn fn, OnError on_error) {
  return for_each_image_indexed(
      images, [&](std::size_t, const std::string& path, const Tensor& rgb) { fn(path, rgb); },
      [&](std::size_t, const std::string& path, const std::string& message) {
        on_error(path, message);
      });
}

template <typename Fn>
int for_each_image(const std::vector<std::string>& images, Fn fn) {
  return for_each_image(images, fn, [](const std::string&, const std::string&) {});
}

/// A JSON array written element by element, flushed after each, so that results already
/// computed are out even if a later input takes the process down; close() ends the array
/// (`[]` when empty). Writes to stdout for "-".
class JsonArrayWriter {
 public:
  /// Nothing is written unless `file` is non-empty.
  explicit JsonArrayWriter(const std::string& file, int indent = 2);
  ~JsonArrayWriter();
  JsonArrayWriter(const JsonArrayWriter&) = delete;
  JsonArrayWriter& operator=(const JsonArrayWriter&) = delete;
  void add(const nlohmann::json& item);
  /// An `on_error(path, message)` for for_each_image that adds `{"image", "error"}` entries.
  auto error_entries() {
    return [this](const std::string& path, const std::string& message) {
      add({{"image", path}, {"error", message}});
    };
  }
  void close();

 private:
  std::unique_ptr<std::ofstream> file_;
  std::ostream* out_ = nullptr;
  std::string name_;
  int indent_;
  bool first_ = true;
};

/// One output name per input, never two alike (detect's PNGs and image ids, heatmap's files):
/// the file's stem; where inputs share a stem (a/x.jpg and b/x.jpg, x.jpg and x.png), the path
/// with '/' and '.' as '_' (a_x_jpg); numbered "-2", "-3" if still alike.
std::vector<std::string> unique_stems(const std::vector<std::string>& paths);

/// Marks an option as naming a file the command writes: a name ending like an image or a video
/// is refused at parse time (exit 2), since `--json a.jpg b.jpg` most likely meant a.jpg as an
/// input and writing the output there would destroy it.
CLI::Option* output_file(CLI::Option* option);

int run_release(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_bench_dense(int argc, char** argv);
int run_bench_soak(int argc, char** argv);
int run_bench_live(int argc, char** argv);
int run_devices(int argc, char** argv);
int run_classify(int argc, char** argv);
int run_detect(int argc, char** argv);
int run_heatmap(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_learn(int argc, char** argv);
int run_recognize(int argc, char** argv);
int run_learned(int argc, char** argv);
int run_bench_oneshot(int argc, char** argv);
int run_weights(int argc, char** argv);

}  // namespace overfeat::cli
