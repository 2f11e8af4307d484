// SPDX-License-Identifier: MIT
// A model: a shared feature extractor (the trunk, up to and including the last max pooling)
// and heads on the pooled features: the classifier (the rest of the release-numbered module
// list) and, optionally, a box regressor. The official weights load as a model with only a
// classifier; the project's own models are ONNX files (docs/model-format.md).
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "overfeat/detection.hpp"
#include "overfeat/netspec.hpp"
#include "overfeat/weights.hpp"

namespace overfeat {

/// A chain of convolutions and ReLUs fed by the trunk's pooled features.
struct Head {
  std::vector<Module> modules;     ///< Conv, Relu and Pad only
  std::vector<ConvWeights> convs;  ///< one per Conv module, in order
  int out_channels() const;
  /// Input window of the head in pooled cells (product of its kernels' reach).
  int reach() const;
};

/// How the regressor's outputs encode a box. The only encoding: for each output cell, the box's
/// left, top, right and bottom edges in input pixels of that scale, relative to the top-left
/// corner of the cell's input window. Channel 4*c+e is edge e of class c (class-specific) or
/// 4 channels for every class (class-agnostic).
inline constexpr const char* kBoxEncoding = "window-relative-xyxy-pixels";

struct Model {
  /// Trunk and classifier in the release's numbering (official nets: exactly the release's
  /// modules). The last MaxPool module ends the trunk; what follows is the classifier head.
  NetSpec net;
  Weights weights;                   ///< every conv of `net`, in order
  std::vector<std::string> classes;  ///< one name per classifier output channel
  int background = -1;               ///< index of the background class, or -1
  std::optional<Head> regressor;     ///< on the last pool's output
  /// Free-form, human-readable facts (description, data, training command, figures).
  std::map<std::string, std::string> metadata;
  /// How its merged detections' evidence becomes a calibrated confidence, one per evaluation
  /// setting it was fitted on (model files may carry them, fitted by `overfeat eval
  /// --fit-confidence`; calibration_for picks); without one a detection's confidence is its best
  /// window probability.
  std::vector<DetectionCalibration> detection_calibrations;

  /// Index of the module that ends the trunk (the last MaxPool).
  int trunk_end() const { return net.last_pool_index(); }
  bool class_agnostic_boxes() const { return regressor && regressor->out_channels() == 4; }
  /// Throws Error when the parts disagree (class count vs classifier outputs, regressor outputs
  /// vs 4 or 4 * classes, missing pool, weights vs modules).
  void validate() const;
};

/// The official OverFeat network `net_index` (0 fast, 1 accurate) from its weight file in
/// `weights_dir`, with the ImageNet class names.
Model official_model(int net_index, const std::filesystem::path& weights_dir);

/// Loads a model file (ONNX, docs/model-format.md), with weights stored as float32 or float16
/// (converted exactly to float32). Throws WeightFileError naming the file and the problem
/// (missing, not ONNX, unsupported node, shapes that do not chain, ...).
Model load_model(const std::filesystem::path& file);
/// How save_model stores the conv weights and biases in the file. The engine computes in float32
/// either way; Float16 halves the file: FLOAT16 initializers, each cast to FLOAT by a Cast node
/// (docs/model-format.md), every value rounded to the nearest half (ties to even).
enum class WeightStorage { Float32, Float16 };

/// A detection calibration as the model file stores each (overfeat.detection_calibration holds a
/// JSON array of them): {"bias", "w_peak", "w_mass", "maps", "fitted_on"}, one line.
std::string detection_calibration_json(const DetectionCalibration& calibration);

/// Writes a model as ONNX, with the metadata the loader needs. With WeightStorage::Float16,
/// throws Error naming the tensor when a weight is not finite or too large for a half
/// (|x| >= 65520, which rounds to infinity); nothing is written then.
void save_model(const Model& model, const std::filesystem::path& file,
                WeightStorage storage = WeightStorage::Float32);

}  // namespace overfeat
