// SPDX-License-Identifier: MIT
// Device buffers, their texel views, and host transfers.
#pragma once
#include <vulkan/vulkan.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "vk/context.hpp"

namespace overfeat::vk {

/// A storage buffer that shaders also read through R32F and RGBA32F texel views. On devices
/// whose device-local memory is host-visible (lavapipe, integrated GPUs) it stays mapped and
/// transfers are memcpy; elsewhere transfers go through a staging buffer.
class Buffer {
 public:
  Buffer() = default;
  /// With `half_view`, also an RGBA16F texel view (16-bit floats, read as 32-bit by shaders)
  /// and an RGBA32UI one (the same halves, 8 to a texel).
  Buffer(const Context& ctx, VkDeviceSize bytes, bool half_view = false);
  ~Buffer() { release(); }
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  explicit operator bool() const { return buffer_ != VK_NULL_HANDLE; }
  VkBuffer handle() const { return buffer_; }
  VkDeviceSize size() const { return size_; }
  /// Host pointer when the memory is host-visible, else nullptr.
  void* mapped() const { return mapped_; }
  /// Mapped and host-cached: scattered writes and reads there cost what they cost in RAM (not
  /// so in write-combined memory).
  bool host_cached() const { return cached_; }
  /// Texel views over the whole buffer (capped at the device's texel-buffer limit).
  VkBufferView view_r32f() const { return view_r_; }
  VkBufferView view_rgba32f() const { return view_rgba_; }
  VkBufferView view_rgba16f() const { return view_half_; }
  /// With `half_view`: the 16-bit floats as RGBA32UI texels, 8 to a texel (conv_half.comp).
  VkBufferView view_rgba32ui() const { return view_packed_; }

  void upload(std::span<const float> data, VkDeviceSize offset_bytes = 0);
  /// 16-bit floats (their bits), for the RGBA16F view.
  void upload(std::span<const uint16_t> data, VkDeviceSize offset_bytes = 0);
  void download(std::span<float> data, VkDeviceSize offset_bytes = 0) const;

 private:
  void release();
  void upload_bytes(const void* data, VkDeviceSize bytes, VkDeviceSize offset);
  void copy_via_staging(bool to_device, void* host, VkDeviceSize bytes, VkDeviceSize offset) const;

  const Context* ctx_ = nullptr;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  VkBufferView view_r_ = VK_NULL_HANDLE;
  VkBufferView view_rgba_ = VK_NULL_HANDLE;
  VkBufferView view_half_ = VK_NULL_HANDLE;
  VkBufferView view_packed_ = VK_NULL_HANDLE;
  VkDeviceSize size_ = 0;
  void* mapped_ = nullptr;
  bool cached_ = false;
};

/// A buffer that is reused across calls and only grows: asking for at most what it already
/// holds returns the same buffer, so memory stays bounded by the largest request.
class GrowingBuffer {
 public:
  /// Returns true when the buffer was reallocated (views and descriptor sets must be rewritten).
  bool reserve(const Context& ctx, VkDeviceSize bytes);
  Buffer& get() { return buffer_; }
  const Buffer& get() const { return buffer_; }

 private:
  Buffer buffer_;
};

}  // namespace overfeat::vk
