// SPDX-License-Identifier: MIT
// A classic network as users download it (an ONNX file with no OverFeat metadata): its graph,
// input size, preprocessing and class names.
#pragma once
#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "overfeat/graph.hpp"
#include "overfeat/tensor.hpp"

namespace overfeat {

/// How an RGB photograph (0..255) becomes the network's input: scaled to 0..range, each channel
/// (v - mean) / std, in RGB or BGR order.
struct Preprocessing {
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  ///< ImageNet's, of 0..1 RGB (torchvision)
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
  float range = 1.0f;  ///< 1: 0..1 (torchvision); 255: Caffe-style 0..255
  bool bgr = false;    ///< channel order the network expects
  std::string source = "ImageNet defaults (torchvision)";  ///< where these came from
};

struct GraphModel {
  std::string name;  ///< the file's stem
  std::filesystem::path file;
  graph::Graph graph;
  int input_h = 224, input_w = 224;
  Preprocessing pre;
  std::vector<std::string> classes;  ///< one per output channel
  std::string classes_source;        ///< "ImageNet sorted-synset order", a file, or "numbered"
  int opset = 0;
  std::map<std::string, std::string> metadata;
  /// The node whose map serves as features (one-shot learning, -f): the last pooling.
  int feature_node = 0;
  /// True when the graph already ends in a softmax (its output is probabilities).
  bool ends_in_softmax() const;
};

/// The sidecar file of a model: FILE.json next to FILE (resnet50.onnx -> resnet50.onnx.json).
std::filesystem::path sidecar_path(const std::filesystem::path& model);

/// Loads an ONNX classifier (graph_onnx.hpp) with its preprocessing and class names: the sidecar
/// when there is one ({"mean": [r, g, b], "std": [r, g, b], "range": 1 or 255, "bgr": false,
/// "classes": "names.txt"}, each key optional; a class file is relative to the sidecar), else
/// ImageNet's defaults, and for 1000 outputs the sorted-synset names (classes.hpp). Throws
/// WeightFileError naming the file and the problem.
GraphModel load_graph_model(const std::filesystem::path& file);

/// True when `file` is a model of the project's own format (it carries overfeat.* metadata,
/// docs/model-format.md) rather than a plain ONNX classifier. Reads only the metadata.
bool is_overfeat_model_file(const std::filesystem::path& file);

/// The network's input for a photograph `rgb` (planar RGB 0..255, any size).
Tensor preprocess(const Preprocessing& pre, const Tensor& rgb);

/// Parses "r,g,b" (three numbers) for --mean / --std; throws Error naming the flag.
std::array<float, 3> parse_triple(const std::string& text, const std::string& flag);

}  // namespace overfeat
