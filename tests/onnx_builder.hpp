// SPDX-License-Identifier: MIT
// Small ONNX models built node by node (the protobuf API), for the tests of the classic-network
// importer, the command line and the app.
#pragma once
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "overfeat/graph_onnx.hpp"

namespace overfeat::testing {

/// A small ONNX model built node by node.
class OnnxBuilder {
 public:
  explicit OnnxBuilder(int opset = 13, std::vector<int64_t> input = {1, 3, 6, 6},
                       const std::string& input_name = "image") {
    proto_.set_ir_version(7);
    auto* o = proto_.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    g_ = proto_.mutable_graph();
    g_->set_name("test");
    auto* in = g_->add_input();
    in->set_name(input_name);
    auto* type = in->mutable_type()->mutable_tensor_type();
    type->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : input) {
      auto* dim = type->mutable_shape()->add_dim();
      if (d > 0)
        dim->set_dim_value(d);
      else
        dim->set_dim_param(d == 0 ? "N" : "S" + std::to_string(-d));
    }
  }

  onnx::TensorProto* floats(const std::string& name, std::vector<int64_t> dims,
                            const std::vector<float>& values) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(values.data(), values.size() * sizeof(float));
    return t;
  }

  void ints(const std::string& name, std::vector<int64_t> dims,
            const std::vector<int64_t>& values) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t v : values) t->add_int64_data(v);
  }

  onnx::NodeProto* node(const std::string& op, std::vector<std::string> inputs,
                        std::vector<std::string> outputs, const std::string& name = "") {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& i : inputs) n->add_input(i);
    for (const auto& o : outputs) n->add_output(o);
    return n;
  }

  static void attr(onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attr(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_f(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr_s(onnx::NodeProto* n, const std::string& name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(v);
  }

  void output(const std::string& name) {
    auto* o = g_->add_output();
    o->set_name(name);
    o->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  }

  std::string bytes() const { return proto_.SerializeAsString(); }
  graph::ImportedGraph import() const { return graph::import_onnx_bytes(bytes(), "test.onnx"); }
  /// Writes the model to `file`.
  void save(const std::string& file) const {
    std::ofstream out(file, std::ios::binary);
    out << bytes();
  }
  onnx::ModelProto& proto() { return proto_; }
  onnx::GraphProto& graph() { return *g_; }

 private:
  onnx::ModelProto proto_;
  onnx::GraphProto* g_;
};

/// A tiny classic network: conv 3x3 stride 2 (3 -> 8) + ReLU, global average pooling,
/// Flatten, Gemm (8 -> `classes`), on a `side` x `side` input; weights from a fixed seed.
inline OnnxBuilder tiny_classifier(int classes = 5, int side = 32) {
  OnnxBuilder m(13, {1, 3, side, side}, "input");
  std::vector<float> w(8 * 3 * 9), b(8), fc(static_cast<size_t>(classes) * 8), fb(classes);
  uint32_t state = 12345;
  auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f;
  };
  for (auto* v : {&w, &b, &fc, &fb})
    for (float& x : *v) x = next();
  m.floats("conv.w", {8, 3, 3, 3}, w);
  m.floats("conv.b", {8}, b);
  m.floats("fc.w", {classes, 8}, fc);
  m.floats("fc.b", {classes}, fb);
  auto* conv = m.node("Conv", {"input", "conv.w", "conv.b"}, {"c1"}, "conv1");
  OnnxBuilder::attr(conv, "kernel_shape", std::vector<int64_t>{3, 3});
  OnnxBuilder::attr(conv, "strides", std::vector<int64_t>{2, 2});
  m.node("Relu", {"c1"}, {"r1"}, "relu1");
  m.node("GlobalAveragePool", {"r1"}, {"gap"}, "pool");
  m.node("Flatten", {"gap"}, {"flat"}, "flatten");
  auto* gemm = m.node("Gemm", {"flat", "fc.w", "fc.b"}, {"logits"}, "fc");
  OnnxBuilder::attr(gemm, "transB", int64_t{1});
  m.output("logits");
  return m;
}

}  // namespace overfeat::testing
