// SPDX-License-Identifier: MIT
#pragma once
#include <stdexcept>
#include <string>

namespace overfeat {

/// Any engine failure that a user can act on; the message says what went wrong and what to do.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// No Vulkan loader, no instance, or no usable device.
class VulkanUnavailable : public Error {
 public:
  using Error::Error;
};

/// A weight file is missing, truncated or of the wrong size.
class WeightFileError : public Error {
 public:
  using Error::Error;
};

/// An image could not be read or decoded, or is too small for the network.
class ImageError : public Error {
 public:
  using Error::Error;
};

/// A device allocation failed (the model or the input does not fit in memory).
class OutOfDeviceMemory : public Error {
 public:
  using Error::Error;
};

}  // namespace overfeat
