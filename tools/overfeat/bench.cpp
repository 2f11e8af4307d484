// SPDX-License-Identifier: MIT
// `overfeat bench`: per-image and per-layer times of both official nets (or, with --model, of a
// classic network from an ONNX file) at chosen input sizes,
// next to PyTorch on the CPU (bench/pytorch_reference.py: traced and frozen, 2 threads) on the
// same layers with random weights, printed as a ratio. Weights are random unless --weights
// names a folder with the official files: speed does not depend on their values.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include "common.hpp"
#include "overfeat/error.hpp"
#include "overfeat/graph_executor.hpp"
#include "overfeat/graph_model.hpp"
#include "overfeat/paths.hpp"
#include "overfeat/weights.hpp"

namespace overfeat::cli {
namespace {

struct Size {
  int h = 0, w = 0;
};

Size parse_size(const std::string& s) {
  Size z;
  char x = 0;
  std::istringstream in(s);
  if (!(in >> z.h >> x >> z.w) || (x != 'x' && x != 'X') || z.h <= 0 || z.w <= 0)
    throw Error("--size takes HxW, for example 461x569 (got '" + s + "')");
  return z;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Installed with the package (share/overfeat-studio/bench), else the source tree's.
std::filesystem::path find_torch_script() {
  return find_data_file("bench/pytorch_reference.py",
                        std::filesystem::path(OVERFEAT_SOURCE_BENCH_DIR) / "pytorch_reference.py");
}

// Runs the PyTorch reference; returns null JSON (with a note on stderr) when it cannot.
// `which`: "--net fast" or "--torchvision resnet50".
nlohmann::json run_torch(const std::string& which, const std::vector<Size>& sizes, int threads) {
  auto script = find_torch_script();
  if (script.empty()) {
    std::cerr << "(PyTorch comparison skipped: bench/pytorch_reference.py not found)\n";
    return nullptr;
  }
  std::string cmd = "/usr/bin/python3 '" + script.string() + "' --json " + which + " --threads " +
                    std::to_string(threads);
  for (const Size& s : sizes) cmd += " --size " + std::to_string(s.h) + "x" + std::to_string(s.w);
  cmd += " 2>/dev/null";
  std::string out;
  if (FILE* pipe = popen(cmd.c_str(), "r")) {
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
    if (pclose(pipe) != 0) out.clear();
  }
  try {
    return nlohmann::json::parse(out);
  } catch (const std::exception&) {
    std::cerr << "(PyTorch comparison skipped: `" << cmd
              << "` failed; install python3-torch to compare)\n";
    return nullptr;
  }
}

struct StageStat {
  std::string name;
  std::vector<double> ms;
  uint64_t weight_bytes = 0;
};

// Groups engine stages the way the PyTorch script does: a conv with its ReLU and the pool after.
std::string group_of(const std::string& stage, std::string& current) {
  if (stage.rfind("conv", 0) == 0) current = stage;
  if (stage == "normalize") return "normalize";
  return current.empty() ? stage : current;
}

/// `overfeat bench --model FILE.onnx`: a classic network (graph_model.hpp) on the graph
/// executor, whole passes (upload, run, download of the output), next to PyTorch running the
/// same torchvision architecture (--torch-arch) on the CPU.
int bench_graph_model(const std::string& file, const std::string& torch_arch,
                      const std::vector<std::string>& size_args, int repeat, int warmup,
                      int threads, bool no_torch, bool json_out, const std::string& device) {
  const GraphModel model = load_graph_model(file);
  auto ctx = open_context(device, false);
  GraphExecutor exec(*ctx, model.graph.structure(), GraphExecutor::lending(model.graph));
  std::vector<Size> sizes;
  for (const auto& s : size_args) sizes.push_back(parse_size(s));
  if (sizes.empty()) sizes.push_back({model.input_h, model.input_w});
  nlohmann::json torch = no_torch || torch_arch.empty()
                             ? nlohmann::json(nullptr)
                             : run_torch("--torchvision '" + torch_arch + "'", sizes, threads);
  nlohmann::json report = {{"device", vk::capability_line(*ctx)},
                           {"runs", nlohmann::json::array()}};
  if (!json_out) {
    std::cout << "Device: " << vk::capability_line(*ctx) << "\n";
    if (torch_arch.empty() && !no_torch)
      std::cout << "(no PyTorch comparison: name the architecture with --torch-arch, e.g. "
                   "resnet50)\n";
  }
  for (const Size& sz : sizes) {
    Tensor input(model.graph.input_channels, sz.h, sz.w);
    std::mt19937 rng(5);
    std::normal_distribution<float> d(0, 1);
    for (float& v : input.data) v = d(rng);
    std::vector<double> wall;
    for (int r = 0; r < warmup + repeat; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      exec.run(input);
      const auto t1 = std::chrono::steady_clock::now();
      if (r >= warmup) wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    double torch_ms = 0;
    if (torch.is_object())
      for (const auto& r : torch["results"])
        if (r["size"][0] == sz.h && r["size"][1] == sz.w) torch_ms = r["total_ms"].get<double>();
    const double ms = median(wall);
    report["runs"].push_back({{"model", model.name},
                              {"file", file},
                              {"size", {sz.h, sz.w}},
                              {"wall_ms", ms},
                              {"torch_arch", torch_arch},
                              {"torch_ms", torch_ms},
                              {"torch_threads", torch.is_object() ? torch.value("threads", 0) : 0},
                              {"ratio", torch_ms > 0 ? ms / torch_ms : 0}});
    // GPU time of the last run by kind of stage, where the device has timestamps.
    std::map<std::string, double> by_kind;
    nlohmann::json stages = nlohmann::json::array();
    for (const StageTime& st : exec.last_stage_times()) {
      stages.push_back({{"stage", st.name}, {"ms", st.ms}});
      const int node = model.graph.find(st.name);
      std::string kind = "other";
      if (node >= 0) {
        const graph::Node& n = model.graph.nodes[node];
        switch (n.op) {
          case graph::OpKind::Conv:
            kind = n.conv.groups > 1 || n.conv.dilation_h > 1 || n.conv.dilation_w > 1
                       ? "conv grouped/dilated"
                       : "conv " + std::to_string(n.conv.kh) + "x" + std::to_string(n.conv.kw);
            break;
          case graph::OpKind::Pool:
            kind = "pool";
            break;
          case graph::OpKind::GlobalPool:
            kind = "global pool";
            break;
          case graph::OpKind::Lrn:
            kind = "lrn";
            break;
          case graph::OpKind::Add:
            kind = "add";
            break;
          case graph::OpKind::Concat:
            kind = "concat";
            break;
          case graph::OpKind::Softmax:
            kind = "softmax";
            break;
          case graph::OpKind::Activation:
            kind = "activation";
            break;
          case graph::OpKind::Input:
            break;
        }
      }
      by_kind[kind] += st.ms;
    }
    report["runs"].back()["gpu_ms_by_kind"] = by_kind;
    report["runs"].back()["gpu_ms_by_stage"] = stages;
    if (!json_out) {
      std::cout << model.name << ", " << sz.h << "x" << sz.w << ": " << std::fixed
                << std::setprecision(1) << ms << " ms per image (median of " << repeat << ")";
      if (torch_ms > 0)
        std::cout << "; PyTorch CPU " << torch_arch << " " << torch_ms << " ms ("
                  << torch.value("threads", 0) << " threads): ratio " << std::setprecision(2)
                  << ms / torch_ms << "x";
      std::cout << "\n";
      for (const auto& [kind, kms] : by_kind)
        std::cout << "  " << std::left << std::setw(22) << kind << std::right << std::setw(9)
                  << std::setprecision(1) << kms << " ms GPU\n";
    }
  }
  if (json_out) std::cout << report.dump(2) << "\n";
  return 0;
}

}  // namespace

int run_bench(int argc, char** argv) {
  std::string which = "both", device, weights_dir, model_file, torch_arch;
  std::vector<std::string> size_args;
  int repeat = 10, warmup = 2, threads = 2;
  bool no_torch = false, json_out = false;
  CLI::App app{"Times both OverFeat nets per image and per layer, next to PyTorch on the CPU."};
  app.add_option("--net", which, "fast, accurate or both")
      ->check(CLI::IsMember({"fast", "accurate", "both"}));
  app.add_option("--size", size_args,
                 "Input size HxW (repeatable); default: fast 231x231 and "
                 "461x569, accurate 221x221 and 461x569");
  app.add_option("--repeat", repeat, "Timed runs per size")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "Untimed runs first")->check(CLI::NonNegativeNumber);
  app.add_option("--weights", weights_dir, "Folder with the official weights (default: random)");
  app.add_option("--torch-threads", threads, "Threads for PyTorch")->check(CLI::PositiveNumber);
  app.add_flag("--no-torch", no_torch, "Skip the PyTorch comparison");
  app.add_option("--model", model_file,
                 "A classic network (FILE.onnx, no OverFeat metadata) instead of the official "
                 "nets; default size: its input");
  app.add_option("--torch-arch", torch_arch,
                 "--model: the torchvision architecture PyTorch runs beside it (resnet50, vgg16, "
                 "...)");
  app.add_flag("--json", json_out, "Print JSON");
  app.add_option("--device", device, "Vulkan device index or name");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!model_file.empty())
    return bench_graph_model(model_file, torch_arch, size_args, repeat, warmup, threads, no_torch,
                             json_out, device);
  auto ctx = open_context(device, false);
  nlohmann::json report = {{"device", vk::capability_line(*ctx)},
                           {"runs", nlohmann::json::array()}};
  if (!json_out) std::cout << "Device: " << vk::capability_line(*ctx) << "\n";

  for (int net_index : {0, 1}) {
    if ((which == "fast" && net_index != 0) || (which == "accurate" && net_index != 1)) continue;
    std::vector<Size> sizes;
    for (const auto& s : size_args) sizes.push_back(parse_size(s));
    if (sizes.empty())
      sizes = net_index == 0 ? std::vector<Size>{{231, 231}, {461, 569}}
                             : std::vector<Size>{{221, 221}, {461, 569}};
    NetSpec spec = NetSpec::official(net_index);
    std::unique_ptr<Network> net;
    if (!weights_dir.empty()) {
      net = load_official(*ctx, weights_dir, net_index);
    } else {
      Weights w = random_weights(spec, 1);
      net = std::make_unique<Network>(*ctx, spec, w);
    }
    nlohmann::json torch =
        no_torch ? nlohmann::json(nullptr) : run_torch("--net " + spec.name, sizes, threads);

    for (size_t si = 0; si < sizes.size(); ++si) {
      const Size sz = sizes[si];
      Tensor rgb(3, sz.h, sz.w);
      std::mt19937 rng(5);
      std::uniform_real_distribution<float> d(0, 255);
      for (float& v : rgb.data) v = d(rng);
      const int last = spec.num_layers();
      std::vector<double> wall, gpu;
      std::map<std::string, StageStat> stages;
      std::vector<std::string> order;
      for (int r = 0; r < warmup + repeat; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        ForwardResult res = net->forward(rgb, {last});
        auto t1 = std::chrono::steady_clock::now();
        if (r < warmup) continue;
        wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        gpu.push_back(res.gpu_ms);
        std::map<std::string, double> per_group;
        std::string current;
        for (const auto& s : res.stages) {
          std::string g = group_of(s.name, current);
          if (!per_group.count(g) && std::find(order.begin(), order.end(), g) == order.end())
            order.push_back(g);
          per_group[g] += s.ms;
        }
        for (auto& [g, ms] : per_group) stages[g].ms.push_back(ms);
      }
      // Weight bytes per conv stage, for the achieved read rate of the "full" layers.
      int conv_i = 0, in_c = spec.input_channels;
      for (const Module& m : spec.modules)
        if (m.kind == ModuleKind::Conv) {
          stages[m.name].weight_bytes = 4ull * m.out_channels * in_c * m.kernel * m.kernel;
          in_c = m.out_channels;
          ++conv_i;
        }
      const nlohmann::json* tres = nullptr;
      if (torch.is_object())
        for (const auto& r : torch["results"])
          if (r["size"][0] == sz.h && r["size"][1] == sz.w) tres = &r;
      auto torch_stage = [&](const std::string& name) -> double {
        if (!tres) return 0;
        for (const auto& s : (*tres)["stages"])
          if (s["name"] == name) return s["ms"].get<double>();
        return 0;
      };
      const double torch_total = tres ? (*tres)["total_ms"].get<double>() : 0;
      nlohmann::json run = {{"net", spec.name},        {"size", {sz.h, sz.w}},
                            {"wall_ms", median(wall)}, {"gpu_ms", median(gpu)},
                            {"torch_ms", torch_total}, {"stages", nlohmann::json::array()}};
      if (!json_out) {
        std::cout << "\n"
                  << spec.name << " net, " << sz.h << "x" << sz.w << ": " << std::fixed
                  << std::setprecision(1) << median(wall) << " ms per image (GPU " << median(gpu)
                  << " ms)";
        if (torch_total > 0)
          std::cout << "; PyTorch CPU " << torch_total << " ms (" << torch.value("threads", 0)
                    << " threads): ratio " << std::setprecision(2) << median(wall) / torch_total
                    << "x";
        std::cout << "\n  " << std::left << std::setw(10) << "stage" << std::right << std::setw(10)
                  << "ms" << std::setw(14) << "weights GB/s" << std::setw(12) << "torch ms"
                  << std::setw(9) << "ratio"
                  << "\n";
      }
      for (const auto& g : order) {
        const StageStat& st = stages[g];
        const double ms = median(st.ms);
        const double gbs = st.weight_bytes && ms > 0 ? st.weight_bytes / (ms * 1e6) : 0;
        const double tms = torch_stage(g);
        run["stages"].push_back({{"name", g}, {"ms", ms}, {"weight_gb_s", gbs}, {"torch_ms", tms}});
        if (!json_out) {
          std::cout << "  " << std::left << std::setw(10) << g << std::right << std::fixed
                    << std::setprecision(2) << std::setw(10) << ms << std::setw(14);
          if (gbs > 0)
            std::cout << std::setprecision(1) << gbs;
          else
            std::cout << "-";
          std::cout << std::setw(12);
          if (tms > 0)
            std::cout << std::setprecision(2) << tms << std::setw(9) << std::setprecision(1)
                      << ms / tms << "x";
          else
            std::cout << "-" << std::setw(9) << "-";
          std::cout << "\n";
        }
      }
      report["runs"].push_back(run);
    }
  }
  if (json_out) std::cout << report.dump(2) << "\n";
  return 0;
}

}  // namespace overfeat::cli
