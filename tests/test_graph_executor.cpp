// SPDX-License-Identifier: MIT
// The graph executor against the host reference (graph::ref::run): branching graphs like
// GoogLeNet's, DenseNet's and ResNet's (concat, residual sums, fused activations), requested
// intermediate maps, buffer reuse, the plan cache over input sizes, and bounded memory.
#include <gtest/gtest.h>

#include <random>

#include "overfeat/error.hpp"
#include "overfeat/graph_dense.hpp"
#include "overfeat/graph_executor.hpp"
#include "overfeat/graph_reference.hpp"
#include "overfeat/image.hpp"
#include "vulkan_fixture.hpp"

namespace overfeat {
namespace {

using graph::Activation;
using graph::Graph;
using graph::Node;
using graph::OpKind;

/// Builds graphs node by node with random weights.
class Builder {
 public:
  explicit Builder(unsigned seed, int in_channels = 3) : rng_(seed) {
    g.input_channels = in_channels;
    Node in;
    in.name = "input";
    g.nodes.push_back(in);
    channels_.push_back(in_channels);
  }
  int conv(int src, int out, int k, int stride = 1, int pad = 0, int groups = 1,
           Activation::Kind act = Activation::Kind::None) {
    Node n;
    n.op = OpKind::Conv;
    n.inputs = {src};
    auto& p = n.conv;
    p.out_channels = out;
    p.in_channels = channels_[src];
    p.groups = groups;
    p.kh = p.kw = k;
    p.stride_h = p.stride_w = stride;
    p.pads = {pad, pad, pad, pad};
    const float scale = 1.0f / std::sqrt(static_cast<float>(p.in_channels / groups * k * k));
    std::uniform_real_distribution<float> d(-scale * 1.7f, scale * 1.7f);
    p.weights.resize(static_cast<size_t>(out) * (p.in_channels / groups) * k * k);
    for (float& v : p.weights) v = d(rng_);
    p.bias.resize(out);
    for (float& v : p.bias) v = d(rng_);
    n.act.kind = act;
    return push(std::move(n), out);
  }
  int act(int src, Activation a) {
    Node n;
    n.op = OpKind::Activation;
    n.inputs = {src};
    n.act = a;
    return push(std::move(n), channels_[src]);
  }
  int relu(int src) { return act(src, {Activation::Kind::Relu}); }
  int pool(int src, graph::PoolParams::Kind kind, int k, int s, int pad = 0, bool ceil = false) {
    Node n;
    n.op = OpKind::Pool;
    n.inputs = {src};
    n.pool.kind = kind;
    n.pool.kh = n.pool.kw = k;
    n.pool.stride_h = n.pool.stride_w = s;
    n.pool.pads = {pad, pad, pad, pad};
    n.pool.ceil_mode = ceil;
    return push(std::move(n), channels_[src]);
  }
  int add(int a, int b) {
    Node n;
    n.op = OpKind::Add;
    n.inputs = {a, b};
    return push(std::move(n), channels_[a]);
  }
  int concat(std::vector<int> srcs) {
    Node n;
    n.op = OpKind::Concat;
    int c = 0;
    for (int s : srcs) c += channels_[s];
    n.inputs = std::move(srcs);
    return push(std::move(n), c);
  }
  int lrn(int src) {
    Node n;
    n.op = OpKind::Lrn;
    n.inputs = {src};
    return push(std::move(n), channels_[src]);
  }
  int global_pool(int src) {
    Node n;
    n.op = OpKind::GlobalPool;
    n.inputs = {src};
    n.pool.kind = graph::PoolParams::Kind::Average;
    return push(std::move(n), channels_[src]);
  }
  int softmax(int src) {
    Node n;
    n.op = OpKind::Softmax;
    n.inputs = {src};
    return push(std::move(n), channels_[src]);
  }
  Graph g;

 private:
  int push(Node n, int channels) {
    n.name = "n" + std::to_string(g.nodes.size());
    g.nodes.push_back(std::move(n));
    channels_.push_back(channels);
    g.output = static_cast<int>(g.nodes.size()) - 1;
    return g.output;
  }
  std::mt19937 rng_;
  std::vector<int> channels_;
};

/// A small network with every kind of node: an Inception-style block (branches of different
/// widths concatenated at channel offsets that are not multiples of 4), a residual block, a
/// DenseNet-style growing concat, LRN, ReLU6, ceil-mode pooling, and a classifier head.
Graph mixed_graph(unsigned seed) {
  Builder b(seed);
  int x = b.relu(b.conv(0, 10, 3, 2, 1));
  x = b.lrn(x);
  x = b.pool(x, graph::PoolParams::Kind::Max, 3, 2, 0, true);
  const int br1 = b.relu(b.conv(x, 5, 1));
  const int br2 = b.relu(b.conv(b.relu(b.conv(x, 6, 1)), 7, 3, 1, 1));
  const int br3 = b.conv(b.pool(x, graph::PoolParams::Kind::Max, 3, 1, 1), 3, 1);
  x = b.concat({br1, br2, br3});  // 15 channels
  const int y = b.act(b.conv(x, 15, 3, 1, 1, 3), {Activation::Kind::Clip, 0, 6});
  x = b.relu(b.add(x, y));
  const int d1 = b.conv(x, 6, 3, 1, 1);
  x = b.concat({x, d1});
  x = b.concat({x, b.conv(x, 5, 1)});  // 26 channels
  x = b.pool(x, graph::PoolParams::Kind::Average, 2, 2);
  x = b.conv(b.relu(x), 9, 1);
  x = b.global_pool(x);
  b.softmax(x);
  return b.g;
}

double max_error(const Tensor& a, const Tensor& b) {
  if (a.c != b.c || a.h != b.h || a.w != b.w) return INFINITY;
  double e = 0, scale = 1e-6;
  for (size_t i = 0; i < a.size(); ++i) {
    e = std::max(e, static_cast<double>(std::abs(a.data[i] - b.data[i])));
    scale = std::max(scale, static_cast<double>(std::abs(b.data[i])));
  }
  return e / scale;
}

class GraphExecutorTest : public testing::VulkanTest {};

TEST_F(GraphExecutorTest, MixedGraphEqualsTheReferenceAtSeveralSizes) {
  const Graph g = mixed_graph(3);
  GraphExecutor exec(*ctx_, g);
  std::mt19937 rng(5);
  for (auto [h, w] : {std::pair{33, 41}, {20, 20}, {57, 30}, {33, 41}}) {
    const Tensor in = testing::random_tensor(3, h, w, rng);
    const auto want = graph::ref::run(g, in);
    const auto got = exec.run(in);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_LT(max_error(got.at(g.output), want[g.output]), 1e-4) << h << "x" << w;
  }
  // Buffers are reused: far fewer than one per stage.
  EXPECT_LT(exec.buffers_used(), exec.stages() / 2)
      << exec.buffers_used() << " buffers for " << exec.stages() << " stages";
}

TEST_F(GraphExecutorTest, IntermediateMapsOnRequest) {
  const Graph g = mixed_graph(4);
  GraphExecutor exec(*ctx_, g);
  std::mt19937 rng(6);
  const Tensor in = testing::random_tensor(3, 29, 35, rng);
  const auto want = graph::ref::run(g, in);
  // Every node, the convs and sums whose activation is fused into them included (that plan runs
  // them apart).
  std::vector<int> nodes;
  for (size_t i = 0; i < g.nodes.size(); ++i) nodes.push_back(static_cast<int>(i));
  const uint64_t weight_bytes = exec.weight_bytes();
  const auto got = exec.run(in, nodes);
  for (int n : nodes) EXPECT_LT(max_error(got.at(n), want[n]), 1e-4) << g.nodes[n].name;
  // Those maps come from the same device weights (a second copy once doubled a model's memory),
  // and the host's copy was let go when the weights went to the device.
  EXPECT_EQ(exec.weight_bytes(), weight_bytes);
  for (const auto& node : exec.graph().nodes) {
    EXPECT_TRUE(node.conv.weights.empty()) << node.name;
    EXPECT_TRUE(node.conv.bias.empty()) << node.name;
  }
  // The fused plan still gives the same output afterwards.
  EXPECT_LT(max_error(exec.run(in).at(g.output), want[g.output]), 1e-4);
}

TEST_F(GraphExecutorTest, OnlyTheStagesARequestedMapNeedsRun) {
  Builder b(1);
  const int c = b.conv(0, 4, 3);
  const int r = b.relu(c);
  b.conv(r, 2, 1);
  GraphExecutor exec(*ctx_, b.g);
  std::mt19937 rng(1);
  const Tensor in = testing::random_tensor(3, 8, 8, rng);
  const auto want = graph::ref::run(b.g, in);
  const auto got = exec.run(in, {c});
  EXPECT_LT(max_error(got.at(c), want[c]), 1e-5);
  ASSERT_EQ(exec.last_stage_times().size() == 0 ? 1u : exec.last_stage_times().size(), 1u)
      << "the conv alone, without its ReLU or the conv after it";
  exec.run(in);
  if (!exec.last_stage_times().empty()) EXPECT_EQ(exec.last_stage_times().size(), 2u);
}

TEST_F(GraphExecutorTest, TooSmallInputIsAClearError) {
  const Graph g = mixed_graph(2);
  GraphExecutor exec(*ctx_, g);
  std::mt19937 rng(2);
  EXPECT_THROW(exec.run(testing::random_tensor(3, 3, 3, rng)), ImageError);
  EXPECT_THROW(exec.run(testing::random_tensor(4, 30, 30, rng)), ImageError);
}

TEST_F(GraphExecutorTest, MemoryIsBoundedOverSizesAndFrames) {
  const Graph g = mixed_graph(9);
  GraphExecutor exec(*ctx_, g);
  std::mt19937 rng(3);
  exec.run(testing::random_tensor(3, 70, 70, rng));
  const uint64_t after_largest = exec.activation_bytes();
  for (int i = 0; i < 40; ++i) {
    const int side = 20 + (i * 7) % 44;  // 20..63, more sizes than the plan cache holds
    exec.run(testing::random_tensor(3, side, side + 3 - (i % 4), rng));
  }
  EXPECT_EQ(exec.activation_bytes(), after_largest);
}

// Class activation maps: with the global average pooling removed, a linear classifier gives a
// map whose mean over the cells is exactly the network's own output.
TEST_F(GraphExecutorTest, DenseGraphOfAGlobalPoolingNetworkAveragesToItsOutput) {
  Builder b(11);
  int x = b.relu(b.conv(0, 8, 3, 2, 1));
  x = b.relu(b.conv(x, 12, 3, 1, 1));
  const int gap = b.global_pool(x);
  b.conv(gap, 7, 1);  // the classifier, as the importer turns Flatten + Gemm into it
  int removed = 0;
  const Graph dense = dense_graph(b.g, &removed);
  EXPECT_EQ(removed, 1);
  std::mt19937 rng(4);
  const Tensor in = testing::random_tensor(3, 24, 30, rng);
  const Tensor whole = GraphExecutor(*ctx_, b.g).run(in).at(b.g.output);
  const Tensor cells = GraphExecutor(*ctx_, dense).run(in).at(dense.output);
  ASSERT_EQ(whole.h * whole.w, 1);
  ASSERT_EQ(cells.h * cells.w, 12 * 15);
  for (int c = 0; c < 7; ++c) {
    double mean = 0;
    for (int y = 0; y < cells.h; ++y)
      for (int xx = 0; xx < cells.w; ++xx) mean += cells.at(c, y, xx);
    mean /= cells.h * cells.w;
    EXPECT_NEAR(mean, whole.at(c, 0, 0), 1e-4 * (1 + std::abs(whole.at(c, 0, 0))));
  }
  // A global pooling that something other than a 1x1 classifier reads stays.
  Builder keep(12);
  const int y = keep.global_pool(keep.conv(0, 4, 3));
  keep.softmax(y);
  dense_graph(keep.g, &removed);
  EXPECT_EQ(removed, 0);
}

// A network whose padding keeps maps "same" has cell 0 centred on pixel 0; its cells' boxes are
// the stride-sized tiles they stand for (they were 1 pixel wide).
TEST_F(GraphExecutorTest, SamePaddedNetworksGiveStrideSizedCellBoxes) {
  Builder b(5);
  int x = b.relu(b.conv(0, 6, 3, 4, 1));
  x = b.global_pool(x);
  b.conv(x, 4, 1);
  GraphModel m;
  m.name = "same";
  m.graph = b.g;
  m.input_h = m.input_w = 32;
  m.classes = {"a", "b", "c", "d"};
  GraphDenseEvaluator e(*ctx_, m);
  EXPECT_EQ(e.offsets(), 1);  // its last pooling is global: coarse stride only
  std::mt19937 rng(1);
  const DenseResult r =
      e.evaluate(testing::random_tensor(3, 32, 32, rng, 0, 255), {{32, 32}}, false);
  ASSERT_EQ(r.maps.size(), 1u);
  EXPECT_EQ(r.maps[0].probs.h, 8);
  const Box box = r.maps[0].window_box(2, 3);
  EXPECT_NEAR(box.x2 - box.x1, 4, 0.6);
  EXPECT_NEAR(box.x1, 3 * 4, 0.6);
}

// OverFeat's fine stride on a classic network whose last pooling has kernel = stride (VGG's pool5
// before its fully connected layers): offset (dy, dx)'s cells are the coarse cells of the input
// shifted by (dy, dx) cells of the pooling's input, interleaved; features too.
TEST_F(GraphExecutorTest, OffsetPoolingOfAVggLikeNetworkEqualsShiftedInputs) {
  Builder b(21);
  int x = b.relu(b.conv(0, 6, 3));  // no padding: shifting the input shifts every map
  x = b.relu(b.conv(x, 8, 3, 2));   // the pooling's input: cells 2 pixels apart
  const int pool = b.pool(x, graph::PoolParams::Kind::Max, 2, 2);
  // torchvision's VGG exports its adaptive pooling at 224 as an identity pooling: not the last.
  const int identity = b.pool(pool, graph::PoolParams::Kind::Average, 1, 1);
  x = b.relu(b.conv(identity, 10, 3));  // "fc6" over 3 x 3 pooled cells
  b.conv(x, 5, 1);                      // the classifier
  GraphModel m;
  m.name = "vggish";
  m.graph = b.g;
  m.input_h = m.input_w = 40;
  m.classes = {"a", "b", "c", "d", "e"};
  EXPECT_EQ(offset_pooling_node(dense_graph(m.graph)), pool);
  GraphDenseEvaluator e(*ctx_, m);
  ASSERT_EQ(e.offsets(), 2);
  std::mt19937 rng(8);
  const Tensor rgb = testing::random_tensor(3, 47, 55, rng, 0, 255);
  const ScaleMap fine = e.evaluate(rgb, {{47, 55}}, false, identity, true).maps.at(0);
  EXPECT_EQ(fine.geometry.offsets, 2);
  EXPECT_EQ(fine.geometry.stride, 2);
  int checked = 0;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      const Tensor shifted = image::crop(rgb, 2 * dy, 2 * dx, 47 - 2 * dy, 55 - 2 * dx);
      const ScaleMap coarse =
          e.evaluate(shifted, {{shifted.h, shifted.w}}, false, identity).maps.at(0);
      EXPECT_EQ(coarse.geometry.offsets, 1);
      for (int c = 0; c < 5; ++c)
        for (int i = 0; i < coarse.probs.h; ++i)
          for (int j = 0; j < coarse.probs.w; ++j, ++checked)
            ASSERT_NEAR(fine.probs.at(c, i * 2 + dy, j * 2 + dx), coarse.probs.at(c, i, j), 1e-5)
                << dy << "," << dx << " cell " << i << "," << j;
      for (int c = 0; c < coarse.features.c; ++c)
        for (int i = 0; i < coarse.features.h; ++i)
          for (int j = 0; j < coarse.features.w; ++j)
            ASSERT_NEAR(fine.features.at(c, i * 2 + dy, j * 2 + dx), coarse.features.at(c, i, j),
                        1e-4);
    }
  EXPECT_EQ(checked, 5 * fine.probs.h * fine.probs.w);  // every fine cell is some offset's
  // The coarse map is the offset (0, 0) one, its window boxes twice as far apart.
  const ScaleMap coarse = e.evaluate(rgb, {{47, 55}}, false).maps.at(0);
  EXPECT_EQ(coarse.geometry.stride, 4);
  EXPECT_NEAR(fine.window_box(0, 3).x1, coarse.window_box(0, 1).x1 + 2, 1e-3);
}

// A conv that shares another's weights (Node::shares) runs that conv's device weights on its own
// input: the result is the reference's, and the weights are on the device once.
TEST_F(GraphExecutorTest, SharedWeightsRunTheirOwnersConvolution) {
  Builder b(31, 4);
  const int a = b.conv(0, 4, 3, 1, 1);
  const int a_relu = b.relu(a);
  Graph alone = b.g;
  Node copy = b.g.nodes[a];
  copy.name = "copy";
  copy.inputs = {a_relu};
  copy.conv.weights.clear();
  copy.conv.bias.clear();
  copy.shares = a;
  b.g.nodes.push_back(copy);
  const int shared = static_cast<int>(b.g.nodes.size()) - 1;
  b.g.nodes.push_back(b.g.nodes[a_relu]);  // its ReLU, fused as the owner's is
  b.g.nodes.back().inputs = {shared};
  b.g.output = static_cast<int>(b.g.nodes.size()) - 1;
  std::mt19937 rng(3);
  const Tensor in = testing::random_tensor(4, 9, 11, rng, -1, 1);
  const std::vector<Tensor> want = graph::ref::run(b.g, in);
  // Independently: the owner's conv and ReLU applied twice.
  const Tensor once = graph::ref::run(alone, in).at(a_relu);
  EXPECT_LT(max_error(graph::ref::run(alone, once).at(a_relu), want.back()), 1e-6);
  GraphExecutor exec(*ctx_, b.g);
  GraphExecutor owner_only(*ctx_, alone);
  EXPECT_EQ(exec.weight_bytes(), owner_only.weight_bytes());
  auto got = exec.run(in, {b.g.output, shared});
  EXPECT_LT(max_error(got.at(b.g.output), want.back()), 1e-5);
  EXPECT_LT(max_error(got.at(shared), want[shared]), 1e-5);  // before its fused ReLU

  Graph bad = b.g;
  bad.nodes[shared].conv.pads = {};
  EXPECT_THROW(bad.validate(), Error);  // other parameters
  bad = b.g;
  bad.nodes[shared].conv.bias.assign(4, 0.0f);
  EXPECT_THROW(bad.validate(), Error);  // weights of its own too
  bad = b.g;
  bad.nodes[shared].shares = a_relu;
  EXPECT_THROW(bad.validate(), Error);  // not a conv
  bad = b.g;
  bad.nodes.back().act.kind = Activation::Kind::LeakyRelu;
  EXPECT_THROW(GraphExecutor(*ctx_, bad), Error);  // another fused activation than its owner's
}

// Two Winograd heads on the pooling at every offset (the bundled model's classifier and box
// regressor): their copies run as two batches, the second taking the first's input transform;
// every offset's maps are the reference's. Heads with other pads transform their own input.
TEST_F(GraphExecutorTest, SiblingWinogradHeadsShareTheirInputTransform) {
  for (const bool same_pads : {true, false}) {
    SCOPED_TRACE(same_pads);
    Builder b(41);
    const int trunk = b.relu(b.conv(0, 16, 3));
    const int pool = b.pool(trunk, graph::PoolParams::Kind::Max, 2, 2);
    const int scores = b.conv(b.relu(b.conv(pool, 20, 3, 1, 1)), 5, 1);
    const int boxes = b.conv(pool, 24, 3, 1, same_pads ? 1 : 0);  // no activation
    const OffsetGraph og = offset_graph(b.g, pool);
    ASSERT_EQ(og.k, 2);
    std::mt19937 rng(6);
    const Tensor in = testing::random_tensor(3, 19, 22, rng, -1, 1);
    const std::vector<Tensor> want = graph::ref::run(og.graph, in);
    std::vector<int> maps;
    for (int o = 0; o < 4; ++o) maps.insert(maps.end(), {og.node[o][scores], og.node[o][boxes]});
    GraphExecutor exec(*ctx_, og.graph);
    const auto got = exec.run(in, maps);
    EXPECT_EQ(exec.shared_input_transforms(), same_pads ? 1 : 0);
    for (int node : maps) EXPECT_LT(max_error(got.at(node), want[node]), 1e-4) << node;
  }
}

// offset_graph: the pooling at every offset, what follows it copied once per offset with shared
// weights, the rest once; a branch around the pooling is refused.
TEST(GraphDense, OffsetGraphCopiesWhatFollowsThePooling) {
  Builder b(5);
  const int trunk = b.relu(b.conv(0, 4, 3));
  const int pool = b.pool(trunk, graph::PoolParams::Kind::Max, 3, 3);
  const int head = b.relu(b.conv(pool, 6, 2));
  const int scores = b.conv(head, 3, 1);
  const int boxes = b.conv(pool, 4, 2);  // a second head on the pooling
  const int n = static_cast<int>(b.g.nodes.size());
  const OffsetGraph og = offset_graph(b.g, pool);
  ASSERT_EQ(og.k, 3);
  ASSERT_EQ(og.node.size(), 9u);
  EXPECT_EQ(static_cast<int>(og.graph.nodes.size()), n + 8 * (n - pool));
  EXPECT_NO_THROW(og.graph.validate());
  for (int o = 0; o < 9; ++o) {
    SCOPED_TRACE(o);
    EXPECT_EQ(og.node[o][trunk], trunk);  // the trunk once
    const Node& p = og.graph.nodes[og.node[o][pool]];
    EXPECT_EQ(p.pool.offset_y, o / 3);
    EXPECT_EQ(p.pool.offset_x, o % 3);
    for (int c : {scores, boxes}) {
      const Node& conv = og.graph.nodes[og.node[o][c]];
      EXPECT_EQ(conv.shares, o == 0 ? -1 : c);
      EXPECT_EQ(conv.conv.weights.empty(), o != 0);
    }
  }
  // Offset (dy, dx)'s head sees the pooling of the trunk's map cropped at (dy, dx): with a
  // trunk of valid convolutions, the graph's own output on the input cropped the same way.
  std::mt19937 rng(2);
  const Tensor in = testing::random_tensor(3, 17, 20, rng, -1, 1);
  const std::vector<Tensor> all = graph::ref::run(og.graph, in);
  for (int o = 0; o < 9; ++o) {
    const Tensor crop = image::crop(in, o / 3, o % 3, in.h - o / 3, in.w - o % 3);
    const std::vector<Tensor> want = graph::ref::run(b.g, crop);
    EXPECT_LT(max_error(all[og.node[o][scores]], want[scores]), 1e-6) << o;
    EXPECT_LT(max_error(all[og.node[o][boxes]], want[boxes]), 1e-6) << o;
  }
  Graph around = b.g;
  Node mix;
  mix.op = OpKind::Concat;
  mix.name = "mix";
  mix.inputs = {head, trunk};  // reads a map that does not shift with the pooling
  around.nodes.push_back(mix);
  EXPECT_THROW(offset_graph(around, pool), Error);
  EXPECT_THROW(offset_graph(b.g, trunk), Error);  // not a pooling
}

TEST(GraphDense, CellGeometryFollowsStridesPadsAndKernels) {
  Builder b(1);
  int x = b.conv(0, 4, 3, 1, 1);                      // same size: centres stay on pixels
  x = b.pool(x, graph::PoolParams::Kind::Max, 2, 2);  // cell 0 covers pixels 0-1
  x = b.conv(x, 4, 3, 2, 0);                          // cells 0-2 of the pooled map
  const CellGeometry g = cell_geometry(b.g, x);
  EXPECT_EQ(g.stride, 4);
  EXPECT_DOUBLE_EQ(g.center0, 1.0 + 1 * 2);  // the pooled cell 1's centre: pixels 2-3
  EXPECT_EQ(g.field, 1 + 2 + 1 + 2 * 2);
}

}  // namespace
}  // namespace overfeat
