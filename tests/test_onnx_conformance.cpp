// SPDX-License-Identifier: MIT
// ONNX's own conformance cases through import_onnx and the C++ reference (graph_reference.hpp):
// every case of claimed ops on a 4-D float input either matches ONNX's expected output or is a
// refusal listed, with its reason, in tests/onnx_conformance_unsupported.txt. A case that starts
// being refused fails; one that starts importing is reported (remove it from the list).
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "onnx_cases.hpp"
#include "overfeat/graph_executor.hpp"
#include "overfeat/graph_reference.hpp"
#include "vulkan_fixture.hpp"

namespace {

using namespace overfeat;
namespace cases = overfeat::testing::onnx_cases;

const char* kNoData =
    "ONNX's test data is not installed (Debian package libonnx-testdata, "
    "/usr/share/libonnx-testdata/data; or set OVERFEAT_ONNX_TESTDATA)";
const char* kListFile = OVERFEAT_SOURCE_DIR "/tests/onnx_conformance_unsupported.txt";

/// The expected refusals: case name -> reason ("#" starts a comment line).
std::map<std::string, std::string> expected_refusals() {
  std::map<std::string, std::string> out;
  std::ifstream in(kListFile);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.find_first_of(" \t");
    const std::string name = line.substr(0, space);
    const auto reason = space == std::string::npos ? space : line.find_first_not_of(" \t", space);
    out[name] = reason == std::string::npos ? "" : line.substr(reason);
  }
  return out;
}

struct Tally {
  int run = 0, passed = 0, refused = 0;
};

TEST(OnnxConformance, ReferenceMatchesOnnxOrRefusalIsListed) {
  const auto root = cases::data_root();
  if (!root) GTEST_SKIP() << kNoData;
  std::vector<std::string> broken;
  const std::vector<cases::Case> all = cases::load_cases(*root, broken);
  for (const std::string& b : broken) ADD_FAILURE() << "unreadable case " << b;
  ASSERT_FALSE(all.empty()) << "no claimed cases under " << *root;

  std::map<std::string, Tally> per_op;
  std::map<std::string, std::string> refused;
  std::vector<std::string> matched;
  int run = 0, passed = 0;
  for (const cases::Case& c : all) {
    for (const std::string& op : c.ops) {
      ++per_op[op].run;
      if (!c.refused.empty()) ++per_op[op].refused;
    }
    if (!c.refused.empty()) {
      refused[c.name] = c.refused;
      continue;
    }
    ++run;
    bool ok = true;
    for (const cases::DataSet& s : c.sets) {
      const graph::Graph& g = s.imported.graph;
      for (size_t b = 0; b < s.inputs.size() && ok; ++b) {
        std::optional<std::string> problem;
        try {
          const auto outs = graph::ref::run(g, s.inputs[b]);
          problem = cases::mismatch(outs[static_cast<size_t>(g.output)], s.expected[b]);
        } catch (const Error& e) {
          problem = std::string("threw: ") + e.what();
        }
        if (problem) {
          ADD_FAILURE() << c.name << " " << s.name << " batch " << b << ": " << *problem;
          ok = false;
        }
      }
    }
    if (ok) {
      ++passed;
      matched.push_back(c.name);
      for (const std::string& op : c.ops) ++per_op[op].passed;
    }
  }

  std::ostringstream report;
  report << "ONNX conformance (" << *root << "): " << all.size() << " claimed cases, " << run
         << " imported, " << passed << " match, " << refused.size() << " refused\n";
  report << "  op                     cases  match  refused\n";
  for (const auto& [op, t] : per_op) {
    char line[96];
    std::snprintf(line, sizeof line, "  %-22s %5d  %5d  %7d\n", op.c_str(), t.run, t.passed,
                  t.refused);
    report << line;
  }
  report << "Matched:";
  for (const std::string& name : matched) report << " " << name;
  report << "\nRefused:\n";
  for (const auto& [name, reason] : refused) report << name << "  " << reason << "\n";
  std::cout << report.str();

  const auto listed = expected_refusals();
  std::string newly_refused, newly_imported;
  for (const auto& [name, reason] : refused)
    if (!listed.count(name)) newly_refused += name + "  " + reason + "\n";
  for (const auto& [name, reason] : listed)
    if (!refused.count(name)) newly_imported += name + "\n";
  EXPECT_TRUE(newly_refused.empty())
      << "cases now refused that " << kListFile
      << " does not list (fix the importer, or add them with their reason):\n"
      << newly_refused;
  if (!newly_imported.empty())
    std::cout << "NOTE: cases listed in " << kListFile
              << " that are no longer refused (remove them from the list):\n"
              << newly_imported;
}

// The same cases on the device, through the graph executor: every case the importer accepts
// matches ONNX's expected output there too (with the validation layer on).
class OnnxConformanceVulkan : public overfeat::testing::VulkanTest {};

TEST_F(OnnxConformanceVulkan, ExecutorMatchesOnnx) {
  const auto root = cases::data_root();
  if (!root) GTEST_SKIP() << kNoData;
  std::vector<std::string> broken;
  const std::vector<cases::Case> all = cases::load_cases(*root, broken);
  int run = 0, passed = 0;
  for (const cases::Case& c : all) {
    if (!c.refused.empty()) continue;
    ++run;
    bool ok = true;
    for (const cases::DataSet& s : c.sets) {
      const graph::Graph& g = s.imported.graph;
      std::unique_ptr<GraphExecutor> exec;
      for (size_t b = 0; b < s.inputs.size() && ok; ++b) {
        std::optional<std::string> problem;
        try {
          if (!exec) exec = std::make_unique<GraphExecutor>(*ctx_, g);
          problem = cases::mismatch(exec->run(s.inputs[b]).at(g.output), s.expected[b]);
        } catch (const Error& e) {
          problem = std::string("threw: ") + e.what();
        }
        if (problem) {
          ADD_FAILURE() << c.name << " " << s.name << " batch " << b << " (Vulkan): " << *problem;
          ok = false;
        }
      }
    }
    passed += ok;
  }
  std::cout << "ONNX conformance on " << ctx_->capability_line() << ": " << run
            << " imported cases, " << passed << " match\n";
  EXPECT_GT(run, 0);
}

}  // namespace
