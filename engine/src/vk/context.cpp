// SPDX-License-Identifier: MIT
#include "vk/context.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "overfeat/error.hpp"

namespace overfeat::vk {

const char* result_name(VkResult r) {
  switch (r) {
    case VK_SUCCESS:
      return "VK_SUCCESS";
    case VK_NOT_READY:
      return "VK_NOT_READY";
    case VK_TIMEOUT:
      return "VK_TIMEOUT";
    case VK_ERROR_OUT_OF_HOST_MEMORY:
      return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
      return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED:
      return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST:
      return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_LAYER_NOT_PRESENT:
      return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT:
      return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT:
      return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER:
      return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS:
      return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_OUT_OF_POOL_MEMORY:
      return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default:
      return "VkResult error";
  }
}

void check(VkResult r, const char* what) {
  if (r == VK_SUCCESS) return;
  std::string msg =
      std::string(what) + " failed: " + result_name(r) + " (" + std::to_string(r) + ")";
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
    throw OutOfDeviceMemory(msg +
                            ". The model or input does not fit in this device's memory: try a "
                            "smaller input, fewer scales, or another device (--device).");
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED)
    throw VulkanUnavailable(msg +
                            ". No usable Vulkan driver: install one (on Debian: apt install "
                            "mesa-vulkan-drivers for the CPU driver lavapipe).");
  throw Error(msg);
}

namespace {

const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

std::string type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return "cpu";
    default:
      return "other";
  }
}

int type_rank(const std::string& type) {
  if (type == "discrete") return 0;
  if (type == "integrated") return 1;
  if (type == "virtual") return 2;
  if (type == "cpu") return 3;
  return 4;
}

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

VkInstance make_instance(bool validation, bool debug_utils) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "OverFeat Studio";
  app.pEngineName = "overfeat-engine";
  app.apiVersion = VK_API_VERSION_1_1;
  std::vector<const char*> layers, exts;
  if (validation) layers.push_back(kValidationLayer);
  if (debug_utils) exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = static_cast<uint32_t>(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = static_cast<uint32_t>(exts.size());
  ci.ppEnabledExtensionNames = exts.data();
  VkInstance inst = VK_NULL_HANDLE;
  VkResult r = vkCreateInstance(&ci, nullptr, &inst);
  if (r != VK_SUCCESS)
    throw VulkanUnavailable(std::string("Could not create a Vulkan instance (") + result_name(r) +
                            "). Install a Vulkan driver: on Debian, apt install libvulkan1 "
                            "mesa-vulkan-drivers (lavapipe runs on the CPU).");
  return inst;
}

DeviceInfo describe(VkPhysicalDevice pd, uint32_t index) {
  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  VkPhysicalDeviceProperties base{};
  vkGetPhysicalDeviceProperties(pd, &base);
  VkPhysicalDeviceSubgroupProperties subgroup{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  props.pNext = &subgroup;
  if (base.apiVersion >= VK_API_VERSION_1_2) subgroup.pNext = &driver;
  vkGetPhysicalDeviceProperties2(pd, &props);
  VkPhysicalDeviceShaderFloat16Int8Features f16{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  feats.pNext = &f16;
  vkGetPhysicalDeviceFeatures2(pd, &feats);
  VkPhysicalDeviceMemoryProperties mem{};
  vkGetPhysicalDeviceMemoryProperties(pd, &mem);
  DeviceInfo info;
  info.index = index;
  info.name = props.properties.deviceName;
  info.type = type_name(props.properties.deviceType);
  info.api_version = props.properties.apiVersion;
  if (base.apiVersion >= VK_API_VERSION_1_2)
    info.driver = std::string(driver.driverName) + " " + driver.driverInfo;
  info.fp16 = f16.shaderFloat16;
  info.subgroup_size = subgroup.subgroupSize;
  for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
    if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      info.device_local_bytes =
          std::max<uint64_t>(info.device_local_bytes, mem.memoryHeaps[i].size);
  return info;
}

std::filesystem::path default_cache_path() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return std::filesystem::path(x) / "overfeat-studio" / "pipeline-cache.bin";
  if (const char* h = std::getenv("HOME"); h && *h)
    return std::filesystem::path(h) / ".cache" / "overfeat-studio" / "pipeline-cache.bin";
  return {};
}

}  // namespace

namespace {
std::vector<DeviceInfo> devices_of(VkInstance inst) {
  uint32_t n = 0;
  vkEnumeratePhysicalDevices(inst, &n, nullptr);
  std::vector<VkPhysicalDevice> pds(n);
  vkEnumeratePhysicalDevices(inst, &n, pds.data());
  std::vector<DeviceInfo> out;
  for (uint32_t i = 0; i < n; ++i) out.push_back(describe(pds[i], i));
  if (out.empty())
    throw VulkanUnavailable(
        "No Vulkan device found. Install a driver for your GPU, or Mesa's CPU driver "
        "(Debian: apt install mesa-vulkan-drivers).");
  return out;
}
}  // namespace

std::vector<DeviceInfo> list_devices() {
  VkInstance inst = make_instance(false, false);
  try {
    auto out = devices_of(inst);
    vkDestroyInstance(inst, nullptr);
    return out;
  } catch (...) {
    vkDestroyInstance(inst, nullptr);
    throw;
  }
}

uint32_t choose_device(const std::vector<DeviceInfo>& devices, const std::string& spec_in) {
  std::string spec = spec_in;
  if (spec.empty())
    if (const char* e = std::getenv("OVERFEAT_DEVICE")) spec = e;
  if (devices.empty()) throw VulkanUnavailable("No Vulkan device found.");
  if (!spec.empty()) {
    bool numeric = std::all_of(spec.begin(), spec.end(), [](char c) { return std::isdigit(c); });
    if (numeric) {
      unsigned long idx = std::stoul(spec);
      if (idx < devices.size()) return static_cast<uint32_t>(idx);
    } else {
      for (const auto& d : devices)
        if (lower(d.name).find(lower(spec)) != std::string::npos) return d.index;
    }
    std::string msg = "No Vulkan device matches '" + spec + "'. Devices found:";
    for (const auto& d : devices)
      msg += "\n  " + std::to_string(d.index) + ": " + d.name + " (" + d.type + ")";
    throw Error(msg + "\nPass an index or part of a name with --device or OVERFEAT_DEVICE.");
  }
  return std::min_element(devices.begin(), devices.end(),
                          [](const DeviceInfo& a, const DeviceInfo& b) {
                            return type_rank(a.type) < type_rank(b.type);
                          })
      ->index;
}

Context::Context(const ContextOptions& options) {
  validation_ = options.validation || env_flag("OVERFEAT_VALIDATION");
  half_weights_ = options.half_weights || env_flag("OVERFEAT_FP16_WEIGHTS");
  try {
    // One instance to choose the device and run on it: each instance loads every installed
    // driver (about 0.1 s of a one-image command on lavapipe).
    create_instance();
    create_device(choose_device(devices_of(instance_), options.device));
    std::filesystem::path cache = options.pipeline_cache;
    if (cache.empty()) cache = default_cache_path();
    if (cache != "-")
      create_pipeline_cache(cache);
    else
      create_pipeline_cache({});
  } catch (...) {
    release();
    throw;
  }
}

void Context::create_instance() {
  bool debug_utils = false;
  if (validation_) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, nullptr);
    std::vector<VkLayerProperties> layers(n);
    vkEnumerateInstanceLayerProperties(&n, layers.data());
    bool found = std::any_of(layers.begin(), layers.end(), [](const VkLayerProperties& l) {
      return std::strcmp(l.layerName, kValidationLayer) == 0;
    });
    if (!found)
      throw Error(
          "Validation was requested but VK_LAYER_KHRONOS_validation is not installed "
          "(Debian: apt install vulkan-validationlayers).");
    debug_utils = true;
  }
  instance_ = make_instance(validation_, debug_utils);
  if (debug_utils) {
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
    VkDebugUtilsMessengerCreateInfoEXT ci{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    ci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                         VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    ci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    ci.pfnUserCallback = &Context::debug_callback;
    ci.pUserData = this;
    if (create)
      check(create(instance_, &ci, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT");
  }
}

VKAPI_ATTR VkBool32 VKAPI_CALL Context::debug_callback(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
    const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  auto* self = static_cast<Context*>(user);
  self->validation_messages_.fetch_add(1);
  std::cerr << "[vulkan validation "
            << (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning")
            << "] " << (data && data->pMessage ? data->pMessage : "") << "\n";
  return VK_FALSE;
}

void Context::create_device(uint32_t index) {
  uint32_t n = 0;
  vkEnumeratePhysicalDevices(instance_, &n, nullptr);
  std::vector<VkPhysicalDevice> pds(n);
  vkEnumeratePhysicalDevices(instance_, &n, pds.data());
  if (index >= n) throw VulkanUnavailable("The chosen Vulkan device disappeared.");
  physical_ = pds[index];
  info_ = describe(physical_, index);
  VkPhysicalDeviceProperties props{};
  vkGetPhysicalDeviceProperties(physical_, &props);
  limits_ = props.limits;
  vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);

  uint32_t qn = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical_, &qn, nullptr);
  std::vector<VkQueueFamilyProperties> qf(qn);
  vkGetPhysicalDeviceQueueFamilyProperties(physical_, &qn, qf.data());
  // Prefer a compute-only family (async compute on GPUs), else any family with compute.
  int chosen = -1;
  for (uint32_t i = 0; i < qn; ++i)
    if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) {
      chosen = static_cast<int>(i);
      break;
    }
  if (chosen < 0)
    for (uint32_t i = 0; i < qn; ++i)
      if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
        chosen = static_cast<int>(i);
        break;
      }
  if (chosen < 0) throw VulkanUnavailable("Device " + info_.name + " has no compute queue.");
  queue_family_ = static_cast<uint32_t>(chosen);
  if (qf[queue_family_].timestampValidBits > 0)
    timestamp_period_ns_ = static_cast<double>(limits_.timestampPeriod);

  float priority = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = queue_family_;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  check(vkCreateDevice(physical_, &dci, nullptr, &device_), "vkCreateDevice");
  vkGetDeviceQueue(device_, queue_family_, 0, &queue_);
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  check(vkCreateFence(device_, &fci, nullptr, &fence_), "vkCreateFence");
}

void Context::create_pipeline_cache(const std::filesystem::path& path) {
  cache_path_ = path;
  std::vector<char> data;
  if (!path.empty()) {
    std::ifstream f(path, std::ios::binary);
    if (f) data.assign(std::istreambuf_iterator<char>(f), {});
    // A cache written by another device or driver starts with a header that does not match;
    // Vulkan then ignores it, so there is nothing to check here beyond the header size.
    if (data.size() < 32) data.clear();
  }
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  ci.initialDataSize = data.size();
  ci.pInitialData = data.empty() ? nullptr : data.data();
  if (vkCreatePipelineCache(device_, &ci, nullptr, &pipeline_cache_) != VK_SUCCESS) {
    ci.initialDataSize = 0;
    ci.pInitialData = nullptr;
    check(vkCreatePipelineCache(device_, &ci, nullptr, &pipeline_cache_), "vkCreatePipelineCache");
  }
}

void Context::save_pipeline_cache() const {
  if (cache_path_.empty() || pipeline_cache_ == VK_NULL_HANDLE) return;
  size_t size = 0;
  if (vkGetPipelineCacheData(device_, pipeline_cache_, &size, nullptr) != VK_SUCCESS || size == 0)
    return;
  std::vector<char> data(size);
  if (vkGetPipelineCacheData(device_, pipeline_cache_, &size, data.data()) != VK_SUCCESS) return;
  std::error_code ec;
  std::filesystem::create_directories(cache_path_.parent_path(), ec);
  auto tmp = cache_path_;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return;  // A read-only cache folder only costs start-up time.
    f.write(data.data(), static_cast<std::streamsize>(size));
  }
  std::filesystem::rename(tmp, cache_path_, ec);
}

std::string Context::capability_line() const {
  return info_.name + " (" + info_.type + ", " +
         (info_.driver.empty() ? "driver ?" : info_.driver) + ", Vulkan " +
         std::to_string(VK_API_VERSION_MAJOR(info_.api_version)) + "." +
         std::to_string(VK_API_VERSION_MINOR(info_.api_version)) + ", fp16 " +
         (info_.fp16 ? "yes" : "no") + ")";
}

void ContextDeleter::operator()(Context* ctx) const noexcept {
  delete ctx;
}

ContextPtr open_context(const ContextOptions& options) {
  return ContextPtr(new Context(options));
}

std::string capability_line(const Context& ctx) {
  return ctx.capability_line();
}
const DeviceInfo& device_info(const Context& ctx) {
  return ctx.info();
}
bool half_weights(const Context& ctx) {
  return ctx.half_weights();
}
uint64_t validation_messages(const Context& ctx) {
  return ctx.validation_messages();
}

void Context::submit_and_wait(VkCommandBuffer cmd) const {
  std::lock_guard lock(queue_mutex_);
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd;
  check(vkResetFences(device_, 1, &fence_), "vkResetFences");
  check(vkQueueSubmit(queue_, 1, &si, fence_), "vkQueueSubmit");
  check(vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
}

Context::~Context() {
  release();
}

void Context::release() noexcept {
  if (device_) {
    vkDeviceWaitIdle(device_);
    save_pipeline_cache();
    if (pipeline_cache_) vkDestroyPipelineCache(device_, pipeline_cache_, nullptr);
    if (fence_) vkDestroyFence(device_, fence_, nullptr);
    vkDestroyDevice(device_, nullptr);
  }
  if (messenger_) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy) destroy(instance_, messenger_, nullptr);
  }
  if (instance_) vkDestroyInstance(instance_, nullptr);
  device_ = VK_NULL_HANDLE;
  messenger_ = VK_NULL_HANDLE;
  instance_ = VK_NULL_HANDLE;
}

}  // namespace overfeat::vk
