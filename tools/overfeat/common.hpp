// SPDX-License-Identifier: MIT
// Shared by the `overfeat` subcommands: where weights live, opening a device, output helpers.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "overfeat/network.hpp"
#include "overfeat/report.hpp"
#include "overfeat/vk/context.hpp"

namespace CLI {
class App;
}

namespace overfeat::cli {

using overfeat::default_weights_dir;

/// Opens the Vulkan device the user chose (--device or OVERFEAT_DEVICE).
std::unique_ptr<vk::Context> open_context(const std::string& device, bool verbose);

/// Loads the official net `net_index` from `dir` onto the device.
std::unique_ptr<Network> load_official(const vk::Context& ctx, const std::filesystem::path& dir,
                                       int net_index);

/// Formats a float the way the release printed it (std::cout's default: %g, 6 digits).
std::string release_float(float v);

/// Parses a subcommand's arguments. Returns -1 to go on, else the exit code: 0 after --help,
/// 2 (usage, as in the release mode) after printing what was wrong.
int parse_or_exit(CLI::App& app, int argc, char** argv);

int run_release(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_bench_dense(int argc, char** argv);
int run_devices(int argc, char** argv);
int run_classify(int argc, char** argv);
int run_detect(int argc, char** argv);
int run_heatmap(int argc, char** argv);
int run_eval(int argc, char** argv);

}  // namespace overfeat::cli
