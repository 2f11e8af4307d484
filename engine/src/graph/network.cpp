// SPDX-License-Identifier: MIT
#include "overfeat/network.hpp"

#include <algorithm>

#include "overfeat/error.hpp"
#include "overfeat/reference.hpp"

namespace overfeat {

struct Network::Stage {
  enum class Kind { Normalize, Conv, Relu, Pool, Softmax } kind;
  std::string name;
  int conv = -1;  // index into convs_
  int pool_k = 0;
  bool relu = false;  // fused ReLU
  int in_slot = -1;   // -1: the input buffer
  int out_slot = 0;
  int c = 0, h = 0, w = 0;  // output shape
};

struct Network::Plan {
  int h = 0, w = 0;
  std::set<int> layers;
  bool softmax = false;
  std::vector<Stage> stages;
  std::map<int, int> layer_stage;  // release layer -> stage producing it
  std::unique_ptr<vk::Recorder> recorder;
  std::unique_ptr<vk::DescriptorArena> arena;
  std::vector<int> stamps;
  uint64_t generation = ~0ull;
};

namespace {
constexpr size_t kMaxPlans = 16;  // six scales, flipped or not, plus single windows
}

Network::Network(const vk::Context& ctx, NetSpec spec, const Weights& weights)
    : ctx_(&ctx), spec_(std::move(spec)), lib_(std::make_unique<ops::PipelineLibrary>(ctx)) {
  normalize_ = std::make_unique<ops::Normalize>(*lib_, spec_.mean, spec_.stddev);
  relu_ = std::make_unique<ops::Relu>(*lib_);
  softmax_ = std::make_unique<ops::Softmax>(*lib_);
  size_t conv_index = 0;
  int pending_pad = 0;
  for (const Module& m : spec_.modules) {
    if (m.kind == ModuleKind::Pad) pending_pad += m.pad;
    if (m.kind == ModuleKind::MaxPool && !pools_.count(m.kernel))
      pools_[m.kernel] = std::make_unique<ops::MaxPool>(*lib_, m.kernel);
    if (m.kind == ModuleKind::Conv) {
      if (conv_index >= weights.convs.size())
        throw WeightFileError("The weights hold fewer convolutions than the network " + spec_.name);
      convs_.push_back(
          std::make_unique<ops::Conv>(*lib_, weights.convs[conv_index++], m.stride, pending_pad));
      pending_pad = 0;
    }
  }
  if (conv_index != weights.convs.size())
    throw WeightFileError("The weights hold more convolutions than the network " + spec_.name);
}

Network::~Network() = default;

uint64_t Network::activation_bytes() const {
  uint64_t n = input_.get().size();
  for (const auto& b : buffers_) n += b.get().size();
  return n;
}

uint64_t Network::weight_bytes() const {
  uint64_t n = 0;
  for (const auto& c : convs_) n += c->weight_bytes();
  return n;
}

Network::Plan& Network::plan_for(int h, int w, const std::set<int>& layers, bool softmax) {
  // Only conv layers captured before their ReLU change the stage structure.
  std::set<int> unfused;
  for (int l : layers)
    if (l >= 1 && l <= spec_.num_layers() && spec_.modules[l - 1].kind == ModuleKind::Conv)
      unfused.insert(l);
  for (size_t i = 0; i < plans_.size(); ++i) {
    Plan& p = *plans_[i];
    if (p.h == h && p.w == w && p.layers == unfused && p.softmax == softmax) {
      std::rotate(plans_.begin() + i, plans_.begin() + i + 1, plans_.end());
      return *plans_.back();
    }
  }
  if (plans_.size() >= kMaxPlans) plans_.erase(plans_.begin());
  auto plan = std::make_unique<Plan>();
  plan->h = h;
  plan->w = w;
  plan->layers = unfused;
  plan->softmax = softmax;

  // Walk the modules, fusing pads into the next conv and ReLUs into the conv before them.
  Stage norm{Stage::Kind::Normalize, "normalize"};
  norm.c = spec_.input_channels;
  norm.h = h;
  norm.w = w;
  norm.out_slot = 0;
  plan->stages.push_back(norm);
  plan->layer_stage[0] = 0;
  int conv_index = 0;
  const auto& mods = spec_.modules;
  for (int i = 0; i < spec_.num_layers(); ++i) {
    const Module& m = mods[i];
    const int layer = i + 1;
    const Stage& prev = plan->stages.back();
    Stage s{};
    s.in_slot = prev.out_slot;
    s.out_slot = static_cast<int>(plan->stages.size());
    s.name = m.name;
    if (m.kind == ModuleKind::Pad) continue;  // folded into the conv; captured on the host
    if (m.kind == ModuleKind::Conv) {
      const ops::Conv& op = *convs_[conv_index];
      s.kind = Stage::Kind::Conv;
      s.conv = conv_index++;
      s.c = op.out_channels();
      s.h = op.out_size(prev.h);
      s.w = op.out_size(prev.w);
      const bool next_relu = i + 1 < spec_.num_layers() && mods[i + 1].kind == ModuleKind::Relu;
      s.relu = next_relu && !unfused.count(layer);
      if (s.relu) {
        plan->layer_stage[layer + 1] = static_cast<int>(plan->stages.size());
        ++i;  // the ReLU module is done
      } else {
        plan->layer_stage[layer] = static_cast<int>(plan->stages.size());
      }
    } else if (m.kind == ModuleKind::Relu) {
      s.kind = Stage::Kind::Relu;
      s.c = prev.c;
      s.h = prev.h;
      s.w = prev.w;
      plan->layer_stage[layer] = static_cast<int>(plan->stages.size());
    } else if (m.kind == ModuleKind::MaxPool) {
      s.kind = Stage::Kind::Pool;
      s.pool_k = m.kernel;
      s.c = prev.c;
      s.h = prev.h / m.kernel;
      s.w = prev.w / m.kernel;
      plan->layer_stage[layer] = static_cast<int>(plan->stages.size());
    }
    if (s.h <= 0 || s.w <= 0)
      throw ImageError("The input (" + std::to_string(w) + "x" + std::to_string(h) +
                       ") is too small for the " + spec_.name + " network at layer " + m.name +
                       ": it needs at least " + std::to_string(spec_.window) + "x" +
                       std::to_string(spec_.window) + " pixels.");
    plan->stages.push_back(s);
  }
  if (softmax) {
    const Stage& prev = plan->stages.back();
    Stage s{Stage::Kind::Softmax, "softmax"};
    s.in_slot = prev.out_slot;
    s.out_slot = static_cast<int>(plan->stages.size());
    s.c = prev.c;
    s.h = prev.h;
    s.w = prev.w;
    plan->layer_stage[-1] = static_cast<int>(plan->stages.size());
    plan->stages.push_back(s);
  }
  plans_.push_back(std::move(plan));
  return *plans_.back();
}

void Network::build(Plan& plan) {
  // Make sure every buffer is large enough; any reallocation invalidates all recorded plans.
  bool grew = input_.reserve(*ctx_, static_cast<VkDeviceSize>(plan.h) * plan.w * 3 * 4);
  if (buffers_.size() < plan.stages.size()) buffers_.resize(plan.stages.size());
  for (const Stage& s : plan.stages) ops::check_fits(*ctx_, {nullptr, s.c, s.h, s.w}, s.name);
  for (const Stage& s : plan.stages) {
    ops::Blob b{nullptr, s.c, s.h, s.w};
    grew |= buffers_[s.out_slot].reserve(*ctx_, b.floats() * 4);
  }
  if (grew) ++generation_;
  if (plan.generation == generation_ && plan.recorder && plan.recorder->recorded()) return;

  const uint32_t stamps = static_cast<uint32_t>(plan.stages.size()) + 1;
  plan.recorder = std::make_unique<vk::Recorder>(*ctx_, stamps);
  plan.arena = std::make_unique<vk::DescriptorArena>(*ctx_);
  vk::Recorder& rec = *plan.recorder;
  rec.begin();
  plan.stamps.assign(1, rec.timestamp());
  for (size_t i = 0; i < plan.stages.size(); ++i) {
    const Stage& s = plan.stages[i];
    ops::Blob out{&buffers_[s.out_slot].get(), s.c, s.h, s.w};
    ops::Blob in{};
    if (s.in_slot >= 0) {
      const Stage& src = plan.stages[s.in_slot];
      in = {&buffers_[src.out_slot].get(), src.c, src.h, src.w};
    }
    switch (s.kind) {
      case Stage::Kind::Normalize:
        normalize_->record(rec, *plan.arena, input_.get(), s.h, s.w, {out.buffer, 4, s.h, s.w});
        break;
      case Stage::Kind::Conv:
        convs_[s.conv]->record(rec, *plan.arena, in, out, s.relu);
        break;
      case Stage::Kind::Relu:
        relu_->record(rec, *plan.arena, in, out);
        break;
      case Stage::Kind::Pool:
        pools_.at(s.pool_k)->record(rec, *plan.arena, in, out, 0, 0);
        break;
      case Stage::Kind::Softmax:
        softmax_->record(rec, *plan.arena, in, out);
        break;
    }
    rec.barrier();
    plan.stamps.push_back(rec.timestamp());
  }
  rec.end();
  plan.generation = generation_;
}

ForwardResult Network::forward(const Tensor& rgb, const std::set<int>& layers, bool softmax) {
  if (rgb.c != 3) throw ImageError("The network expects an RGB image (3 channels)");
  for (int l : layers)
    if (l < 0 || l > spec_.num_layers())
      throw Error("Layer " + std::to_string(l) + " does not exist: the " + spec_.name +
                  " network has layers 0 to " + std::to_string(spec_.num_layers()));
  Plan& plan = plan_for(rgb.h, rgb.w, layers, softmax);
  build(plan);
  input_.get().upload(rgb.data);
  plan.recorder->submit();

  ForwardResult result;
  for (size_t i = 0; i < plan.stages.size(); ++i)
    result.stages.push_back(
        {plan.stages[i].name, plan.recorder->elapsed_ms(plan.stamps[i], plan.stamps[i + 1])});
  result.gpu_ms = plan.recorder->elapsed_ms(plan.stamps.front(), plan.stamps.back());

  auto fetch = [&](int stage) {
    const Stage& s = plan.stages[stage];
    Tensor t = ops::download({&buffers_[s.out_slot].get(), s.c, s.h, s.w});
    return t;
  };
  std::set<int> wanted = layers;
  if (softmax) wanted.insert(-1);
  for (int l : wanted) {
    int base = l, pads = 0;
    while (base > 0 && spec_.modules[base - 1].kind == ModuleKind::Pad)
      pads += spec_.modules[--base].pad;
    Tensor t = fetch(plan.layer_stage.at(base));
    if (base == 0) {  // the normalize stage writes a fourth, zero channel
      t.c = spec_.input_channels;
      t.data.resize(static_cast<size_t>(t.c) * t.h * t.w);
    }
    result.layers[l] = pads ? ref::pad(t, pads) : std::move(t);
  }
  return result;
}

}  // namespace overfeat
