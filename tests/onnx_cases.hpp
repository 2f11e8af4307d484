// SPDX-License-Identifier: MIT
// ONNX's own conformance cases (Debian's libonnx-testdata: data/<set>/<case>/model.onnx and
// test_data_set_N/{input,output}_K.pb) as imported graphs with their inputs and expected outputs,
// for any runner of graphs (the C++ reference, the Vulkan executor). A case is "claimed" when
// every op of its model is one import_onnx lists and its first input is a 4-D float NCHW tensor;
// its other inputs (a Conv's W, a BatchNormalization's statistics) become initializers, as in an
// exported model. Batches run one image at a time.
#pragma once
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "overfeat/error.hpp"
#include "overfeat/graph_onnx.hpp"
#include "overfeat/tensor.hpp"

namespace overfeat::testing::onnx_cases {

namespace fs = std::filesystem;

/// One test_data_set of a case that imports.
struct DataSet {
  std::string name;               ///< "test_data_set_0"
  std::vector<Tensor> inputs;     ///< per batch element: C x H x W
  std::vector<Tensor> expected;   ///< per batch element: the output (2-D [N, K] as K x 1 x 1)
  graph::ImportedGraph imported;  ///< the model with this set's extra inputs as initializers
};

struct Case {
  std::string name;           ///< "node/test_maxpool_2d_pads", "pytorch-converted/test_Conv2d"
  std::set<std::string> ops;  ///< the model's op types
  std::string refused;        ///< why import_onnx refused it (short); empty when imported
  std::vector<DataSet> sets;  ///< empty when refused
};

/// The data folder: $OVERFEAT_ONNX_TESTDATA, else Debian's libonnx-testdata.
inline std::optional<fs::path> data_root() {
  std::error_code ec;
  if (const char* env = std::getenv("OVERFEAT_ONNX_TESTDATA"); env && *env)
    return fs::is_directory(env, ec) ? std::optional<fs::path>(env) : std::nullopt;
  const fs::path debian = "/usr/share/libonnx-testdata/data";
  return fs::is_directory(debian, ec) ? std::optional<fs::path>(debian) : std::nullopt;
}

/// The op types import_onnx claims (its supported_onnx_ops() list).
inline std::set<std::string> claimed_ops() {
  std::set<std::string> ops;
  std::stringstream list(graph::supported_onnx_ops());
  for (std::string op; std::getline(list, op, ',');) {
    op.erase(0, op.find_first_not_of(' '));
    op.erase(op.find_last_not_of(' ') + 1);
    if (!op.empty()) ops.insert(op);
  }
  return ops;
}

template <class Message>
bool read_message(const fs::path& file, Message& m) {
  std::ifstream in(file, std::ios::binary);
  return in && m.ParseFromIstream(&in);
}

/// The float values of a FLOAT tensor (raw_data or float_data); nullopt for other types.
inline std::optional<std::vector<float>> float_values(const onnx::TensorProto& t) {
  if (t.data_type() != onnx::TensorProto::FLOAT) return std::nullopt;
  size_t count = 1;
  for (int64_t d : t.dims()) count *= static_cast<size_t>(std::max<int64_t>(d, 0));
  std::vector<float> v;
  if (!t.raw_data().empty()) {
    if (t.raw_data().size() != count * sizeof(float)) return std::nullopt;
    v.resize(count);
    std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
  } else {
    v.assign(t.float_data().begin(), t.float_data().end());
  }
  if (v.size() != count) return std::nullopt;
  return v;
}

/// The image inputs of the graph: those that are not initializers.
inline std::vector<const onnx::ValueInfoProto*> real_inputs(const onnx::GraphProto& g) {
  std::set<std::string> inits;
  for (const auto& t : g.initializer()) inits.insert(t.name());
  std::vector<const onnx::ValueInfoProto*> out;
  for (const auto& v : g.input())
    if (!inits.count(v.name())) out.push_back(&v);
  return out;
}

/// True when the case is one import_onnx claims: known ops only, first input 4-D float.
inline bool claimed(const onnx::ModelProto& model, const std::set<std::string>& supported,
                    std::set<std::string>& ops) {
  bool all_known = true;
  for (const auto& n : model.graph().node()) {
    ops.insert(n.op_type());
    const bool onnx_domain = n.domain().empty() || n.domain() == "ai.onnx";
    all_known = all_known && onnx_domain && supported.count(n.op_type());
  }
  const auto inputs = real_inputs(model.graph());
  if (!all_known || inputs.empty()) return false;
  const auto& type = inputs[0]->type().tensor_type();
  return type.elem_type() == onnx::TensorProto::FLOAT && type.shape().dim_size() == 4;
}

/// The message of a refusal without the file name and the list of supported ops, first sentence.
inline std::string short_reason(const std::string& message, const std::string& file) {
  std::string r = message;
  const std::string prefix = "ONNX file " + file + ": ";
  if (r.rfind(prefix, 0) == 0) r.erase(0, prefix.size());
  const std::string list = graph::supported_onnx_ops();
  if (const auto at = r.find(list); at != std::string::npos) r.replace(at, list.size(), "...");
  if (const auto end = r.find(". "); end != std::string::npos) r.erase(end + 1);
  std::replace(r.begin(), r.end(), '\n', ' ');
  return r;
}

/// One data set: the model with the set's extra inputs baked in, imported; the image split into
/// batch elements. Throws WeightFileError when import_onnx refuses the model.
inline std::optional<DataSet> load_set(const onnx::ModelProto& model, const fs::path& dir,
                                       const std::string& case_name, std::string& problem) {
  DataSet set;
  set.name = dir.filename().string();
  onnx::ModelProto baked = model;
  onnx::GraphProto* g = baked.mutable_graph();
  const auto inputs = real_inputs(model.graph());
  std::vector<onnx::TensorProto> values;
  for (size_t k = 0; k < inputs.size(); ++k) {
    onnx::TensorProto t;
    if (!read_message(dir / ("input_" + std::to_string(k) + ".pb"), t)) {
      problem = "cannot read input_" + std::to_string(k) + ".pb";
      return std::nullopt;
    }
    values.push_back(std::move(t));
  }
  // Inputs after the first become initializers; the graph keeps the image as its one input.
  for (size_t k = 1; k < inputs.size(); ++k) {
    onnx::TensorProto* init = g->add_initializer();
    *init = values[k];
    init->set_name(inputs[k]->name());
  }
  const std::string image = inputs[0]->name();
  auto* list = g->mutable_input();
  for (int i = list->size() - 1; i >= 0; --i)
    if (list->Get(i).name() != image &&
        std::none_of(model.graph().initializer().begin(), model.graph().initializer().end(),
                     [&](const auto& t) { return t.name() == list->Get(i).name(); }))
      list->DeleteSubrange(i, 1);
  set.imported = graph::import_onnx_bytes(baked.SerializeAsString(), case_name);

  const onnx::TensorProto& x = values[0];
  const auto xv = float_values(x);
  if (!xv || x.dims_size() != 4) {
    problem = "input_0.pb is not a 4-D float tensor";
    return std::nullopt;
  }
  const int n = static_cast<int>(x.dims(0)), c = static_cast<int>(x.dims(1)),
            h = static_cast<int>(x.dims(2)), w = static_cast<int>(x.dims(3));
  const size_t per = static_cast<size_t>(c) * h * w;
  for (int b = 0; b < n; ++b) {
    Tensor t(c, h, w);
    std::copy_n(xv->begin() + static_cast<std::ptrdiff_t>(b * per), per, t.data.begin());
    set.inputs.push_back(std::move(t));
  }
  onnx::TensorProto y;
  if (!read_message(dir / "output_0.pb", y)) {
    problem = "cannot read output_0.pb";
    return std::nullopt;
  }
  const auto yv = float_values(y);
  if (!yv || y.dims_size() < 1 || y.dims(0) != n || yv->size() % std::max(n, 1)) {
    problem = "output_0.pb is not a float tensor [" + std::to_string(n) + ", ...]";
    return std::nullopt;
  }
  const size_t out_per = yv->size() / static_cast<size_t>(n);
  for (int b = 0; b < n; ++b) {
    Tensor t;
    if (y.dims_size() == 4) {
      t = Tensor(static_cast<int>(y.dims(1)), static_cast<int>(y.dims(2)),
                 static_cast<int>(y.dims(3)));
    } else {
      t = Tensor(static_cast<int>(out_per), 1, 1);
    }
    std::copy_n(yv->begin() + static_cast<std::ptrdiff_t>(b * out_per), out_per, t.data.begin());
    set.expected.push_back(std::move(t));
  }
  return set;
}

/// Every claimed case under `root` (node, pytorch-converted, pytorch-operator, simple), sorted
/// by name. Cases whose data cannot be read go to `broken` ("name: what").
inline std::vector<Case> load_cases(const fs::path& root, std::vector<std::string>& broken) {
  const std::set<std::string> supported = claimed_ops();
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const char* group : {"node", "pytorch-converted", "pytorch-operator", "simple"})
    for (const auto& e : fs::directory_iterator(root / group, ec))
      if (fs::exists(e.path() / "model.onnx", ec)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  std::vector<Case> cases;
  for (const fs::path& dir : dirs) {
    Case c;
    c.name = dir.parent_path().filename().string() + "/" + dir.filename().string();
    onnx::ModelProto model;
    if (!read_message(dir / "model.onnx", model)) {
      broken.push_back(c.name + ": cannot parse model.onnx");
      continue;
    }
    if (!claimed(model, supported, c.ops)) continue;
    std::vector<fs::path> sets;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    for (const fs::path& s : sets) {
      std::string problem;
      try {
        auto set = load_set(model, s, c.name, problem);
        if (!set) {
          broken.push_back(c.name + "/" + s.filename().string() + ": " + problem);
          continue;
        }
        c.sets.push_back(std::move(*set));
      } catch (const WeightFileError& e) {
        c.refused = short_reason(e.what(), c.name);
        c.sets.clear();
        break;
      }
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

/// Where `got` differs from `want` beyond |d| <= rel * |want| + abs * spread (spread: the range
/// of `want`'s values), or nullopt when it does not.
inline std::optional<std::string> mismatch(const Tensor& got, const Tensor& want, double rel = 1e-4,
                                           double abs = 1e-5) {
  if (got.size() != want.size())
    return "output of " + std::to_string(got.c) + "x" + std::to_string(got.h) + "x" +
           std::to_string(got.w) + ", expected " + std::to_string(want.c) + "x" +
           std::to_string(want.h) + "x" + std::to_string(want.w);
  if (want.data.empty()) return std::nullopt;
  const auto [lo, hi] = std::minmax_element(want.data.begin(), want.data.end());
  const double spread = std::max(double{*hi} - *lo, 1e-3);
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = std::abs(double{got.data[i]} - want.data[i]);
    if (!(d <= rel * std::abs(want.data[i]) + abs * spread))
      return "value " + std::to_string(i) + " is " + std::to_string(got.data[i]) + ", expected " +
             std::to_string(want.data[i]);
  }
  return std::nullopt;
}

}  // namespace overfeat::testing::onnx_cases
