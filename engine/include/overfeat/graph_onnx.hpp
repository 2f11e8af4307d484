// SPDX-License-Identifier: MIT
// Any ONNX image classifier (or single-image op graph) as a graph.hpp Graph: the files users
// download (ONNX Model Zoo, torchvision exports), opsets 7 to 17, no OverFeat metadata needed.
#pragma once
#include <filesystem>
#include <map>
#include <string>

#include "overfeat/graph.hpp"

namespace overfeat::graph {

struct ImportedGraph {
  Graph graph;
  std::string input_name, output_name;          ///< the file's graph input and output
  int input_h = 0, input_w = 0;                 ///< the file's fixed input size (0 where symbolic)
  int opset = 0;                                ///< the default-domain opset
  std::map<std::string, std::string> metadata;  ///< the file's metadata_props
};

/// Reads an ONNX file of one NCHW float input (batch 1) and one output. Constant subgraphs are
/// folded, BatchNormalization is folded into the convolution before it (or becomes a 1x1
/// depthwise convolution), Dropout and Identity vanish, Flatten/Reshape followed by Gemm or
/// MatMul (+ Add) becomes a convolution whose kernel covers the map (OverFeat's "fully
/// connected as convolution"), a zero Pad becomes pads of the Conv or AveragePool after it.
/// Throws WeightFileError naming the file, and for an unsupported node its name, op type and
/// what is supported.
///
/// Graph nodes are named after the ONNX node whose output they compute: its name, or its output's
/// name when it has none (a suffix _2, _3 makes repeated names unique). A node that absorbed the
/// BatchNormalization or bias after it takes that node's name. Opsets 1 to 17 are read (the legacy
/// forms of opsets before 7 included); a fixed batch N > 1 means N images run one at a time.
ImportedGraph import_onnx(const std::filesystem::path& file);

/// import_onnx of a file's content held in memory (tests, fuzzers); `shown_as` names the file
/// in messages.
ImportedGraph import_onnx_bytes(const std::string& bytes, const std::string& shown_as);

/// What import_onnx supports, for messages: "Conv, BatchNormalization, Relu, ...".
const char* supported_onnx_ops();

}  // namespace overfeat::graph
