// SPDX-License-Identifier: MIT
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace overfeat {

/// The 1000 ILSVRC2012 class names in the order of the official weights' outputs (devkit ID
/// order, starting with "kit fox"), compiled into the library from resources/classes.
const std::vector<std::string>& official_class_names();

/// Reads a class list: one name per line, or "index<TAB>name" lines.
std::vector<std::string> load_class_names(const std::filesystem::path& file);

struct ScoredClass {
  int index = 0;
  float score = 0;
};

/// The `n` highest scores, best first (ties keep the lower index first).
std::vector<ScoredClass> top_classes(const std::vector<float>& scores, int n);

}  // namespace overfeat
