// SPDX-License-Identifier: MIT
// The public API (engine/include/overfeat) is usable without Vulkan's headers: this file includes
// every public header and fails to compile if one of them brought <vulkan/vulkan.h> in; and the
// device API that stands in for the engine's vk::Context opens the device and describes it.
#include <gtest/gtest.h>

#include "overfeat/classes.hpp"
#include "overfeat/dense.hpp"
#include "overfeat/detection.hpp"
#include "overfeat/device.hpp"
#include "overfeat/error.hpp"
#include "overfeat/evaluation.hpp"
#include "overfeat/files.hpp"
#include "overfeat/graph.hpp"
#include "overfeat/graph_dense.hpp"
#include "overfeat/graph_executor.hpp"
#include "overfeat/graph_model.hpp"
#include "overfeat/graph_oneshot.hpp"
#include "overfeat/graph_onnx.hpp"
#include "overfeat/graph_reference.hpp"
#include "overfeat/half.hpp"
#include "overfeat/image.hpp"
#include "overfeat/linear_classifier.hpp"
#include "overfeat/live_scales.hpp"
#include "overfeat/logistic.hpp"
#include "overfeat/model.hpp"
#include "overfeat/netspec.hpp"
#include "overfeat/network.hpp"
#include "overfeat/npy.hpp"
#include "overfeat/oneshot.hpp"
#include "overfeat/paths.hpp"
#include "overfeat/pipeline.hpp"
#include "overfeat/reference.hpp"
#include "overfeat/render.hpp"
#include "overfeat/report.hpp"
#include "overfeat/tensor.hpp"
#include "overfeat/weights.hpp"
#include "overfeat/weights_install.hpp"

#if defined(VK_VERSION_1_0) || defined(VULKAN_H_) || defined(VULKAN_CORE_H_)
#error "a public header (engine/include/overfeat) includes the Vulkan headers"
#endif

namespace overfeat {
namespace {

TEST(PublicApi, OpensAndDescribesTheDeviceWithoutVulkanHeaders) {
  std::vector<vk::DeviceInfo> devices;
  try {
    devices = vk::list_devices();
  } catch (const VulkanUnavailable& e) {
    GTEST_SKIP() << "No Vulkan device: " << e.what();
  }
  ASSERT_FALSE(devices.empty());
  vk::ContextOptions options;
  options.pipeline_cache = "-";
  options.device = std::to_string(devices.front().index);
  const vk::ContextPtr ctx = vk::open_context(options);
  ASSERT_TRUE(ctx);
  EXPECT_EQ(vk::device_info(*ctx).name, devices.front().name);
  EXPECT_NE(vk::capability_line(*ctx).find(devices.front().name), std::string::npos);
  EXPECT_FALSE(vk::half_weights(*ctx));
  EXPECT_EQ(vk::validation_messages(*ctx), 0u);
  options.device = "no such device anywhere";
  EXPECT_THROW(vk::open_context(options), Error);
}

}  // namespace
}  // namespace overfeat
