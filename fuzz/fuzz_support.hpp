// SPDX-License-Identifier: MIT
// Shared by the libFuzzer targets: the fuzz input as a file (the readers under test take paths),
// and the rule that only overfeat::Error (and its subclasses) may escape a reader. Any other
// exception (std::bad_alloc, std::out_of_range, a JSON or protobuf exception, ...) is a bug and
// terminates the process, so that libFuzzer records the input as a crash.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "overfeat/error.hpp"

namespace overfeat::fuzz {

/// A folder of this process's own under TMPDIR (or /tmp), created once and removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* t = std::getenv("TMPDIR");
    std::filesystem::path d = std::filesystem::path(t && *t ? t : "/tmp") /
                              ("overfeat-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}

/// Writes `data` to scratch_dir()/name (replacing it) and returns the path.
inline std::filesystem::path write_input(const std::string& name, const uint8_t* data,
                                         size_t size) {
  const auto path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

/// Runs `f`; documented failures (overfeat::Error) are fine. Anything else is deliberately not
/// caught: as no handler matches, std::terminate runs at the throw itself ("terminate called
/// after throwing an instance of ..."), so the crash report's stack shows where it was thrown.
template <typename F>
void expect_only_errors(F&& f) {
  try {
    f();
  } catch (const overfeat::Error&) {
  }
}

}  // namespace overfeat::fuzz
