// SPDX-License-Identifier: MIT
// Model files (docs/model-format.md): save/load round trips, the graph save_model writes, what
// the loader accepts (Pad nodes, constants, Identity, Dropout, PyTorch exports) and refuses
// (each with a message naming the file), Model::validate, the official nets as models, and
// weights stored as float16 (exact rounding, Cast nodes, the Python converter).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <sys/stat.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>

#include "overfeat/classes.hpp"
#include "overfeat/error.hpp"
#include "overfeat/model.hpp"
#include "overfeat/reference.hpp"
#include "python_support.hpp"
#include "synthetic_weights.hpp"

namespace overfeat {
namespace {

namespace fs = std::filesystem;
using testing::kPython;
using testing::python_has;
using testing::tensor_from;

/// A fresh folder for the running test (ctest runs tests in parallel processes).
fs::path test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::path(OVERFEAT_TEST_WORK_DIR) / "model" /
                       (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

Module module(ModuleKind kind, const std::string& name, int kernel, int stride, int pad, int out) {
  return Module{kind, name, kernel, stride, pad, out};
}

enum class Boxes { None, Agnostic, PerClass };

/// A small random model: 5 classes, a trunk with a pad, a hand-built regressor head.
Model small_model(Boxes boxes) {
  Model m;
  m.net = NetSpec::parse("tiny test",
                         "conv:8:5:2 relu pool:2 pad:1 conv:16:3:1 relu pool:2 "
                         "conv:24:3:1 relu conv:5:1:1");
  m.net.mean = 100.123456f;
  m.net.stddev = 0.1f;
  m.net.default_feature_layer = 10;
  m.weights = random_weights(m.net, 7);
  m.classes = {"background", "cat", "hot dog", "crane \"bird\"", "caf\xc3\xa9"};
  m.background = 0;
  m.metadata = {{"description", "a test model"}, {"data", "none"}, {"training", "--lr 0.1"}};
  if (boxes == Boxes::None) return m;
  // Only used to draw random weights of the head's shapes.
  NetSpec shapes =
      NetSpec::parse("r", "conv:12:3:1 relu conv:8:1:1 relu conv:" +
                              std::to_string(boxes == Boxes::Agnostic ? 4 : 20) + ":1:1");
  shapes.input_channels = 16;
  Head head;
  head.modules = {module(ModuleKind::Conv, "reg_conv1", 3, 1, 0, 12),
                  module(ModuleKind::Relu, "reg_relu1", 1, 1, 0, 0),
                  module(ModuleKind::Conv, "reg_conv2", 1, 1, 0, 8),
                  module(ModuleKind::Relu, "reg_relu2", 1, 1, 0, 0),
                  module(ModuleKind::Conv, "reg_conv3", 1, 1, 0, shapes.modules[4].out_channels)};
  head.convs = random_weights(shapes, 11).convs;
  m.regressor = head;
  return m;
}

void expect_same_modules(const std::vector<Module>& a, const std::vector<Module>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("module " + std::to_string(i) + " " + a[i].name);
    EXPECT_EQ(a[i].kind, b[i].kind);
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].kernel, b[i].kernel);
    EXPECT_EQ(a[i].stride, b[i].stride);
    EXPECT_EQ(a[i].pad, b[i].pad);
    EXPECT_EQ(a[i].out_channels, b[i].out_channels);
  }
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void expect_same_convs(const std::vector<ConvWeights>& a, const std::vector<ConvWeights>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].out, b[i].out);
    EXPECT_EQ(a[i].in, b[i].in);
    EXPECT_EQ(a[i].k, b[i].k);
    EXPECT_TRUE(same_bits(a[i].w, b[i].w)) << "weights of conv " << i;
    EXPECT_TRUE(same_bits(a[i].b, b[i].b)) << "biases of conv " << i;
  }
}

void expect_same(const Model& a, const Model& b) {
  EXPECT_EQ(a.net.name, b.net.name);
  expect_same_modules(a.net.modules, b.net.modules);
  EXPECT_EQ(a.net.input_channels, b.net.input_channels);
  EXPECT_EQ(a.net.window, b.net.window);
  EXPECT_EQ(a.net.default_feature_layer, b.net.default_feature_layer);
  EXPECT_EQ(std::memcmp(&a.net.mean, &b.net.mean, sizeof(float)), 0) << a.net.mean;
  EXPECT_EQ(std::memcmp(&a.net.stddev, &b.net.stddev, sizeof(float)), 0) << a.net.stddev;
  expect_same_convs(a.weights.convs, b.weights.convs);
  EXPECT_EQ(a.classes, b.classes);
  EXPECT_EQ(a.background, b.background);
  EXPECT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.regressor.has_value(), b.regressor.has_value());
  if (a.regressor) {
    expect_same_modules(a.regressor->modules, b.regressor->modules);
    expect_same_convs(a.regressor->convs, b.regressor->convs);
  }
}

onnx::ModelProto read_proto(const fs::path& file) {
  onnx::ModelProto proto;
  std::ifstream in(file, std::ios::binary);
  EXPECT_TRUE(proto.ParseFromIstream(&in)) << file;
  return proto;
}

void write_proto(const onnx::ModelProto& proto, const fs::path& file) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(proto.SerializeToOstream(&out));
}

/// The message of the WeightFileError that loading `file` throws ("" if none).
std::string load_error(const fs::path& file) {
  try {
    load_model(file);
  } catch (const WeightFileError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "";
}

/// Expects loading to fail with a message naming the file and holding every `parts`.
void expect_load_error(const fs::path& file, const std::vector<std::string>& parts) {
  const std::string msg = load_error(file);
  ASSERT_FALSE(msg.empty()) << "loading " << file << " should fail";
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  for (const auto& p : parts)
    EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' in: " << msg;
}

onnx::NodeProto* node_named(onnx::ModelProto& proto, const std::string& name) {
  for (auto& n : *proto.mutable_graph()->mutable_node())
    if (n.name() == name) return &n;
  ADD_FAILURE() << "no node " << name;
  return nullptr;
}

void set_ints(onnx::NodeProto* node, const std::string& name, const std::vector<int64_t>& v) {
  for (auto& a : *node->mutable_attribute())
    if (a.name() == name) {
      a.clear_ints();
      for (int64_t x : v) a.add_ints(x);
    }
}

// ---------------------------------------------------------------------------------------------

TEST(ModelFile, RoundTripClassSpecificBoxes) {
  const fs::path file = test_dir() / "m.onnx";
  const Model m = small_model(Boxes::PerClass);
  save_model(m, file);
  const Model back = load_model(file);
  expect_same(m, back);
  EXPECT_FALSE(back.class_agnostic_boxes());
  EXPECT_EQ(back.regressor->out_channels(), 20);
}

TEST(ModelFile, RoundTripClassAgnosticBoxes) {
  const fs::path file = test_dir() / "m.onnx";
  const Model m = small_model(Boxes::Agnostic);
  save_model(m, file);
  const Model back = load_model(file);
  expect_same(m, back);
  EXPECT_TRUE(back.class_agnostic_boxes());
}

TEST(ModelFile, RoundTripWithoutRegressorAndDefaults) {
  const fs::path file = test_dir() / "m.onnx";
  Model m = small_model(Boxes::None);
  m.background = -1;
  m.metadata.clear();
  save_model(m, file);
  const Model back = load_model(file);
  expect_same(m, back);
  EXPECT_FALSE(back.regressor);
  EXPECT_FALSE(back.class_agnostic_boxes());
}

TEST(ModelFile, RoundTripDetectionCalibration) {
  const fs::path file = test_dir() / "m.onnx";
  Model m = small_model(Boxes::Agnostic);
  EXPECT_TRUE(load_model((save_model(m, file), file)).detection_calibrations.empty());
  overfeat::DetectionCalibration c;
  c.bias = -1.25f;
  c.w_peak = 0.75f;
  c.w_mass = 0.5f;
  c.fitted_on = "voc2007 (val) images 1-150";
  c.maps = 6;
  overfeat::DetectionCalibration live = c;
  live.maps = 1;
  live.bias = 2.5f;
  m.detection_calibrations = {c, live};
  save_model(m, file, overfeat::WeightStorage::Float16);
  const Model back = load_model(file);
  ASSERT_EQ(back.detection_calibrations.size(), 2u);
  const auto& b = back.detection_calibrations[0];
  EXPECT_EQ(b.bias, c.bias);
  EXPECT_EQ(b.w_peak, c.w_peak);
  EXPECT_EQ(b.w_mass, c.w_mass);
  EXPECT_EQ(b.maps, 6);
  EXPECT_EQ(b.fitted_on, c.fitted_on);
  EXPECT_EQ(back.detection_calibrations[1].maps, 1);
  EXPECT_TRUE(back.net.detection_scales.empty());
  m.net.detection_scales = "40,48";  // the model's own scale list ("model") travels too
  save_model(m, file);
  EXPECT_EQ(load_model(file).net.detection_scales, "40,48");
  // Each evaluation gets the calibration fitted nearest its number of maps.
  EXPECT_EQ(overfeat::calibration_for(back.detection_calibrations, 6)->maps, 6);
  EXPECT_EQ(overfeat::calibration_for(back.detection_calibrations, 5)->maps, 6);
  EXPECT_EQ(overfeat::calibration_for(back.detection_calibrations, 2)->maps, 1);
  EXPECT_EQ(overfeat::calibration_for({}, 2), nullptr);
}

TEST(ModelFile, SavedGraphLayout) {
  const fs::path file = test_dir() / "m.onnx";
  save_model(small_model(Boxes::PerClass), file);
  const onnx::ModelProto p = read_proto(file);
  EXPECT_EQ(p.ir_version(), 7);
  ASSERT_EQ(p.opset_import_size(), 1);
  EXPECT_EQ(p.opset_import(0).version(), 13);
  const auto& g = p.graph();
  ASSERT_EQ(g.input_size(), 1);
  EXPECT_EQ(g.input(0).name(), "image");
  std::vector<std::string> names, outputs;
  for (const auto& n : g.node()) names.push_back(n.name());
  for (const auto& o : g.output()) outputs.push_back(o.name());
  EXPECT_EQ(names, (std::vector<std::string>{"conv1", "relu1", "pool1", "conv2", "relu2", "pool2",
                                             "conv3", "relu3", "conv4", "reg_conv1", "reg_relu1",
                                             "reg_conv2", "reg_relu2", "reg_conv3"}));
  EXPECT_EQ(outputs, (std::vector<std::string>{"class_scores", "boxes"}));
  EXPECT_EQ(g.node(3).input(1), "conv2.weight");
  EXPECT_EQ(g.node(3).input(2), "conv2.bias");
  bool pads_folded = false;
  for (const auto& a : g.node(3).attribute())
    if (a.name() == "pads") pads_folded = a.ints_size() == 4 && a.ints(0) == 1 && a.ints(3) == 1;
  EXPECT_TRUE(pads_folded) << "pad:1 must be folded into conv2's pads";
  EXPECT_EQ(g.initializer_size(), 14);
  std::map<std::string, std::string> props;
  for (const auto& kv : p.metadata_props()) props[kv.key()] = kv.value();
  EXPECT_EQ(props,
            (std::map<std::string, std::string>{
                {"overfeat.format", "1"},
                {"overfeat.name", "tiny test"},
                {"overfeat.classes",
                 "[\"background\",\"cat\",\"hot dog\",\"crane \\\"bird\\\"\",\"caf\xc3\xa9\"]"},
                {"overfeat.background", "0"},
                {"overfeat.mean", "100.12346"},  // the shortest text that reads back as the float
                {"overfeat.stddev", "0.1"},
                {"overfeat.box_encoding", "window-relative-xyxy-pixels"},
                {"overfeat.feature_layer", "10"},
                {"overfeat.weight_storage", "float32"},
                {"overfeat.meta.description", "a test model"},
                {"overfeat.meta.data", "none"},
                {"overfeat.meta.training", "--lr 0.1"}}));
}

TEST(ModelFile, PythonOnnxCheckerAcceptsSavedModel) {
  if (!python_has("onnx")) GTEST_SKIP() << kPython << " cannot import onnx (python3-onnx)";
  const fs::path dir = test_dir();
  save_model(small_model(Boxes::PerClass), dir / "m.onnx");
  save_model(small_model(Boxes::PerClass), dir / "half.onnx", WeightStorage::Float16);
  for (const char* name : {"m.onnx", "half.onnx"}) {
    const std::string cmd = std::string(kPython) +
                            " -c 'import onnx, sys; onnx.checker.check_model("
                            "onnx.load(sys.argv[1]), full_check=True)' " +
                            (dir / name).string();
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
}

// ---------------------------------------------------------------------------------------------
// What the loader accepts beyond save_model's own graphs

TEST(ModelFile, AcceptsPadNodeConstantsIdentityAndDropout) {
  const fs::path dir = test_dir();
  const Model m = small_model(Boxes::PerClass);
  save_model(m, dir / "m.onnx");
  onnx::ModelProto p = read_proto(dir / "m.onnx");
  auto* g = p.mutable_graph();
  // conv2 loses its pads; a Pad node (pads an int64 initializer, value a Constant node) feeds it.
  onnx::NodeProto* conv2 = node_named(p, "conv2");
  set_ints(conv2, "pads", {0, 0, 0, 0});
  conv2->set_input(0, "padded");
  auto* pads = g->add_initializer();
  pads->set_name("pad_amounts");
  pads->set_data_type(onnx::TensorProto::INT64);
  pads->add_dims(8);
  for (int64_t v : {0, 0, 1, 1, 0, 0, 1, 1}) pads->add_int64_data(v);
  onnx::NodeProto zero;
  zero.set_op_type("Constant");
  zero.add_output("zero");
  auto* value = zero.add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  value->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
  value->mutable_t()->add_float_data(0.0f);
  onnx::NodeProto pad;
  pad.set_op_type("Pad");
  pad.set_name("my_pad");
  pad.add_input("pool1");
  pad.add_input("pad_amounts");
  pad.add_input("zero");
  pad.add_output("padded");
  // relu3 -> Identity -> Dropout -> conv4
  onnx::NodeProto identity, dropout;
  identity.set_op_type("Identity");
  identity.add_input("relu3");
  identity.add_output("same");
  dropout.set_op_type("Dropout");
  dropout.add_input("same");
  dropout.add_output("dropped");
  dropout.add_output("mask");
  node_named(p, "conv4")->set_input(0, "dropped");
  // Nodes must stay topologically sorted: rebuild the list.
  std::vector<onnx::NodeProto> nodes(g->node().begin(), g->node().end());
  g->clear_node();
  for (const auto& n : nodes) {
    if (n.name() == "conv2") *g->add_node() = zero, *g->add_node() = pad;
    if (n.name() == "conv4") *g->add_node() = identity, *g->add_node() = dropout;
    *g->add_node() = n;
  }
  write_proto(p, dir / "edited.onnx");
  expect_same(m, load_model(dir / "edited.onnx"));
}

TEST(ModelFile, FloatDataInitializersAndOlderOpsets) {
  const fs::path dir = test_dir();
  const Model m = small_model(Boxes::Agnostic);
  save_model(m, dir / "m.onnx");
  onnx::ModelProto p = read_proto(dir / "m.onnx");
  for (auto& t : *p.mutable_graph()->mutable_initializer()) {
    std::vector<float> v(t.raw_data().size() / 4);
    std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
    t.clear_raw_data();
    for (float x : v) t.add_float_data(x);
  }
  for (int opset : {9, 11, 17}) {
    p.mutable_opset_import(0)->set_version(opset);
    write_proto(p, dir / "float_data.onnx");
    SCOPED_TRACE("opset " + std::to_string(opset));
    expect_same(m, load_model(dir / "float_data.onnx"));
  }
}

// ---------------------------------------------------------------------------------------------
// What the loader refuses

TEST(ModelFileErrors, MissingFile) {
  expect_load_error(test_dir() / "absent.onnx", {"does not exist"});
}

TEST(ModelFileErrors, EmptyFile) {
  const fs::path file = test_dir() / "empty.onnx";
  std::ofstream(file).close();
  expect_load_error(file, {"empty"});
}

TEST(ModelFileErrors, TruncatedFile) {
  const fs::path dir = test_dir();
  save_model(small_model(Boxes::PerClass), dir / "m.onnx");
  const auto size = fs::file_size(dir / "m.onnx");
  fs::copy_file(dir / "m.onnx", dir / "truncated.onnx");
  fs::resize_file(dir / "truncated.onnx", size / 2);
  expect_load_error(dir / "truncated.onnx", {"truncated or not an ONNX file"});
}

TEST(ModelFileErrors, NotOnnx) {
  const fs::path dir = test_dir();
  std::ofstream(dir / "text.onnx") << "This is a text file, not a model.\n";
  expect_load_error(dir / "text.onnx", {"ONNX"});
  // Raw floats, as in the official weight files.
  save_weights(dir / "weights.onnx", random_weights(NetSpec::parse("x", "conv:4:3:1"), 1));
  expect_load_error(dir / "weights.onnx", {"ONNX"});
  expect_load_error(dir, {"folder"});
}

TEST(ModelFileErrors, UnsupportedNode) {
  const fs::path dir = test_dir();
  save_model(small_model(Boxes::PerClass), dir / "m.onnx");
  onnx::ModelProto p = read_proto(dir / "m.onnx");
  node_named(p, "relu2")->set_op_type("Sigmoid");
  write_proto(p, dir / "sigmoid.onnx");
  expect_load_error(dir / "sigmoid.onnx", {"'relu2'", "Sigmoid", "supports Conv, Relu"});
  p = read_proto(dir / "m.onnx");
  node_named(p, "conv4")->set_op_type("Gemm");
  write_proto(p, dir / "gemm.onnx");
  expect_load_error(dir / "gemm.onnx", {"'conv4'", "Gemm", "must be convolutions"});
}

TEST(ModelFileErrors, ShapesThatDoNotChain) {
  const fs::path dir = test_dir();
  Model m = small_model(Boxes::PerClass);
  save_model(m, dir / "m.onnx");
  // conv3 given weights for 8 input channels while conv2 outputs 16.
  onnx::ModelProto p = read_proto(dir / "m.onnx");
  for (auto& t : *p.mutable_graph()->mutable_initializer())
    if (t.name() == "conv3.weight") {
      t.set_dims(1, 8);
      t.mutable_raw_data()->resize(t.raw_data().size() / 2);
    }
  write_proto(p, dir / "channels.onnx");
  expect_load_error(dir / "channels.onnx", {"'conv3'", "8 input channels", "has 16"});
  // A bias of the wrong length.
  p = read_proto(dir / "m.onnx");
  for (auto& t : *p.mutable_graph()->mutable_initializer())
    if (t.name() == "reg_conv2.bias") t.set_dims(0, 3), t.mutable_raw_data()->resize(12);
  write_proto(p, dir / "bias.onnx");
  expect_load_error(dir / "bias.onnx", {"'reg_conv2'", "bias"});
  // Weight data shorter than its shape.
  p = read_proto(dir / "m.onnx");
  p.mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(40);
  write_proto(p, dir / "short.onnx");
  expect_load_error(dir / "short.onnx", {"'conv1'", "does not match its shape"});
  // Overlapping pooling.
  p = read_proto(dir / "m.onnx");
  set_ints(node_named(p, "pool1"), "strides", {1, 1});
  write_proto(p, dir / "pool.onnx");
  expect_load_error(dir / "pool.onnx", {"'pool1'", "kernel = stride"});
  // A class list one short of the classifier's outputs (caught by validate).
  m.classes.pop_back();
  p = read_proto(dir / "m.onnx");
  for (auto& kv : *p.mutable_metadata_props())
    if (kv.key() == "overfeat.classes") kv.set_value(nlohmann::json(m.classes).dump());
  write_proto(p, dir / "classes.onnx");
  expect_load_error(dir / "classes.onnx", {"4 class names for 5 classifier outputs"});
}

TEST(ModelFileErrors, GraphThatIsNotAChainForkingAtTheLastPool) {
  const fs::path dir = test_dir();
  save_model(small_model(Boxes::PerClass), dir / "m.onnx");
  // The regressor branches off at relu3 instead of pool2.
  onnx::ModelProto p = read_proto(dir / "m.onnx");
  node_named(p, "reg_conv1")->set_input(0, "relu2");
  write_proto(p, dir / "fork.onnx");
  expect_load_error(dir / "fork.onnx", {"forks at value 'relu2'", "last MaxPool"});
  // An extra graph output.
  p = read_proto(dir / "m.onnx");
  p.mutable_graph()->add_output()->set_name("features");
  write_proto(p, dir / "outputs.onnx");
  expect_load_error(dir / "outputs.onnx", {"'features'"});
  // A second graph input.
  p = read_proto(dir / "m.onnx");
  p.mutable_graph()->add_input()->set_name("mask");
  write_proto(p, dir / "inputs.onnx");
  expect_load_error(dir / "inputs.onnx", {"2 inputs"});
  // An unsupported opset.
  p = read_proto(dir / "m.onnx");
  p.mutable_opset_import(0)->set_version(18);
  write_proto(p, dir / "opset.onnx");
  expect_load_error(dir / "opset.onnx", {"opset 18", "opset_version=13"});
}

TEST(ModelFileErrors, MissingOrBadMetadata) {
  const fs::path dir = test_dir();
  save_model(small_model(Boxes::PerClass), dir / "m.onnx");
  for (const std::string key : {"format", "name", "classes", "mean", "stddev", "box_encoding"}) {
    onnx::ModelProto p = read_proto(dir / "m.onnx");
    auto* props = p.mutable_metadata_props();
    for (int i = props->size() - 1; i >= 0; --i)
      if (props->Get(i).key() == "overfeat." + key) props->DeleteSubrange(i, 1);
    const fs::path file = dir / ("no_" + key + ".onnx");
    write_proto(p, file);
    SCOPED_TRACE(key);
    expect_load_error(file, {"'overfeat." + key + "'"});
  }
  const std::map<std::string, std::pair<std::string, std::string>> bad = {
      {"format", {"2", "format version '2'"}},
      {"classes", {"{\"a\": 1}", "JSON array"}},
      {"mean", {"12abc", "not a number"}},
      {"background", {"9", "background index 9"}},
      {"box_encoding", {"center-size", "'center-size'"}},
      {"feature_layer", {"99", "feature layer 99"}}};
  for (const auto& [key, v] : bad) {
    onnx::ModelProto p = read_proto(dir / "m.onnx");
    for (auto& kv : *p.mutable_metadata_props())
      if (kv.key() == "overfeat." + key) kv.set_value(v.first);
    const fs::path file = dir / ("bad_" + key + ".onnx");
    write_proto(p, file);
    SCOPED_TRACE(key);
    expect_load_error(file, {v.second});
  }
}

// Hostile metadata and graphs that were once accepted (or reached undefined behaviour).
TEST(ModelFileErrors, GarbageMetadataIsRefused) {
  const fs::path dir = test_dir();
  save_model(small_model(Boxes::PerClass), dir / "m.onnx");
  const std::vector<std::tuple<std::string, std::string, std::string>> bad = {
      {"classes", R"(["background", "cat", "cat", "dog", "cow"])", "like an earlier class"},
      {"classes", R"(["background", "", "b", "c", "d"])", "class 1 is named ''"},
      {"classes", "[\"background\", \"\\u001b[31mred\", \"b\", \"c\", \"d\"]", "\\x1b"},
      {"name", "../../etc/evil", "without '/'"},
      {"name", std::string(300, 'n'), "1 to 200 bytes"},
      {"name", "bell\x07", "\\x07"},
      {"feature_layer", "0", "feature layer 0"},
      {"feature_layer", "1e20", "not a number"},
      {"weight_storage", "bfloat16", "must be float32 or float16"},
      {"detection_calibration", "nonsense", "needs a number 'bias'"},
      {"detection_calibration", R"({"bias": 1, "w_peak": 1e30, "w_mass": 0})", "'w_peak'"},
      {"detection_calibration", R"({"bias": 1, "w_peak": 1})", "'w_mass'"},
      {"detection_calibration", R"([{"bias": 1, "w_peak": 1, "w_mass": 1, "maps": -3}])", "'maps'"},
      {"detection_scales", "12,abc", "'overfeat.detection_scales' is '12,abc'"}};
  int i = 0;
  for (const auto& [key, value, says] : bad) {
    onnx::ModelProto p = read_proto(dir / "m.onnx");
    bool found = false;
    for (auto& kv : *p.mutable_metadata_props())
      if (kv.key() == "overfeat." + key) {
        kv.set_value(value);
        found = true;
      }
    if (!found) {  // an optional property the saved file does not have
      auto* kv = p.add_metadata_props();
      kv->set_key("overfeat." + key);
      kv->set_value(value);
    }
    const fs::path file = dir / ("garbage_" + std::to_string(i++) + ".onnx");
    write_proto(p, file);
    SCOPED_TRACE(key + " = " + value.substr(0, 40));
    expect_load_error(file, {says});
  }
  // save_model refuses what load_model would refuse.
  Model twice = small_model(Boxes::PerClass);
  twice.classes[2] = twice.classes[1];
  EXPECT_THROW(save_model(twice, dir / "never.onnx"), Error);
}

TEST(ModelFileErrors, SpecialFilesAreRefusedWithoutBlocking) {
  const fs::path fifo = test_dir() / "pipe.onnx";
  fs::remove(fifo);
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_load_error(fifo, {"named pipe"});  // once blocked in ParseFromIstream
  expect_load_error("/dev/zero", {"character device"});
}

TEST(ModelFileErrors, NodesWithoutOutputsOrInputsAndHugeShapes) {
  const fs::path dir = test_dir();
  save_model(small_model(Boxes::PerClass), dir / "m.onnx");
  {
    onnx::ModelProto p = read_proto(dir / "m.onnx");
    auto* n = p.mutable_graph()->mutable_node(0);
    n->clear_output();
    n->clear_name();
    write_proto(p, dir / "no_output.onnx");
    expect_load_error(dir / "no_output.onnx", {"has no output"});
  }
  {
    onnx::ModelProto p = read_proto(dir / "m.onnx");
    for (auto& n : *p.mutable_graph()->mutable_node())
      if (n.op_type() == "Conv") {
        n.mutable_input()->DeleteSubrange(1, n.input_size() - 1);
        break;
      }
    write_proto(p, dir / "no_weights.onnx");
    expect_load_error(dir / "no_weights.onnx", {"has no input 2"});
  }
  {
    onnx::ModelProto p = read_proto(dir / "m.onnx");
    auto* t = p.mutable_graph()->mutable_initializer(0);
    t->set_dims(0, int64_t{1} << 40);
    t->set_dims(1, int64_t{1} << 40);
    write_proto(p, dir / "huge_shape.onnx");
    expect_load_error(dir / "huge_shape.onnx", {"does not match its shape", "1099511627776",
                                                "more values than a model file can hold"});
  }
  {
    onnx::ModelProto p = read_proto(dir / "m.onnx");
    auto* t = p.mutable_graph()->mutable_initializer(0);
    std::string raw = t->raw_data();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    if (!raw.empty()) {
      std::memcpy(raw.data(), &nan, sizeof nan);
      t->set_raw_data(raw);
    } else {
      t->set_float_data(0, nan);
    }
    write_proto(p, dir / "nan.onnx");
    expect_load_error(dir / "nan.onnx", {"NaN"});
  }
}

// ---------------------------------------------------------------------------------------------
// Model::validate

TEST(ModelValidate, AcceptsConsistentModels) {
  for (Boxes b : {Boxes::None, Boxes::Agnostic, Boxes::PerClass})
    EXPECT_NO_THROW(small_model(b).validate());
}

TEST(ModelValidate, RefusesInconsistentModels) {
  auto expect_invalid = [](const std::string& what, auto change) {
    Model m = small_model(Boxes::PerClass);
    change(m);
    SCOPED_TRACE(what);
    EXPECT_THROW(m.validate(), Error);
    EXPECT_THROW(save_model(m, fs::path(OVERFEAT_TEST_WORK_DIR) / "never-written.onnx"), Error);
  };
  expect_invalid("class count", [](Model& m) { m.classes.pop_back(); });
  expect_invalid("background", [](Model& m) { m.background = 5; });
  expect_invalid("no pool", [](Model& m) {
    m.net = NetSpec::parse("n", "conv:8:5:2 relu conv:5:1:1");
    m.weights = random_weights(m.net, 1);
  });
  expect_invalid("no classifier conv", [](Model& m) {
    m.net = NetSpec::parse("n", "conv:5:5:2 relu pool:2");
    m.weights = random_weights(m.net, 1);
    m.regressor.reset();
  });
  expect_invalid("missing conv weights", [](Model& m) { m.weights.convs.pop_back(); });
  expect_invalid("weight shape", [](Model& m) { m.weights.convs[1].w.pop_back(); });
  expect_invalid("pad before a pool", [](Model& m) {
    m.net.modules.insert(m.net.modules.begin() + 2, module(ModuleKind::Pad, "pad", 1, 1, 1, 0));
  });
  expect_invalid("regressor outputs", [](Model& m) {
    m.regressor->modules.back().out_channels = 8;
    m.regressor->convs.back().out = 8;
    m.regressor->convs.back().w.resize(8 * 8);
    m.regressor->convs.back().b.resize(8);
  });
  expect_invalid("regressor map size", [](Model& m) {
    m.regressor->modules.insert(m.regressor->modules.begin(),
                                module(ModuleKind::Pad, "reg_pad1", 1, 1, 1, 0));
  });
  expect_invalid("regressor input channels", [](Model& m) { m.regressor->convs[0].in = 8; });
  expect_invalid("stddev", [](Model& m) { m.net.stddev = 0; });
  expect_invalid("feature layer", [](Model& m) { m.net.default_feature_layer = 99; });
  expect_invalid("feature layer 0 (the input)", [](Model& m) { m.net.default_feature_layer = 0; });
  expect_invalid("a huge pad", [](Model& m) {  // once blamed the image ("use a smaller input")
    m.net.modules.insert(m.net.modules.begin(), module(ModuleKind::Pad, "pad", 1, 1, 100000, 0));
  });
}

TEST(ModelValidate, HeadGeometry) {
  const Model m = small_model(Boxes::PerClass);
  EXPECT_EQ(m.regressor->out_channels(), 20);
  EXPECT_EQ(m.regressor->reach(), 3);
  Head h;
  h.modules = {module(ModuleKind::Conv, "a", 5, 1, 0, 8), module(ModuleKind::Conv, "b", 3, 2, 0, 4),
               module(ModuleKind::Conv, "c", 1, 1, 0, 4)};
  EXPECT_EQ(h.reach(), 7);  // from the output: 1, then (1-1)*2+3 = 3, then (3-1)*1+5 = 7
  EXPECT_EQ(h.out_channels(), 4);
}

// ---------------------------------------------------------------------------------------------
// The official networks

TEST(OfficialModel, BothNetsFromSyntheticFiles) {
  const fs::path dir = testing::synthetic_weights_dir();
  for (int net = 0; net < 2; ++net) {
    SCOPED_TRACE(net);
    const Model m = official_model(net, dir);
    EXPECT_EQ(m.net.name, net == 0 ? "fast" : "accurate");
    EXPECT_EQ(m.classes.size(), 1000u);
    EXPECT_EQ(m.classes, official_class_names());
    EXPECT_EQ(m.background, -1);
    EXPECT_FALSE(m.regressor);
    EXPECT_EQ(m.trunk_end(), net == 0 ? 15 : 18);
    EXPECT_EQ(m.metadata.at("source"), official_weight_path(dir, net).string());
    EXPECT_EQ(m.weights.convs.size(), net == 0 ? 8u : 9u);
    // The last floats of the file are the last conv's biases.
    const auto& bias = m.weights.convs.back().b;
    std::vector<float> tail(bias.size());
    std::ifstream in(official_weight_path(dir, net), std::ios::binary);
    in.seekg(-static_cast<std::streamoff>(tail.size() * sizeof(float)), std::ios::end);
    in.read(reinterpret_cast<char*>(tail.data()), static_cast<std::streamsize>(tail.size() * 4));
    EXPECT_TRUE(same_bits(bias, tail));
  }
}

TEST(OfficialModel, MissingFolder) {
  EXPECT_THROW(official_model(0, test_dir() / "nothing-here"), WeightFileError);
  EXPECT_THROW(official_model(2, test_dir()), Error);
}

// ---------------------------------------------------------------------------------------------
// PyTorch exports (tools/export/export_example.py)

/// Runs the reference exporter; false (with a skip reason) when torch or onnx is missing.
bool export_with_torch(const fs::path& dir, const std::string& flags, std::string& why) {
  if (!python_has("torch, onnx")) {
    why = std::string(kPython) + " cannot import torch and onnx (python3-torch, python3-onnx)";
    return false;
  }
  const std::string cmd =
      std::string(kPython) + " " OVERFEAT_SOURCE_DIR "/tools/export/export_example.py --out " +
      (dir / "m.onnx").string() + " --sample " + (dir / "sample.json").string() + " " + flags +
      " 2>" + (dir / "stderr.txt").string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return true;
}

void expect_near(const Tensor& got, const Tensor& want, const char* what) {
  ASSERT_EQ(got.c, want.c) << what;
  ASSERT_EQ(got.h, want.h) << what;
  ASSERT_EQ(got.w, want.w) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got.data[i], want.data[i], 1e-4f * (1.0f + std::abs(want.data[i])))
        << what << " at " << i;
}

/// The class scores and (when there is a regressor) the boxes of `m` on `rgb`, computed with
/// the reference layers.
std::pair<Tensor, Tensor> reference_outputs(const Model& m, const Tensor& rgb) {
  const auto outs = ref::forward_all(m.net, m.weights, rgb);
  if (!m.regressor) return {outs.back(), Tensor()};
  Tensor x = outs[m.trunk_end() + 1];
  int pad = 0;
  size_t conv = 0;
  for (const Module& mod : m.regressor->modules) {
    if (mod.kind == ModuleKind::Pad) pad += mod.pad;
    if (mod.kind == ModuleKind::Relu) x = ref::relu(x);
    if (mod.kind == ModuleKind::Conv)
      x = ref::conv(x, m.regressor->convs[conv++], mod.stride, pad, false), pad = 0;
  }
  return {outs.back(), x};
}

/// Runs the model with the reference layers and compares with PyTorch's outputs.
void expect_matches_torch(const Model& m, const fs::path& sample_file) {
  std::ifstream in(sample_file);
  const auto sample = nlohmann::json::parse(in);
  const auto [scores, boxes] = reference_outputs(m, tensor_from(sample["input"]));
  expect_near(scores, tensor_from(sample["class_scores"]), "class_scores");
  expect_near(boxes, tensor_from(sample["boxes"]), "boxes");
}

TEST(PyTorchExport, LoadsWithTheExpectedStructure) {
  const fs::path dir = test_dir();
  std::string why;
  if (!export_with_torch(dir, "--seed 1", why)) GTEST_SKIP() << why;
  const Model m = load_model(dir / "m.onnx");
  expect_same_modules(m.net.modules,
                      NetSpec::parse("",
                                     "conv:8:5:2 relu pool:2 pad:1 conv:16:3:1 relu pool:2 "
                                     "conv:24:3:1 relu conv:16:1:1 relu conv:3:1:1")
                          .modules);
  EXPECT_EQ(m.net.name, "small-random-1");
  EXPECT_EQ(m.classes, (std::vector<std::string>{"background", "cat", "dog"}));
  EXPECT_EQ(m.background, 0);
  EXPECT_FLOAT_EQ(m.net.mean, 118.380948f);
  EXPECT_FLOAT_EQ(m.net.stddev, 61.896913f);
  EXPECT_EQ(m.net.default_feature_layer, m.net.num_layers());
  ASSERT_TRUE(m.regressor);
  EXPECT_EQ(m.regressor->out_channels(), 12);
  EXPECT_EQ(m.regressor->modules.front().name, "reg_conv1");
  EXPECT_EQ(m.regressor->modules[1].name, "reg_relu1");
  EXPECT_EQ(m.metadata.at("description"), "Random weights for the tests of the model format");
  expect_matches_torch(m, dir / "sample.json");
}

TEST(PyTorchExport, ZeroPad2dConstantSubgraphIsEvaluated) {
  const fs::path dir = test_dir();
  std::string why;
  if (!export_with_torch(dir, "--seed 2 --zero-pad --agnostic", why)) GTEST_SKIP() << why;
  const Model m = load_model(dir / "m.onnx");
  ASSERT_EQ(m.net.modules[3].kind, ModuleKind::Pad);
  EXPECT_EQ(m.net.modules[3].pad, 1);
  EXPECT_TRUE(m.class_agnostic_boxes());
  expect_matches_torch(m, dir / "sample.json");
}

// ---------------------------------------------------------------------------------------------
// Weights stored as float16 (WeightStorage::Float16, tools/export/to_half.py, export --half)

/// `x` rounded to the nearest float16 value, ties to even, computed in double independently of
/// the engine's bit manipulation: a multiple of the half's spacing at |x| (2^-24 below 2^-14).
/// Values that round beyond 65504 come back as they round (not infinity).
float half_round(float x) {
  const double a = std::fabs(static_cast<double>(x));
  int e = 0;
  std::frexp(a, &e);  // a = f * 2^e, 0.5 <= f < 1: 11 significant bits are a spacing 2^(e-11)
  const double spacing = std::ldexp(1.0, std::max(e, -13) - 11);
  return std::copysign(static_cast<float>(std::nearbyint(a / spacing) * spacing), x);
}

/// The value of the float16 bit pattern `bits` (finite ones only), from the IEEE 754 definition.
float half_value(uint32_t bits) {
  const int exponent = static_cast<int>((bits >> 10) & 0x1f), mantissa = bits & 0x3ff;
  const double v =
      exponent ? std::ldexp(1024.0 + mantissa, exponent - 25) : std::ldexp(mantissa, -24);
  return static_cast<float>((bits & 0x8000) ? -v : v);
}

std::vector<float> half_rounded(std::vector<float> v) {
  for (float& x : v) x = half_round(x);
  return v;
}

/// `m` with every weight and bias rounded to float16.
Model half_rounded(Model m) {
  for (auto* convs : {&m.weights.convs, m.regressor ? &m.regressor->convs : nullptr})
    if (convs)
      for (ConvWeights& c : *convs) c.w = half_rounded(c.w), c.b = half_rounded(c.b);
  return m;
}

/// max |a - b| / max |b| over two tensors of the same shape.
double relative_difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a.data[i]) - b.data[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b.data[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

onnx::TensorProto* initializer_named(onnx::ModelProto& proto, const std::string& name) {
  for (auto& t : *proto.mutable_graph()->mutable_initializer())
    if (t.name() == name) return &t;
  ADD_FAILURE() << "no initializer " << name;
  return nullptr;
}

void set_half(onnx::TensorProto* t, size_t index, uint16_t bits) {
  std::memcpy(t->mutable_raw_data()->data() + 2 * index, &bits, 2);
}

TEST(HalfWeights, ReferenceRoundingAgreesWithTheCompiler) {
#ifdef __FLT16_MAX__
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> exponent(-30, 17);
  for (int i = 0; i < 200000; ++i) {
    const float x = std::ldexp(1.0f + std::generate_canonical<float, 24>(rng), exponent(rng) - 1);
    if (std::abs(x) >= 65520) continue;
    const float want = static_cast<float>(static_cast<_Float16>(x));
    ASSERT_EQ(std::bit_cast<uint32_t>(half_round(x)), std::bit_cast<uint32_t>(want)) << x;
  }
  for (uint32_t bits = 0; bits < 0x10000; ++bits)
    if (((bits >> 10) & 0x1f) != 0x1f)
      ASSERT_EQ(std::bit_cast<uint32_t>(half_value(bits)),
                std::bit_cast<uint32_t>(
                    static_cast<float>(std::bit_cast<_Float16>(static_cast<uint16_t>(bits)))))
          << bits;
#else
  GTEST_SKIP() << "this compiler has no _Float16 to check the test's own rounding against";
#endif
}

TEST(HalfWeights, KnownValues) {
  const fs::path dir = test_dir();
  Model m = small_model(Boxes::PerClass);
  const std::vector<std::pair<float, float>> table = {
      {1.0f, 1.0f},
      {0.1f, 0.0999755859375f},
      {65504.0f, 65504.0f},                  // the largest half
      {65519.99609375f, 65504.0f},           // the largest float that does not overflow
      {6.103515625e-05f, 6.103515625e-05f},  // 2^-14, the smallest normal half
      {6.1e-05f, 6.097555160522461e-05f},    // rounds to the largest subnormal
      {5.9604644775390625e-08f, 5.9604644775390625e-08f},  // 2^-24, the smallest subnormal
      {-0.0f, -0.0f},
      {1e-8f, 0.0f},
      {2.98023223876953125e-08f, 0.0f},                   // 2^-25: a tie, to even (0)
      {8.940696716308594e-08f, 1.1920928955078125e-07f},  // 3 * 2^-25: a tie, to even (2^-23)
      {1.00048828125f, 1.0f},                             // 1 + 2^-11: a tie, to even
      {1.00146484375f, 1.001953125f},                     // 1 + 3 * 2^-11: a tie, to even
      {-3.14159265f, -3.140625f}};
  std::vector<float>& w = m.weights.convs[1].w;
  for (size_t i = 0; i < table.size(); ++i) w[i] = table[i].first;
  save_model(m, dir / "half.onnx", WeightStorage::Float16);
  const Model back = load_model(dir / "half.onnx");
  for (size_t i = 0; i < table.size(); ++i)
    EXPECT_EQ(std::bit_cast<uint32_t>(back.weights.convs[1].w[i]),
              std::bit_cast<uint32_t>(table[i].second))
        << table[i].first << " -> " << back.weights.convs[1].w[i] << ", want " << table[i].second;
  expect_same(half_rounded(m), back);
}

TEST(HalfWeights, EveryHalfAndEveryTieRoundTrips) {
  const fs::path dir = test_dir();
  Model m;
  m.net = NetSpec::parse("halves", "conv:256:16:1 relu pool:2 conv:2:1:1");
  m.net.mean = 0;
  m.net.stddev = 1;
  m.classes = {"a", "b"};
  m.weights = random_weights(m.net, 3);
  std::vector<float>& w = m.weights.convs[0].w;  // 196608 values
  std::vector<float> want;
  auto put = [&](float x, float expected) {
    w.at(want.size()) = x;
    want.push_back(expected);
  };
  for (uint32_t bits = 0; bits < 0x7c00; ++bits) {  // every finite half, both signs
    const float h = half_value(bits);
    put(h, h);
    put(-h, -h);
    if (bits + 1 == 0x7c00) break;
    // The midpoint with the next half (exact in float) goes to the even one; a float either
    // side of it goes to the nearer.
    const float next = half_value(bits + 1), mid = (h + next) / 2, even = bits % 2 ? next : h;
    put(mid, even);
    put(-mid, -even);
    put(std::nextafter(mid, 0.0f), h);
    put(std::nextafter(mid, 1e6f), next);
  }
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_EQ(std::bit_cast<uint32_t>(half_round(w[i])), std::bit_cast<uint32_t>(want[i])) << i;
  save_model(m, dir / "half.onnx", WeightStorage::Float16);
  const Model back = load_model(dir / "half.onnx");
  int wrong = 0;
  for (size_t i = 0; i < want.size() && wrong < 10; ++i)
    if (std::bit_cast<uint32_t>(back.weights.convs[0].w[i]) != std::bit_cast<uint32_t>(want[i]))
      ADD_FAILURE() << "value " << i << ": " << w[i] << " -> " << back.weights.convs[0].w[i]
                    << ", want " << want[i],
          ++wrong;
  expect_same(half_rounded(m), back);
}

TEST(HalfWeights, RoundTripGraphAndSize) {
  const fs::path dir = test_dir();
  const Model m = small_model(Boxes::PerClass);
  save_model(m, dir / "float.onnx");
  save_model(m, dir / "half.onnx", WeightStorage::Float16);
  const Model back = load_model(dir / "half.onnx");
  expect_same(half_rounded(m), back);
  // About half the size: only the metadata and the graph are not halved.
  const double ratio = static_cast<double>(fs::file_size(dir / "half.onnx")) /
                       static_cast<double>(fs::file_size(dir / "float.onnx"));
  EXPECT_GT(ratio, 0.45);
  EXPECT_LT(ratio, 0.6);
  // FLOAT16 initializers "<conv>.weight.fp16", each cast by "<conv>.weight.cast" before its conv.
  const onnx::ModelProto p = read_proto(dir / "half.onnx");
  const auto& g = p.graph();
  EXPECT_EQ(g.initializer_size(), 14);
  for (const auto& t : g.initializer()) {
    EXPECT_EQ(t.data_type(), onnx::TensorProto::FLOAT16) << t.name();
    EXPECT_EQ(t.name().substr(t.name().size() - 5), ".fp16");
  }
  ASSERT_GE(g.node_size(), 3);
  EXPECT_EQ(g.node(0).name(), "conv1.weight.cast");
  EXPECT_EQ(g.node(0).op_type(), "Cast");
  EXPECT_EQ(g.node(0).input(0), "conv1.weight.fp16");
  EXPECT_EQ(g.node(0).output(0), "conv1.weight");
  ASSERT_EQ(g.node(0).attribute_size(), 1);
  EXPECT_EQ(g.node(0).attribute(0).name(), "to");
  EXPECT_EQ(g.node(0).attribute(0).i(), onnx::TensorProto::FLOAT);
  EXPECT_EQ(g.node(1).output(0), "conv1.bias");
  EXPECT_EQ(g.node(2).name(), "conv1");
  EXPECT_EQ(g.node(2).input(1), "conv1.weight");
  EXPECT_EQ(g.node(2).input(2), "conv1.bias");
  EXPECT_EQ(g.node_size(), 14 + 14);
  std::string storage;
  for (const auto& kv : p.metadata_props())
    if (kv.key() == "overfeat.weight_storage") storage = kv.value();
  EXPECT_EQ(storage, "float16");
  // Halves are exact in float32 and in float16: saving again changes nothing.
  save_model(back, dir / "again.onnx", WeightStorage::Float16);
  save_model(back, dir / "as_float.onnx");
  expect_same(back, load_model(dir / "again.onnx"));
  expect_same(back, load_model(dir / "as_float.onnx"));
}

TEST(HalfWeights, DenseOutputsAgreeWithTheFloatModel) {
  const fs::path dir = test_dir();
  for (Boxes boxes : {Boxes::PerClass, Boxes::Agnostic}) {
    const Model m = small_model(boxes);
    save_model(m, dir / "half.onnx", WeightStorage::Float16);
    const Model half = load_model(dir / "half.onnx");
    // Several output cells: the window plus 3 and 5 strides of 8 pixels.
    Tensor rgb(3, m.net.window + 24, m.net.window + 40);
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> pixel(0, 255);
    for (float& v : rgb.data) v = pixel(rng);
    const auto [scores, box_map] = reference_outputs(m, rgb);
    const auto [half_scores, half_boxes] = reference_outputs(half, rgb);
    ASSERT_GT(scores.h * scores.w, 1);
    const double ds = relative_difference(half_scores, scores);
    const double db = relative_difference(half_boxes, box_map);
    EXPECT_LE(ds, 2e-3) << "class scores";
    EXPECT_LE(db, 2e-3) << "boxes";
    EXPECT_GT(ds, 0) << "the half model should differ a little";
    RecordProperty(boxes == Boxes::PerClass ? "scores_difference" : "agnostic_scores_difference",
                   std::to_string(ds));
  }
}

TEST(HalfWeights, LoaderAcceptsInt32DataAndUncastHalves) {
  const fs::path dir = test_dir();
  const Model m = small_model(Boxes::Agnostic);
  save_model(m, dir / "half.onnx", WeightStorage::Float16);
  const Model want = half_rounded(m);
  // FLOAT16 values in int32_data (one value's bits per int32) instead of raw_data.
  onnx::ModelProto p = read_proto(dir / "half.onnx");
  for (auto& t : *p.mutable_graph()->mutable_initializer()) {
    std::vector<uint16_t> bits(t.raw_data().size() / 2);
    std::memcpy(bits.data(), t.raw_data().data(), t.raw_data().size());
    t.clear_raw_data();
    for (uint16_t b : bits) t.add_int32_data(b);
  }
  write_proto(p, dir / "int32_data.onnx");
  expect_same(want, load_model(dir / "int32_data.onnx"));
  // The convs reading the FLOAT16 initializers directly, without Casts.
  p = read_proto(dir / "half.onnx");
  auto* g = p.mutable_graph();
  std::vector<onnx::NodeProto> nodes;
  for (const auto& n : g->node())
    if (n.op_type() != "Cast") nodes.push_back(n);
  g->clear_node();
  for (auto& n : nodes) {
    if (n.op_type() == "Conv")
      for (int i = 1; i < 3; ++i) n.set_input(i, n.input(i) + ".fp16");
    *g->add_node() = n;
  }
  write_proto(p, dir / "uncast.onnx");
  expect_same(want, load_model(dir / "uncast.onnx"));
}

TEST(HalfWeightsErrors, SaveRefusesValuesAHalfCannotHold) {
  const fs::path dir = test_dir();
  for (const float bad : {70000.0f, 65520.0f, -65520.0f, std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN()}) {
    Model m = small_model(Boxes::PerClass);
    m.weights.convs[1].w[5] = bad;
    SCOPED_TRACE(bad);
    try {
      save_model(m, dir / "half.onnx", WeightStorage::Float16);
      ADD_FAILURE() << "saving " << bad << " as float16 should fail";
    } catch (const Error& e) {
      const std::string msg = e.what();
      for (const std::string part : {(dir / "half.onnx").string(), std::string("'conv2.weight'"),
                                     std::string("index 5"), std::string("float32 weights")})
        EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' in: " << msg;
    }
    EXPECT_FALSE(fs::exists(dir / "half.onnx"));
  }
  Model m = small_model(Boxes::PerClass);
  m.regressor->convs[2].b[1] = 70000;
  EXPECT_THROW(save_model(m, dir / "half.onnx", WeightStorage::Float16), Error);
  m.regressor->convs[2].b[1] = -65519.99f;  // rounds to -65504
  save_model(m, dir / "half.onnx", WeightStorage::Float16);
  EXPECT_EQ(load_model(dir / "half.onnx").regressor->convs[2].b[1], -65504.0f);
  m.regressor->convs[2].b[1] = 70000;
  save_model(m, dir / "float.onnx");  // float32 holds it
  EXPECT_EQ(load_model(dir / "float.onnx").regressor->convs[2].b[1], 70000.0f);
}

TEST(HalfWeightsErrors, LoaderRefusesBadCastsAndBadHalves) {
  const fs::path dir = test_dir();
  save_model(small_model(Boxes::PerClass), dir / "half.onnx", WeightStorage::Float16);
  const fs::path file = dir / "bad.onnx";
  auto edit = [&](auto change) {
    onnx::ModelProto p = read_proto(dir / "half.onnx");
    change(p);
    write_proto(p, file);
  };
  // A Cast of a value that is not a constant.
  edit([](onnx::ModelProto& p) { node_named(p, "conv2.weight.cast")->set_input(0, "relu1"); });
  expect_load_error(file, {"'conv2.weight.cast' (Cast)", "is not supported", "FLOAT16 initializer",
                           "cast to FLOAT"});
  // A Cast of a name that nothing defines.
  edit([](onnx::ModelProto& p) { node_named(p, "conv2.weight.cast")->set_input(0, "nowhere"); });
  expect_load_error(file, {"'conv2.weight.cast' (Cast)", "is not supported"});
  // A Cast of the half weights to another type than FLOAT.
  edit([](onnx::ModelProto& p) {
    node_named(p, "conv2.weight.cast")->mutable_attribute(0)->set_i(onnx::TensorProto::INT64);
  });
  expect_load_error(file, {"'conv2.weight.cast' (Cast)", "'conv2.weight.fp16'", "to INT64",
                           "must be cast to FLOAT"});
  edit([](onnx::ModelProto& p) { node_named(p, "conv2.weight.cast")->clear_attribute(); });
  expect_load_error(file, {"'conv2.weight.cast' (Cast)", "to type -1"});
  // FLOAT16 data two bytes short, or stored as float32 (4 bytes a value).
  edit([](onnx::ModelProto& p) {
    initializer_named(p, "conv2.weight.fp16")->mutable_raw_data()->resize(16 * 8 * 9 * 2 - 2);
  });
  expect_load_error(
      file, {"'conv2'", "float16 tensor 'conv2.weight.fp16'",
             "does not match its shape [16, 8, 3, 3]", "2302 bytes", "1152 values of 2 bytes"});
  edit([](onnx::ModelProto& p) {
    initializer_named(p, "conv2.weight.fp16")->mutable_raw_data()->resize(16 * 8 * 9 * 4);
  });
  expect_load_error(file, {"'conv2.weight.fp16'", "4608 bytes"});
  edit([](onnx::ModelProto& p) {
    auto* t = initializer_named(p, "conv2.bias.fp16");
    t->clear_raw_data();
    for (int i = 0; i < 16; ++i) t->add_int32_data(i == 3 ? 70000 : 0);  // not 16 bits
  });
  expect_load_error(file, {"'conv2.bias.fp16'", "16 int32_data values"});
  // Infinities and NaNs.
  edit([](onnx::ModelProto& p) { set_half(initializer_named(p, "conv3.bias.fp16"), 7, 0xfc00); });
  expect_load_error(file, {"'conv3'", "'conv3.bias.fp16'", "infinity at index 7"});
  edit([](onnx::ModelProto& p) {
    set_half(initializer_named(p, "reg_conv1.weight.fp16"), 0, 0x7e01);
  });
  expect_load_error(file, {"'reg_conv1'", "'reg_conv1.weight.fp16'", "NaN at index 0"});
  // Weights of another type.
  edit([](onnx::ModelProto& p) {
    initializer_named(p, "conv2.weight.fp16")->set_data_type(onnx::TensorProto::DOUBLE);
    node_named(p, "conv2")->set_input(1, "conv2.weight.fp16");
    node_named(p, "conv2.weight.cast")->set_input(0, "conv2.bias.fp16");
  });
  expect_load_error(file, {"'conv2'", "'conv2.weight.fp16' of type DOUBLE", "FLOAT16"});
}

TEST(PyTorchExport, HalfExportIsTheRoundedFloatExport) {
  const fs::path dir = test_dir();
  std::string why;
  fs::create_directories(dir / "float");
  fs::create_directories(dir / "half");
  if (!export_with_torch(dir / "float", "--seed 3 --zero-pad", why)) GTEST_SKIP() << why;
  export_with_torch(dir / "half", "--seed 3 --zero-pad --half", why);
  const std::string cmd =
      std::string(kPython) + " " OVERFEAT_SOURCE_DIR "/tools/export/to_half.py " +
      (dir / "float" / "m.onnx").string() + " " + (dir / "converted.onnx").string() + " >/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const Model m = load_model(dir / "float" / "m.onnx");
  const Model half = load_model(dir / "half" / "m.onnx");
  expect_same(half_rounded(m), half);
  expect_same(half, load_model(dir / "converted.onnx"));
  for (const fs::path& f : {dir / "half" / "m.onnx", dir / "converted.onnx"}) {
    const onnx::ModelProto p = read_proto(f);
    int casts = 0;
    for (const auto& n : p.graph().node()) casts += n.op_type() == "Cast";
    EXPECT_GE(casts, 16) << f;  // 8 convs' weights and biases (and the ZeroPad2d's int casts)
    for (const auto& t : p.graph().initializer())
      if (t.name().find("weight") != std::string::npos)
        EXPECT_EQ(t.data_type(), onnx::TensorProto::FLOAT16) << f << " " << t.name();
    std::string storage;
    for (const auto& kv : p.metadata_props())
      if (kv.key() == "overfeat.weight_storage") storage = kv.value();
    EXPECT_EQ(storage, "float16") << f;
  }
  EXPECT_LT(fs::file_size(dir / "half" / "m.onnx"), fs::file_size(dir / "float" / "m.onnx") * 0.7);
  // The half model against PyTorch's float32 outputs.
  std::ifstream in(dir / "half" / "sample.json");
  const auto sample = nlohmann::json::parse(in);
  const auto [scores, boxes] = reference_outputs(half, tensor_from(sample["input"]));
  EXPECT_LE(relative_difference(scores, tensor_from(sample["class_scores"])), 2e-3);
  EXPECT_LE(relative_difference(boxes, tensor_from(sample["boxes"])), 2e-3);
}

// The layer view draws a unit's strongest window from these.
TEST(NetSpecGeometry, ReceptiveFieldsOfTheOfficialNets) {
  const NetSpec fast = NetSpec::official(0);
  int y0, y1, x0, x1;
  // The fast net's output cell, by hand from the last module back: [0,0] 1x1 convs, [0,5]
  // conv 6x6, [0,11] pool 2, [-3,14] three 3x3 convs behind pads of 1, [-6,29] pool 2, [-6,33]
  // conv 5x5, [-12,67] pool 2, [-48,278] conv 11x11 stride 4: wider than the 231 window,
  // because the pads let the 3x3 convs see past the window's pooled edge.
  fast.receptive_field(fast.num_layers(), 0, 0, y0, y1, x0, x1);
  EXPECT_EQ(y0, -48);
  EXPECT_EQ(y1, 279);
  EXPECT_EQ(x0, -48);
  EXPECT_EQ(x1, 279);
  for (int net = 0; net < 2; ++net) {
    const NetSpec spec = NetSpec::official(net);
    int a0, a1, b0, b1;
    spec.receptive_field(spec.num_layers(), 0, 0, a0, a1, b0, b1);
    EXPECT_GE(a1 - a0, spec.window) << spec.name;
    // Neighbouring cells are the total stride apart, in both directions.
    spec.receptive_field(spec.num_layers(), 2, 1, y0, y1, x0, x1);
    EXPECT_EQ(y0 - a0, 2 * spec.total_stride()) << spec.name;
    EXPECT_EQ(y1 - y0, a1 - a0) << spec.name;
    EXPECT_EQ(x0 - b0, spec.total_stride()) << spec.name;
    // The input itself: one pixel.
    spec.receptive_field(0, 5, 7, y0, y1, x0, x1);
    EXPECT_EQ(y0, 5);
    EXPECT_EQ(y1, 6);
    EXPECT_EQ(x0, 7);
    EXPECT_EQ(x1, 8);
  }
  // conv1 of the fast net: 11x11, stride 4.
  fast.receptive_field(1, 2, 3, y0, y1, x0, x1);
  EXPECT_EQ(y0, 8);
  EXPECT_EQ(y1, 19);
  EXPECT_EQ(x0, 12);
  EXPECT_EQ(x1, 23);
  // Behind a padding layer, the first cell reaches beyond the edge.
  const NetSpec padded = NetSpec::parse("padded", "conv:4:3:1 pad:1 conv:4:3:1");
  padded.receptive_field(3, 0, 0, y0, y1, x0, x1);
  EXPECT_EQ(y0, -1);
  EXPECT_EQ(y1, 4);
}

}  // namespace
}  // namespace overfeat
