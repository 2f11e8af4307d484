// SPDX-License-Identifier: MIT
// libFuzzer target: the binary PPM stream reader (`overfeat -p`), read until it returns false
// (a clean end) or throws.
#include <cstdint>
#include <sstream>
#include <string>

#include "fuzz_support.hpp"
#include "overfeat/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  overfeat::fuzz::expect_only_errors([&] {
    overfeat::Tensor image;
    // Every image read consumes at least its header, so this ends; the bound is a safety net.
    for (size_t images = 0; overfeat::image::read_ppm(in, image); ++images)
      if (images > size) {
        std::fprintf(stderr, "fuzz: read_ppm returned more images than the input has bytes\n");
        std::abort();
      }
  });
  return 0;
}
