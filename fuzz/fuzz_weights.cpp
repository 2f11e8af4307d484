// SPDX-License-Identifier: MIT
// libFuzzer target: the weights check of a folder (check_weights) and the weight file reader
// (load_weights) on a file of the fuzz bytes. The first byte picks which file the rest is
// (net_weight_0 or net_weight_1 of the tiny stand-in networks, tiny_weights.hpp); the check's
// verdict must agree with load_weights on sizes: a file of another size than the check's OK one
// must be refused with WeightFileError (an OK-sized file may still be refused for its values).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "fuzz_support.hpp"
#include "overfeat/weights.hpp"
#include "overfeat/weights_install.hpp"
#include "tiny_weights.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int net = data[0] & 1;
  const auto dir = overfeat::fuzz::scratch_dir() / "weights";
  std::filesystem::create_directories(dir);
  std::error_code ec;
  for (int i = 0; i < 2; ++i) std::filesystem::remove(overfeat::official_weight_path(dir, i), ec);
  const auto file = overfeat::fuzz::write_input(
      "weights/" + overfeat::official_weight_path("", net).string(), data + 1, size - 1);
  const auto files = overfeat::fuzz::tiny_weight_files();
  // check_weights never throws (weights_install.hpp): any exception is a crash.
  const overfeat::WeightsCheck check = overfeat::check_weights(dir, files);
  if (check.files.size() != 2 || !check.problem.empty()) {
    std::fprintf(stderr, "fuzz: check_weights failed on a folder: %s\n", check.problem.c_str());
    std::abort();
  }
  const bool ok = check.files[net].verdict == overfeat::WeightVerdict::Ok;
  bool loaded = false;
  overfeat::fuzz::expect_only_errors([&] {
    (void)check.files[net].explain();
    (void)overfeat::load_weights(file, overfeat::fuzz::tiny_spec(net));
    loaded = true;
  });
  if (loaded && !ok) {
    std::fprintf(stderr, "fuzz: check_weights says %s but load_weights %s\n",
                 overfeat::verdict_name(check.files[net].verdict),
                 loaded ? "loaded it" : "refused it");
    std::abort();
  }
  return 0;
}
