// SPDX-License-Identifier: MIT
// The graph executor: stages in topological order, activations fused into the convolution or
// sum that feeds them, buffers assigned by lifetime (a map's buffer is reused once its last
// reader has run), one recorded command buffer per input size and set of requested maps.
#include "overfeat/graph_executor.hpp"

#include <algorithm>

#include "ops/graph_ops.hpp"
#include "ops/ops.hpp"
#include "overfeat/error.hpp"

namespace overfeat {

namespace {
constexpr size_t kMaxPlans = 16;  // scales x flips of a still, plus the live window
using graph::OpKind;
}  // namespace

struct GraphExecutor::Impl {
  explicit Impl(const vk::Context& ctx) : lib(ctx) {}

  ops::PipelineLibrary lib;
  // One op object per executed node (nullptr elsewhere). A conv or sum with an activation fused
  // into it has it in its op; for the map before the activation, when a plan asks for it, a conv
  // records without it (the same weights) and a sum has a `plain_adds` twin.
  std::vector<std::unique_ptr<ops::GraphConv>> convs;
  std::vector<std::unique_ptr<ops::Add>> adds, plain_adds;
  std::vector<std::unique_ptr<ops::Pool>> pools;
  std::vector<std::unique_ptr<ops::GlobalPool>> global_pools;
  std::vector<std::unique_ptr<ops::Lrn>> lrns;
  std::vector<std::unique_ptr<ops::ActivationOp>> activations;
  std::unique_ptr<ops::ChannelCopy> copy;
  std::unique_ptr<ops::Softmax> softmax;

  /// Node -> the activation node fused into it (its map is the activation's), or -1.
  std::vector<int> fused;
  /// Nodes that run as a stage when nothing is unfused, in order (fused activations excluded).
  std::vector<int> executed;

  vk::GrowingBuffer input;
  std::vector<vk::GrowingBuffer> slots;
  // The Winograd convolutions' scratch, one pair for all: stages run one after the other.
  vk::GrowingBuffer scratch_input, scratch_products;
  uint64_t generation = 0;  // bumped whenever a buffer is reallocated

  /// One dispatch group of a plan: `node`'s op; `split`: a fused conv or sum run without its
  /// activation (its own map), or that activation run on its own.
  struct Stage {
    int node = 0;
    bool split = false;
    int value = 0;  // the node whose map this stage writes
    // Winograd convolutions of one shared op (the dense evaluation's pooling offsets): the first
    // records the next `batch` - 1 stages with it, one dispatch of products for all; those
    // have batch 0. Buffers are still planned as if each wrote at its own place: a member's
    // output may take the buffer of a member's input that is free by then, which is safe
    // because a batch reads all its inputs (input transforms) before it writes any output
    // (output transforms), with barriers between.
    int batch = 1;
    // A batch that starts right after another batch of the same inputs, whose convolution
    // transforms them the same way (two heads on the pooled maps): it takes that batch's input
    // transform, still in the scratch, instead of computing it again. The inputs stay planned
    // as read here.
    bool input_ready = false;
  };
  struct Plan {
    int h = 0, w = 0;
    std::vector<int> keep;  // requested maps, sorted
    std::vector<Stage> stages;
    int shared_inputs = 0;  // stages with input_ready
    std::vector<graph::Shape> shapes;
    std::vector<int> slot;  // by node: the slot holding its map (-1: none / the input buffer)
    std::vector<uint64_t> slot_bytes;
    ops::WinogradConv::Scratch scratch;  // the largest any of its stages needs
    std::unique_ptr<vk::Recorder> recorder;
    std::unique_ptr<vk::DescriptorArena> arena;
    std::vector<int> stamps;
    uint64_t generation = ~0ull;
  };
  std::vector<std::unique_ptr<Plan>> plans;  // most recently used last
  int last_buffers = 0, last_shared_inputs = 0;

  /// The stages that produce `keep` and nothing else, in order.
  std::vector<Stage> stages_for(const graph::Graph& g, const std::vector<int>& keep) {
    std::vector<bool> split(g.nodes.size(), false), needed(g.nodes.size(), false);
    for (int k : keep) {
      if (fused[k] >= 0) split[k] = true;
      needed[k] = true;
    }
    // Walk back from the requested maps: a stage is needed when a needed map reads it.
    for (int i = static_cast<int>(g.nodes.size()) - 1; i > 0; --i) {
      if (!needed[i]) continue;
      const graph::Node& n = g.nodes[i];
      for (int in : n.inputs) needed[in] = true;
    }
    std::vector<Stage> out;
    for (int node : executed) {
      const int act = fused[node];
      const bool wanted = needed[node] || (act >= 0 && needed[act]);
      if (!wanted) continue;
      if (split[node]) {
        out.push_back({node, true, node});
        if (needed[act]) out.push_back({act, true, act});
      } else {
        out.push_back({node, false, act >= 0 ? act : node});
      }
    }
    return out;
  }

  const graph::Graph* graph = nullptr;
  ops::GraphConv& conv_of(int node) {
    const int shares = graph->nodes[node].shares;
    return *convs[shares >= 0 ? shares : node];
  }

  /// In a graph whose convolutions share weights (offset_graph's copies of the heads), orders
  /// the stages by depth, so that the copies of a layer come together, and batches the copies
  /// of each Winograd convolution: their small maps then share one reading of the transformed
  /// weights. Other graphs keep their order (and their buffers' lifetimes).
  void batch_shared(std::vector<Stage>& stages) {
    const auto& nodes = graph->nodes;
    if (std::none_of(nodes.begin(), nodes.end(),
                     [](const graph::Node& n) { return n.shares >= 0; }))
      return;
    std::vector<int> depth(nodes.size(), 0);  // longest path from the input
    for (size_t i = 1; i < nodes.size(); ++i)
      for (int in : nodes[i].inputs) depth[i] = std::max(depth[i], depth[in] + 1);
    auto key = [&](const Stage& s) {
      const graph::Node& n = nodes[s.node];
      const int op = n.op == OpKind::Conv && n.shares >= 0 ? n.shares : s.node;
      return std::pair{depth[s.node], op};
    };
    // Every input of a node is shallower than it: any order by depth is topological.
    std::stable_sort(stages.begin(), stages.end(),
                     [&](const Stage& a, const Stage& b) { return key(a) < key(b); });
    auto batchable = [&](const Stage& s) {
      return nodes[s.node].op == OpKind::Conv && !s.split && conv_of(s.node).winograd();
    };
    for (size_t i = 0; i < stages.size();) {
      size_t j = i + 1;
      if (batchable(stages[i]))
        while (j < stages.size() && batchable(stages[j]) && key(stages[j]) == key(stages[i])) ++j;
      stages[i].batch = static_cast<int>(j - i);
      for (size_t k = i + 1; k < j; ++k) stages[k].batch = 0;
      i = j;
    }
    // Consecutive Winograd batches on the same maps, transformed alike: the second reuses the
    // first's input transform (nothing between them writes the scratch).
    for (size_t i = 0; i < stages.size();) {
      const int n = stages[i].batch;
      const size_t j = i + std::max(n, 1);
      if (n > 0 && batchable(stages[i]) && j < stages.size() && batchable(stages[j]) &&
          stages[j].batch == n &&
          conv_of(stages[j].node).shares_input_transform(conv_of(stages[i].node))) {
        bool same = true;
        for (int k = 0; k < n; ++k)
          same &= nodes[stages[i + k].node].inputs[0] == nodes[stages[j + k].node].inputs[0];
        stages[j].input_ready = same;
      }
      i = j;
    }
  }

  void record(const Stage& s, const graph::Node& node, vk::Recorder& rec,
              vk::DescriptorArena& arena, const std::vector<ops::Blob>& in, const ops::Blob& out) {
    switch (node.op) {
      case OpKind::Conv:
        conv_of(s.node).record(rec, arena, in[0], out, !s.split,
                               {&scratch_input.get(), &scratch_products.get()});
        break;
      case OpKind::Add:
        (s.split ? *plain_adds[s.node] : *adds[s.node]).record(rec, arena, in[0], in[1], out);
        break;
      case OpKind::Activation:
        activations[s.node]->record(rec, arena, in[0], out);
        break;
      case OpKind::Pool:
        pools[s.node]->record(rec, arena, in[0], out);
        break;
      case OpKind::GlobalPool:
        global_pools[s.node]->record(rec, arena, in[0], out);
        break;
      case OpKind::Lrn:
        lrns[s.node]->record(rec, arena, in[0], out);
        break;
      case OpKind::Softmax:
        softmax->record(rec, arena, in[0], out);
        break;
      case OpKind::Concat: {
        int offset = 0;
        for (const ops::Blob& b : in) {
          copy->record(rec, arena, b, out, offset);
          offset += b.c;
        }
        break;
      }
      case OpKind::Input:
        break;
    }
  }
};

GraphExecutor::GraphExecutor(const vk::Context& ctx, graph::Graph g, const WeightSource& weights)
    : ctx_(&ctx), graph_(std::move(g)), impl_(std::make_unique<Impl>(ctx)) {
  graph_.validate(!weights);  // lent weights are checked as each conv takes them
  const auto& nodes = graph_.nodes;
  const size_t n = nodes.size();
  Impl& m = *impl_;
  m.graph = &graph_;
  m.convs.resize(n);
  for (auto* v : {&m.adds, &m.plain_adds}) v->resize(n);
  m.pools.resize(n);
  m.global_pools.resize(n);
  m.lrns.resize(n);
  m.activations.resize(n);
  m.fused.assign(n, -1);

  // An activation is fused into the conv or sum before it when it is that node's only reader
  // and the pre-activation map is not the graph's output.
  std::vector<std::vector<int>> readers(n);
  for (size_t i = 0; i < n; ++i)
    for (int in : nodes[i].inputs) readers[in].push_back(static_cast<int>(i));
  std::vector<bool> absorbed(n, false);
  for (size_t i = 0; i < n; ++i) {
    const graph::Node& node = nodes[i];
    if (node.op != OpKind::Activation || node.inputs.size() != 1) continue;
    const int src = node.inputs[0];
    const graph::Node& prev = nodes[src];
    const bool fusable = (prev.op == OpKind::Conv || prev.op == OpKind::Add) &&
                         prev.act.kind == graph::Activation::Kind::None &&
                         readers[src].size() == 1 && src != graph_.output;
    if (!fusable) continue;
    m.fused[src] = static_cast<int>(i);
    absorbed[i] = true;
  }
  // The activation a node's op applies: its own, or the one fused into it.
  auto applied = [&](size_t i) { return m.fused[i] >= 0 ? nodes[m.fused[i]].act : nodes[i].act; };
  for (size_t i = 1; i < n; ++i) {
    if (absorbed[i]) continue;
    const graph::Node& node = nodes[i];
    const graph::Activation act = applied(i);
    switch (node.op) {
      case OpKind::Input:
        throw Error("Graph: node " + node.name + " is a second input; graphs have one input");
      case OpKind::Conv:
        if (node.shares >= 0) {
          // Another node's op: the same weights on the device, and so the same fused activation.
          const int owner = node.shares;
          if (applied(owner) != act)
            throw Error("Graph: node " + node.name + " shares the weights of " + nodes[owner].name +
                        " but not its activation");
          break;
        }
        if (weights) {
          const LentWeights lent = weights(static_cast<int>(i));
          m.convs[i] =
              std::make_unique<ops::GraphConv>(m.lib, node.conv, act, lent.weights, lent.bias);
        } else {
          m.convs[i] = std::make_unique<ops::GraphConv>(m.lib, node.conv, act);
        }
        // The device holds them now: a large model would otherwise keep a second host copy.
        std::vector<float>().swap(graph_.nodes[i].conv.weights);
        std::vector<float>().swap(graph_.nodes[i].conv.bias);
        break;
      case OpKind::Activation:
        m.activations[i] = std::make_unique<ops::ActivationOp>(m.lib, node.act);
        break;
      case OpKind::Pool:
        m.pools[i] = std::make_unique<ops::Pool>(m.lib, node.pool);
        break;
      case OpKind::GlobalPool:
        m.global_pools[i] = std::make_unique<ops::GlobalPool>(m.lib, node.pool.kind);
        break;
      case OpKind::Lrn:
        m.lrns[i] = std::make_unique<ops::Lrn>(m.lib, node.lrn);
        break;
      case OpKind::Add:
        m.adds[i] = std::make_unique<ops::Add>(m.lib, act);
        break;
      case OpKind::Concat:
        if (!m.copy) m.copy = std::make_unique<ops::ChannelCopy>(m.lib);
        break;
      case OpKind::Softmax:
        if (!m.softmax) m.softmax = std::make_unique<ops::Softmax>(m.lib);
        break;
    }
    m.executed.push_back(static_cast<int>(i));
  }
}

GraphExecutor::~GraphExecutor() = default;

GraphExecutor::WeightSource GraphExecutor::lending(const graph::Graph& g) {
  return [&g](int node) -> LentWeights {
    const graph::ConvParams& p = g.nodes.at(node).conv;
    return {p.weights, p.bias};
  };
}

uint64_t GraphExecutor::activation_bytes() const {
  uint64_t bytes = impl_->input.get().size() + impl_->scratch_input.get().size() +
                   impl_->scratch_products.get().size();
  for (const auto& s : impl_->slots) bytes += s.get().size();
  return bytes;
}

uint64_t GraphExecutor::weight_bytes() const {
  uint64_t bytes = 0;
  for (const auto& c : impl_->convs)
    if (c) bytes += c->weight_bytes();
  return bytes;
}

int GraphExecutor::buffers_used() const {
  return impl_->last_buffers;
}
int GraphExecutor::shared_input_transforms() const {
  return impl_->last_shared_inputs;
}
int GraphExecutor::stages() const {
  return static_cast<int>(impl_->executed.size());
}

namespace {

uint64_t blob_bytes(const graph::Shape& s) {
  return static_cast<uint64_t>(ops::Blob{nullptr, s.c, s.h, s.w}.floats()) * 4;
}

}  // namespace

std::map<int, Tensor> GraphExecutor::run(const Tensor& input, const std::vector<int>& nodes) {
  Impl& m = *impl_;
  const auto& g = graph_.nodes;
  if (input.c != graph_.input_channels)
    throw ImageError("The network expects " + std::to_string(graph_.input_channels) +
                     " input channels, the input has " + std::to_string(input.c));
  std::vector<int> keep;
  for (int node : nodes.empty() ? std::vector<int>{graph_.output} : nodes) {
    if (node < 0 || node >= static_cast<int>(g.size()))
      throw Error("Graph: no node " + std::to_string(node) + " (the graph has " +
                  std::to_string(g.size()) + ")");
    keep.push_back(node);
  }
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());

  // The plan for this size and these maps: from the cache, or planned now.
  Impl::Plan* plan = nullptr;
  for (size_t i = 0; i < m.plans.size(); ++i) {
    Impl::Plan& p = *m.plans[i];
    if (p.h == input.h && p.w == input.w && p.keep == keep) {
      std::rotate(m.plans.begin() + i, m.plans.begin() + i + 1, m.plans.end());
      plan = m.plans.back().get();
      break;
    }
  }
  if (!plan) {
    auto p = std::make_unique<Impl::Plan>();
    p->h = input.h;
    p->w = input.w;
    p->keep = keep;
    p->stages = m.stages_for(graph_, keep);
    m.batch_shared(p->stages);
    p->shared_inputs = static_cast<int>(std::count_if(
        p->stages.begin(), p->stages.end(), [](const Impl::Stage& s) { return s.input_ready; }));
    p->shapes = graph_.shapes(input.h, input.w);
    for (size_t si = 0; si < p->stages.size(); ++si) {
      const Impl::Stage& s = p->stages[si];
      const graph::Shape& shape = p->shapes[s.value];
      if (!shape.valid())
        throw ImageError("The input (" + std::to_string(input.w) + "x" + std::to_string(input.h) +
                         ") is too small for this network at node " + g[s.node].name + ".");
      ops::check_fits(*ctx_, {nullptr, shape.c, shape.h, shape.w}, g[s.node].name);
      if (g[s.node].op == OpKind::Conv && s.batch > 0) {
        std::vector<std::pair<int, int>> inputs;  // the batch's
        for (int k = 0; k < s.batch; ++k) {
          const graph::Shape& in = p->shapes[g[p->stages[si + k].node].inputs[0]];
          inputs.emplace_back(in.h, in.w);
        }
        const auto need = m.conv_of(s.node).scratch_bytes(inputs);
        if (const uint64_t larger = std::max(need.input, need.products); larger > 0)
          ops::check_fits(*ctx_, {nullptr, 4, 1, static_cast<int>(larger / 16)},  // as texels
                          g[s.node].name + " (Winograd scratch)");
        p->scratch.input = std::max(p->scratch.input, need.input);
        p->scratch.products = std::max(p->scratch.products, need.products);
      }
      // Ops for a map before its fused activation (a conv's shares its weights), made once.
      if (!s.split) continue;
      const graph::Node& node = g[s.node];
      if (node.op == OpKind::Conv) m.conv_of(s.node).prepare_without_activation();
      if (node.op == OpKind::Add && !m.plain_adds[s.node])
        m.plain_adds[s.node] = std::make_unique<ops::Add>(m.lib, node.act);
      if (node.op == OpKind::Activation && !m.activations[s.node])
        m.activations[s.node] = std::make_unique<ops::ActivationOp>(m.lib, node.act);
    }
    // Lifetimes: a value's buffer is free once its last reader has run; kept maps live on.
    const int nstages = static_cast<int>(p->stages.size());
    std::vector<int> last_use(g.size(), -1);
    for (int si = 0; si < nstages; ++si)
      for (int in : g[p->stages[si].node].inputs) last_use[in] = si;
    for (int k : keep) last_use[k] = nstages;
    p->slot.assign(g.size(), -1);
    std::vector<int> free_slots;
    std::vector<std::vector<int>> frees_after(nstages + 1);
    for (size_t v = 1; v < g.size(); ++v)
      if (last_use[v] >= 0) frees_after[last_use[v]].push_back(static_cast<int>(v));
    for (int si = 0; si < nstages; ++si) {
      const int value = p->stages[si].value;
      const uint64_t need = blob_bytes(p->shapes[value]);
      // Best fit among the free buffers: the smallest that holds it, else the largest. A buffer
      // holds what this plan put in it or, if more, what earlier plans made it hold: so plans of
      // smaller work (fewer maps, other sizes) fit in the buffers the largest one left.
      auto capacity = [&](int slot) {
        const uint64_t held =
            slot < static_cast<int>(m.slots.size()) ? m.slots[slot].get().size() : 0;
        return std::max(p->slot_bytes[slot], held);
      };
      int pick = -1;
      for (size_t f = 0; f < free_slots.size(); ++f) {
        const uint64_t have = capacity(free_slots[f]);
        if (pick < 0) {
          pick = static_cast<int>(f);
          continue;
        }
        const uint64_t best = capacity(free_slots[pick]);
        const bool fits = have >= need, best_fits = best >= need;
        if ((fits && (!best_fits || have < best)) || (!fits && !best_fits && have > best))
          pick = static_cast<int>(f);
      }
      int slot;
      if (pick >= 0) {
        slot = free_slots[pick];
        free_slots.erase(free_slots.begin() + pick);
      } else {
        slot = static_cast<int>(p->slot_bytes.size());
        p->slot_bytes.push_back(0);
      }
      p->slot_bytes[slot] = std::max(p->slot_bytes[slot], need);
      p->slot[value] = slot;
      if (last_use[value] < 0) free_slots.push_back(slot);  // nobody reads it
      for (int v : frees_after[si])
        if (p->slot[v] >= 0) free_slots.push_back(p->slot[v]);
    }
    if (m.plans.size() >= kMaxPlans) m.plans.erase(m.plans.begin());
    m.plans.push_back(std::move(p));
    plan = m.plans.back().get();
  }

  // Buffers large enough for this plan; a reallocation invalidates every recorded plan.
  bool grew = m.input.reserve(*ctx_, blob_bytes({graph_.input_channels, input.h, input.w}));
  if (m.slots.size() < plan->slot_bytes.size()) m.slots.resize(plan->slot_bytes.size());
  for (size_t s = 0; s < plan->slot_bytes.size(); ++s)
    grew |= m.slots[s].reserve(*ctx_, plan->slot_bytes[s]);
  if (plan->scratch.input > 0) {
    grew |= m.scratch_input.reserve(*ctx_, plan->scratch.input);
    grew |= m.scratch_products.reserve(*ctx_, plan->scratch.products);
  }
  if (grew) ++m.generation;
  m.last_buffers = static_cast<int>(plan->slot_bytes.size());
  m.last_shared_inputs = plan->shared_inputs;

  auto blob = [&](int value) {
    const graph::Shape& s = plan->shapes[value];
    const vk::Buffer* buffer = value == 0 ? &m.input.get() : &m.slots[plan->slot[value]].get();
    return ops::Blob{buffer, s.c, s.h, s.w};
  };
  if (plan->generation != m.generation || !plan->recorder || !plan->recorder->recorded()) {
    const auto stamps = static_cast<uint32_t>(plan->stages.size()) + 1;
    plan->recorder = std::make_unique<vk::Recorder>(*ctx_, stamps);
    plan->arena = std::make_unique<vk::DescriptorArena>(*ctx_);
    vk::Recorder& rec = *plan->recorder;
    rec.begin();
    plan->stamps.assign(1, rec.timestamp());
    const auto& stages = plan->stages;
    for (size_t si = 0; si < stages.size(); ++si) {
      const Impl::Stage& s = stages[si];
      if (s.batch == 0) {  // recorded with the batch before it, which has the time
        plan->stamps.push_back(plan->stamps.back());
        continue;
      }
      if (s.batch > 1 || s.input_ready) {
        std::vector<ops::Blob> ins, outs;
        for (int k = 0; k < s.batch; ++k) {
          ins.push_back(blob(g[stages[si + k].node].inputs[0]));
          outs.push_back(blob(stages[si + k].value));
        }
        m.conv_of(s.node).record_batch(rec, *plan->arena, ins, outs, true,
                                       {&m.scratch_input.get(), &m.scratch_products.get()},
                                       s.input_ready);
      } else {
        std::vector<ops::Blob> in;
        for (int i : g[s.node].inputs) in.push_back(blob(i));
        m.record(s, g[s.node], rec, *plan->arena, in, blob(s.value));
      }
      rec.barrier();
      plan->stamps.push_back(rec.timestamp());
    }
    rec.end();
    plan->generation = m.generation;
  }

  m.input.get().upload(ops::to_nc4hw4(input));
  plan->recorder->submit();
  last_times_.clear();
  last_gpu_ms_ = 0;
  if (!plan->stamps.empty() && plan->stamps.front() >= 0) {
    for (size_t i = 0; i < plan->stages.size(); ++i)
      last_times_.push_back({g[plan->stages[i].node].name,
                             plan->recorder->elapsed_ms(plan->stamps[i], plan->stamps[i + 1])});
    last_gpu_ms_ = plan->recorder->elapsed_ms(plan->stamps.front(), plan->stamps.back());
  }
  std::map<int, Tensor> result;
  for (int k : keep) result[k] = ops::download(blob(k));
  return result;
}

}  // namespace overfeat
