// SPDX-License-Identifier: MIT
#include "overfeat/classes.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "overfeat/error.hpp"

namespace overfeat {

extern const char* const kOfficialClassList;  // generated from resources/classes
extern const char* const kSynsetClassList;

namespace {

std::vector<std::string> parse_class_list(std::istream& in) {
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto tab = line.find('\t');
    names.push_back(tab == std::string::npos ? line : line.substr(tab + 1));
  }
  return names;
}

}  // namespace

const std::vector<std::string>& official_class_names() {
  static const std::vector<std::string> names = [] {
    std::istringstream in(kOfficialClassList);
    return parse_class_list(in);
  }();
  return names;
}

const std::vector<Synset>& imagenet_synsets() {
  static const std::vector<Synset> synsets = [] {
    std::vector<Synset> out;
    std::istringstream in(kSynsetClassList);
    std::string line;
    while (std::getline(in, line)) {
      const auto a = line.find('\t'), b = line.find('\t', a + 1);
      if (line.empty() || a == std::string::npos || b == std::string::npos) continue;
      out.push_back(
          {line.substr(0, a), std::stoi(line.substr(a + 1, b - a - 1)), line.substr(b + 1)});
    }
    return out;
  }();
  return synsets;
}

std::vector<std::string> synset_class_names() {
  std::vector<std::string> names;
  for (const Synset& s : imagenet_synsets()) names.push_back(s.name);
  return names;
}

std::vector<std::string> load_class_names(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw Error("Cannot read class list " + file.string());
  return parse_class_list(in);
}

std::vector<ScoredClass> top_classes(const std::vector<float>& scores, int n) {
  std::vector<ScoredClass> all(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) all[i] = {static_cast<int>(i), scores[i]};
  n = std::clamp(n, 0, static_cast<int>(all.size()));
  std::partial_sort(all.begin(), all.begin() + n, all.end(), [](const auto& a, const auto& b) {
    return a.score > b.score || (a.score == b.score && a.index < b.index);
  });
  all.resize(n);
  return all;
}

}  // namespace overfeat
