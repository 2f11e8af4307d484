// SPDX-License-Identifier: MIT
// The Vulkan device as the engine's users see it, without Vulkan's headers: listing and
// choosing devices, opening one (vk::Context, defined inside the engine), and what the app and
// the command line tool say about it. Every engine call that runs a network takes the context.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace overfeat::vk {

/// One physical device as the user sees it in `overfeat --list-devices`.
struct DeviceInfo {
  uint32_t index = 0;
  std::string name;
  std::string type;  ///< "discrete", "integrated", "virtual", "cpu" or "other"
  std::string driver;
  uint32_t api_version = 0;
  bool fp16 = false;
  uint32_t subgroup_size = 0;  ///< invocations the device runs in lockstep (0: unknown)
  uint64_t device_local_bytes = 0;
};

struct ContextOptions {
  /// Device index or a case-insensitive substring of its name; empty: the environment variable
  /// OVERFEAT_DEVICE, else discrete GPU, then integrated, then CPU (lavapipe).
  std::string device;
  /// Enable VK_LAYER_KHRONOS_validation; also switched on by OVERFEAT_VALIDATION=1.
  bool validation = false;
  /// Where the pipeline cache lives; empty: $XDG_CACHE_HOME/overfeat-studio (or ~/.cache/...).
  /// "-" disables the on-disk cache.
  std::filesystem::path pipeline_cache;
  /// Store large convolution weights (the "full" layers: Conv::kHalfMinWeights or more) as
  /// 16-bit floats: half the bytes they read, the arithmetic still in 32 bits. Also switched on
  /// by OVERFEAT_FP16_WEIGHTS=1.
  bool half_weights = false;
};

/// Lists the Vulkan devices; throws VulkanUnavailable when there is no loader or no device.
std::vector<DeviceInfo> list_devices();

/// Picks the device for `spec` (see ContextOptions::device) among `devices`; throws when the
/// user asked for one that does not exist.
uint32_t choose_device(const std::vector<DeviceInfo>& devices, const std::string& spec);

/// The instance, the logical device, its compute queue and the pipeline cache (the engine's
/// own header, engine/src/vk/context.hpp, defines it).
class Context;
struct ContextDeleter {
  void operator()(Context* ctx) const noexcept;
};
using ContextPtr = std::unique_ptr<Context, ContextDeleter>;

/// Opens the device `options` picks. Throws VulkanUnavailable (no loader, no device) or Error
/// naming what failed.
ContextPtr open_context(const ContextOptions& options = {});

/// One line for logs: name, type, driver, fp16.
std::string capability_line(const Context& ctx);
const DeviceInfo& device_info(const Context& ctx);
/// ContextOptions::half_weights (or OVERFEAT_FP16_WEIGHTS=1) in effect.
bool half_weights(const Context& ctx);
/// Warnings and errors the validation layer reported so far (0 without the layer).
uint64_t validation_messages(const Context& ctx);

/// Bytes of device memory held by all live buffers of the process (to check that memory stays
/// bounded across frames and input sizes).
uint64_t live_buffer_bytes();

}  // namespace overfeat::vk
