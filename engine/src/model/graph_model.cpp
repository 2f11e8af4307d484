// SPDX-License-Identifier: MIT
// Classic networks as users have them: the graph from the ONNX file, the preprocessing and class
// names from a sidecar or ImageNet's defaults.
#include "overfeat/graph_model.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/wire_format_lite.h>

#include <fcntl.h>
#include <unistd.h>
#include <charconv>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "overfeat/classes.hpp"
#include "overfeat/error.hpp"
#include "overfeat/graph_onnx.hpp"

namespace overfeat {

namespace fs = std::filesystem;

bool GraphModel::ends_in_softmax() const {
  return graph.nodes.at(graph.output).op == graph::OpKind::Softmax;
}

fs::path sidecar_path(const fs::path& model) {
  return fs::path(model.string() + ".json");
}

bool is_overfeat_model_file(const fs::path& file) {
  // Walks ModelProto's top-level fields and reads only metadata_props (field 14), skipping the
  // graph: a 500 MB VGG file is not parsed twice.
  using google::protobuf::internal::WireFormatLite;
  const int fd = ::open(file.c_str(), O_RDONLY);
  if (fd < 0) return false;
  bool found = false;
  {
    google::protobuf::io::FileInputStream raw(fd);
    google::protobuf::io::CodedInputStream in(&raw);
    in.SetTotalBytesLimit(INT_MAX);
    while (!found) {
      const uint32_t tag = in.ReadTag();
      if (tag == 0) break;
      if (WireFormatLite::GetTagFieldNumber(tag) == 14 &&
          WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
        uint32_t length = 0;
        if (!in.ReadVarint32(&length)) break;
        const auto limit = in.PushLimit(static_cast<int>(length));
        while (const uint32_t t = in.ReadTag()) {
          if (WireFormatLite::GetTagFieldNumber(t) == 1) {  // key
            std::string key;
            if (!WireFormatLite::ReadString(&in, &key)) break;
            if (key.rfind("overfeat.", 0) == 0) found = true;
          } else if (!WireFormatLite::SkipField(&in, t)) {
            break;
          }
        }
        in.PopLimit(limit);
      } else if (!WireFormatLite::SkipField(&in, tag)) {
        break;
      }
    }
  }
  ::close(fd);
  return found;
}

std::array<float, 3> parse_triple(const std::string& text, const std::string& flag) {
  std::array<float, 3> v{};
  size_t at = 0;
  for (int i = 0; i < 3; ++i) {
    const size_t end = i < 2 ? text.find(',', at) : text.size();
    if (end == std::string::npos) break;
    const std::string part = text.substr(at, end - at);
    const auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v[i]);
    if (ec != std::errc() || p != part.data() + part.size() || !std::isfinite(v[i]))
      throw Error(flag + " '" + text + "': expected three numbers r,g,b (e.g. 0.485,0.456,0.406)");
    at = end + 1;
    if (i == 2) return v;
  }
  throw Error(flag + " '" + text + "': expected three numbers r,g,b (e.g. 0.485,0.456,0.406)");
}

namespace {

void read_sidecar(GraphModel& m, const fs::path& side) {
  auto fail = [&](const std::string& what) -> void {
    throw WeightFileError("Model sidecar " + side.string() + ": " + what +
                          ". It holds {\"mean\": [r, g, b], \"std\": [r, g, b], \"range\": 1 or "
                          "255, \"bgr\": false, \"classes\": \"names.txt\"}, every key optional.");
  };
  std::ifstream in(side);
  if (!in) fail("cannot be read");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    fail(std::string("is not JSON (") + e.what() + ")");
  }
  if (!j.is_object()) fail("is not a JSON object");
  auto triple = [&](const char* key, std::array<float, 3>& out, bool positive) {
    if (!j.contains(key)) return;
    const auto& a = j[key];
    if (!a.is_array() || a.size() != 3) fail(std::string(key) + " is not three numbers");
    for (int i = 0; i < 3; ++i) {
      if (!a[i].is_number()) fail(std::string(key) + " is not three numbers");
      out[i] = a[i].get<float>();
      if (!std::isfinite(out[i]) || (positive && out[i] <= 0))
        fail(std::string(key) + (positive ? " must be positive" : " must be finite"));
    }
  };
  triple("mean", m.pre.mean, false);
  triple("std", m.pre.std, true);
  if (j.contains("range")) {
    if (!j["range"].is_number() || !(j["range"].get<float>() > 0)) fail("range must be positive");
    m.pre.range = j["range"].get<float>();
  }
  if (j.contains("bgr")) {
    if (!j["bgr"].is_boolean()) fail("bgr must be true or false");
    m.pre.bgr = j["bgr"].get<bool>();
  }
  m.pre.source = "sidecar " + side.string();
  if (j.contains("classes")) {
    if (!j["classes"].is_string()) fail("classes must be a file name");
    fs::path names = j["classes"].get<std::string>();
    if (names.is_relative()) names = side.parent_path() / names;
    try {
      m.classes = load_class_names(names);
    } catch (const Error& e) {
      fail(std::string("its class list: ") + e.what());
    }
    m.classes_source = names.string();
  }
}

}  // namespace

GraphModel load_graph_model(const fs::path& file) {
  graph::ImportedGraph imported = graph::import_onnx(file);
  GraphModel m;
  m.file = file;
  m.name = file.stem().string();
  m.graph = std::move(imported.graph);
  m.opset = imported.opset;
  m.metadata = std::move(imported.metadata);
  if (imported.input_h > 0 && imported.input_w > 0) {
    m.input_h = imported.input_h;
    m.input_w = imported.input_w;
  }
  const fs::path side = sidecar_path(file);
  std::error_code ec;
  if (fs::exists(side, ec)) read_sidecar(m, side);

  const auto shapes = m.graph.shapes(m.input_h, m.input_w);
  const graph::Shape out = shapes.at(m.graph.output);
  if (!out.valid())
    throw WeightFileError("Model file " + file.string() + ": its output is empty for its own " +
                          std::to_string(m.input_w) + "x" + std::to_string(m.input_h) + " input.");
  if (!m.classes.empty() && static_cast<int>(m.classes.size()) != out.c)
    throw WeightFileError("Model " + file.string() + " has " + std::to_string(out.c) +
                          " outputs but its class list (" + m.classes_source + ") names " +
                          std::to_string(m.classes.size()) + ".");
  if (m.classes.empty()) {
    if (out.c == 1000) {
      m.classes = synset_class_names();
      m.classes_source = "ImageNet sorted-synset order (resources/classes/imagenet-synsets.tsv)";
    } else {
      for (int c = 0; c < out.c; ++c) m.classes.push_back("class " + std::to_string(c));
      m.classes_source = "numbered (no class list: put one in the sidecar " + side.string() + ")";
    }
  }
  m.feature_node = 0;
  for (size_t i = 0; i < m.graph.nodes.size(); ++i) {
    const auto op = m.graph.nodes[i].op;
    if (op == graph::OpKind::Pool || op == graph::OpKind::GlobalPool)
      m.feature_node = static_cast<int>(i);
  }
  return m;
}

Tensor preprocess(const Preprocessing& pre, const Tensor& rgb) {
  if (rgb.c != 3) throw ImageError("The network expects an RGB image (3 channels)");
  Tensor out(3, rgb.h, rgb.w);
  const size_t plane = static_cast<size_t>(rgb.h) * rgb.w;
  for (int c = 0; c < 3; ++c) {
    const int src = pre.bgr ? 2 - c : c;
    const float scale = pre.range / 255.0f / pre.std[src], shift = pre.mean[src] / pre.std[src];
    for (size_t i = 0; i < plane; ++i)
      out.data[c * plane + i] = rgb.data[src * plane + i] * scale - shift;
  }
  return out;
}

}  // namespace overfeat
