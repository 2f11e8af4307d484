// SPDX-License-Identifier: MIT
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace overfeat {

/// The 1000 ILSVRC2012 class names in the order of the official weights' outputs (devkit ID
/// order, starting with "kit fox"), compiled into the library from resources/classes.
const std::vector<std::string>& official_class_names();

/// One ImageNet class in the sorted-synset order (wnid order) that torchvision's and the ONNX
/// Model Zoo's 1000-class networks use.
struct Synset {
  std::string wnid;        ///< n01440764, ...
  int official_index = 0;  ///< the same class in official_class_names() (matched by name; the
                           ///< two "crane"s by wnid: bird 428, machine 544)
  std::string name;
};
/// The 1000 classes in sorted-synset order, compiled in from resources/classes.
const std::vector<Synset>& imagenet_synsets();
/// Their names, in that order.
std::vector<std::string> synset_class_names();

/// Reads a class list: one name per line, or "index<TAB>name" lines.
std::vector<std::string> load_class_names(const std::filesystem::path& file);

struct ScoredClass {
  int index = 0;
  float score = 0;
};

/// The `n` highest scores, best first (ties keep the lower index first).
std::vector<ScoredClass> top_classes(const std::vector<float>& scores, int n);

}  // namespace overfeat
