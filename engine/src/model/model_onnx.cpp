// SPDX-License-Identifier: MIT
// Model files: ONNX graphs of Conv / Relu / MaxPool / Pad chains with "overfeat.*" metadata
// (docs/model-format.md), read and written with Debian's libonnx (protobuf).
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "onnx_common.hpp"
#include "overfeat/dense.hpp"
#include "overfeat/error.hpp"
#include "overfeat/files.hpp"
#include "overfeat/model.hpp"

namespace overfeat {
namespace {

namespace fs = std::filesystem;
using onnx::TensorProto;
using namespace onnx_common;

constexpr int kFormatVersion = 1;
constexpr int kMinOpset = 9, kMaxOpset = 17, kWriteOpset = 13, kWriteIrVersion = 7;
constexpr const char* kScores = "class_scores";
constexpr const char* kBoxes = "boxes";
constexpr const char* kInput = "image";
constexpr const char* kPrefix = "overfeat.";
constexpr const char* kMetaPrefix = "overfeat.meta.";
constexpr const char* kCalibrationKey = "detection_calibration";
constexpr const char* kScalesKey = "detection_scales";
constexpr const char* kHelp =
    " See docs/model-format.md; tools/export/export_example.py exports a PyTorch model in this "
    "format.";
constexpr const char* kSupported =
    "the engine supports Conv, Relu, MaxPool, Pad, Identity, Dropout and constants";

[[noreturn]] void fail(const fs::path& file, const std::string& what,
                       const std::string& hint = kHelp) {
  throw WeightFileError("Model file " + file.string() + ": " + what + "." + hint);
}

/// onnx_common::count_of as a signed count: -1 for a shape with a negative size or more values
/// than a file can hold (shapes come from the file and from its constants' values).
int64_t element_count(const std::vector<int64_t>& dims) {
  const auto n = count_of(dims);
  return n ? static_cast<int64_t>(*n) : -1;
}

template <class T>
bool parse_number(const std::string& s, T& value) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size();
}

/// The longest model or class name a file may give (bytes of UTF-8).
constexpr size_t kMaxNameBytes = 200;

/// True when `text` holds ASCII control characters (escape sequences would reach the terminal).
bool has_control(const std::string& text) {
  return std::any_of(text.begin(), text.end(),
                     [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; });
}

/// What is wrong with a model's class names, or nullopt: each must be 1 to kMaxNameBytes bytes of
/// printable text, and no two alike (a class is chosen by name: `heatmap -c`, `eval`).
std::optional<std::string> class_names_problem(const std::vector<std::string>& names) {
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& n = names[i];
    if (n.empty() || n.size() > kMaxNameBytes || has_control(n))
      return "class " + std::to_string(i) + " is named " +
             (n.empty() ? "''" : "'" + printable(n) + "'") + "; class names must be 1 to " +
             std::to_string(kMaxNameBytes) + " bytes of printable text";
    if (!seen.insert(n).second)
      return "class " + std::to_string(i) + " is named '" + printable(n) +
             "' like an earlier class; every class needs its own name (e.g. 'crane (bird)' and "
             "'crane (machine)')";
  }
  return std::nullopt;
}

std::string format_float(float v) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ec == std::errc() ? end : buf);
}

std::string type_name(int64_t type) {
  if (type < INT_MIN || type > INT_MAX || !TensorProto::DataType_IsValid(static_cast<int>(type)))
    return "type " + std::to_string(type);
  return TensorProto::DataType_Name(static_cast<TensorProto::DataType>(type));
}

// ---------------------------------------------------------------------------------------------
// Half precision (IEEE 754 binary16), for weights stored as FLOAT16
// ---------------------------------------------------------------------------------------------

constexpr const char* kWeightStorageKey = "weight_storage";

/// The binary16 bits of `x` rounded to the nearest half, ties to even; nullopt when `x` is not
/// finite or rounds to infinity (|x| >= 65520; 65504 is the largest half).
std::optional<uint16_t> float_to_half(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t a = bits & 0x7fffffffu;
  if (a >= 0x7f800000u) return std::nullopt;
  // Drops the low `shift` bits of `m`, rounding to nearest, ties to even.
  const auto round_shift = [](uint32_t m, uint32_t shift) -> uint32_t {
    if (shift > 24) return 0;  // m < 2^24: less than half of the unit
    const uint32_t rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    const uint32_t q = m >> shift;
    return q + (rest > half || (rest == half && (q & 1u)) ? 1 : 0);
  };
  const uint32_t exponent = a >> 23;
  uint32_t h;
  if (exponent < 127 - 14) {
    // Below 2^-14, the smallest normal half: a multiple of 2^-24. The value is m * 2^(e - 150)
    // with the implicit bit (e >= 1), so in units of 2^-24 it is m >> (126 - e).
    const uint32_t m = exponent ? (a & 0x7fffffu) | 0x800000u : a;
    h = round_shift(m, 126 - std::max<uint32_t>(exponent, 1));
  } else {
    // Rebias the exponent and keep 10 of the 23 mantissa bits; a carry moves into the exponent.
    h = round_shift(a, 13) - ((127u - 15u) << 10);
  }
  if (h >= 0x7c00u) return std::nullopt;
  return static_cast<uint16_t>(sign | h);
}

// ---------------------------------------------------------------------------------------------
// Reading the file
// ---------------------------------------------------------------------------------------------

onnx::ModelProto read_proto(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec))
    fail(file, "does not exist",
         " Check the path, or export a model as docs/model-format.md says.");
  if (fs::is_directory(file, ec))
    fail(file, "is a folder, not a model file", " Pass the .onnx file itself.");
  // A FIFO or a device would block or never end; protobuf reads at most 2 GB.
  if (const auto problem = files::problem(file, INT_MAX))
    fail(file, *problem, " Pass the .onnx file itself.");
  const auto size = fs::file_size(file, ec);
  if (ec) fail(file, "cannot be read (" + ec.message() + ")", " Check its permissions.");
  if (size == 0)
    fail(file, "is empty (0 bytes)", " The copy or the export was interrupted: do it again.");
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot be opened for reading", " Check its permissions.");
  onnx::ModelProto proto;
  if (!proto.ParseFromIstream(&in))
    fail(file,
         "could not be parsed as ONNX (" + std::to_string(size) +
             " bytes): it is truncated or not an ONNX file",
         " Copy or export it again; model files are ONNX, as docs/model-format.md describes.");
  if (proto.ir_version() <= 0 || !proto.has_graph() || proto.graph().node_size() == 0)
    fail(file, "is not an ONNX model (no IR version or no graph)",
         " Model files are ONNX, as docs/model-format.md describes.");
  return proto;
}

int opset_of(const onnx::ModelProto& proto, const fs::path& file) {
  int version = -1;
  for (const auto& o : proto.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") version = static_cast<int>(o.version());
  if (version < kMinOpset || version > kMaxOpset)
    fail(file,
         "uses ONNX opset " + std::to_string(version) + "; opsets " + std::to_string(kMinOpset) +
             " to " + std::to_string(kMaxOpset) + " are supported",
         " Export it again with opset_version=13.");
  return version;
}

// ---------------------------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------------------------

/// The "overfeat.*" properties the loader reads, parsed and checked.
struct Metadata {
  std::string name;
  std::vector<std::string> classes;
  int background = -1;
  float mean = 0, stddev = 1;
  std::optional<int> feature_layer;
  std::vector<DetectionCalibration> detection_calibrations;
  std::string detection_scales;
  std::map<std::string, std::string> extra;
};

class MetadataReader {
 public:
  MetadataReader(const onnx::ModelProto& proto, const fs::path& file) : file_(file) {
    for (const auto& p : proto.metadata_props()) props_[p.key()] = p.value();
  }

  Metadata read(bool has_boxes) const {
    Metadata m;
    const std::string format = need("format");
    if (format != std::to_string(kFormatVersion))
      fail(file_,
           "is in model format version '" + format + "'; this build reads version " +
               std::to_string(kFormatVersion),
           " Update OverFeat Studio, or export the model for this version.");
    m.name = need("name");
    check_model_name(m.name);
    m.classes = classes();
    m.mean = number<float>("mean");
    m.stddev = number<float>("stddev");
    if (props_.count(key("background"))) m.background = number<int>("background");
    if (props_.count(key("feature_layer"))) m.feature_layer = number<int>("feature_layer");
    if (props_.count(key(kCalibrationKey))) m.detection_calibrations = calibrations();
    if (props_.count(key(kScalesKey))) m.detection_scales = need(kScalesKey);
    if (has_boxes || props_.count(key("box_encoding"))) check_box_encoding();
    if (const auto it = props_.find(key(kWeightStorageKey)); it != props_.end())
      if (it->second != "float32" && it->second != "float16")
        fail(file_, "metadata property '" + key(kWeightStorageKey) + "' is '" +
                        printable(it->second) + "'; it must be float32 or float16");
    for (const auto& [k, v] : props_)
      if (k.rfind(kMetaPrefix, 0) == 0) m.extra[k.substr(std::strlen(kMetaPrefix))] = v;
    return m;
  }

 private:
  static std::string key(const std::string& k) { return kPrefix + k; }

  std::string need(const std::string& k) const {
    const auto it = props_.find(key(k));
    if (it == props_.end() || it->second.empty())
      fail(file_, "has no metadata property '" + key(k) + "'",
           " Export it with tools/export/export_example.py, which writes every property "
           "docs/model-format.md lists.");
    return it->second;
  }

  template <class T>
  T number(const std::string& k) const {
    const std::string text = need(k);
    T value{};
    if (!parse_number(text, value))
      fail(file_, "metadata property '" + key(k) + "' is '" + text + "', not a number");
    return value;
  }

  std::vector<std::string> classes() const {
    const std::string text = need("classes");
    const auto json = nlohmann::json::parse(text, nullptr, false);
    std::vector<std::string> names;
    if (json.is_array())
      for (const auto& item : json)
        if (item.is_string()) names.push_back(item.get<std::string>());
    if (!json.is_array() || names.size() != json.size() || names.empty())
      fail(file_, "metadata property '" + key("classes") +
                      "' must be a non-empty JSON array of class names (strings)");
    if (const auto problem = class_names_problem(names))
      fail(file_, "metadata property '" + key("classes") + "': " + *problem);
    return names;
  }

  // The model's name names its one-shot stores' files: printable, no path, not too long.
  void check_model_name(const std::string& name) const {
    if (name.size() > kMaxNameBytes || has_control(name) ||
        name.find_first_of("/\\") != std::string::npos || name == "." || name == "..")
      fail(file_, "metadata property '" + key("name") + "' is '" + printable(name) +
                      "'; a model's name must be 1 to " + std::to_string(kMaxNameBytes) +
                      " bytes of printable text without '/' or '\\'");
  }

  // One {"bias": b, "w_peak": w1, "w_mass": w2, "maps": n, "fitted_on": "..."} or an array of
  // them (at most 16); weights bounded so that a damaged file cannot give NaN confidences.
  std::vector<DetectionCalibration> calibrations() const {
    const auto json = nlohmann::json::parse(need(kCalibrationKey), nullptr, false);
    std::vector<DetectionCalibration> out;
    if (json.is_array() && json.size() <= 16)
      for (const auto& item : json) out.push_back(calibration(item));
    else
      out.push_back(calibration(json));
    return out;
  }

  DetectionCalibration calibration(const nlohmann::json& json) const {
    const std::string k = key(kCalibrationKey);
    DetectionCalibration c;
    auto number = [&](const char* field, float& out) {
      const auto it = json.is_object() ? json.find(field) : json.end();
      if (it == json.end() || !it->is_number() || !std::isfinite(it->get<double>()) ||
          std::abs(it->get<double>()) > 1000)
        fail(file_,
             "metadata property '" + k + "' needs a number '" + field + "' between -1000 and 1000",
             " Fit it again with `overfeat eval --fit-confidence`, or remove the property.");
      out = it->get<float>();
    };
    number("bias", c.bias);
    number("w_peak", c.w_peak);
    number("w_mass", c.w_mass);
    if (const auto it = json.find("maps"); it != json.end()) {
      if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 4096)
        fail(file_, "metadata property '" + k + "': 'maps' must be a whole number 0-4096");
      c.maps = it->get<int>();
    }
    if (const auto it = json.find("fitted_on"); it != json.end() && it->is_string())
      c.fitted_on = it->get<std::string>();
    return c;
  }

  void check_box_encoding() const {
    const std::string encoding = need("box_encoding");
    if (encoding != kBoxEncoding)
      fail(file_, "its boxes are encoded as '" + encoding + "'; the engine reads only '" +
                      kBoxEncoding + "'");
  }

  const fs::path& file_;
  std::map<std::string, std::string> props_;
};

// ---------------------------------------------------------------------------------------------
// Constants: initializers, Constant nodes and small constant subgraphs (torch computes the pads
// of nn.ZeroPad2d with ConstantOfShape, Concat, Reshape, Slice, Transpose and Cast)
// ---------------------------------------------------------------------------------------------

/// A small constant tensor (shapes, pads) with its values as doubles.
struct Const {
  std::vector<int64_t> dims;
  std::vector<double> v;
  int type = TensorProto::FLOAT;
};

constexpr int64_t kMaxConstElements = 1 << 16;

std::vector<int64_t> to_ints(const std::vector<double>& v) {
  std::vector<int64_t> out;
  for (double x : v) out.push_back(to_index(x));
  return out;
}

template <class T>
std::vector<double> raw_values(const std::string& raw) {
  std::vector<double> v(raw.size() / sizeof(T));
  for (size_t i = 0; i < v.size(); ++i) {
    T x;
    std::memcpy(&x, raw.data() + i * sizeof(T), sizeof(T));
    v[i] = static_cast<double>(x);
  }
  return v;
}

/// Values of a float/double/int32/int64 tensor; nullopt for any other type or a big tensor.
std::optional<Const> const_of(const TensorProto& t) {
  Const c{{t.dims().begin(), t.dims().end()}, {}, t.data_type()};
  const int64_t count = element_count(c.dims);
  if (count < 0 || count > kMaxConstElements || t.data_location() == TensorProto::EXTERNAL)
    return std::nullopt;
  const std::string& raw = t.raw_data();
  switch (t.data_type()) {
    case TensorProto::FLOAT:
      c.v = raw.empty() ? std::vector<double>(t.float_data().begin(), t.float_data().end())
                        : raw_values<float>(raw);
      break;
    case TensorProto::DOUBLE:
      c.v = raw.empty() ? std::vector<double>(t.double_data().begin(), t.double_data().end())
                        : raw_values<double>(raw);
      break;
    case TensorProto::INT32:
      c.v = raw.empty() ? std::vector<double>(t.int32_data().begin(), t.int32_data().end())
                        : raw_values<int32_t>(raw);
      break;
    case TensorProto::INT64:
      c.v = raw.empty() ? std::vector<double>(t.int64_data().begin(), t.int64_data().end())
                        : raw_values<int64_t>(raw);
      break;
    default:
      return std::nullopt;
  }
  if (static_cast<int64_t>(c.v.size()) != count) return std::nullopt;
  return c;
}

/// Calls f(index) for every multi-index of a tensor of `dims`, last axis fastest.
template <class F>
void for_each_index(const std::vector<int64_t>& dims, F f) {
  if (element_count(dims) == 0) return;
  std::vector<int64_t> idx(dims.size(), 0);
  for (;;) {
    f(idx);
    int a = static_cast<int>(dims.size()) - 1;
    while (a >= 0 && ++idx[a] == dims[a]) idx[a--] = 0;
    if (a < 0) return;
  }
}

std::vector<int64_t> strides_of(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (int a = static_cast<int>(dims.size()) - 2; a >= 0; --a) s[a] = s[a + 1] * dims[a + 1];
  return s;
}

/// Gathers `in` at per-axis index lists (Slice and Transpose reduce to this).
Const gather(const Const& in, const std::vector<std::vector<int64_t>>& picks,
             const std::vector<int64_t>& axis_of_out) {
  Const out{{}, {}, in.type};
  for (const auto& p : picks) out.dims.push_back(static_cast<int64_t>(p.size()));
  const auto stride = strides_of(in.dims);
  for_each_index(out.dims, [&](const std::vector<int64_t>& idx) {
    int64_t offset = 0;
    for (size_t a = 0; a < idx.size(); ++a) offset += picks[a][idx[a]] * stride[axis_of_out[a]];
    out.v.push_back(in.v[offset]);
  });
  return out;
}

int64_t norm_axis(int64_t axis, size_t rank) {
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}

// ---------------------------------------------------------------------------------------------
// The graph reader
// ---------------------------------------------------------------------------------------------

/// One module of a chain, with its weights when it is a conv.
struct Layer {
  Module m;
  ConvWeights w;
};

/// A walked chain of nodes: its modules, the value it ends at and the channels there.
struct Chain {
  std::vector<Layer> layers;
  std::string end;
  int channels = 3;
};

bool is_chain_op(const std::string& op) {
  return op == "Conv" || op == "Relu" || op == "MaxPool" || op == "Pad" || op == "Identity" ||
         op == "Dropout";
}

std::string hint_for(const std::string& op) {
  if (op == "Gemm" || op == "MatMul" || op == "Flatten" || op == "Reshape")
    return " Fully connected layers must be convolutions (nn.Conv2d whose kernel is the pooled "
           "window, then 1x1 convs) so that the net slides over any image size.";
  if (op == "Softmax" || op == "LogSoftmax" || op == "Sigmoid")
    return " At the end of the classifier: class_scores must be logits, the engine applies the "
           "softmax itself.";
  if (op == "BatchNormalization")
    return " Fold batch normalization into the preceding conv before exporting.";
  if (op == "Cast")
    return " The engine reads a Cast only on a constant: weights stored as a FLOAT16 initializer "
           "and cast to FLOAT (tools/export/to_half.py writes them so).";
  return " Remove it or express it with those ops.";
}

class Reader {
 public:
  Reader(const fs::path& file, const onnx::ModelProto& proto)
      : file_(file), proto_(proto), graph_(proto.graph()), opset_(opset_of(proto, file)) {}

  Model read() {
    const std::string input = graph_input();
    const std::set<std::string> outputs = graph_outputs();
    const Metadata meta = MetadataReader(proto_, file_).read(outputs.count(kBoxes) > 0);
    check_node_outputs();
    index_constants();
    check_ops();
    index_consumers();
    Chain main = follow(input, 3, sole_first_consumer(input));
    std::optional<Chain> regressor;
    if (!consumers_[main.end].empty()) regressor = fork(main);
    check_ends(main.end, regressor, outputs);
    check_all_visited();
    return assemble(main.layers, regressor, meta);
  }

 private:
  std::string describe(const onnx::NodeProto& n) const {
    const std::string name = !n.name().empty()     ? n.name()
                             : n.output_size() > 0 ? "producing '" + n.output(0) + "'"
                                                   : "#" + std::to_string(node_index(n));
    return "node '" + name + "' (" + n.op_type() + ")";
  }

  int node_index(const onnx::NodeProto& n) const {
    for (int i = 0; i < graph_.node_size(); ++i)
      if (&graph_.node(i) == &n) return i;
    return -1;
  }

  /// Every node must name at least one output: the reader follows values by name.
  void check_node_outputs() const {
    for (const auto& n : graph_.node())
      if (n.output_size() == 0 || n.output(0).empty())
        node_fail(n, "has no output; every node of a model must produce a named value");
  }

  [[noreturn]] void node_fail(const onnx::NodeProto& n, const std::string& what) const {
    fail(file_, describe(n) + " " + what);
  }

  bool is_const(const std::string& name) const {
    return tensors_.count(name) || consts_.count(name);
  }

  std::string graph_input() const {
    std::set<std::string> inits;
    for (const auto& t : graph_.initializer()) inits.insert(t.name());
    std::vector<const onnx::ValueInfoProto*> inputs;
    for (const auto& v : graph_.input())
      if (!inits.count(v.name())) inputs.push_back(&v);
    if (inputs.size() != 1)
      fail(file_, "the graph has " + std::to_string(inputs.size()) +
                      " inputs; it must have one, the image [1, 3, H, W]");
    const auto& type = inputs[0]->type().tensor_type();
    const auto& shape = type.shape();
    bool ok = type.elem_type() == TensorProto::FLOAT;
    if (type.has_shape())
      ok = ok && shape.dim_size() == 4 &&
           (!shape.dim(1).has_dim_value() || shape.dim(1).dim_value() == 3);
    if (!ok)
      fail(file_, "the graph input '" + inputs[0]->name() +
                      "' must be a float tensor [1, 3, H, W] (the normalized RGB image)");
    return inputs[0]->name();
  }

  std::set<std::string> graph_outputs() const {
    std::set<std::string> names;
    for (const auto& v : graph_.output()) {
      if (v.name() != kScores && v.name() != kBoxes)
        fail(file_, "the graph has an output '" + v.name() + "'; the outputs must be '" + kScores +
                        "' and, optionally, '" + kBoxes + "'");
      names.insert(v.name());
    }
    if (!names.count(kScores))
      fail(file_, std::string("the graph has no output '") + kScores + "'");
    return names;
  }

  // -- constants ------------------------------------------------------------------------------

  void index_constants() {
    for (const auto& t : graph_.initializer()) tensors_[t.name()] = &t;
    for (const auto& n : graph_.node()) {
      if (n.op_type() == "Constant") {
        constant_node(n);
      } else if (!cast_weights(n) && n.input_size() > 0 &&
                 std::all_of(n.input().begin(), n.input().end(),
                             [&](const std::string& in) { return in.empty() || is_const(in); })) {
        if (auto c = fold(n)) {
          consts_[n.output(0)] = std::move(*c);
          folded_.insert(&n);
        }
      }
    }
  }

  void constant_node(const onnx::NodeProto& n) {
    folded_.insert(&n);
    if (const auto* a = find_attr(n, "value")) {
      tensors_[n.output(0)] = &a->t();
    } else if (const auto* f = find_attr(n, "value_float")) {
      consts_[n.output(0)] = Const{{}, {f->f()}, TensorProto::FLOAT};
    } else if (const auto* i = find_attr(n, "value_int")) {
      consts_[n.output(0)] = Const{{}, {static_cast<double>(i->i())}, TensorProto::INT64};
    } else if (const auto* is = find_attr(n, "value_ints")) {
      consts_[n.output(0)] = Const{{is->ints_size()}, {}, TensorProto::INT64};
      for (int64_t v : is->ints()) consts_[n.output(0)].v.push_back(static_cast<double>(v));
    } else {
      node_fail(n, "holds a kind of constant the engine does not read (use a tensor 'value')");
    }
  }

  /// A Cast to FLOAT of a FLOAT16 (or FLOAT) initializer or Constant: how weights stored in half
  /// precision reach the convs. Its output then names the same tensor, which floats() converts.
  /// False for any other node; a FLOAT16 tensor cast to another type is an error.
  bool cast_weights(const onnx::NodeProto& n) {
    const bool onnx_domain = n.domain().empty() || n.domain() == "ai.onnx";
    if (n.op_type() != "Cast" || !onnx_domain || n.input_size() != 1 || n.output_size() != 1)
      return false;
    const auto it = tensors_.find(n.input(0));
    if (it == tensors_.end()) return false;
    const int type = it->second->data_type();
    const int64_t to = int_attr(n, "to", -1);
    if (type == TensorProto::FLOAT16 && to != TensorProto::FLOAT)
      node_fail(n, "casts the float16 tensor '" + n.input(0) + "' to " + type_name(to) +
                       "; weights stored as FLOAT16 must be cast to FLOAT");
    if ((type != TensorProto::FLOAT16 && type != TensorProto::FLOAT) || to != TensorProto::FLOAT)
      return false;
    tensors_[n.output(0)] = it->second;
    folded_.insert(&n);
    return true;
  }

  /// The value of a small constant input, or nullopt.
  std::optional<Const> constant(const std::string& name) const {
    if (const auto it = consts_.find(name); it != consts_.end()) return it->second;
    if (const auto it = tensors_.find(name); it != tensors_.end()) return const_of(*it->second);
    return std::nullopt;
  }

  std::optional<Const> fold(const onnx::NodeProto& n) const {
    std::vector<Const> in;
    for (const auto& name : n.input()) {
      auto c = name.empty() ? std::optional<Const>(Const{}) : constant(name);
      if (!c) return std::nullopt;
      // An empty constant may declare a huge axis ([0, 2^40]); the folds walk axes index by index.
      for (int64_t d : c->dims)
        if (d > kMaxConstElements) return std::nullopt;
      in.push_back(std::move(*c));
    }
    const std::string& op = n.op_type();
    if (op == "ConstantOfShape") return constant_of_shape(n, in[0]);
    if (op == "Concat") return concat(n, in);
    if (op == "Reshape" && in.size() == 2) return reshape(in[0], to_ints(in[1].v));
    if (op == "Slice") return slice(n, in);
    if (op == "Transpose") return transpose(n, in[0]);
    if (op == "Cast") return cast(n, in[0]);
    return std::nullopt;
  }

  static std::optional<Const> constant_of_shape(const onnx::NodeProto& n, const Const& shape) {
    Const value{{}, {0.0}, TensorProto::FLOAT};
    if (const auto* a = find_attr(n, "value")) {
      auto c = const_of(a->t());
      if (!c || c->v.size() != 1) return std::nullopt;
      value = *c;
    }
    Const out{to_ints(shape.v), {}, value.type};
    const int64_t count = element_count(out.dims);
    if (count < 0 || count > kMaxConstElements) return std::nullopt;
    out.v.assign(static_cast<size_t>(count), value.v[0]);
    return out;
  }

  static std::optional<Const> concat(const onnx::NodeProto& n, const std::vector<Const>& in) {
    const size_t rank = in[0].dims.size();
    const int64_t axis = norm_axis(int_attr(n, "axis", 0), rank);
    if (axis < 0 || axis >= static_cast<int64_t>(rank)) return std::nullopt;
    Const out = in[0];
    out.dims[axis] = 0;
    out.v.clear();
    const int64_t outer = element_count({in[0].dims.begin(), in[0].dims.begin() + axis});
    if (outer < 0) return std::nullopt;
    for (const Const& c : in) {
      if (c.dims.size() != rank) return std::nullopt;
      out.dims[axis] += c.dims[axis];
    }
    for (int64_t o = 0; o < outer; ++o)
      for (const Const& c : in) {
        const int64_t inner = static_cast<int64_t>(c.v.size()) / std::max<int64_t>(outer, 1);
        out.v.insert(out.v.end(), c.v.begin() + o * inner, c.v.begin() + (o + 1) * inner);
      }
    return out;
  }

  static std::optional<Const> reshape(Const in, std::vector<int64_t> shape) {
    int64_t infer = -1;
    std::vector<int64_t> given;  // the sizes other than the one inferred
    for (size_t a = 0; a < shape.size(); ++a) {
      if (shape[a] == 0 && a < in.dims.size()) shape[a] = in.dims[a];
      if (shape[a] == -1 && infer < 0)
        infer = static_cast<int64_t>(a);
      else
        given.push_back(shape[a]);
    }
    const int64_t known = element_count(given);
    if (known < 0) return std::nullopt;
    const auto n = static_cast<int64_t>(in.v.size());
    if (infer >= 0 && known > 0) shape[infer] = n / known;
    if (element_count(shape) != n) return std::nullopt;
    in.dims = shape;
    return in;
  }

  std::optional<Const> slice(const onnx::NodeProto& n, const std::vector<Const>& in) const {
    const Const& data = in[0];
    std::vector<int64_t> starts, ends, axes, steps;
    if (opset_ < 10) {
      starts = ints_attr(n, "starts", {});
      ends = ints_attr(n, "ends", {});
      axes = ints_attr(n, "axes", {});
    } else {
      starts = to_ints(in[1].v);
      ends = to_ints(in[2].v);
      if (in.size() > 3) axes = to_ints(in[3].v);
      if (in.size() > 4) steps = to_ints(in[4].v);
    }
    std::vector<std::vector<int64_t>> picks(data.dims.size());
    std::vector<int64_t> identity(data.dims.size());
    for (size_t a = 0; a < data.dims.size(); ++a) {
      identity[a] = static_cast<int64_t>(a);
      picks[a] = slice_indices(0, static_cast<double>(data.dims[a]), 1, data.dims[a]);
    }
    for (size_t i = 0; i < starts.size() && i < ends.size(); ++i) {
      const int64_t axis =
          norm_axis(axes.empty() ? static_cast<int64_t>(i) : axes[i], data.dims.size());
      const int64_t step = steps.empty() ? 1 : steps[i];
      if (axis < 0 || axis >= static_cast<int64_t>(data.dims.size()) || step == 0)
        return std::nullopt;
      // Pass ends through double so that INT64_MAX-style "to the end" values clamp.
      picks[axis] = slice_indices(static_cast<double>(starts[i]), static_cast<double>(ends[i]),
                                  step, data.dims[axis]);
    }
    return gather(data, picks, identity);
  }

  static std::optional<Const> transpose(const onnx::NodeProto& n, const Const& in) {
    std::vector<int64_t> perm = ints_attr(n, "perm", {});
    if (perm.empty())
      for (int64_t a = static_cast<int64_t>(in.dims.size()) - 1; a >= 0; --a) perm.push_back(a);
    if (perm.size() != in.dims.size()) return std::nullopt;
    std::vector<std::vector<int64_t>> picks;
    for (int64_t a : perm) {
      if (a < 0 || a >= static_cast<int64_t>(in.dims.size())) return std::nullopt;
      picks.push_back(slice_indices(0, static_cast<double>(in.dims[a]), 1, in.dims[a]));
    }
    return gather(in, picks, perm);
  }

  static std::optional<Const> cast(const onnx::NodeProto& n, Const in) {
    in.type = static_cast<int>(int_attr(n, "to", TensorProto::FLOAT));
    if (in.type != TensorProto::FLOAT && in.type != TensorProto::DOUBLE)
      for (double& v : in.v) v = std::trunc(v);
    return in;
  }

  // -- nodes ----------------------------------------------------------------------------------

  void check_ops() const {
    for (const auto& n : graph_.node()) {
      if (folded_.count(&n)) continue;
      const bool onnx_domain = n.domain().empty() || n.domain() == "ai.onnx";
      if (!onnx_domain || !is_chain_op(n.op_type()))
        fail(file_,
             describe(n) + (n.domain().empty() ? "" : " of domain '" + n.domain() + "'") +
                 " is not supported: " + kSupported,
             hint_for(n.op_type()) + kHelp);
    }
  }

  void index_consumers() {
    for (const auto& n : graph_.node())
      if (!folded_.count(&n))
        for (const auto& in : n.input())
          if (!in.empty() && !is_const(in)) consumers_[in].push_back(&n);
  }

  const onnx::NodeProto* sole_first_consumer(const std::string& value) {
    const auto& users = consumers_[value];
    if (users.size() != 1)
      fail(file_, "the input '" + value + "' is used by " + std::to_string(users.size()) +
                      " nodes; it must feed exactly one (the first conv)");
    return users[0];
  }

  /// Follows the chain that starts with `node` (which consumes `value`) until a value that is
  /// used by no node or by several.
  Chain follow(std::string value, int channels, const onnx::NodeProto* node) {
    Chain chain;
    chain.channels = channels;
    for (int steps = 0; node; ++steps) {
      if (steps > graph_.node_size()) fail(file_, "the graph has a cycle");
      value = apply(*node, value, chain);
      const auto& users = consumers_[value];
      node = users.size() == 1 ? users[0] : nullptr;
    }
    chain.end = value;
    return chain;
  }

  /// Splits at the fork after the trunk's last max pooling; returns the regressor chain and
  /// appends the classifier chain to `main`.
  Chain fork(Chain& main) {
    const auto users = consumers_[main.end];
    if (users.size() != 2 || main.layers.empty() ||
        main.layers.back().m.kind != ModuleKind::MaxPool)
      fail(file_, "the graph forks at value '" + main.end + "' into " +
                      std::to_string(users.size()) +
                      " branches; it may fork only once, into the classifier and the box "
                      "regressor, at the output of the last MaxPool");
    Chain a = follow(main.end, main.channels, users[0]);
    Chain b = follow(main.end, main.channels, users[1]);
    if (a.end == kBoxes) std::swap(a, b);
    for (const Chain* c : {&a, &b}) {
      if (!consumers_[c->end].empty())
        fail(file_, "the graph forks again at value '" + c->end + "'; only one fork is allowed");
      for (const Layer& l : c->layers)
        if (l.m.kind == ModuleKind::MaxPool)
          fail(file_, "a MaxPool follows the fork at '" + main.end +
                          "'; the fork must be at the output of the last MaxPool");
    }
    main.layers.insert(main.layers.end(), a.layers.begin(), a.layers.end());
    main.end = a.end;
    main.channels = a.channels;
    return b;
  }

  void check_ends(const std::string& scores_end, const std::optional<Chain>& regressor,
                  const std::set<std::string>& outputs) const {
    if (scores_end != kScores)
      fail(file_,
           "the chain from the input ends at value '" + scores_end + "', not at '" + kScores + "'");
    if (regressor && regressor->end != kBoxes)
      fail(file_, "the second branch after the last MaxPool ends at value '" + regressor->end +
                      "', not at '" + kBoxes + "'");
    if (!regressor && outputs.count(kBoxes))
      fail(file_, std::string("the output '") + kBoxes +
                      "' is not computed from the output of the last MaxPool");
  }

  void check_all_visited() const {
    for (const auto& n : graph_.node())
      if (!folded_.count(&n) && !visited_.count(&n))
        fail(file_, describe(n) + " is not on the chain from the input to the outputs");
  }

  /// Converts one node into modules of `chain`; returns the value it outputs.
  std::string apply(const onnx::NodeProto& n, const std::string& value, Chain& chain) {
    visited_.insert(&n);
    if (n.input_size() == 0 || n.input(0) != value || n.output_size() == 0)
      node_fail(n, "must take '" + value + "' as its first input");
    for (int i = 1; i < n.output_size(); ++i)
      if (!n.output(i).empty() && !consumers_[n.output(i)].empty())
        node_fail(n, "has its extra output '" + n.output(i) + "' used; only the first may be");
    const std::string& op = n.op_type();
    if (op == "Conv") conv(n, chain);
    if (op == "Relu") chain.layers.push_back({Module{ModuleKind::Relu, "", 1, 1, 0, 0}, {}});
    if (op == "MaxPool") max_pool(n, chain);
    if (op == "Pad") pad(n, chain);
    return n.output(0);
  }

  const TensorProto& weight(const onnx::NodeProto& n, int input) const {
    if (input >= n.input_size() || n.input(input).empty())
      node_fail(n, "has no input " + std::to_string(input + 1) + " (its " +
                       (input == 1 ? "weights" : "bias") + ")");
    const auto it = tensors_.find(n.input(input));
    if (it == tensors_.end())
      node_fail(n, "has input '" + n.input(input) +
                       "' that is not an initializer; weights must be stored in the file");
    return *it->second;
  }

  /// The values of a conv's weights or biases `t`, its input `input`, as float32.
  std::vector<float> floats(const onnx::NodeProto& n, const TensorProto& t,
                            const std::string& input) const {
    const std::string name = "'" + (t.name().empty() ? input : t.name()) + "'";
    if (t.data_location() == TensorProto::EXTERNAL)
      node_fail(n, "has weights " + name +
                       " in an external data file; export the model "
                       "as one file");
    // No shape may overflow the count (a shape of [2^40, 2^40] once wrapped around to a small
    // one); a file holds at most 2 GB, so at most 2^29 float32 values.
    size_t count = 1;
    for (int64_t d : t.dims()) {
      if (d <= 0) {
        count = 0;
      } else if (count > 0 && static_cast<uint64_t>(d) > kMaxValues / count) {
        node_fail(n, "has tensor " + name + " whose data does not match its shape " +
                         join({t.dims().begin(), t.dims().end()}) +
                         ": more values than a model file can hold");
      } else {
        count *= static_cast<size_t>(d);
      }
    }
    if (t.data_type() == TensorProto::FLOAT16) return halves(n, t, name, count);
    if (t.data_type() != TensorProto::FLOAT)
      node_fail(n, "has weights " + name + " of type " + type_name(t.data_type()) +
                       "; the engine reads FLOAT (float32) or FLOAT16 weights");
    const bool in_floats =
        t.float_data_size() > 0 && static_cast<size_t>(t.float_data_size()) == count;
    if (!in_floats && t.raw_data().size() != count * sizeof(float))  // checked before allocating
      node_fail(n, "has tensor " + name + " whose data does not match its shape " +
                       join({t.dims().begin(), t.dims().end()}));
    std::vector<float> v(count);
    if (in_floats) {
      std::copy(t.float_data().begin(), t.float_data().end(), v.begin());
    } else {
      static_assert(std::endian::native == std::endian::little, "raw_data is little-endian");
      std::memcpy(v.data(), t.raw_data().data(), count * sizeof(float));
    }
    for (size_t i = 0; i < count; ++i)
      if (!std::isfinite(v[i]))
        node_fail(n, "has tensor " + name + " holding " + (std::isnan(v[i]) ? "NaN" : "infinity") +
                         " at index " + std::to_string(i) + "; weights must be finite");
    return v;
  }

  /// FLOAT16 weights (raw_data: 2 bytes a value, little-endian; or int32_data: one value's bits
  /// per int32), converted exactly to float32.
  std::vector<float> halves(const onnx::NodeProto& n, const TensorProto& t, const std::string& name,
                            size_t count) const {
    const std::string& raw = t.raw_data();
    const bool int32_ok = raw.empty() && static_cast<size_t>(t.int32_data_size()) == count &&
                          std::all_of(t.int32_data().begin(), t.int32_data().end(),
                                      [](int32_t b) { return b >= 0 && b <= 0xffff; });
    const bool raw_ok = raw.size() == count * sizeof(uint16_t) && count > 0;
    std::vector<uint16_t> bits(raw_ok || int32_ok ? count : 0);  // allocated once checked
    if (raw_ok) {
      static_assert(std::endian::native == std::endian::little, "raw_data is little-endian");
      std::memcpy(bits.data(), raw.data(), raw.size());
    } else if (int32_ok) {
      std::copy(t.int32_data().begin(), t.int32_data().end(), bits.begin());
    } else {
      const std::string held = raw.empty()
                                   ? std::to_string(t.int32_data_size()) + " int32_data values"
                                   : std::to_string(raw.size()) + " bytes of raw_data";
      node_fail(n, "has float16 tensor " + name + " whose data does not match its shape " +
                       join({t.dims().begin(), t.dims().end()}) + ": " + held + " for " +
                       std::to_string(count) + " values of 2 bytes");
    }
    std::vector<float> v(count);
    for (size_t i = 0; i < count; ++i) {
      const auto f = half_to_float(bits[i]);
      if (!f)
        node_fail(n, "has float16 tensor " + name + " holding " +
                         ((bits[i] & 0x3ffu) ? "NaN" : "infinity") + " at index " +
                         std::to_string(i) + "; weights must be finite");
      v[i] = *f;
    }
    return v;
  }

  static void add_pad(Chain& chain, int p) {
    if (p == 0) return;
    if (!chain.layers.empty() && chain.layers.back().m.kind == ModuleKind::Pad)
      chain.layers.back().m.pad += p;
    else
      chain.layers.push_back({Module{ModuleKind::Pad, "", 1, 1, p, 0}, {}});
  }

  /// Square, equal-on-both-axes attribute values, e.g. strides [s, s] -> s.
  int square(const onnx::NodeProto& n, const std::string& name, std::vector<int64_t> v,
             size_t count) const {
    if (v.size() != count ||
        std::adjacent_find(v.begin(), v.end(), std::not_equal_to<>()) != v.end() || v[0] < 0 ||
        v[0] > INT_MAX)
      node_fail(n, "has " + name + " " + join(v) + "; the engine needs " + std::to_string(count) +
                       " equal, non-negative values");
    return static_cast<int>(v[0]);
  }

  void check_auto_pad(const onnx::NodeProto& n) const {
    const std::string a = string_attr(n, "auto_pad");
    if (!a.empty() && a != "NOTSET" && a != "VALID")
      node_fail(n, "has auto_pad " + a + "; give explicit symmetric pads instead");
  }

  void conv(const onnx::NodeProto& n, Chain& chain) const {
    const TensorProto& wt = weight(n, 1);
    const std::vector<int64_t> dims(wt.dims().begin(), wt.dims().end());
    if (dims.size() != 4 || dims[2] != dims[3] || dims[0] <= 0 || dims[2] <= 0)
      node_fail(n, "has weights of shape " + join(dims) +
                       "; a 2-D conv with a square kernel [out, in, k, k] is needed");
    ConvWeights cw{static_cast<int>(dims[0]),
                   static_cast<int>(dims[1]),
                   static_cast<int>(dims[2]),
                   floats(n, wt, n.input(1)),
                   {}};
    if (cw.in != chain.channels)
      node_fail(n, "takes " + std::to_string(cw.in) + " input channels (weights " + join(dims) +
                       ") but its input has " + std::to_string(chain.channels));
    cw.b.assign(cw.out, 0.0f);
    if (n.input_size() > 2 && !n.input(2).empty()) {
      const TensorProto& bt = weight(n, 2);
      if (bt.dims_size() != 1 || bt.dims(0) != cw.out)
        node_fail(n, "has a bias of shape " + join({bt.dims().begin(), bt.dims().end()}) + " for " +
                         std::to_string(cw.out) + " output channels");
      cw.b = floats(n, bt, n.input(2));
    }
    const int stride = conv_attributes(n, cw.k);
    const bool valid = string_attr(n, "auto_pad") == "VALID";
    add_pad(chain, valid ? 0 : square(n, "pads", ints_attr(n, "pads", {0, 0, 0, 0}), 4));
    chain.layers.push_back({Module{ModuleKind::Conv, "", cw.k, stride, 0, cw.out}, cw});
    chain.channels = cw.out;
  }

  /// Checks a conv's attributes against its kernel size; returns the stride.
  int conv_attributes(const onnx::NodeProto& n, int k) const {
    if (find_attr(n, "kernel_shape") &&
        ints_attr(n, "kernel_shape", {}) != std::vector<int64_t>{k, k})
      node_fail(n, "has kernel_shape " + join(ints_attr(n, "kernel_shape", {})) +
                       " that differs from its weights' " + std::to_string(k) + "x" +
                       std::to_string(k));
    if (int_attr(n, "group", 1) != 1) node_fail(n, "is a grouped conv; only group 1 is supported");
    if (square(n, "dilations", ints_attr(n, "dilations", {1, 1}), 2) != 1)
      node_fail(n, "is dilated; only dilations 1 are supported");
    check_auto_pad(n);
    const int stride = square(n, "strides", ints_attr(n, "strides", {1, 1}), 2);
    if (stride < 1) node_fail(n, "has a zero stride");
    return stride;
  }

  void max_pool(const onnx::NodeProto& n, Chain& chain) const {
    const int k = square(n, "kernel_shape", ints_attr(n, "kernel_shape", {}), 2);
    const int s = square(n, "strides", ints_attr(n, "strides", {1, 1}), 2);
    const int p = square(n, "pads", ints_attr(n, "pads", {0, 0, 0, 0}), 4);
    const int d = square(n, "dilations", ints_attr(n, "dilations", {1, 1}), 2);
    if (k < 1 || s != k || p != 0 || d != 1 || int_attr(n, "ceil_mode", 0) != 0)
      node_fail(n,
                "must be a max pooling with kernel = stride, no pads, no dilation and "
                "ceil_mode 0 (non-overlapping, as in OverFeat)");
    check_auto_pad(n);
    chain.layers.push_back({Module{ModuleKind::MaxPool, "", k, k, 0, 0}, {}});
  }

  void pad(const onnx::NodeProto& n, Chain& chain) const {
    const std::string mode = string_attr(n, "mode");
    if (!mode.empty() && mode != "constant") node_fail(n, "pads in mode '" + mode + "', not zeros");
    std::vector<int64_t> pads = ints_attr(n, "pads", {});
    double value = find_attr(n, "value") ? find_attr(n, "value")->f() : 0.0;
    if (opset_ >= 11) {
      const auto c = n.input_size() > 1 ? constant(n.input(1)) : std::nullopt;
      if (!c) node_fail(n, "has pads that are not a constant the engine can evaluate");
      pads = to_ints(c->v);
      if (n.input_size() > 2 && !n.input(2).empty()) {
        const auto v = constant(n.input(2));
        value = v && v->v.size() == 1 ? v->v[0] : 1.0;
      }
    }
    if (value != 0.0) node_fail(n, "pads with a value other than 0");
    if (pads.size() != 8 || pads[0] || pads[1] || pads[4] || pads[5])
      node_fail(n, "has pads " + join(pads) +
                       "; the engine needs equal spatial pads on every side of an NCHW tensor");
    add_pad(chain, square(n, "pads", {pads[2], pads[3], pads[6], pads[7]}, 4));
  }

  // -- the model ------------------------------------------------------------------------------

  static std::string tokens(const std::vector<Layer>& layers) {
    std::string t;
    for (const Layer& l : layers) {
      const Module& m = l.m;
      if (m.kind == ModuleKind::Conv)
        t += "conv:" + std::to_string(m.out_channels) + ":" + std::to_string(m.kernel) + ":" +
             std::to_string(m.stride) + " ";
      if (m.kind == ModuleKind::Relu) t += "relu ";
      if (m.kind == ModuleKind::MaxPool) t += "pool:" + std::to_string(m.kernel) + " ";
      if (m.kind == ModuleKind::Pad) t += "pad:" + std::to_string(m.pad) + " ";
    }
    return t;
  }

  static std::vector<ConvWeights> convs(const std::vector<Layer>& layers) {
    std::vector<ConvWeights> out;
    for (const Layer& l : layers)
      if (l.m.kind == ModuleKind::Conv) out.push_back(l.w);
    return out;
  }

  Head head(const Chain& chain) const {
    if (convs(chain.layers).empty()) fail(file_, "the box regressor has no Conv");
    Head h;
    h.modules = NetSpec::parse("regressor", tokens(chain.layers)).modules;
    for (Module& m : h.modules) m.name = "reg_" + m.name;
    h.convs = convs(chain.layers);
    return h;
  }

  Model assemble(const std::vector<Layer>& layers, const std::optional<Chain>& regressor,
                 const Metadata& meta) const {
    Model model;
    try {
      model.net = NetSpec::parse(meta.name, tokens(layers));
      if (regressor) model.regressor = head(*regressor);
    } catch (const WeightFileError&) {
      throw;
    } catch (const Error& e) {
      fail(file_, e.what());
    }
    model.net.mean = meta.mean;
    model.net.stddev = meta.stddev;
    if (meta.feature_layer) model.net.default_feature_layer = *meta.feature_layer;
    model.weights.convs = convs(layers);
    model.classes = meta.classes;
    model.background = meta.background;
    model.metadata = meta.extra;
    model.detection_calibrations = meta.detection_calibrations;
    model.net.detection_scales = meta.detection_scales;
    if (!meta.detection_scales.empty()) {
      try {  // a list parse_scales accepts, so that "model" never fails later
        parse_scales(meta.detection_scales, model.net, 240, 320);
      } catch (const Error& e) {
        fail(file_, "metadata property 'overfeat." + std::string(kScalesKey) + "' is '" +
                        printable(meta.detection_scales) + "': " + e.what());
      }
    }
    return model;
  }

  const fs::path& file_;
  const onnx::ModelProto& proto_;
  const onnx::GraphProto& graph_;
  const int opset_;
  std::map<std::string, const TensorProto*> tensors_;  ///< initializers, Constant tensors
  std::map<std::string, Const> consts_;                ///< other constants, folded subgraphs
  std::set<const onnx::NodeProto*> folded_;            ///< nodes that only compute constants
  std::map<std::string, std::vector<const onnx::NodeProto*>> consumers_;
  std::set<const onnx::NodeProto*> visited_;
};

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

class Writer {
 public:
  Writer(const Model& model, WeightStorage storage)
      : model_(model), storage_(storage), graph_(proto_.mutable_graph()) {
    proto_.set_ir_version(kWriteIrVersion);
    proto_.set_producer_name("OverFeat Studio");
    auto* opset = proto_.add_opset_import();
    opset->set_domain("");
    opset->set_version(kWriteOpset);
    graph_->set_name(model.net.name);
  }

  onnx::ModelProto build() {
    const auto& mods = model_.net.modules;
    const size_t split = static_cast<size_t>(model_.trunk_end()) + 1;
    add_io(graph_->add_input(), kInput, model_.net.input_channels, "H", "W");
    size_t conv = 0;
    const std::vector<Module> trunk(mods.begin(), mods.begin() + split);
    const std::vector<Module> classifier(mods.begin() + split, mods.end());
    const std::string pooled = emit(trunk, model_.weights.convs, conv, kInput, "");
    emit(classifier, model_.weights.convs, conv, pooled, kScores);
    add_io(graph_->add_output(), kScores, static_cast<int>(model_.classes.size()), "h", "w");
    if (model_.regressor) {
      size_t reg_conv = 0;
      emit(model_.regressor->modules, model_.regressor->convs, reg_conv, pooled, kBoxes);
      add_io(graph_->add_output(), kBoxes, model_.regressor->out_channels(), "h", "w");
    }
    add_metadata();
    return std::move(proto_);
  }

 private:
  static void add_io(onnx::ValueInfoProto* v, const std::string& name, int channels, const char* h,
                     const char* w) {
    v->set_name(name);
    auto* type = v->mutable_type()->mutable_tensor_type();
    type->set_elem_type(TensorProto::FLOAT);
    auto* shape = type->mutable_shape();
    shape->add_dim()->set_dim_value(1);
    shape->add_dim()->set_dim_value(channels);
    shape->add_dim()->set_dim_param(h);
    shape->add_dim()->set_dim_param(w);
  }

  std::string unique(const std::string& name) {
    std::string n = name;
    for (int i = 2; !names_.insert(n).second; ++i) n = name + "_" + std::to_string(i);
    return n;
  }

  static void add_ints(onnx::NodeProto* node, const char* name, std::vector<int64_t> values) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : values) a->add_ints(v);
  }

  /// Adds a conv's weights or biases as the initializer `name` (float32), or as the FLOAT16
  /// initializer `name.fp16` and a Cast node `name.cast` to FLOAT that outputs `name` (float16).
  /// Returns `name`, the value the conv reads.
  std::string add_weights(const std::string& name, std::vector<int64_t> dims,
                          const std::vector<float>& values) {
    static_assert(std::endian::native == std::endian::little, "raw_data is little-endian");
    auto* t = graph_->add_initializer();
    for (int64_t d : dims) t->add_dims(d);
    if (storage_ == WeightStorage::Float32) {
      t->set_name(name);
      t->set_data_type(TensorProto::FLOAT);
      t->set_raw_data(values.data(), values.size() * sizeof(float));
      return name;
    }
    const std::string stored = name + ".fp16";
    t->set_name(stored);
    t->set_data_type(TensorProto::FLOAT16);
    std::string raw(values.size() * sizeof(uint16_t), '\0');
    for (size_t i = 0; i < values.size(); ++i) {
      const auto h = float_to_half(values[i]);
      if (!h)
        throw Error("tensor '" + name + "' holds " + format_float(values[i]) + " at index " +
                    std::to_string(i) +
                    ", which float16 cannot store (finite values below 65520 in magnitude "
                    "only); save it with float32 weights");
      std::memcpy(raw.data() + i * sizeof(uint16_t), &*h, sizeof(uint16_t));
    }
    t->set_raw_data(std::move(raw));
    onnx::NodeProto* cast = graph_->add_node();
    cast->set_name(unique(name + ".cast"));
    cast->set_op_type("Cast");
    cast->add_input(stored);
    cast->add_output(name);
    auto* to = cast->add_attribute();
    to->set_name("to");
    to->set_type(onnx::AttributeProto::INT);
    to->set_i(TensorProto::FLOAT);
    return name;
  }

  /// Emits the modules as nodes from value `in`; the last one outputs `last` (or its own name
  /// when `last` is empty). Returns the final value.
  std::string emit(const std::vector<Module>& modules, const std::vector<ConvWeights>& convs,
                   size_t& conv, std::string in, const std::string& last) {
    int pending_pad = 0;
    for (size_t i = 0; i < modules.size(); ++i) {
      const Module& m = modules[i];
      if (m.kind == ModuleKind::Pad) {
        pending_pad += m.pad;
        continue;
      }
      const std::string name = unique(m.name.empty() ? "node" : m.name);
      const std::string out = i + 1 == modules.size() && !last.empty() ? last : name;
      std::vector<std::string> weights;  // before the conv node: the Casts must come first
      if (m.kind == ModuleKind::Conv) {
        const ConvWeights& cw = convs.at(conv);
        weights = {add_weights(name + ".weight", {cw.out, cw.in, cw.k, cw.k}, cw.w),
                   add_weights(name + ".bias", {cw.out}, cw.b)};
      }
      onnx::NodeProto* node = graph_->add_node();
      node->set_name(name);
      node->add_input(in);
      node->add_output(out);
      if (m.kind == ModuleKind::Relu) node->set_op_type("Relu");
      if (m.kind == ModuleKind::MaxPool) {
        node->set_op_type("MaxPool");
        add_ints(node, "kernel_shape", {m.kernel, m.kernel});
        add_ints(node, "strides", {m.kernel, m.kernel});
      }
      if (m.kind == ModuleKind::Conv) conv_node(node, m, weights, pending_pad), ++conv;
      if (m.kind == ModuleKind::Conv) pending_pad = 0;
      in = out;
    }
    return in;
  }

  static void conv_node(onnx::NodeProto* node, const Module& m,
                        const std::vector<std::string>& weights, int pad) {
    node->set_op_type("Conv");
    for (const std::string& w : weights) node->add_input(w);
    add_ints(node, "kernel_shape", {m.kernel, m.kernel});
    add_ints(node, "strides", {m.stride, m.stride});
    add_ints(node, "pads", {pad, pad, pad, pad});
    add_ints(node, "dilations", {1, 1});
    auto* group = node->add_attribute();
    group->set_name("group");
    group->set_type(onnx::AttributeProto::INT);
    group->set_i(1);
  }

  void add_prop(const std::string& key, const std::string& value) {
    auto* p = proto_.add_metadata_props();
    p->set_key(key);
    p->set_value(value);
  }

  void add_metadata() {
    const std::string p = kPrefix;
    add_prop(p + "format", std::to_string(kFormatVersion));
    add_prop(p + "name", model_.net.name);
    add_prop(p + "classes", nlohmann::json(model_.classes)
                                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    if (model_.background >= 0) add_prop(p + "background", std::to_string(model_.background));
    add_prop(p + "mean", format_float(model_.net.mean));
    add_prop(p + "stddev", format_float(model_.net.stddev));
    add_prop(p + "box_encoding", kBoxEncoding);
    add_prop(p + "feature_layer", std::to_string(model_.net.default_feature_layer));
    add_prop(p + kWeightStorageKey, storage_ == WeightStorage::Float16 ? "float16" : "float32");
    if (!model_.net.detection_scales.empty()) add_prop(p + kScalesKey, model_.net.detection_scales);
    if (!model_.detection_calibrations.empty()) {
      std::string all = "[";
      for (const DetectionCalibration& c : model_.detection_calibrations)
        all += (all.size() > 1 ? "," : "") + detection_calibration_json(c);
      add_prop(p + kCalibrationKey, all + "]");
    }
    for (const auto& [k, v] : model_.metadata) add_prop(kMetaPrefix + k, v);
  }

  const Model& model_;
  const WeightStorage storage_;
  onnx::ModelProto proto_;
  onnx::GraphProto* graph_;
  std::set<std::string> names_{kInput, kScores, kBoxes};
};

}  // namespace

std::string detection_calibration_json(const DetectionCalibration& c) {
  return nlohmann::json{{"bias", c.bias},
                        {"w_peak", c.w_peak},
                        {"w_mass", c.w_mass},
                        {"maps", c.maps},
                        {"fitted_on", c.fitted_on}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Model load_model(const std::filesystem::path& file) {
  const onnx::ModelProto proto = read_proto(file);
  // A classic network (ResNet, VGG, ...) has no overfeat.* metadata at all: say what runs it.
  if (std::none_of(proto.metadata_props().begin(), proto.metadata_props().end(),
                   [](const auto& p) { return p.key().rfind(kPrefix, 0) == 0; }))
    fail(file,
         "is a classic network (an ONNX classifier without OverFeat Studio's overfeat.* "
         "metadata), not a model of OverFeat Studio's format",
         " Run it with `overfeat -m FILE.onnx` (top classes, features) or `overfeat classify | "
         "heatmap | detect -m FILE.onnx` (README, \"Classic networks\"); one-shot learning, "
         "eval and the app need a model of OverFeat Studio's format (docs/model-format.md).");
  Model model = Reader(file, proto).read();
  try {
    model.validate();
  } catch (const WeightFileError&) {
    throw;
  } catch (const Error& e) {
    fail(file, e.what());
  }
  return model;
}

void save_model(const Model& model, const std::filesystem::path& file, WeightStorage storage) {
  model.validate();
  if (const auto problem = class_names_problem(model.classes))
    throw Error("Cannot write model file " + file.string() + ": " + *problem +
                " (load_model would refuse the file)");
  onnx::ModelProto proto;
  try {
    proto = Writer(model, storage).build();
  } catch (const Error& e) {
    throw Error("Cannot write model file " + file.string() + ": " + e.what());
  }
  if (proto.ByteSizeLong() > static_cast<size_t>(INT_MAX))
    throw Error("Cannot write model file " + file.string() +
                ": ONNX files hold at most 2 GB and this model is larger");
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out || !proto.SerializeToOstream(&out) || !out.flush())
    throw Error("Cannot write model file " + file.string() + ": check the folder and free space");
}

}  // namespace overfeat
