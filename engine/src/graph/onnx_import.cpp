// SPDX-License-Identifier: MIT
// ONNX image classifiers as graphs (graph_onnx.hpp). The importer walks the file's nodes in
// topological order and keeps, for every ONNX value, either a map (a graph node, possibly seen
// through a Flatten/Reshape to [N, C*H*W]) or a constant (initializers, Constant nodes and the
// small shape subgraphs exporters write, folded here). Maps become graph nodes; BatchNormalization
// and constant biases fold into the convolution before them; Gemm/MatMul after a flatten become
// one convolution over the whole map. Everything read from the file is bounds-checked: the
// project fuzzes its loaders.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <tuple>
#include <variant>

#include "../model/onnx_common.hpp"
#include "overfeat/error.hpp"
#include "overfeat/files.hpp"
#include "overfeat/graph_onnx.hpp"

namespace overfeat::graph {
namespace {

namespace fs = std::filesystem;
using namespace onnx_common;
using onnx::TensorProto;

// Opsets before 7 too: the ONNX Model Zoo's oldest classics (opset 3), PyTorch's older exports
// and ONNX's own tests use them, and the ops read here mean the same there once the legacy forms
// are read (is_test, broadcast and axis, Reshape's shape attribute, Cast's type name, Concat's
// default axis).
constexpr int kMinOpset = 1, kMaxOpset = 17;
/// Folded constants (shapes, indices, bounds) hold at most this many values.
constexpr int64_t kMaxConstElements = 1 << 16;
/// Any channel count, spatial size, kernel, stride, dilation or pad larger than this is damage.
constexpr int64_t kMaxSize = 1 << 20;

constexpr const char* kSupported =
    "Conv, BatchNormalization, Relu, Clip, LeakyRelu, MaxPool, AveragePool, GlobalAveragePool, "
    "GlobalMaxPool, LRN, Add, Sum, Concat, Flatten, Reshape, Gemm, MatMul, Softmax, Dropout, "
    "Identity, Pad, Constant, Shape, Gather, Unsqueeze, Squeeze, Cast, Slice, ConstantOfShape, "
    "Transpose";

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// A constant: weights stay in the file (`proto`) until a node takes them as floats; small
/// constants (shapes, indices) are held as doubles in `v`, where NaN marks a size the file leaves
/// open (a symbolic H or W seen through Shape).
struct Const {
  std::vector<int64_t> dims;
  int type = TensorProto::FLOAT;  ///< the logical type (a Cast of a FLOAT16 weight is FLOAT)
  const TensorProto* proto = nullptr;
  std::vector<double> v;
};

/// A map computed from the image: graph node `node`, or its [N, C*H*W] flattened view.
/// A Pad waits for the Conv or AveragePool after it, which takes its zeros as pads of its own.
struct MapRef {
  int node = 0;
  bool flat = false;
  Pads pad;  ///< zeros around the node's map from Pad nodes, not yet taken by a window
};

bool any(const Pads& p) {
  return p.top || p.left || p.bottom || p.right;
}

Pads operator+(Pads a, const Pads& b) {
  return {a.top + b.top, a.left + b.left, a.bottom + b.bottom, a.right + b.right};
}

using Value = std::variant<MapRef, Const>;

/// A node's map size at the file's input size; h and w are -1 where the file leaves it open.
struct Dims {
  int c = 0, h = -1, w = -1;
  bool known() const { return h > 0 && w > 0; }
  bool one_by_one() const { return h == 1 && w == 1; }
};

float float_attr(const onnx::NodeProto& n, const std::string& name, float fallback) {
  const auto* a = find_attr(n, name);
  return a ? a->f() : fallback;
}

bool onnx_domain(const std::string& domain) {
  return domain.empty() || domain == "ai.onnx";
}

std::string hint_for(const std::string& op) {
  if (op == "LogSoftmax")
    return " Remove the LogSoftmax (the class with the largest logit is the same), or use "
           "Softmax.";
  if (op == "Mul" || op == "Sub" || op == "Div")
    return " Fold the arithmetic into the weights (e.g. mean/std normalization into the first "
           "conv) before exporting.";
  return " The classic ImageNet networks (AlexNet, VGG, GoogLeNet, Inception v3, ResNet, "
         "SqueezeNet, MobileNet v2, DenseNet) use only these.";
}

// ---------------------------------------------------------------------------------------------
// The importer
// ---------------------------------------------------------------------------------------------

class Importer {
 public:
  Importer(std::string shown, const onnx::ModelProto& proto)
      : file_(std::move(shown)), proto_(proto), g_(proto.graph()) {}

  ImportedGraph run() {
    ImportedGraph out;
    out.opset = opset_ = opset();
    for (const auto& p : proto_.metadata_props()) out.metadata[p.key()] = p.value();
    for (const auto& t : g_.initializer()) values_[t.name()] = initializer(t);
    input(out);
    const std::vector<const onnx::NodeProto*> order = sorted_nodes();
    count_consumers(order);
    for (const onnx::NodeProto* n : order) apply(*n);
    // After the nodes: their messages are more precise (a training-mode BatchNormalization
    // outputs its statistics too).
    if (g_.output_size() != 1)
      fail("the graph has " + std::to_string(g_.output_size()) +
           " outputs; the importer reads graphs of one output (the class scores)");
    out.output_name = g_.output(0).name();
    const auto it = values_.find(out.output_name);
    if (it == values_.end())
      fail("the graph's output '" + printable(out.output_name) + "' is not computed by any node");
    const auto* m = std::get_if<MapRef>(&it->second);
    if (!m)
      fail("the graph's output '" + printable(out.output_name) +
           "' is a constant; it must be computed from the input");
    if (any(m->pad))
      fail("the graph's output '" + printable(out.output_name) +
           "' is a padded map (a Pad at the end); the importer folds a Pad only into the Conv or "
           "AveragePool after it");
    graph_.output = m->node;
    out.graph = pruned();
    try {
      out.graph.validate();
    } catch (const Error& e) {
      fail(e.what());
    }
    return out;
  }

 private:
  // -- messages -------------------------------------------------------------------------------

  [[noreturn]] void fail(const std::string& what, const std::string& hint = "") const {
    throw WeightFileError("ONNX file " + file_ + ": " + what + "." + hint);
  }

  static std::string describe(const onnx::NodeProto& n) {
    if (!n.name().empty())
      return "node '" + printable(n.name()) + "' (" + printable(n.op_type()) + ")";
    if (n.output_size() > 0)
      return "the node producing '" + printable(n.output(0)) + "' (" + printable(n.op_type()) + ")";
    return "an unnamed node (" + printable(n.op_type()) + ")";
  }

  [[noreturn]] void node_fail(const onnx::NodeProto& n, const std::string& what,
                              const std::string& hint = "") const {
    fail(describe(n) + " " + what, hint);
  }

  // -- the file -------------------------------------------------------------------------------

  int opset() const {
    int version = -1;
    for (const auto& o : proto_.opset_import())
      if (onnx_domain(o.domain()))
        version = static_cast<int>(std::clamp<int64_t>(o.version(), -1, 1000));
    if (version < kMinOpset || version > kMaxOpset)
      fail("uses ONNX opset " + std::to_string(version) + "; the importer reads opsets " +
               std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset),
           " Convert it (python -m onnx.version_converter, or export again with "
           "opset_version=13).");
    return version;
  }

  static Value initializer(const TensorProto& t) {
    return Const{{t.dims().begin(), t.dims().end()}, t.data_type(), &t, {}};
  }

  /// The graph's one input that is not an initializer (old files list weights as inputs too).
  void input(ImportedGraph& out) {
    std::vector<const onnx::ValueInfoProto*> inputs;
    for (const auto& v : g_.input())
      if (!values_.count(v.name())) inputs.push_back(&v);
    if (inputs.size() != 1) {
      std::string names;
      for (const auto* v : inputs) names += (names.empty() ? " (" : ", ") + printable(v->name());
      fail("the graph has " + std::to_string(inputs.size()) + " inputs" +
           (names.empty() ? "" : names + ")") +
           "; the importer reads graphs of one input, the image [N, C, H, W]");
    }
    const onnx::ValueInfoProto& v = *inputs[0];
    const auto& type = v.type().tensor_type();
    const auto& shape = type.shape();
    const std::string what = "the graph input '" + printable(v.name()) + "'";
    if (!v.type().has_tensor_type() || type.elem_type() != TensorProto::FLOAT)
      fail(what + " is not a float tensor; the importer reads float images [N, C, H, W]");
    if (!type.has_shape() || shape.dim_size() != 4)
      fail(what + " has " +
           (type.has_shape() ? std::to_string(shape.dim_size()) + " dimensions" : "no shape") +
           "; the importer reads images [N, C, H, W]");
    const auto fixed = [&](int i) -> int64_t {
      const auto& d = shape.dim(i);
      if (!d.has_dim_value() || d.dim_value() <= 0) return -1;
      if (d.dim_value() > kMaxSize)
        fail(what + " has dimension " + std::to_string(i) + " of " + std::to_string(d.dim_value()) +
             "; at most " + std::to_string(kMaxSize));
      return d.dim_value();
    };
    // A symbolic batch is read as 1; a fixed one (ONNX's tests) as images run one at a time.
    batch_ = std::max<int64_t>(fixed(0), 1);
    const int64_t c = fixed(1), h = fixed(2), w = fixed(3);
    if (c <= 0) fail(what + " has no fixed channel count; export it with a fixed C");
    out.input_name = v.name();
    out.input_h = static_cast<int>(std::max<int64_t>(h, 0));
    out.input_w = static_cast<int>(std::max<int64_t>(w, 0));
    graph_.input_channels = static_cast<int>(c);
    Node node;
    node.name = v.name();
    node.op = OpKind::Input;
    graph_.nodes.push_back(node);
    dims_.push_back({static_cast<int>(c), static_cast<int>(h), static_cast<int>(w)});
    refs_.push_back(0);
    names_.insert(node.name);
    values_[v.name()] = MapRef{0, false};
  }

  /// The nodes in a topological order (ONNX requires the file's order to be one; a file that
  /// breaks the rule but has no cycle is still read, in the order closest to the file's).
  std::vector<const onnx::NodeProto*> sorted_nodes() const {
    const int count = g_.node_size();
    std::map<std::string, int> producer;
    for (int i = 0; i < count; ++i) {
      const auto& n = g_.node(i);
      if (n.output_size() == 0 || n.output(0).empty())
        node_fail(n, "has no output; every node must produce a named value");
      for (const auto& o : n.output()) {
        if (o.empty()) continue;
        if (values_.count(o) || !producer.emplace(o, i).second)
          node_fail(n, "outputs '" + printable(o) +
                           "', which another node or an initializer already defines");
      }
    }
    std::vector<std::vector<int>> users(count);
    std::vector<int> waiting(count, 0);
    for (int i = 0; i < count; ++i)
      for (const auto& in : g_.node(i).input()) {
        if (in.empty() || values_.count(in)) continue;
        const auto it = producer.find(in);
        if (it == producer.end())
          node_fail(g_.node(i), "reads '" + printable(in) +
                                    "', which is neither the input, an initializer nor the "
                                    "output of a node");
        users[it->second].push_back(i);
        ++waiting[i];
      }
    std::priority_queue<int, std::vector<int>, std::greater<>> ready;
    for (int i = 0; i < count; ++i)
      if (!waiting[i]) ready.push(i);
    std::vector<const onnx::NodeProto*> order;
    while (!ready.empty()) {
      const int i = ready.top();
      ready.pop();
      order.push_back(&g_.node(i));
      for (int u : users[i])
        if (--waiting[u] == 0) ready.push(u);
    }
    if (static_cast<int>(order.size()) != count)
      fail("the graph has a cycle; ONNX graphs are acyclic");
    return order;
  }

  /// How many nodes (and graph outputs) read each value. Shape reads no values, so it does not
  /// keep a convolution from absorbing the BatchNormalization after it.
  void count_consumers(const std::vector<const onnx::NodeProto*>& order) {
    for (const auto* n : order) {
      if (n->op_type() == "Shape") continue;
      for (const auto& in : n->input())
        if (!in.empty()) ++consumers_[in];
    }
    for (const auto& o : g_.output()) ++consumers_[o.name()];
  }

  int consumers(const std::string& value) const {
    const auto it = consumers_.find(value);
    return it == consumers_.end() ? 0 : it->second;
  }

  // -- values ---------------------------------------------------------------------------------

  static bool has_input(const onnx::NodeProto& n, int i) {
    return i < n.input_size() && !n.input(i).empty();
  }

  const Value& value(const onnx::NodeProto& n, int i) const {
    if (!has_input(n, i)) node_fail(n, "has no input " + std::to_string(i + 1));
    const auto it = values_.find(n.input(i));
    if (it == values_.end())  // sorted_nodes() makes this impossible; kept for safety
      node_fail(n, "reads '" + printable(n.input(i)) + "' before it is computed");
    return it->second;
  }

  bool is_map(const onnx::NodeProto& n, int i) const {
    return std::holds_alternative<MapRef>(value(n, i));
  }

  /// A map input; `padded_ok`: it may still carry a Pad's zeros (padded() gives its size).
  MapRef map_in(const onnx::NodeProto& n, int i, bool padded_ok = false) const {
    const auto* m = std::get_if<MapRef>(&value(n, i));
    if (!m)
      node_fail(n, "takes the constant '" + printable(n.input(i)) +
                       "' where the importer needs a map computed from the input");
    if (any(m->pad) && !padded_ok)
      node_fail(n, "reads the zero-padded map '" + printable(n.input(i)) +
                       "'; the importer folds a Pad only into the Conv or AveragePool after it");
    return *m;
  }

  /// A 4-D map (not a flattened view), as Conv and pooling need.
  MapRef map4_in(const onnx::NodeProto& n, int i, bool padded_ok = false) const {
    const MapRef m = map_in(n, i, padded_ok);
    if (m.flat)
      node_fail(n, "takes the flattened (2-D) value '" + printable(n.input(i)) +
                       "'; it needs an NCHW map");
    return m;
  }

  const Const& const_in(const onnx::NodeProto& n, int i) const {
    const auto* c = std::get_if<Const>(&value(n, i));
    if (!c)
      node_fail(n, "takes '" + printable(n.input(i)) +
                       "', which is computed from the input; the importer needs a constant "
                       "there (weights, a shape, bounds)");
    return *c;
  }

  /// The values of a small constant as doubles (NaN: a size the file leaves open).
  std::vector<double> small(const onnx::NodeProto& n, const Const& c) const {
    if (!c.proto) return c.v;
    const TensorProto& t = *c.proto;
    const std::string name = "'" + printable(t.name()) + "'";
    const auto count = count_of(c.dims);
    if (!count || *count > static_cast<uint64_t>(kMaxConstElements))
      node_fail(n, "computes on the constant " + name + " of shape " + join(c.dims) +
                       ", too large to evaluate while importing (at most " +
                       std::to_string(kMaxConstElements) + " values)");
    if (t.data_location() == TensorProto::EXTERNAL)
      node_fail(n, "reads " + name + " from an external data file; export the model as one file");
    const size_t want = static_cast<size_t>(*count);
    const std::string& raw = t.raw_data();
    std::vector<double> v;
    const auto from_raw = [&](auto sample) {
      using T = decltype(sample);
      if (raw.size() != want * sizeof(T)) return false;
      v.resize(want);
      for (size_t i = 0; i < want; ++i) {
        T x;
        std::memcpy(&x, raw.data() + i * sizeof(T), sizeof(T));
        v[i] = static_cast<double>(x);
      }
      return true;
    };
    const auto from = [&](const auto& field) {
      if (static_cast<size_t>(field.size()) != want) return false;
      v.assign(field.begin(), field.end());
      return true;
    };
    bool ok = false;
    switch (t.data_type()) {
      case TensorProto::FLOAT:
        ok = raw.empty() ? from(t.float_data()) : from_raw(float{});
        break;
      case TensorProto::DOUBLE:
        ok = raw.empty() ? from(t.double_data()) : from_raw(double{});
        break;
      case TensorProto::INT64:
        ok = raw.empty() ? from(t.int64_data()) : from_raw(int64_t{});
        break;
      case TensorProto::INT32:
        ok = raw.empty() ? from(t.int32_data()) : from_raw(int32_t{});
        break;
      case TensorProto::INT16:
        ok = raw.empty() ? from(t.int32_data()) : from_raw(int16_t{});
        break;
      case TensorProto::INT8:
        ok = raw.empty() ? from(t.int32_data()) : from_raw(int8_t{});
        break;
      case TensorProto::UINT8:
      case TensorProto::BOOL:
        ok = raw.empty() ? from(t.int32_data()) : from_raw(uint8_t{});
        break;
      case TensorProto::FLOAT16: {
        std::vector<float> f = halves(n, t, want);
        v.assign(f.begin(), f.end());
        ok = true;
        break;
      }
      default:
        node_fail(n, "reads the constant " + name + " of type " + type_name(t.data_type()) +
                         ", which the importer cannot evaluate");
    }
    if (!ok)
      node_fail(
          n, "reads the constant " + name + " whose data does not match its shape " + join(c.dims));
    return v;
  }

  /// Whole numbers of a small constant (shapes, axes, indices).
  std::vector<int64_t> ints_of(const onnx::NodeProto& n, const Const& c) const {
    std::vector<int64_t> out;
    for (double x : small(n, c)) {
      if (std::isnan(x))
        node_fail(n, "needs the input's height or width, which the file leaves open",
                  " Export the model with a fixed input size.");
      out.push_back(to_index(x));
    }
    return out;
  }

  static std::string type_name(int type) {
    if (!TensorProto::DataType_IsValid(type)) return "type " + std::to_string(type);
    return TensorProto::DataType_Name(static_cast<TensorProto::DataType>(type));
  }

  /// FLOAT16 data (raw_data: 2 bytes a value; or int32_data: one value's bits per int32).
  std::vector<float> halves(const onnx::NodeProto& n, const TensorProto& t, size_t count) const {
    const std::string& raw = t.raw_data();
    std::vector<float> v;
    if (!raw.empty() && raw.size() == count * 2) {
      v.resize(count);
      for (size_t i = 0; i < count; ++i) {
        uint16_t bits;
        std::memcpy(&bits, raw.data() + 2 * i, 2);
        v[i] = half_to_float(bits).value_or(std::numeric_limits<float>::quiet_NaN());
      }
    } else if (raw.empty() && static_cast<size_t>(t.int32_data_size()) == count) {
      v.resize(count);
      for (size_t i = 0; i < count; ++i)
        v[i] = half_to_float(static_cast<uint16_t>(t.int32_data(static_cast<int>(i)) & 0xffff))
                   .value_or(std::numeric_limits<float>::quiet_NaN());
    } else {
      node_fail(n, "has the float16 tensor '" + printable(t.name()) +
                       "' whose data does not match its shape " +
                       join({t.dims().begin(), t.dims().end()}));
    }
    return v;
  }

  /// The values of weights (any size) as float32: FLOAT, FLOAT16 or DOUBLE tensors, or folded
  /// constants. Every value must be finite.
  std::vector<float> floats(const onnx::NodeProto& n, const Const& c,
                            const std::string& what) const {
    const auto count = count_of(c.dims);
    if (!count)
      node_fail(n, "has " + what + " of shape " + join(c.dims) +
                       ", more values than a model file can hold");
    const size_t want = static_cast<size_t>(*count);
    std::vector<float> v;
    if (!c.proto) {
      v.assign(c.v.begin(), c.v.end());
    } else {
      const TensorProto& t = *c.proto;
      if (t.data_location() == TensorProto::EXTERNAL)
        node_fail(n, "has " + what + " in an external data file; export the model as one file");
      const std::string& raw = t.raw_data();
      if (t.data_type() == TensorProto::FLOAT) {
        if (raw.empty() && static_cast<size_t>(t.float_data_size()) == want) {
          v.assign(t.float_data().begin(), t.float_data().end());
        } else if (raw.size() == want * sizeof(float)) {
          static_assert(std::endian::native == std::endian::little, "raw_data is little-endian");
          v.resize(want);
          if (want) std::memcpy(v.data(), raw.data(), raw.size());
        }
      } else if (t.data_type() == TensorProto::FLOAT16) {
        v = halves(n, t, want);
      } else if (t.data_type() == TensorProto::DOUBLE) {
        if (want <= static_cast<size_t>(kMaxConstElements)) {
          const std::vector<double> d = small(n, c);
          v.assign(d.begin(), d.end());
        }
      } else {
        node_fail(n, "has " + what + " of type " + type_name(t.data_type()) +
                         "; the importer reads FLOAT or FLOAT16 weights");
      }
    }
    if (v.size() != want)
      node_fail(n, "has " + what + " whose data does not match its shape " + join(c.dims));
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]))
        node_fail(n, "has " + what + " holding " + (std::isnan(v[i]) ? "NaN" : "infinity") +
                         " at index " + std::to_string(i) + "; weights must be finite");
    return v;
  }

  /// One number of a scalar constant (Clip bounds, Dropout's training_mode).
  double scalar(const onnx::NodeProto& n, int i) const {
    const std::vector<double> v = small(n, const_in(n, i));
    if (v.size() != 1)
      node_fail(n, "takes '" + printable(n.input(i)) + "' with " + std::to_string(v.size()) +
                       " values where it needs one number");
    return v[0];
  }

  // -- producing values -----------------------------------------------------------------------

  /// The graph node's name: the ONNX node's name when it has one (what Netron shows as the
  /// node's name), otherwise its output's name; made unique with a suffix.
  std::string unique_name(const onnx::NodeProto& n) {
    const std::string base = n.name().empty() ? n.output(0) : n.name();
    std::string name = base;
    for (int i = 2; !names_.insert(name).second; ++i) name = base + "_" + std::to_string(i);
    return name;
  }

  MapRef add_node(const onnx::NodeProto& n, Node node, Dims d, bool flat) {
    node.name = unique_name(n);
    const int index = static_cast<int>(graph_.nodes.size());
    graph_.nodes.push_back(std::move(node));
    dims_.push_back(d);
    refs_.push_back(consumers(n.output(0)));
    const MapRef m{index, flat};
    values_[n.output(0)] = m;
    return m;
  }

  /// The node's output is the map `m` under another name (Identity, Dropout, a flatten).
  void alias(const onnx::NodeProto& n, MapRef m) {
    values_[n.output(0)] = m;
    refs_[m.node] += consumers(n.output(0)) - 1;
  }

  /// The node was absorbed into graph node `index` (a folded BatchNormalization or bias), which
  /// now computes the node's output and takes its name.
  void absorb(const onnx::NodeProto& n, int index, bool flat) {
    Node& node = graph_.nodes[index];
    names_.erase(node.name);
    node.name = unique_name(n);
    refs_[index] = consumers(n.output(0));
    values_[n.output(0)] = MapRef{index, flat};
  }

  void set_const(const onnx::NodeProto& n, Const c) {
    if (!c.proto && c.v.size() > static_cast<size_t>(kMaxConstElements))
      node_fail(n, "computes a constant of " + std::to_string(c.v.size()) +
                       " values, too large to evaluate while importing");
    values_[n.output(0)] = std::move(c);
  }

  /// True when graph node `index` is a convolution whose map only the node being read uses, so
  /// that it may absorb that node (BatchNormalization, a bias).
  bool sole_conv(int index) const {
    return graph_.nodes[index].op == OpKind::Conv && refs_[index] == 1;
  }

  // -- nodes ----------------------------------------------------------------------------------

  void apply(const onnx::NodeProto& n) {
    const std::string& op = n.op_type();
    if (!onnx_domain(n.domain()))
      node_fail(n,
                "of domain '" + printable(n.domain()) + "' is not supported; the importer reads " +
                    kSupported + " (default domain)",
                hint_for(op));
    dispatch(n);
    // After the node: its own message is more precise (a BatchNormalization in training mode
    // outputs its statistics too).
    for (int i = 1; i < n.output_size(); ++i)
      if (!n.output(i).empty() && consumers(n.output(i)) > 0)
        node_fail(n, "has its extra output '" + printable(n.output(i)) +
                         "' used; the importer reads only the first output of a node");
  }

  void dispatch(const onnx::NodeProto& n) {
    const std::string& op = n.op_type();
    if (op == "Conv") return conv(n);
    if (op == "BatchNormalization") return batch_norm(n);
    if (op == "Relu") return activation(n, {Activation::Kind::Relu});
    if (op == "LeakyRelu") {
      Activation a{Activation::Kind::LeakyRelu};
      a.alpha = float_attr(n, "alpha", 0.01f);
      if (!std::isfinite(a.alpha)) node_fail(n, "has an alpha that is not a finite number");
      return activation(n, a);
    }
    if (op == "Clip") return clip(n);
    if (op == "MaxPool") return pool(n, PoolParams::Kind::Max);
    if (op == "AveragePool") return pool(n, PoolParams::Kind::Average);
    if (op == "GlobalAveragePool") return global_pool(n, PoolParams::Kind::Average);
    if (op == "GlobalMaxPool") return global_pool(n, PoolParams::Kind::Max);
    if (op == "LRN") return lrn(n);
    if (op == "Add" || op == "Sum") return add(n);
    if (op == "Concat") return concat(n);
    if (op == "Flatten") return flatten(n);
    if (op == "Reshape") return reshape(n);
    if (op == "Gemm") return gemm(n);
    if (op == "MatMul") return matmul(n);
    if (op == "Softmax") return softmax(n);
    if (op == "Dropout") return dropout(n);
    if (op == "Identity") return pass_through(n);
    if (op == "Pad") return pad(n);
    if (op == "Constant") return constant(n);
    if (op == "Shape") return shape(n);
    if (op == "Cast") return cast(n);
    if (op == "Gather" || op == "Unsqueeze" || op == "Squeeze" || op == "Slice" ||
        op == "ConstantOfShape" || op == "Transpose")
      return fold(n);
    node_fail(n, "is not supported; the importer reads " + std::string(kSupported), hint_for(op));
  }

  /// A 2-value attribute (strides, dilations), each 1..kMaxSize.
  std::pair<int, int> pair_attr(const onnx::NodeProto& n, const std::string& name) const {
    const std::vector<int64_t> v = ints_attr(n, name, {1, 1});
    if (v.size() != 2 || v[0] < 1 || v[1] < 1 || v[0] > kMaxSize || v[1] > kMaxSize)
      node_fail(n, "has " + name + " " + join(v) + "; the importer needs two values from 1 to " +
                       std::to_string(kMaxSize) + " (2-D)");
    return {static_cast<int>(v[0]), static_cast<int>(v[1])};
  }

  /// Explicit pads or auto_pad's, for a window of extent kh x kw (dilation included).
  Pads pads_of(const onnx::NodeProto& n, Dims in, int64_t kh, int64_t kw, int sh, int sw) const {
    const std::string mode = string_attr(n, "auto_pad");
    if (mode.empty() || mode == "NOTSET") {
      const std::vector<int64_t> v = ints_attr(n, "pads", {0, 0, 0, 0});
      if (v.size() != 4 ||
          std::any_of(v.begin(), v.end(), [](int64_t p) { return p < 0 || p > kMaxSize; }))
        node_fail(n, "has pads " + join(v) + "; the importer needs four values from 0 to " +
                         std::to_string(kMaxSize) + " (2-D: top, left, bottom, right)");
      return {static_cast<int>(v[0]), static_cast<int>(v[1]), static_cast<int>(v[2]),
              static_cast<int>(v[3])};
    }
    if (mode == "VALID") return {};
    if (mode != "SAME_UPPER" && mode != "SAME_LOWER")
      node_fail(n, "has auto_pad '" + printable(mode) +
                       "'; the importer reads NOTSET, SAME_UPPER, SAME_LOWER and VALID");
    // SAME: the output is ceil(in / stride); the pads that give it depend on the input size
    // unless the stride is 1. The graph keeps the pads of the file's input size.
    const auto total = [&](int size, int64_t k, int s) -> int64_t {
      if (size < 0) {
        if (s != 1)
          node_fail(n,
                    "pads 'SAME' with stride " + std::to_string(s) +
                        " on a map whose size the file leaves open",
                    " Export the model with a fixed input size or explicit pads.");
        return k - 1;
      }
      const int64_t out = (size + s - 1) / s;
      return std::max<int64_t>(0, (out - 1) * s + k - size);
    };
    const int64_t th = total(in.h, kh, sh), tw = total(in.w, kw, sw);
    if (th > kMaxSize || tw > kMaxSize) node_fail(n, "needs pads larger than the importer reads");
    const bool upper = mode == "SAME_UPPER";
    const auto first = [&](int64_t t) { return static_cast<int>(upper ? t / 2 : t - t / 2); };
    return {first(th), first(tw), static_cast<int>(th - first(th)),
            static_cast<int>(tw - first(tw))};
  }

  /// Output size along one axis at the file's input size (-1 where open); fails when the file's
  /// own input is too small for the window.
  int out_size(const onnx::NodeProto& n, int in, int k, int s, int d, int pb, int pe,
               bool ceil_mode) const {
    if (in < 0) return -1;
    const int out = window_output(in, k, s, d, pb, pe, ceil_mode);
    if (out <= 0)
      node_fail(n, "has a window larger than its padded input (" + std::to_string(in) +
                       " pixels) at the file's input size");
    return out;
  }

  /// The size of `m` with the zeros of the Pads before it.
  Dims padded(MapRef m) const {
    Dims d = dims_[m.node];
    if (d.h > 0) d.h += m.pad.top + m.pad.bottom;
    if (d.w > 0) d.w += m.pad.left + m.pad.right;
    return d;
  }

  void conv(const onnx::NodeProto& n) {
    const MapRef x = map4_in(n, 0, true);
    const Dims in = padded(x);
    const Const& wc = const_in(n, 1);
    const std::vector<int64_t>& wd = wc.dims;
    if (wd.size() != 4 ||
        std::any_of(wd.begin(), wd.end(), [](int64_t d) { return d < 1 || d > kMaxSize; }))
      node_fail(n, "has weights of shape " + join(wd) +
                       "; the importer reads 2-D convolutions, weights [M, C/group, kH, kW]");
    const int64_t group = int_attr(n, "group", 1);
    if (group < 1 || group > in.c || in.c % group || wd[0] % group || wd[1] * group != in.c)
      node_fail(n, "has weights " + join(wd) + " in " + std::to_string(group) +
                       " groups for an input of " + std::to_string(in.c) + " channels");
    if (find_attr(n, "kernel_shape") &&
        ints_attr(n, "kernel_shape", {}) != std::vector{wd[2], wd[3]})
      node_fail(n, "has kernel_shape " + join(ints_attr(n, "kernel_shape", {})) +
                       " that differs from its weights " + join(wd));
    ConvParams p;
    p.out_channels = static_cast<int>(wd[0]);
    p.in_channels = in.c;
    p.groups = static_cast<int>(group);
    p.kh = static_cast<int>(wd[2]);
    p.kw = static_cast<int>(wd[3]);
    std::tie(p.stride_h, p.stride_w) = pair_attr(n, "strides");
    std::tie(p.dilation_h, p.dilation_w) = pair_attr(n, "dilations");
    p.pads = pads_of(n, in, (p.kh - 1) * int64_t{p.dilation_h} + 1,
                     (p.kw - 1) * int64_t{p.dilation_w} + 1, p.stride_h, p.stride_w);
    p.weights = floats(n, wc, "weights '" + printable(n.input(1)) + "'");
    p.bias.assign(static_cast<size_t>(p.out_channels), 0.0f);
    if (has_input(n, 2)) {
      const Const& b = const_in(n, 2);
      if (b.dims != std::vector<int64_t>{wd[0]})
        node_fail(n, "has a bias of shape " + join(b.dims) + " for " + std::to_string(wd[0]) +
                         " output channels");
      p.bias = floats(n, b, "bias '" + printable(n.input(2)) + "'");
    }
    Dims out{p.out_channels,
             out_size(n, in.h, p.kh, p.stride_h, p.dilation_h, p.pads.top, p.pads.bottom, false),
             out_size(n, in.w, p.kw, p.stride_w, p.dilation_w, p.pads.left, p.pads.right, false)};
    p.pads = p.pads + x.pad;  // a Pad before the conv: more zeros, the same output
    Node node;
    node.op = OpKind::Conv;
    node.inputs = {x.node};
    node.conv = std::move(p);
    add_node(n, std::move(node), out, false);
  }

  /// The graph node whose channels a per-channel op acts on: a map, or the flattened view of a
  /// 1x1 map (where the flattened axis is the channels).
  int per_channel_node(const onnx::NodeProto& n, MapRef m) const {
    const Dims d = dims_[m.node];
    if (m.flat && !d.one_by_one())
      node_fail(n, "acts on a flattened map of " + std::to_string(d.c) + " channels of " +
                       std::to_string(d.h) + "x" + std::to_string(d.w) +
                       " pixels; the importer reads per-channel ops on maps or on 1x1 maps");
    return m.node;
  }

  /// A depthwise 1x1 convolution: y = scale[c] * x + shift[c].
  void channel_affine(const onnx::NodeProto& n, MapRef m, std::vector<float> scale,
                      std::vector<float> shift) {
    const Dims d = dims_[m.node];
    Node node;
    node.op = OpKind::Conv;
    node.inputs = {m.node};
    node.conv.out_channels = node.conv.in_channels = node.conv.groups = d.c;
    node.conv.weights = std::move(scale);
    node.conv.bias = std::move(shift);
    add_node(n, std::move(node), d, m.flat);
  }

  void batch_norm(const onnx::NodeProto& n) {
    const MapRef x = map_in(n, 0);
    const int target = per_channel_node(n, x);
    if (int_attr(n, "training_mode", 0) != 0)
      node_fail(n, "is in training mode; the importer reads inference models",
                " Export the model in eval mode (model.eval()).");
    if (opset_ < 7 && int_attr(n, "is_test", 0) == 0)
      node_fail(n, "is in training mode (is_test 0); the importer reads inference models",
                " Export the model in eval mode (model.eval()).");
    if (opset_ < 9 && int_attr(n, "spatial", 1) != 1)
      node_fail(n,
                "normalizes per pixel (spatial 0); the importer reads per-channel "
                "normalization");
    const int c = dims_[target].c;
    std::vector<std::vector<float>> p;  // scale, bias, mean, variance
    const char* names[] = {"scale", "bias", "mean", "variance"};
    for (int i = 1; i <= 4; ++i) {
      const Const& t = const_in(n, i);
      if (t.dims != std::vector<int64_t>{c})
        node_fail(n, "has a " + std::string(names[i - 1]) + " of shape " + join(t.dims) + " for " +
                         std::to_string(c) + " channels");
      p.push_back(floats(n, t, names[i - 1] + std::string(" '") + printable(n.input(i)) + "'"));
    }
    const double eps = float_attr(n, "epsilon", 1e-5f);
    std::vector<float> scale(c), shift(c);
    for (int k = 0; k < c; ++k) {
      const double var = static_cast<double>(p[3][k]) + eps;
      if (!(var > 0)) node_fail(n, "has a variance plus epsilon that is not positive");
      const double s = p[0][k] / std::sqrt(var);
      scale[k] = static_cast<float>(s);
      shift[k] = static_cast<float>(p[1][k] - p[2][k] * s);
    }
    if (sole_conv(target)) {  // w' = w * s, b' = b * s + shift, per output channel
      ConvParams& cp = graph_.nodes[target].conv;
      const size_t per = cp.weights.size() / static_cast<size_t>(cp.out_channels);
      for (int o = 0; o < cp.out_channels; ++o) {
        for (size_t i = 0; i < per; ++i)
          cp.weights[o * per + i] = static_cast<float>(cp.weights[o * per + i] * double{scale[o]});
        cp.bias[o] = static_cast<float>(cp.bias[o] * double{scale[o]} + shift[o]);
      }
      return absorb(n, target, x.flat);
    }
    channel_affine(n, x, std::move(scale), std::move(shift));
  }

  void activation(const onnx::NodeProto& n, Activation act) {
    if (const auto* c = std::get_if<Const>(&value(n, 0))) {  // rare: fold
      Const out = *c;
      out.v = small(n, *c);
      out.proto = nullptr;
      for (double& v : out.v) v = act.apply(static_cast<float>(v));
      return set_const(n, std::move(out));
    }
    const MapRef x = map_in(n, 0);
    Node node;
    node.op = OpKind::Activation;
    node.inputs = {x.node};
    node.act = act;
    add_node(n, std::move(node), dims_[x.node], x.flat);
  }

  void clip(const onnx::NodeProto& n) {
    Activation a{Activation::Kind::Clip};
    constexpr float inf = std::numeric_limits<float>::infinity();
    if (opset_ < 11) {
      a.lo = float_attr(n, "min", -inf);
      a.hi = float_attr(n, "max", inf);
    } else {
      a.lo = has_input(n, 1) ? static_cast<float>(scalar(n, 1)) : -inf;
      a.hi = has_input(n, 2) ? static_cast<float>(scalar(n, 2)) : inf;
    }
    if (std::isnan(a.lo) || std::isnan(a.hi) || a.lo > a.hi)
      node_fail(n, "clips to an empty range or NaN");
    activation(n, a);
  }

  void pool(const onnx::NodeProto& n, PoolParams::Kind kind) {
    const MapRef x = map4_in(n, 0, kind == PoolParams::Kind::Average);
    const Dims in = padded(x);
    const std::vector<int64_t> k = ints_attr(n, "kernel_shape", {});
    if (k.size() != 2 || k[0] < 1 || k[1] < 1 || k[0] > kMaxSize || k[1] > kMaxSize)
      node_fail(n, "has kernel_shape " + join(k) + "; the importer reads 2-D pooling");
    const std::vector<int64_t> dilations = ints_attr(n, "dilations", {1, 1});
    if (std::any_of(dilations.begin(), dilations.end(), [](int64_t d) { return d != 1; }))
      node_fail(
          n, "has dilations " + join(dilations) + "; the importer reads pooling without dilation");
    if (int_attr(n, "storage_order", 0) != 0)
      node_fail(n,
                "has storage_order 1 (column-major indices); the importer reads row-major "
                "pooling only");
    PoolParams p;
    p.kind = kind;
    p.kh = static_cast<int>(k[0]);
    p.kw = static_cast<int>(k[1]);
    std::tie(p.stride_h, p.stride_w) = pair_attr(n, "strides");
    p.pads = pads_of(n, in, p.kh, p.kw, p.stride_h, p.stride_w);
    p.ceil_mode = int_attr(n, "ceil_mode", 0) != 0;
    p.count_include_pad = int_attr(n, "count_include_pad", 0) != 0;
    if (p.pads.top >= p.kh || p.pads.bottom >= p.kh || p.pads.left >= p.kw || p.pads.right >= p.kw)
      node_fail(n, "has pads not smaller than its kernel (windows of padding only)");
    Dims out{in.c, out_size(n, in.h, p.kh, p.stride_h, 1, p.pads.top, p.pads.bottom, p.ceil_mode),
             out_size(n, in.w, p.kw, p.stride_w, 1, p.pads.left, p.pads.right, p.ceil_mode)};
    if (any(x.pad)) {
      // torch writes AvgPool2d(count_include_pad=True) as Pad + AveragePool: the zeros count in
      // the divisor, as pads do with count_include_pad. Own pads that do not count, or ceil
      // mode (its rule looks at the leading pad only), would mean something else.
      if ((any(p.pads) && !p.count_include_pad) || p.ceil_mode)
        node_fail(n,
                  "averages a zero-padded map (Pad) with pads of its own that do not count or "
                  "with ceil_mode; the importer reads Pad + AveragePool without them");
      p.pads = p.pads + x.pad;
      p.count_include_pad = true;
      if (p.pads.top >= p.kh || p.pads.bottom >= p.kh || p.pads.left >= p.kw ||
          p.pads.right >= p.kw)
        node_fail(n, "averages over a Pad's zeros as wide as its kernel (windows of zeros only)");
    }
    Node node;
    node.op = OpKind::Pool;
    node.inputs = {x.node};
    node.pool = p;
    add_node(n, std::move(node), out, false);
  }

  void global_pool(const onnx::NodeProto& n, PoolParams::Kind kind) {
    const MapRef x = map4_in(n, 0);
    Node node;
    node.op = OpKind::GlobalPool;
    node.inputs = {x.node};
    node.pool.kind = kind;
    add_node(n, std::move(node), {dims_[x.node].c, 1, 1}, false);
  }

  void lrn(const onnx::NodeProto& n) {
    const MapRef x = map4_in(n, 0);
    Node node;
    node.op = OpKind::Lrn;
    node.inputs = {x.node};
    const int64_t size = int_attr(n, "size", 0);
    if (size < 1 || size > kMaxSize) node_fail(n, "has size " + std::to_string(size));
    node.lrn.size = static_cast<int>(size);
    node.lrn.alpha = float_attr(n, "alpha", 1e-4f);
    node.lrn.beta = float_attr(n, "beta", 0.75f);
    node.lrn.bias = float_attr(n, "bias", 1.0f);
    if (!std::isfinite(node.lrn.alpha) || !std::isfinite(node.lrn.beta) ||
        !std::isfinite(node.lrn.bias))
      node_fail(n, "has an alpha, beta or bias that is not a finite number");
    add_node(n, std::move(node), dims_[x.node], false);
  }

  /// The per-channel values of the constant `b` added to the map `m`: a scalar, or a shape that
  /// broadcasts along everything but the channels ([C, 1, 1], [1, C, 1, 1]; [C] or [1, C] on a
  /// flattened 1x1 map; before opset 7, [C] with broadcast 1 and axis 1).
  std::vector<float> per_channel(const onnx::NodeProto& n, const Const& b, MapRef m) const {
    const int c = dims_[m.node].c;
    const size_t rank = m.flat ? 2 : 4;
    if (b.dims.size() > rank)
      node_fail(n, "adds a constant of shape " + join(b.dims) + " to a map of rank " +
                       std::to_string(rank));
    std::vector<int64_t> aligned(rank, 1);
    size_t first = rank - b.dims.size();  // numpy broadcasting: aligned to the right
    if (opset_ < 7 && int_attr(n, "broadcast", 0) != 0 && find_attr(n, "axis")) {
      const int64_t axis = int_attr(n, "axis", 0);
      if (axis < 0 || static_cast<size_t>(axis) + b.dims.size() > rank)
        node_fail(n, "broadcasts at axis " + std::to_string(axis));
      first = static_cast<size_t>(axis);
    }
    for (size_t i = 0; i < b.dims.size(); ++i) aligned[first + i] = b.dims[i];
    for (size_t i = 0; i < rank; ++i)
      if (aligned[i] != 1 && !(i == 1 && aligned[i] == c))
        node_fail(n, "adds a constant of shape " + join(b.dims) + " to a map of " +
                         std::to_string(c) +
                         " channels; the importer reads constants that are one number per "
                         "channel (a bias)");
    const std::vector<float> v = floats(n, b, "a constant of shape " + join(b.dims));
    if (v.size() == static_cast<size_t>(c)) return v;
    if (v.size() != 1) node_fail(n, "adds a constant whose data does not match its shape");
    return std::vector<float>(static_cast<size_t>(c), v[0]);
  }

  void add(const onnx::NodeProto& n) {
    const bool sum = n.op_type() == "Sum";
    if (sum && n.input_size() == 1) return pass_through(n);
    if (n.input_size() != 2)
      node_fail(
          n, "has " + std::to_string(n.input_size()) + " inputs; the importer reads sums of two");
    const bool a_map = is_map(n, 0), b_map = is_map(n, 1);
    if (!a_map && !b_map) return set_const(n, add_constants(n));
    if (a_map && b_map) return add_maps(n, map_in(n, 0), map_in(n, 1));
    const MapRef m = map_in(n, a_map ? 0 : 1);
    const Const& b = const_in(n, a_map ? 1 : 0);
    const int target = per_channel_node(n, m);
    std::vector<float> bias = per_channel(n, b, m);
    if (sole_conv(target)) {
      std::vector<float>& cb = graph_.nodes[target].conv.bias;
      for (size_t i = 0; i < cb.size(); ++i) cb[i] += bias[i];
      return absorb(n, target, m.flat);
    }
    channel_affine(n, m, std::vector<float>(bias.size(), 1.0f), std::move(bias));
  }

  void add_maps(const onnx::NodeProto& n, MapRef a, MapRef b) {
    const Dims da = dims_[a.node], db = dims_[b.node];
    if (a.flat != b.flat || da.c != db.c || da.h != db.h || da.w != db.w)
      node_fail(n, "adds maps of different shapes (" + std::to_string(da.c) + "x" +
                       std::to_string(da.h) + "x" + std::to_string(da.w) + " and " +
                       std::to_string(db.c) + "x" + std::to_string(db.h) + "x" +
                       std::to_string(db.w) + (a.flat != b.flat ? ", one flattened" : "") +
                       "); the importer reads sums of maps of the same shape, not broadcasting");
    Node node;
    node.op = OpKind::Add;
    node.inputs = {a.node, b.node};
    add_node(n, std::move(node), da, a.flat);
  }

  Const add_constants(const onnx::NodeProto& n) const {
    const Const& a = const_in(n, 0);
    const Const& b = const_in(n, 1);
    std::vector<double> va = small(n, a), vb = small(n, b);
    Const out{a.dims, a.type, nullptr, {}};
    if (vb.size() == 1 || va.size() == vb.size()) {
      for (size_t i = 0; i < va.size(); ++i) out.v.push_back(va[i] + vb[vb.size() == 1 ? 0 : i]);
    } else if (va.size() == 1) {
      out.dims = b.dims;
      for (double x : vb) out.v.push_back(va[0] + x);
    } else {
      node_fail(n, "adds constants of shapes " + join(a.dims) + " and " + join(b.dims));
    }
    return out;
  }

  void concat(const onnx::NodeProto& n) {
    if (n.input_size() < 1) node_fail(n, "has no inputs");
    bool maps = false, consts = false;
    for (int i = 0; i < n.input_size(); ++i) (is_map(n, i) ? maps : consts) = true;
    if (!maps) return set_const(n, concat_constants(n));
    if (consts)
      node_fail(n, "concatenates maps with constants; the importer reads concatenations of maps");
    const int64_t axis = int_attr(n, "axis", 1);
    if (axis != 1 && axis != -3)
      node_fail(n, "concatenates along axis " + std::to_string(axis) +
                       "; the importer reads concatenations of channels (axis 1)");
    Node node;
    node.op = OpKind::Concat;
    Dims out = dims_[map4_in(n, 0).node];
    out.c = 0;
    for (int i = 0; i < n.input_size(); ++i) {
      const MapRef m = map4_in(n, i);
      const Dims d = dims_[m.node];
      if (d.h != out.h || d.w != out.w)
        node_fail(n, "concatenates maps of different sizes (" + std::to_string(out.h) + "x" +
                         std::to_string(out.w) + " and " + std::to_string(d.h) + "x" +
                         std::to_string(d.w) + ")");
      if (out.c + int64_t{d.c} > kMaxSize) node_fail(n, "has too many channels");
      out.c += d.c;
      node.inputs.push_back(m.node);
    }
    add_node(n, std::move(node), out, false);
  }

  /// The shape of a map's value as ONNX sees it: [N, C, H, W], or [N, C*H*W] when flattened
  /// (-1 where the file leaves a size open).
  std::vector<int64_t> onnx_dims(MapRef m) const {
    const Dims d = padded(m);
    if (!m.flat) return {batch_, d.c, d.h, d.w};
    return {batch_, d.known() ? int64_t{d.c} * d.h * d.w : -1};
  }

  void flatten(const onnx::NodeProto& n) {
    if (const auto* c = std::get_if<Const>(&value(n, 0))) {
      int64_t axis = int_attr(n, "axis", 1);
      const int64_t rank = static_cast<int64_t>(c->dims.size());
      if (axis < 0) axis += rank;
      if (axis < 0 || axis > rank) node_fail(n, "has axis " + std::to_string(axis));
      Const out = *c;
      out.dims = {product(n, c->dims, 0, axis), product(n, c->dims, axis, rank)};
      return set_const(n, std::move(out));
    }
    const MapRef m = map_in(n, 0);
    int64_t axis = int_attr(n, "axis", 1);
    if (axis < 0) axis += m.flat ? 2 : 4;
    if (axis != 1)
      node_fail(n, "flattens at axis " + std::to_string(int_attr(n, "axis", 1)) +
                       "; the importer reads Flatten at axis 1 ([N, C*H*W])");
    alias(n, MapRef{m.node, true});
  }

  void reshape(const onnx::NodeProto& n) {
    // Before opset 5 the target shape is an attribute.
    std::vector<int64_t> target =
        opset_ < 5 ? ints_attr(n, "shape", {}) : ints_of(n, const_in(n, 1));
    const bool allow_zero = opset_ >= 14 && int_attr(n, "allowzero", 0) != 0;
    if (const auto* c = std::get_if<Const>(&value(n, 0))) {
      Const out = *c;
      out.dims = resolve_shape(n, c->dims, target, allow_zero);
      return set_const(n, std::move(out));
    }
    const MapRef m = map_in(n, 0);
    const std::vector<int64_t> in = onnx_dims(m);
    const Dims d = dims_[m.node];
    for (size_t i = 0; i < target.size(); ++i)
      if (target[i] == 0 && !allow_zero && i < in.size()) target[i] = in[i];
    const auto refuse = [&] {
      node_fail(n, "reshapes " + join(in) + " to " + join(target) +
                       "; the importer reads reshapes to [N, -1] or [N, C*H*W] (a flatten) and "
                       "reshapes that keep the shape");
    };
    if (std::count(target.begin(), target.end(), -1) > 1) refuse();
    const int64_t k = d.known() ? int64_t{d.c} * d.h * d.w : -1;
    if (target.size() == 2) {  // a flatten: [N, -1], [N, K] or [-1, K]
      const bool n_ok = target[0] == batch_ || (target[0] == -1 && target[1] != -1);
      const bool k_ok =
          target[1] == -1 || (k > 0 ? target[1] == k : target[1] > 0 && target[1] % d.c == 0);
      if (!n_ok || !k_ok) refuse();
      return alias(n, MapRef{m.node, true});
    }
    if (target.size() == 4 && d.known()) {  // the same [N, C, H, W], or a 1x1 map unflattened
      if (m.flat && !d.one_by_one()) refuse();
      const std::vector<int64_t> same = {batch_, d.c, d.h, d.w};
      for (size_t i = 0; i < 4; ++i)
        if (target[i] != same[i] && target[i] != -1) refuse();
      return alias(n, MapRef{m.node, false});
    }
    refuse();
  }

  /// ONNX Reshape's target dims for a constant of `dims` (0 copies, -1 infers).
  std::vector<int64_t> resolve_shape(const onnx::NodeProto& n, const std::vector<int64_t>& dims,
                                     std::vector<int64_t> t, bool allow_zero) const {
    const auto count = count_of(dims);
    int infer = -1;
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] == 0 && !allow_zero) {
        if (i >= dims.size())
          node_fail(n, "copies dimension " + std::to_string(i) + " of a rank " +
                           std::to_string(dims.size()) + " tensor");
        t[i] = dims[i];
      }
      if (t[i] == -1) {
        if (infer >= 0) node_fail(n, "has two -1 in its shape " + join(t));
        infer = static_cast<int>(i);
      } else if (t[i] < 0 || t[i] > kMaxConstElements) {
        node_fail(n, "reshapes a constant to " + join(t));
      }
    }
    // The product of the given sizes, checked: with a 0 among them, the others may multiply
    // past int64 ([2^16, 2^16, 2^16, 2^16, 0]).
    std::vector<int64_t> given;
    for (size_t i = 0; i < t.size(); ++i)
      if (static_cast<int>(i) != infer) given.push_back(t[i]);
    const auto known_count = count_of(given);
    if (!known_count) node_fail(n, "reshapes a constant to " + join(t));
    const int64_t known = static_cast<int64_t>(*known_count);
    if (!count) node_fail(n, "reshapes a constant of shape " + join(dims));
    if (infer >= 0) {
      if (known == 0 || static_cast<int64_t>(*count) % known)
        node_fail(n, "cannot reshape " + join(dims) + " to " + join(t));
      t[infer] = static_cast<int64_t>(*count) / known;
    } else if (static_cast<uint64_t>(known) != *count) {
      node_fail(n, "cannot reshape " + join(dims) + " to " + join(t));
    }
    return t;
  }

  /// Gemm or MatMul after a flatten: one convolution whose kernel covers the map (OverFeat's
  /// "fully connected as convolution"), so the graph still slides over larger inputs.
  /// `w` holds b[k_out][k_in] (trans_b) or b[k_in][k_out].
  void fully_connected(const onnx::NodeProto& n, MapRef a, const Const& b, bool trans_b,
                       float alpha, std::vector<float> bias) {
    if (!a.flat)
      node_fail(n,
                "multiplies a 4-D map; the importer reads Gemm/MatMul on a flattened map "
                "(Flatten or Reshape to [N, -1] before it)");
    if (b.dims.size() != 2 || b.dims[0] < 1 || b.dims[1] < 1 || b.dims[0] > kMaxSize * kMaxSize ||
        b.dims[1] > kMaxSize * kMaxSize)
      node_fail(n, "has weights of shape " + join(b.dims) + "; a matrix is needed");
    const int64_t k_out = trans_b ? b.dims[0] : b.dims[1], k_in = trans_b ? b.dims[1] : b.dims[0];
    const Dims d = dims_[a.node];
    int64_t kh = d.h, kw = d.w;
    if (d.known()) {
      if (int64_t{d.c} * d.h * d.w != k_in)
        node_fail(n, "multiplies a flattened map of " + std::to_string(d.c) + "x" +
                         std::to_string(d.h) + "x" + std::to_string(d.w) +
                         " values by weights for " + std::to_string(k_in) + " inputs");
    } else {
      // The file leaves the input size open: the map is square, of k_in / C pixels.
      const int64_t pixels = k_in % d.c ? -1 : k_in / d.c;
      kh = kw = pixels > 0 ? std::llround(std::sqrt(static_cast<double>(pixels))) : -1;
      if (pixels <= 0 || kh * kw != pixels)
        node_fail(n,
                  "multiplies a flattened map of " + std::to_string(d.c) +
                      " channels, whose size the file leaves open, by weights for " +
                      std::to_string(k_in) + " inputs",
                  " Export the model with a fixed input size.");
    }
    if (k_out > kMaxSize) node_fail(n, "has " + std::to_string(k_out) + " outputs");
    std::vector<float> w = floats(n, b, "weights '" + printable(n.input(1)) + "'");
    if (!trans_b) {  // [k_in][k_out] -> [k_out][k_in]
      std::vector<float> t(w.size());
      for (int64_t i = 0; i < k_in; ++i)
        for (int64_t o = 0; o < k_out; ++o) t[o * k_in + i] = w[i * k_out + o];
      w = std::move(t);
    }
    if (alpha != 1.0f)
      for (float& v : w) v *= alpha;
    if (bias.empty()) bias.assign(static_cast<size_t>(k_out), 0.0f);
    Node node;
    node.op = OpKind::Conv;
    node.inputs = {a.node};
    ConvParams& p = node.conv;
    p.out_channels = static_cast<int>(k_out);
    p.in_channels = d.c;
    p.kh = static_cast<int>(kh);
    p.kw = static_cast<int>(kw);
    p.weights = std::move(w);  // [out][C*H*W] is [out][C][H][W]
    p.bias = std::move(bias);
    add_node(n, std::move(node), {p.out_channels, 1, 1}, true);
  }

  void gemm(const onnx::NodeProto& n) {
    if (int_attr(n, "transA", 0) != 0)
      node_fail(n, "has transA 1; the importer reads Gemm of a flattened map (transA 0)");
    const bool trans_b = int_attr(n, "transB", 0) != 0;
    const float alpha = float_attr(n, "alpha", 1.0f), beta = float_attr(n, "beta", 1.0f);
    if (!std::isfinite(alpha) || !std::isfinite(beta))
      node_fail(n, "has an alpha or beta that is not a finite number");
    const MapRef a = map_in(n, 0);
    const Const& b = const_in(n, 1);
    std::vector<float> bias;
    if (has_input(n, 2)) {
      const Const& c = const_in(n, 2);
      const int64_t k_out = b.dims.size() == 2 ? b.dims[trans_b ? 0 : 1] : 0;
      const bool per_output = c.dims.empty() || c.dims == std::vector<int64_t>{1} ||
                              c.dims == std::vector<int64_t>{k_out} ||
                              c.dims == std::vector<int64_t>{1, k_out} ||
                              c.dims == std::vector<int64_t>{1, 1};
      if (!per_output || k_out < 1)
        node_fail(n, "has a bias C of shape " + join(c.dims) +
                         "; the importer reads one bias per output");
      bias = floats(n, c, "bias '" + printable(n.input(2)) + "'");
      if (bias.size() == 1) bias.assign(static_cast<size_t>(k_out), bias[0]);
      for (float& v : bias) v *= beta;
    }
    fully_connected(n, a, b, trans_b, alpha, std::move(bias));
  }

  void matmul(const onnx::NodeProto& n) {
    fully_connected(n, map_in(n, 0), const_in(n, 1), false, 1.0f, {});
  }

  void softmax(const onnx::NodeProto& n) {
    const MapRef m = map_in(n, 0);
    const Dims d = dims_[m.node];
    const int rank = m.flat ? 2 : 4;
    const int64_t given = int_attr(n, "axis", opset_ < 13 ? 1 : -1);
    const int64_t axis = given < 0 ? given + rank : given;
    // Before opset 13 Softmax flattens from `axis` on: axis 1 of a 4-D map is over C*H*W, and
    // so is axis 1 of a flattened map; either is over the channels only when the map is 1x1.
    const bool channels = axis == 1 && ((rank == 4 && opset_ >= 13) || d.one_by_one());
    if (!channels)
      node_fail(n,
                "is a softmax over axis " + std::to_string(given) + " of a " +
                    (m.flat ? "flattened map" : "4-D map") + " of " + std::to_string(d.c) + "x" +
                    std::to_string(d.h) + "x" + std::to_string(d.w) + " (opset " +
                    std::to_string(opset_) + "); the importer reads softmax over the channels",
                opset_ < 13 && rank == 4 ? " Before opset 13 axis 1 means over C*H*W; export "
                                           "with opset 13 for a softmax over the channels."
                                         : "");
    Node node;
    node.op = OpKind::Softmax;
    node.inputs = {m.node};
    add_node(n, std::move(node), d, m.flat);
  }

  void dropout(const onnx::NodeProto& n) {
    if (opset_ >= 12 && has_input(n, 2) && scalar(n, 2) != 0)
      node_fail(n, "is in training mode; the importer reads inference models");
    pass_through(n);
  }

  void pass_through(const onnx::NodeProto& n) {
    const Value& v = value(n, 0);
    if (const auto* m = std::get_if<MapRef>(&v)) return alias(n, *m);
    set_const(n, std::get<Const>(v));
  }

  /// Zeros around a map: held until the Conv or AveragePool after it takes them as pads.
  void pad(const onnx::NodeProto& n) {
    const std::string mode = string_attr(n, "mode");
    if (!mode.empty() && mode != "constant")
      node_fail(n, "pads in mode '" + printable(mode) +
                       "'; the importer reads zero padding (mode constant, value 0)");
    std::vector<int64_t> pads;
    double fill = 0;
    if (opset_ < 11) {
      pads = ints_attr(n, opset_ < 2 ? "paddings" : "pads", {});
      fill = float_attr(n, "value", 0.0f);
    } else {
      pads = ints_of(n, const_in(n, 1));
      if (has_input(n, 2)) fill = scalar(n, 2);
    }
    if (fill != 0)
      node_fail(
          n, "pads with the value " + std::to_string(fill) + "; the importer reads zero padding");
    const MapRef m = map4_in(n, 0, true);
    if (pads.size() != 8 || pads[0] || pads[1] || pads[4] || pads[5] ||
        std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0 || p > kMaxSize; }))
      node_fail(n, "has pads " + join(pads) +
                       "; the importer reads zero padding of the height and width of an NCHW map");
    MapRef out = m;
    out.pad = out.pad + Pads{static_cast<int>(pads[2]), static_cast<int>(pads[3]),
                             static_cast<int>(pads[6]), static_cast<int>(pads[7])};
    if (std::max({out.pad.top, out.pad.left, out.pad.bottom, out.pad.right}) > kMaxSize)
      node_fail(n, "pads more than the importer reads");
    alias(n, out);
  }

  void constant(const onnx::NodeProto& n) {
    if (const auto* a = find_attr(n, "value")) {
      return set_const(
          n, Const{{a->t().dims().begin(), a->t().dims().end()}, a->t().data_type(), &a->t(), {}});
    }
    if (const auto* a = find_attr(n, "value_float"))
      return set_const(n, Const{{}, TensorProto::FLOAT, nullptr, {a->f()}});
    if (const auto* a = find_attr(n, "value_floats"))
      return set_const(n, Const{{a->floats_size()},
                                TensorProto::FLOAT,
                                nullptr,
                                {a->floats().begin(), a->floats().end()}});
    if (const auto* a = find_attr(n, "value_int"))
      return set_const(n, Const{{}, TensorProto::INT64, nullptr, {static_cast<double>(a->i())}});
    if (const auto* a = find_attr(n, "value_ints")) {
      Const c{{a->ints_size()}, TensorProto::INT64, nullptr, {}};
      for (int64_t v : a->ints()) c.v.push_back(static_cast<double>(v));
      return set_const(n, std::move(c));
    }
    node_fail(n, "holds a kind of constant the importer does not read (sparse or strings)");
  }

  void shape(const onnx::NodeProto& n) {
    const Value& v = value(n, 0);
    std::vector<int64_t> dims;
    if (const auto* m = std::get_if<MapRef>(&v))
      dims = onnx_dims(*m);
    else
      dims = std::get<Const>(v).dims;
    const int64_t rank = static_cast<int64_t>(dims.size());
    int64_t start = opset_ >= 15 ? int_attr(n, "start", 0) : 0;
    int64_t end = opset_ >= 15 ? int_attr(n, "end", rank) : rank;
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, start, rank);
    Const c{{end - start}, TensorProto::INT64, nullptr, {}};
    for (int64_t i = start; i < end; ++i)
      c.v.push_back(dims[i] < 0 ? std::numeric_limits<double>::quiet_NaN()
                                : static_cast<double>(dims[i]));
    set_const(n, std::move(c));
  }

  void cast(const onnx::NodeProto& n) {
    int64_t to = int_attr(n, "to", TensorProto::FLOAT);
    if (opset_ < 6) {  // the type by name: "FLOAT"
      TensorProto::DataType type;
      if (!TensorProto::DataType_Parse(string_attr(n, "to"), &type))
        node_fail(n, "casts to '" + printable(string_attr(n, "to")) + "', not a type name");
      to = type;
    }
    const Value& v = value(n, 0);
    if (const auto* m = std::get_if<MapRef>(&v)) {
      if (to != TensorProto::FLOAT)
        node_fail(n, "casts a map to " + type_name(static_cast<int>(to)) +
                         "; the importer computes in float");
      return alias(n, *m);
    }
    Const c = std::get<Const>(v);
    const bool to_float =
        to == TensorProto::FLOAT || to == TensorProto::DOUBLE || to == TensorProto::FLOAT16;
    // Weights stored as FLOAT16 and cast to FLOAT stay in the file; floats() converts them.
    if (c.proto && to_float &&
        (c.proto->data_type() == TensorProto::FLOAT ||
         c.proto->data_type() == TensorProto::FLOAT16)) {
      c.type = static_cast<int>(to);
      return set_const(n, std::move(c));
    }
    c.v = small(n, c);
    c.proto = nullptr;
    c.type = static_cast<int>(to);
    if (!to_float)
      for (double& x : c.v)
        if (!std::isnan(x)) x = std::trunc(x);
    set_const(n, std::move(c));
  }

  // -- constant subgraphs ---------------------------------------------------------------------

  void fold(const onnx::NodeProto& n) {
    for (int i = 0; i < n.input_size(); ++i)
      if (!n.input(i).empty() && is_map(n, i))
        node_fail(n, "computes on '" + printable(n.input(i)) +
                         "', a map computed from the input; the importer evaluates " +
                         printable(n.op_type()) + " on constants only (shapes, indices)");
    const std::string& op = n.op_type();
    if (op == "Gather") return set_const(n, gather(n));
    if (op == "Unsqueeze" || op == "Squeeze") return set_const(n, squeeze(n, op == "Unsqueeze"));
    if (op == "Slice") return set_const(n, slice(n));
    if (op == "ConstantOfShape") return set_const(n, constant_of_shape(n));
    if (op == "Transpose") return set_const(n, transpose(n));
  }

  /// Constant `data` with small values.
  Const loaded(const onnx::NodeProto& n, int i) const {
    Const c = const_in(n, i);
    c.v = small(n, c);
    c.proto = nullptr;
    // An empty constant may still declare a huge axis (shape [0, 2^40]); the folds below walk
    // axes index by index, so no axis may be longer than a constant may hold.
    for (int64_t d : c.dims)
      if (d > kMaxConstElements)
        node_fail(n, "computes on a constant of shape " + join(c.dims) +
                         ", an axis too long to "
                         "evaluate while importing (at most " +
                         std::to_string(kMaxConstElements) + ")");
    return c;
  }

  /// The product of dims[from, to). A constant may be empty (a 0 in its shape) and still declare
  /// axes whose product overflows (fuzz_graph: Flatten of shape [2^62, 58, 0]); beyond what a
  /// constant may hold, the node fails instead.
  int64_t product(const onnx::NodeProto& n, const std::vector<int64_t>& dims, size_t from,
                  size_t to) const {
    const auto count = count_of({dims.begin() + from, dims.begin() + to});
    if (!count)
      node_fail(n, "has a constant of shape " + join(dims) +
                       ", too large to evaluate while "
                       "importing");
    return static_cast<int64_t>(*count);
  }

  Const gather(const onnx::NodeProto& n) const {
    const Const data = loaded(n, 0);
    const Const idx_c = const_in(n, 1);
    const std::vector<int64_t> idx = ints_of(n, idx_c);
    const int64_t rank = static_cast<int64_t>(data.dims.size());
    int64_t axis = int_attr(n, "axis", 0);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) node_fail(n, "gathers along axis " + std::to_string(axis));
    const int64_t size = data.dims[axis];
    const int64_t outer = product(n, data.dims, 0, axis);
    const int64_t inner = product(n, data.dims, axis + 1, data.dims.size());
    Const out{{data.dims.begin(), data.dims.begin() + axis}, data.type, nullptr, {}};
    out.dims.insert(out.dims.end(), idx_c.dims.begin(), idx_c.dims.end());
    out.dims.insert(out.dims.end(), data.dims.begin() + axis + 1, data.dims.end());
    const auto count = count_of(out.dims);
    if (!count || *count > static_cast<uint64_t>(kMaxConstElements))
      node_fail(n, "gathers too many values");
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j : idx) {
        const int64_t k = j < 0 ? j + size : j;
        if (k < 0 || k >= size)
          node_fail(
              n, "gathers index " + std::to_string(j) + " of an axis of " + std::to_string(size));
        for (int64_t i = 0; i < inner; ++i) out.v.push_back(data.v[(o * size + k) * inner + i]);
      }
    return out;
  }

  std::vector<int64_t> axes_of(const onnx::NodeProto& n) const {
    if (opset_ < 13) return ints_attr(n, "axes", {});
    return has_input(n, 1) ? ints_of(n, const_in(n, 1)) : std::vector<int64_t>{};
  }

  /// Unsqueeze or Squeeze: only the shape changes, so weights stay in the file.
  Const squeeze(const onnx::NodeProto& n, bool unsqueeze) const {
    Const c = const_in(n, 0);
    std::vector<int64_t> axes = axes_of(n);
    const int64_t rank =
        static_cast<int64_t>(c.dims.size()) + (unsqueeze ? static_cast<int64_t>(axes.size()) : 0);
    for (int64_t& a : axes) {
      if (a < 0) a += rank;
      if (a < 0 || a >= rank)
        node_fail(n, "has axis " + std::to_string(a) + " for rank " + std::to_string(rank));
    }
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
      node_fail(n, "names an axis twice");
    std::vector<int64_t> dims;
    if (unsqueeze) {
      if (axes.empty()) node_fail(n, "has no axes");
      size_t from = 0;
      for (int64_t i = 0; i < rank; ++i)
        dims.push_back(std::binary_search(axes.begin(), axes.end(), i) ? 1 : c.dims[from++]);
    } else {
      for (int64_t i = 0; i < rank; ++i) {
        const bool named = std::binary_search(axes.begin(), axes.end(), i);
        if (named && c.dims[i] != 1)
          node_fail(n,
                    "squeezes axis " + std::to_string(i) + " of size " + std::to_string(c.dims[i]));
        if (!(named || (axes.empty() && c.dims[i] == 1))) dims.push_back(c.dims[i]);
      }
    }
    c.dims = std::move(dims);
    return c;
  }

  /// `in` picked along every axis (Slice and Transpose).
  static Const pick(const Const& in, const std::vector<std::vector<int64_t>>& picks,
                    const std::vector<int64_t>& axis_of_out) {
    Const out{{}, in.type, nullptr, {}};
    for (const auto& p : picks) out.dims.push_back(static_cast<int64_t>(p.size()));
    const auto count = count_of(out.dims);
    // Nothing picked before the strides: an empty constant may declare axes whose product
    // overflows (fuzz_graph: Transpose); one with values holds at most kMaxConstElements.
    if (!count || *count == 0) return out;
    std::vector<int64_t> stride(in.dims.size(), 1);
    for (int a = static_cast<int>(in.dims.size()) - 2; a >= 0; --a)
      stride[a] = stride[a + 1] * in.dims[a + 1];
    std::vector<int64_t> idx(out.dims.size(), 0);
    for (;;) {
      int64_t offset = 0;
      for (size_t a = 0; a < idx.size(); ++a) offset += picks[a][idx[a]] * stride[axis_of_out[a]];
      out.v.push_back(in.v[offset]);
      int a = static_cast<int>(idx.size()) - 1;
      while (a >= 0 && ++idx[a] == out.dims[a]) idx[a--] = 0;
      if (a < 0) return out;
    }
  }

  Const slice(const onnx::NodeProto& n) const {
    const Const data = loaded(n, 0);
    std::vector<int64_t> starts, ends, axes, steps;
    if (opset_ < 10) {
      starts = ints_attr(n, "starts", {});
      ends = ints_attr(n, "ends", {});
      axes = ints_attr(n, "axes", {});
    } else {
      starts = ints_of(n, const_in(n, 1));
      ends = ints_of(n, const_in(n, 2));
      if (has_input(n, 3)) axes = ints_of(n, const_in(n, 3));
      if (has_input(n, 4)) steps = ints_of(n, const_in(n, 4));
    }
    const size_t rank = data.dims.size();
    if (starts.size() != ends.size() || (!axes.empty() && axes.size() != starts.size()) ||
        (!steps.empty() && steps.size() != starts.size()))
      node_fail(n, "has starts, ends, axes and steps of different lengths");
    std::vector<std::vector<int64_t>> picks(rank);
    std::vector<int64_t> identity(rank);
    for (size_t a = 0; a < rank; ++a) {
      identity[a] = static_cast<int64_t>(a);
      picks[a] = slice_indices(0, static_cast<double>(data.dims[a]), 1, data.dims[a]);
    }
    for (size_t i = 0; i < starts.size(); ++i) {
      int64_t axis = axes.empty() ? static_cast<int64_t>(i) : axes[i];
      if (axis < 0) axis += static_cast<int64_t>(rank);
      const int64_t step = steps.empty() ? 1 : steps[i];
      if (axis < 0 || axis >= static_cast<int64_t>(rank) || step == 0)
        node_fail(n, "slices axis " + std::to_string(axis) + " by step " + std::to_string(step));
      // Ends pass through double so that INT64_MAX-style "to the end" values clamp.
      picks[axis] = slice_indices(static_cast<double>(starts[i]), static_cast<double>(ends[i]),
                                  step, data.dims[axis]);
    }
    return pick(data, picks, identity);
  }

  Const transpose(const onnx::NodeProto& n) const {
    const Const in = loaded(n, 0);
    std::vector<int64_t> perm = ints_attr(n, "perm", {});
    const int64_t rank = static_cast<int64_t>(in.dims.size());
    if (perm.empty())
      for (int64_t a = rank - 1; a >= 0; --a) perm.push_back(a);
    std::vector<int64_t> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t a = 0; a < rank; ++a)
      if (static_cast<int64_t>(sorted.size()) != rank || sorted[a] != a)
        node_fail(n, "has perm " + join(perm) + " for rank " + std::to_string(rank));
    std::vector<std::vector<int64_t>> picks;
    for (int64_t a : perm)
      picks.push_back(slice_indices(0, static_cast<double>(in.dims[a]), 1, in.dims[a]));
    return pick(in, picks, perm);
  }

  Const constant_of_shape(const onnx::NodeProto& n) const {
    Const value{{}, TensorProto::FLOAT, nullptr, {0.0}};
    if (const auto* a = find_attr(n, "value")) {
      const Const t{{a->t().dims().begin(), a->t().dims().end()}, a->t().data_type(), &a->t(), {}};
      value.v = small(n, t);
      value.type = t.type;
      if (value.v.size() != 1) node_fail(n, "has a value of more than one number");
    }
    Const out{ints_of(n, const_in(n, 0)), value.type, nullptr, {}};
    const auto count = count_of(out.dims);
    if (!count || *count > static_cast<uint64_t>(kMaxConstElements))
      node_fail(n, "makes a constant of shape " + join(out.dims) + ", too large");
    out.v.assign(static_cast<size_t>(*count), value.v[0]);
    return out;
  }

  Const concat_constants(const onnx::NodeProto& n) const {
    std::vector<Const> in;
    for (int i = 0; i < n.input_size(); ++i) in.push_back(loaded(n, i));
    const int64_t rank = static_cast<int64_t>(in[0].dims.size());
    int64_t axis = int_attr(n, "axis", opset_ < 4 ? 1 : 0);  // required since opset 4
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) node_fail(n, "concatenates along axis " + std::to_string(axis));
    Const out{in[0].dims, in[0].type, nullptr, {}};
    out.dims[axis] = 0;
    for (const Const& c : in) {
      for (int64_t a = 0; a < rank; ++a)
        if (static_cast<int64_t>(c.dims.size()) != rank ||
            (a != axis && c.dims[a] != in[0].dims[a]))
          node_fail(
              n, "concatenates constants of shapes " + join(in[0].dims) + " and " + join(c.dims));
      out.dims[axis] += c.dims[axis];
    }
    const int64_t outer = product(n, in[0].dims, 0, axis);
    for (int64_t o = 0; o < outer; ++o)
      for (const Const& c : in) {
        const int64_t inner = product(n, c.dims, axis, c.dims.size());
        out.v.insert(out.v.end(), c.v.begin() + o * inner, c.v.begin() + (o + 1) * inner);
      }
    return out;
  }

  // -- the result -----------------------------------------------------------------------------

  /// The graph without the nodes the output does not need (dead branches of the file).
  Graph pruned() {
    std::vector<bool> needed(graph_.nodes.size(), false);
    needed[0] = true;
    needed[graph_.output] = true;
    for (int i = graph_.output; i > 0; --i)
      if (needed[i])
        for (int k : graph_.nodes[i].inputs) needed[k] = true;
    Graph g;
    g.input_channels = graph_.input_channels;
    std::vector<int> index(graph_.nodes.size(), -1);
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
      if (!needed[i]) continue;
      index[i] = static_cast<int>(g.nodes.size());
      Node node = std::move(graph_.nodes[i]);  // weights are moved, not copied
      for (int& k : node.inputs) k = index[k];
      g.nodes.push_back(std::move(node));
    }
    g.output = index[graph_.output];
    return g;
  }

  const std::string file_;
  const onnx::ModelProto& proto_;
  const onnx::GraphProto& g_;
  int opset_ = 0;
  int64_t batch_ = 1;
  Graph graph_;
  std::vector<Dims> dims_;  ///< per graph node, at the file's input size
  std::vector<int> refs_;   ///< per graph node: the ONNX nodes (and outputs) that read its map
  std::set<std::string> names_;
  std::map<std::string, Value> values_;
  std::map<std::string, int> consumers_;
};

ImportedGraph import_proto(const onnx::ModelProto& proto, const std::string& shown) {
  if (proto.ir_version() <= 0 || !proto.has_graph() || proto.graph().node_size() == 0)
    throw WeightFileError("ONNX file " + shown +
                          ": is not an ONNX model (no IR version or no graph). Pass an .onnx "
                          "model file.");
  return Importer(shown, proto).run();
}

}  // namespace

ImportedGraph import_onnx(const std::filesystem::path& file) {
  const std::string shown = file.string();
  const auto fail = [&](const std::string& what, const std::string& hint) {
    throw WeightFileError("ONNX file " + shown + ": " + what + ". " + hint);
  };
  std::error_code ec;
  if (!fs::exists(file, ec)) fail("does not exist", "Check the path.");
  if (fs::is_directory(file, ec)) fail("is a folder, not a model file", "Pass the .onnx file.");
  // A FIFO or a device would block or never end; protobuf reads at most 2 GB.
  if (const auto problem = files::problem(file, INT_MAX)) fail(*problem, "Pass the .onnx file.");
  const auto size = fs::file_size(file, ec);
  if (ec) fail("cannot be read (" + ec.message() + ")", "Check its permissions.");
  if (size == 0) fail("is empty (0 bytes)", "The download or export was interrupted: do it again.");
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot be opened for reading", "Check its permissions.");
  onnx::ModelProto proto;
  if (!proto.ParseFromIstream(&in))
    fail("could not be parsed as ONNX (" + std::to_string(size) +
             " bytes): it is truncated or not an ONNX file",
         "Download or export it again.");
  return import_proto(proto, shown);
}

ImportedGraph import_onnx_bytes(const std::string& bytes, const std::string& shown_as) {
  onnx::ModelProto proto;
  if (bytes.size() > static_cast<size_t>(INT_MAX) || !proto.ParseFromString(bytes))
    throw WeightFileError("ONNX file " + shown_as + ": could not be parsed as ONNX (" +
                          std::to_string(bytes.size()) +
                          " bytes): it is truncated or not an ONNX file. Download or export it "
                          "again.");
  return import_proto(proto, shown_as);
}

const char* supported_onnx_ops() {
  return kSupported;
}

}  // namespace overfeat::graph
