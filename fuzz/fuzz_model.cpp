// SPDX-License-Identifier: MIT
// libFuzzer target: the ONNX model loader (overfeat::load_model) on arbitrary file contents.
// A model that loads must also validate and describe itself without crashing.
#include <cstdint>

#include "fuzz_support.hpp"
#include "overfeat/model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = overfeat::fuzz::write_input("model.onnx", data, size);
  overfeat::fuzz::expect_only_errors([&] {
    const overfeat::Model model = overfeat::load_model(file);
    model.validate();
  });
  return 0;
}
