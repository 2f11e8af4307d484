// SPDX-License-Identifier: MIT
// libFuzzer target: the weights archive reader (libarchive, engine/src/weights_install.cpp):
// check_weights on an archive of the fuzz bytes against the tiny stand-in files
// (tiny_weights.hpp), then, when it finds some file OK, install_weights into a scratch folder,
// whose installed files must have exactly the checked size.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "fuzz_support.hpp"
#include "overfeat/weights_install.hpp"
#include "tiny_weights.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto archive = overfeat::fuzz::write_input("weights.tgz", data, size);
  const auto files = overfeat::fuzz::tiny_weight_files();
  // check_weights never throws (weights_install.hpp): any exception is a crash.
  const overfeat::WeightsCheck check = overfeat::check_weights(archive, files);
  if (!check.archive || check.files.size() != files.size()) {
    std::fprintf(stderr, "fuzz: check_weights did not read the input as an archive\n");
    std::abort();
  }
  for (const auto& f : check.files) (void)f.explain();
  if (check.ok_count() == 0) return 0;
  const auto dir = overfeat::fuzz::scratch_dir() / "installed";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  overfeat::fuzz::expect_only_errors([&] {
    const overfeat::InstallOutcome out = overfeat::install_weights(check, dir);
    for (const auto& name : out.installed) {
      for (const auto& f : check.files)
        if (f.file.name == name && std::filesystem::file_size(dir / name) != f.file.bytes) {
          std::fprintf(stderr, "fuzz: %s was installed with the wrong size\n", name.c_str());
          std::abort();
        }
    }
  });
  return 0;
}
