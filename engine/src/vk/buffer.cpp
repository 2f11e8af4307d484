// SPDX-License-Identifier: MIT
#include "vk/buffer.hpp"

#include <algorithm>
#include <cstring>

#include "overfeat/error.hpp"

namespace overfeat::vk {
namespace {

std::atomic<uint64_t> g_live_bytes{0};

int find_memory_type(const VkPhysicalDeviceMemoryProperties& mem, uint32_t bits,
                     VkMemoryPropertyFlags want) {
  for (uint32_t i = 0; i < mem.memoryTypeCount; ++i)
    if ((bits & (1u << i)) && (mem.memoryTypes[i].propertyFlags & want) == want)
      return static_cast<int>(i);
  return -1;
}

// Device-local memory the host can map directly is the fast path on UMA devices; discrete GPUs
// get plain device-local memory and staged copies.
int choose_memory_type(const Context& ctx, uint32_t bits, bool staging) {
  const auto& mem = ctx.memory_properties();
  constexpr VkMemoryPropertyFlags host =
      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  if (staging) return find_memory_type(mem, bits, host);
  bool uma = ctx.info().type == "cpu" || ctx.info().type == "integrated";
  if (uma) {
    int t = find_memory_type(mem, bits, host | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (t >= 0) return t;
  }
  int t = find_memory_type(mem, bits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  return t >= 0 ? t : find_memory_type(mem, bits, host);
}

struct RawBuffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  void* mapped = nullptr;
  bool cached = false;
};

RawBuffer create_raw(const Context& ctx, VkDeviceSize bytes, bool staging) {
  VkDevice dev = ctx.device();
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = bytes;
  bci.usage = staging
                  ? (VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT)
                  : (VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                     VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT);
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  RawBuffer raw;
  check(vkCreateBuffer(dev, &bci, nullptr, &raw.buffer), "vkCreateBuffer");
  VkMemoryRequirements req{};
  vkGetBufferMemoryRequirements(dev, raw.buffer, &req);
  int type = choose_memory_type(ctx, req.memoryTypeBits, staging);
  if (type < 0) {
    vkDestroyBuffer(dev, raw.buffer, nullptr);
    throw Error("No suitable Vulkan memory type for a buffer on " + ctx.info().name);
  }
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = static_cast<uint32_t>(type);
  VkResult r = vkAllocateMemory(dev, &mai, nullptr, &raw.memory);
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(dev, raw.buffer, nullptr);
    check(r, ("vkAllocateMemory of " + std::to_string(bytes >> 20) + " MiB").c_str());
  }
  check(vkBindBufferMemory(dev, raw.buffer, raw.memory, 0), "vkBindBufferMemory");
  const VkMemoryPropertyFlags flags = ctx.memory_properties().memoryTypes[type].propertyFlags;
  if (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)
    check(vkMapMemory(dev, raw.memory, 0, VK_WHOLE_SIZE, 0, &raw.mapped), "vkMapMemory");
  raw.cached = raw.mapped && (flags & VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
  return raw;
}

void destroy_raw(const Context& ctx, RawBuffer& raw) {
  if (raw.mapped) vkUnmapMemory(ctx.device(), raw.memory);
  if (raw.buffer) vkDestroyBuffer(ctx.device(), raw.buffer, nullptr);
  if (raw.memory) vkFreeMemory(ctx.device(), raw.memory, nullptr);
  raw = {};
}

VkBufferView make_view(const Context& ctx, VkBuffer buffer, VkDeviceSize bytes, VkFormat format,
                       VkDeviceSize texel_bytes) {
  VkDeviceSize max_bytes =
      static_cast<VkDeviceSize>(ctx.limits().maxTexelBufferElements) * texel_bytes;
  VkDeviceSize range = std::min(bytes / texel_bytes * texel_bytes, max_bytes);
  if (range == 0) return VK_NULL_HANDLE;
  VkBufferViewCreateInfo ci{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
  ci.buffer = buffer;
  ci.format = format;
  ci.offset = 0;
  ci.range = range;
  VkBufferView view = VK_NULL_HANDLE;
  check(vkCreateBufferView(ctx.device(), &ci, nullptr, &view), "vkCreateBufferView");
  return view;
}

}  // namespace

uint64_t live_buffer_bytes() {
  return g_live_bytes.load();
}

Buffer::Buffer(const Context& ctx, VkDeviceSize bytes, bool half_view) : ctx_(&ctx) {
  bytes = std::max<VkDeviceSize>(16, (bytes + 15) / 16 * 16);
  RawBuffer raw = create_raw(ctx, bytes, false);
  buffer_ = raw.buffer;
  memory_ = raw.memory;
  mapped_ = raw.mapped;
  cached_ = raw.cached;
  size_ = bytes;
  g_live_bytes += size_;
  view_r_ = make_view(ctx, buffer_, bytes, VK_FORMAT_R32_SFLOAT, 4);
  view_rgba_ = make_view(ctx, buffer_, bytes, VK_FORMAT_R32G32B32A32_SFLOAT, 16);
  // Uniform texel buffers of R16G16B16A16_SFLOAT are required of every Vulkan device.
  if (half_view) {
    view_half_ = make_view(ctx, buffer_, bytes, VK_FORMAT_R16G16B16A16_SFLOAT, 8);
    view_packed_ = make_view(ctx, buffer_, bytes, VK_FORMAT_R32G32B32A32_UINT, 16);
  }
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    ctx_ = o.ctx_;
    buffer_ = std::exchange(o.buffer_, VK_NULL_HANDLE);
    memory_ = std::exchange(o.memory_, VK_NULL_HANDLE);
    view_r_ = std::exchange(o.view_r_, VK_NULL_HANDLE);
    view_rgba_ = std::exchange(o.view_rgba_, VK_NULL_HANDLE);
    view_half_ = std::exchange(o.view_half_, VK_NULL_HANDLE);
    view_packed_ = std::exchange(o.view_packed_, VK_NULL_HANDLE);
    size_ = std::exchange(o.size_, 0);
    mapped_ = std::exchange(o.mapped_, nullptr);
    cached_ = std::exchange(o.cached_, false);
  }
  return *this;
}

void Buffer::release() {
  if (!ctx_ || !buffer_) return;
  VkDevice dev = ctx_->device();
  if (view_r_) vkDestroyBufferView(dev, view_r_, nullptr);
  if (view_rgba_) vkDestroyBufferView(dev, view_rgba_, nullptr);
  if (view_half_) vkDestroyBufferView(dev, view_half_, nullptr);
  if (view_packed_) vkDestroyBufferView(dev, view_packed_, nullptr);
  RawBuffer raw{buffer_, memory_, mapped_};
  destroy_raw(*ctx_, raw);
  g_live_bytes -= size_;
  buffer_ = VK_NULL_HANDLE;
  memory_ = VK_NULL_HANDLE;
  view_r_ = view_rgba_ = view_half_ = view_packed_ = VK_NULL_HANDLE;
  mapped_ = nullptr;
  size_ = 0;
}

void Buffer::upload(std::span<const float> data, VkDeviceSize offset) {
  upload_bytes(data.data(), data.size_bytes(), offset);
}

void Buffer::upload(std::span<const uint16_t> data, VkDeviceSize offset) {
  upload_bytes(data.data(), data.size_bytes(), offset);
}

void Buffer::upload_bytes(const void* data, VkDeviceSize bytes, VkDeviceSize offset) {
  if (offset + bytes > size_) throw Error("Buffer::upload past the end of the buffer");
  if (bytes == 0) return;
  if (mapped_) {
    std::memcpy(static_cast<char*>(mapped_) + offset, data, bytes);
    return;
  }
  copy_via_staging(true, const_cast<void*>(data), bytes, offset);
}

void Buffer::download(std::span<float> data, VkDeviceSize offset) const {
  VkDeviceSize bytes = data.size_bytes();
  if (offset + bytes > size_) throw Error("Buffer::download past the end of the buffer");
  if (bytes == 0) return;
  if (mapped_) {
    std::memcpy(data.data(), static_cast<const char*>(mapped_) + offset, bytes);
    return;
  }
  copy_via_staging(false, data.data(), bytes, offset);
}

void Buffer::copy_via_staging(bool to_device, void* host, VkDeviceSize bytes,
                              VkDeviceSize offset) const {
  // Chunked so that a 500 MB weight upload needs only a bounded staging buffer.
  constexpr VkDeviceSize kChunk = 64ull << 20;
  const Context& ctx = *ctx_;
  VkDevice dev = ctx.device();
  RawBuffer staging = create_raw(ctx, std::min(bytes, kChunk), true);
  VkCommandPool pool = VK_NULL_HANDLE;
  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = ctx.queue_family();
  check(vkCreateCommandPool(dev, &pci, nullptr, &pool), "vkCreateCommandPool");
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  cai.commandPool = pool;
  cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cai.commandBufferCount = 1;
  check(vkAllocateCommandBuffers(dev, &cai, &cmd), "vkAllocateCommandBuffers");
  for (VkDeviceSize done = 0; done < bytes; done += kChunk) {
    VkDeviceSize n = std::min(kChunk, bytes - done);
    if (to_device) std::memcpy(staging.mapped, static_cast<char*>(host) + done, n);
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer");
    VkBufferCopy region{};
    region.size = n;
    if (to_device) {
      region.dstOffset = offset + done;
      vkCmdCopyBuffer(cmd, staging.buffer, buffer_, 1, &region);
    } else {
      region.srcOffset = offset + done;
      vkCmdCopyBuffer(cmd, buffer_, staging.buffer, 1, &region);
    }
    check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
    ctx.submit_and_wait(cmd);
    if (!to_device) std::memcpy(static_cast<char*>(host) + done, staging.mapped, n);
  }
  vkDestroyCommandPool(dev, pool, nullptr);
  destroy_raw(ctx, staging);
}

bool GrowingBuffer::reserve(const Context& ctx, VkDeviceSize bytes) {
  if (buffer_ && buffer_.size() >= bytes) return false;
  buffer_ = Buffer();  // free first, so peak memory is not old + new
  buffer_ = Buffer(ctx, bytes);
  return true;
}

}  // namespace overfeat::vk
