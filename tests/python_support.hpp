// SPDX-License-Identifier: MIT
// Helpers of the tests that run Debian's Python (PyTorch, onnx) beside the engine: whether it can
// import what a test needs, and the tensors the exporters' samples hold.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "overfeat/tensor.hpp"

namespace overfeat::testing {

/// Debian's interpreter, which has python3-torch and python3-onnx (the first python3 on PATH
/// may not).
inline const char* const kPython = "/usr/bin/python3";

/// True when kPython can `import modules` (e.g. "torch, onnx").
inline bool python_has(const std::string& modules) {
  const std::string cmd = std::string(kPython) + " -c 'import " + modules + "' >/dev/null 2>&1";
  return std::filesystem::exists(kPython) && std::system(cmd.c_str()) == 0;
}

/// The modules the training tool imports beyond the standard library, from the one list
/// (tools/train/requirements-debian.txt: "package module" lines), as "torch, numpy, ...": what
/// kPython must import for the training tool's tests to run.
inline std::string training_modules() {
  std::ifstream in(OVERFEAT_SOURCE_DIR "/tools/train/requirements-debian.txt");
  EXPECT_TRUE(in) << "cannot read tools/train/requirements-debian.txt";
  std::string line, modules;
  while (std::getline(in, line)) {
    std::istringstream fields(line.substr(0, line.find('#')));
    std::string package, module;
    if (fields >> package >> module) modules += (modules.empty() ? "" : ", ") + module;
  }
  return modules;
}

/// A tensor of a sample file ({"shape": [c, h, w], "data": [...]}, as write_sample writes it).
inline Tensor tensor_from(const nlohmann::json& j) {
  Tensor t(j["shape"][0], j["shape"][1], j["shape"][2]);
  EXPECT_EQ(j["data"].size(), t.size());
  for (size_t i = 0; i < t.size() && i < j["data"].size(); ++i) t.data[i] = j["data"][i];
  return t;
}

}  // namespace overfeat::testing
