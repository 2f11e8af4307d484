// SPDX-License-Identifier: MIT
// The Vulkan instance, the chosen device and its compute queue: the engine's side of
// overfeat/device.hpp (its users see only that header).
#pragma once
#include <vulkan/vulkan.h>

#include "overfeat/device.hpp"

#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace overfeat::vk {

/// Owns the instance, the logical device, one compute queue and the pipeline cache.
class Context {
 public:
  explicit Context(const ContextOptions& options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  VkInstance instance() const { return instance_; }
  VkPhysicalDevice physical_device() const { return physical_; }
  VkDevice device() const { return device_; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return queue_family_; }
  VkPipelineCache pipeline_cache() const { return pipeline_cache_; }
  const DeviceInfo& info() const { return info_; }
  /// ContextOptions::half_weights (or OVERFEAT_FP16_WEIGHTS=1).
  bool half_weights() const { return half_weights_; }
  const VkPhysicalDeviceLimits& limits() const { return limits_; }
  const VkPhysicalDeviceMemoryProperties& memory_properties() const { return memory_; }
  /// Nanoseconds per timestamp tick; 0 when the queue has no timestamps.
  double timestamp_period_ns() const { return timestamp_period_ns_; }
  bool validation_enabled() const { return validation_; }
  /// Number of warnings and errors the validation layer reported so far.
  uint64_t validation_messages() const { return validation_messages_.load(); }
  /// One line for logs: name, type, driver, fp16.
  std::string capability_line() const;

  /// Submits one command buffer and waits for it (the engine records a whole pass at once).
  void submit_and_wait(VkCommandBuffer cmd) const;
  /// Writes the pipeline cache back to disk (also done by the destructor).
  void save_pipeline_cache() const;

 private:
  bool half_weights_ = false;
  static VKAPI_ATTR VkBool32 VKAPI_CALL debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                       VkDebugUtilsMessageTypeFlagsEXT,
                                                       const VkDebugUtilsMessengerCallbackDataEXT*,
                                                       void*);
  void create_instance();
  void release() noexcept;  // what exists so far
  void create_device(uint32_t index);
  void create_pipeline_cache(const std::filesystem::path& path);

  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkPipelineCache pipeline_cache_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  DeviceInfo info_;
  VkPhysicalDeviceLimits limits_{};
  VkPhysicalDeviceMemoryProperties memory_{};
  double timestamp_period_ns_ = 0;
  bool validation_ = false;
  std::atomic<uint64_t> validation_messages_{0};
  std::filesystem::path cache_path_;
  mutable std::mutex queue_mutex_;
};

/// Throws overfeat::Error (or OutOfDeviceMemory) naming `what` when `result` is not VK_SUCCESS.
void check(VkResult result, const char* what);
const char* result_name(VkResult result);

}  // namespace overfeat::vk
