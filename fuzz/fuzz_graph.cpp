// SPDX-License-Identifier: MIT
// libFuzzer target: the importer of classic networks (overfeat::graph::import_onnx) on arbitrary
// file contents. A graph that imports must also validate and give its shapes without crashing.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "overfeat/graph_onnx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  overfeat::fuzz::expect_only_errors([&] {
    const auto imported = overfeat::graph::import_onnx_bytes(
        std::string(reinterpret_cast<const char*>(data), size), "fuzz.onnx");
    imported.graph.validate();
    imported.graph.shapes(imported.input_h > 0 ? imported.input_h : 64,
                          imported.input_w > 0 ? imported.input_w : 64);
  });
  return 0;
}
