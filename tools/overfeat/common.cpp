// SPDX-License-Identifier: MIT
#include "common.hpp"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "overfeat/error.hpp"
#include "overfeat/report.hpp"
#include "overfeat/weights.hpp"

namespace overfeat::cli {

std::unique_ptr<vk::Context> open_context(const std::string& device, bool verbose) {
  vk::ContextOptions opt;
  opt.device = device;
  auto ctx = std::make_unique<vk::Context>(opt);
  if (verbose) std::cerr << "Vulkan device: " << ctx->capability_line() << "\n";
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
  return std::make_unique<Network>(ctx, std::move(spec), weights);
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

int run_devices(int, char**) {
  auto devices = vk::list_devices();
  const uint32_t chosen = vk::choose_device(devices, "");
  for (const auto& d : devices)
    std::cout << (d.index == chosen ? "* " : "  ") << d.index << ": " << d.name << " (" << d.type
              << ", " << d.driver << ", " << (d.device_local_bytes >> 20) << " MiB)\n";
  std::cout << "Choose with --device INDEX|NAME or OVERFEAT_DEVICE; * marks the default.\n";
  return 0;
}

}  // namespace overfeat::cli
