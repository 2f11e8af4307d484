// SPDX-License-Identifier: MIT
#include "vk/pipeline.hpp"

#include <cstring>
#include <utility>

#include "overfeat/error.hpp"

namespace overfeat::vk {

ComputePipeline::ComputePipeline(const Context& ctx, const PipelineDesc& desc)
    : ctx_(&ctx), desc_(desc) {
  VkDevice dev = ctx.device();
  std::vector<VkDescriptorSetLayoutBinding> bindings;
  for (uint32_t i = 0; i < desc.bindings.size(); ++i) {
    VkDescriptorSetLayoutBinding b{};
    b.binding = i;
    b.descriptorType = desc.bindings[i];
    b.descriptorCount = 1;
    b.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    bindings.push_back(b);
  }
  VkDescriptorSetLayoutCreateInfo sci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  sci.bindingCount = static_cast<uint32_t>(bindings.size());
  sci.pBindings = bindings.data();
  check(vkCreateDescriptorSetLayout(dev, &sci, nullptr, &set_layout_),
        "vkCreateDescriptorSetLayout");

  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, desc.push_bytes};
  VkPipelineLayoutCreateInfo lci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  lci.setLayoutCount = 1;
  lci.pSetLayouts = &set_layout_;
  lci.pushConstantRangeCount = desc.push_bytes ? 1 : 0;
  lci.pPushConstantRanges = desc.push_bytes ? &range : nullptr;
  check(vkCreatePipelineLayout(dev, &lci, nullptr, &layout_), "vkCreatePipelineLayout");
  ready_ = done_.get_future().share();
}

void ComputePipeline::compile() {
  try {
    const PipelineDesc& desc = desc_;
    VkDevice dev = ctx_->device();
    auto words = shader_spirv(desc.shader);
    VkShaderModuleCreateInfo mci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mci.codeSize = words.size_bytes();
    mci.pCode = words.data();
    VkShaderModule module = VK_NULL_HANDLE;
    check(vkCreateShaderModule(dev, &mci, nullptr, &module), "vkCreateShaderModule");

    std::vector<int32_t> values;
    for (uint32_t v : desc.local_size) values.push_back(static_cast<int32_t>(v));
    values.insert(values.end(), desc.constants.begin(), desc.constants.end());
    std::vector<VkSpecializationMapEntry> entries;
    for (uint32_t i = 0; i < values.size(); ++i)
      entries.push_back({i, static_cast<uint32_t>(i * sizeof(int32_t)), sizeof(int32_t)});
    VkSpecializationInfo spec{};
    spec.mapEntryCount = static_cast<uint32_t>(entries.size());
    spec.pMapEntries = entries.data();
    spec.dataSize = values.size() * sizeof(int32_t);
    spec.pData = values.data();

    VkComputePipelineCreateInfo pci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    pci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    pci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    pci.stage.module = module;
    pci.stage.pName = "main";
    pci.stage.pSpecializationInfo = &spec;
    pci.layout = layout_;
    VkResult r =
        vkCreateComputePipelines(dev, ctx_->pipeline_cache(), 1, &pci, nullptr, &pipeline_);
    vkDestroyShaderModule(dev, module, nullptr);
    check(r, ("vkCreateComputePipelines(" + std::string(shader_name(desc.shader)) + ")").c_str());
    done_.set_value();
  } catch (...) {
    done_.set_exception(std::current_exception());
  }
}

VkPipeline ComputePipeline::pipeline() const {
  ready_.get();  // waits; rethrows compile()'s error
  return pipeline_;
}

ComputePipeline::~ComputePipeline() {
  VkDevice dev = ctx_->device();
  if (pipeline_) vkDestroyPipeline(dev, pipeline_, nullptr);
  if (layout_) vkDestroyPipelineLayout(dev, layout_, nullptr);
  if (set_layout_) vkDestroyDescriptorSetLayout(dev, set_layout_, nullptr);
}

namespace {
constexpr uint32_t kSetsPerPool = 64;
}

void DescriptorArena::grow() {
  VkDescriptorPoolSize sizes[] = {
      {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, kSetsPerPool * 4},
      {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * 4},
  };
  VkDescriptorPoolCreateInfo ci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  ci.maxSets = kSetsPerPool;
  ci.poolSizeCount = 2;
  ci.pPoolSizes = sizes;
  VkDescriptorPool pool = VK_NULL_HANDLE;
  check(vkCreateDescriptorPool(ctx_->device(), &ci, nullptr, &pool), "vkCreateDescriptorPool");
  pools_.push_back(pool);
  used_in_last_ = 0;
}

VkDescriptorSet DescriptorArena::allocate(const ComputePipeline& p,
                                          const std::vector<Resource>& resources) {
  const auto& types = p.desc().bindings;
  if (resources.size() != types.size()) throw Error("DescriptorArena: wrong number of resources");
  if (types.size() > 4) throw Error("DescriptorArena: more than 4 bindings per set");
  if (pools_.empty() || used_in_last_ == kSetsPerPool) grow();
  VkDescriptorSetLayout layout = p.set_layout();
  VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  ai.descriptorPool = pools_.back();
  ai.descriptorSetCount = 1;
  ai.pSetLayouts = &layout;
  VkDescriptorSet set = VK_NULL_HANDLE;
  check(vkAllocateDescriptorSets(ctx_->device(), &ai, &set), "vkAllocateDescriptorSets");
  ++used_in_last_;

  std::vector<VkWriteDescriptorSet> writes(types.size());
  std::vector<VkDescriptorBufferInfo> infos(types.size());
  std::vector<VkBufferView> views(types.size());
  for (uint32_t i = 0; i < types.size(); ++i) {
    const Buffer* b = resources[i].buffer;
    if (!b || !*b) throw Error("DescriptorArena: binding " + std::to_string(i) + " has no buffer");
    auto& w = writes[i];
    w = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    w.dstSet = set;
    w.dstBinding = i;
    w.descriptorCount = 1;
    w.descriptorType = types[i];
    if (types[i] == VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER) {
      views[i] = resources[i].packed  ? b->view_rgba32ui()
                 : !resources[i].rgba ? b->view_r32f()
                 : resources[i].half  ? b->view_rgba16f()
                                      : b->view_rgba32f();
      if (views[i] == VK_NULL_HANDLE)
        throw Error("DescriptorArena: binding " + std::to_string(i) + " has no such texel view");
      w.pTexelBufferView = &views[i];
    } else {
      infos[i] = {b->handle(), 0, VK_WHOLE_SIZE};
      w.pBufferInfo = &infos[i];
    }
  }
  vkUpdateDescriptorSets(ctx_->device(), static_cast<uint32_t>(writes.size()), writes.data(), 0,
                         nullptr);
  return set;
}

void DescriptorArena::reset() {
  for (VkDescriptorPool p : pools_) vkDestroyDescriptorPool(ctx_->device(), p, nullptr);
  pools_.clear();
  used_in_last_ = 0;
}

DescriptorArena::~DescriptorArena() {
  reset();
}

Recorder::Recorder(const Context& ctx, uint32_t max_timestamps) : ctx_(&ctx) {
  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = ctx.queue_family();
  check(vkCreateCommandPool(ctx.device(), &pci, nullptr, &pool_), "vkCreateCommandPool");
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  check(vkAllocateCommandBuffers(ctx.device(), &ai, &cmd_), "vkAllocateCommandBuffers");
  if (ctx.timestamp_period_ns() > 0 && max_timestamps > 0) {
    VkQueryPoolCreateInfo qci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qci.queryCount = max_timestamps;
    check(vkCreateQueryPool(ctx.device(), &qci, nullptr, &queries_), "vkCreateQueryPool");
    max_timestamps_ = max_timestamps;
  }
}

Recorder::~Recorder() {
  if (queries_) vkDestroyQueryPool(ctx_->device(), queries_, nullptr);
  if (pool_) vkDestroyCommandPool(ctx_->device(), pool_, nullptr);
}

void Recorder::begin() {
  commands_.clear();
  push_data_.clear();
  used_timestamps_ = 0;
  recorded_ = false;
}

void Recorder::dispatch(const ComputePipeline& p, VkDescriptorSet set, const void* push,
                        uint32_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
  if (gx == 0 || gy == 0 || gz == 0) return;
  Command c{Command::Dispatch};
  c.pipeline = &p;
  c.set = set;
  c.push_offset = static_cast<uint32_t>(push_data_.size());
  c.push_bytes = push_bytes;
  c.gx = gx;
  c.gy = gy;
  c.gz = gz;
  push_data_.resize(push_data_.size() + push_bytes);
  if (push_bytes) std::memcpy(push_data_.data() + c.push_offset, push, push_bytes);
  commands_.push_back(c);
}

void Recorder::barrier() {
  commands_.push_back({Command::Barrier});
}

int Recorder::timestamp() {
  if (!queries_ || used_timestamps_ >= max_timestamps_) return -1;
  Command c{Command::Timestamp};
  c.query = used_timestamps_;
  commands_.push_back(c);
  return static_cast<int>(used_timestamps_++);
}

void Recorder::end() {
  check(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
  if (queries_) vkCmdResetQueryPool(cmd_, queries_, 0, max_timestamps_);
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  for (const Command& c : commands_) {
    switch (c.kind) {
      case Command::Dispatch: {
        const ComputePipeline& p = *c.pipeline;
        vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline());
        vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout(), 0, 1, &c.set, 0,
                                nullptr);
        if (c.push_bytes)
          vkCmdPushConstants(cmd_, p.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, c.push_bytes,
                             push_data_.data() + c.push_offset);
        vkCmdDispatch(cmd_, c.gx, c.gy, c.gz);
        break;
      }
      case Command::Barrier:
        vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                             VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0,
                             nullptr);
        break;
      case Command::Timestamp:
        vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queries_, c.query);
        break;
    }
  }
  commands_.clear();
  push_data_.clear();
  VkMemoryBarrier last{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  last.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  last.dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                       VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &last, 0,
                       nullptr, 0, nullptr);
  check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
  recorded_ = true;
}

void Recorder::submit() {
  if (!recorded_) throw Error("Recorder::submit without a recorded pass");
  ctx_->submit_and_wait(cmd_);
  ticks_.assign(used_timestamps_, 0);
  if (queries_ && used_timestamps_ > 0)
    check(vkGetQueryPoolResults(ctx_->device(), queries_, 0, used_timestamps_,
                                ticks_.size() * sizeof(uint64_t), ticks_.data(), sizeof(uint64_t),
                                VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
          "vkGetQueryPoolResults");
}

double Recorder::elapsed_ms(int a, int b) const {
  if (a < 0 || b < 0 || static_cast<size_t>(b) >= ticks_.size()) return 0;
  return static_cast<double>(ticks_[b] - ticks_[a]) * ctx_->timestamp_period_ns() * 1e-6;
}

}  // namespace overfeat::vk
