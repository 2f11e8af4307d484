// SPDX-License-Identifier: MIT
// A Vulkan context shared by the tests of one binary; tests skip with a clear message when the
// machine has no Vulkan device, and fail if the validation layer reported anything.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "ops/ops.hpp"
#include "overfeat/error.hpp"
#include "overfeat/tensor.hpp"
#include "vk/context.hpp"

namespace overfeat::testing {

/// The process-wide context, or nullptr with the reason in `why` when there is no device.
inline vk::Context* shared_context(std::string* why = nullptr) {
  static std::unique_ptr<vk::Context> ctx;
  static std::string reason;
  static bool tried = false;
  if (!tried) {
    tried = true;
    try {
      vk::ContextOptions opt;
      opt.pipeline_cache = "-";
      ctx = std::make_unique<vk::Context>(opt);
    } catch (const VulkanUnavailable& e) {
      reason = e.what();
    }
  }
  if (why) *why = reason;
  return ctx.get();
}

/// A context of its own whose large convolutions keep 16-bit weights
/// (ContextOptions::half_weights), for the tests of that mode.
inline std::unique_ptr<vk::Context> half_weights_context() {
  vk::ContextOptions opt;
  opt.pipeline_cache = "-";
  opt.half_weights = true;
  return std::make_unique<vk::Context>(opt);
}

class VulkanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    ctx_ = shared_context(&why);
    if (!ctx_) GTEST_SKIP() << "No Vulkan device, skipping Vulkan test: " << why;
    // Set by the runs that ask lavapipe for another subgroup size (tests/CMakeLists.txt): if it
    // did not take, they would only repeat the default run.
    if (const char* want = std::getenv("OVERFEAT_TEST_LAVAPIPE_SUBGROUP");
        want && ctx_->info().driver.find("llvmpipe") != std::string::npos)
      ASSERT_EQ(std::to_string(ctx_->info().subgroup_size), want)
          << "lavapipe did not take LP_NATIVE_VECTOR_WIDTH";
    messages_before_ = ctx_->validation_messages();
    static std::unique_ptr<ops::PipelineLibrary> lib;
    if (!lib) lib = std::make_unique<ops::PipelineLibrary>(*ctx_);
    lib_ = lib.get();
  }
  void TearDown() override {
    if (ctx_)
      EXPECT_EQ(ctx_->validation_messages(), messages_before_)
          << "the Vulkan validation layer reported problems during this test (see stderr)";
  }
  vk::Context* ctx_ = nullptr;
  ops::PipelineLibrary* lib_ = nullptr;
  uint64_t messages_before_ = 0;
};

inline Tensor random_tensor(int c, int h, int w, std::mt19937& rng, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> d(lo, hi);
  Tensor t(c, h, w);
  for (float& v : t.data) v = d(rng);
  return t;
}

/// ||a - b|| / ||b||, or infinity when the shapes differ or a value is not finite.
inline double relative_error(const Tensor& a, const Tensor& b) {
  if (a.c != b.c || a.h != b.h || a.w != b.w) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a.data[i])) return INFINITY;
    const double d = a.data[i] - b.data[i];
    num += d * d;
    den += static_cast<double>(b.data[i]) * b.data[i];
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

inline std::string shape(const Tensor& t) {
  return std::to_string(t.c) + "x" + std::to_string(t.h) + "x" + std::to_string(t.w);
}

}  // namespace overfeat::testing
