// SPDX-License-Identifier: MIT
// Helpers shared by the test binaries: a scratch folder per test and a way to run a command and
// capture what it printed.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace overfeat::testing {

/// The shared data folder: $OVERFEAT_SHARED_DATA, else a `shared/data` beside the working
/// directory or one of its ancestors (the repository checkout sits next to `shared/`).
inline std::optional<std::filesystem::path> shared_data_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("OVERFEAT_SHARED_DATA"); env && *env) return fs::path(env);
  std::error_code ec;
  for (fs::path dir = fs::current_path(ec); !dir.empty(); dir = dir.parent_path()) {
    if (fs::is_directory(dir / "shared" / "data", ec)) return dir / "shared" / "data";
    if (dir == dir.parent_path()) break;
  }
  return std::nullopt;
}

/// A scratch folder for the current test, so that parallel ctest runs never share files.
///
/// It lies in the system's temporary folder and is named
/// `overfeat_<prefix>_<pid>_<test suite>_<test name>` (any '/' of a parameterised test's name
/// replaced by '_'). The constructor creates it empty; the destructor removes it with everything
/// in it.
class TempDir {
 public:
  /// Creates the folder, emptying it first if a previous run left one behind.
  explicit TempDir(const std::string& prefix) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "overfeat_" + prefix + "_" + std::to_string(::getpid()) + "_" +
                       (info ? std::string(info->test_suite_name()) + "_" + info->name() : "x");
    std::replace(name.begin(), name.end(), '/', '_');
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  /// Removes the folder; errors are ignored.
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// The path of `file` inside the folder.
  std::filesystem::path operator/(const std::string& file) const { return path_ / file; }
  /// The folder itself.
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// What a command run by run_command() printed, and how it ended.
struct CommandResult {
  int code = -1;    ///< The exit status, or -1 when the command did not exit normally.
  std::string out;  ///< Everything written to standard output.
  std::string err;  ///< Everything written to standard error.
};

/// Runs `command_line` through the shell and captures its standard output, standard error and
/// exit status. Standard error goes through a file under OVERFEAT_TEST_WORK_DIR named with the
/// process id. When `stdin_file` is not empty the command reads its standard input from it.
///
/// The tests run with OVERFEAT_VALIDATION=1, which the command inherits, so this also expects
/// (EXPECT_*, not fatal) that standard error holds no Vulkan validation message.
inline CommandResult run_command(const std::string& command_line,
                                 const std::string& stdin_file = "") {
  const std::filesystem::path err_file =
      std::filesystem::path(OVERFEAT_TEST_WORK_DIR) / ("stderr-" + std::to_string(::getpid()));
  std::string cmd = command_line + " 2>'" + err_file.string() + "'";
  if (!stdin_file.empty()) cmd += " <'" + stdin_file + "'";
  CommandResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "popen failed for: " << cmd;
    return r;
  }
  std::array<char, 65536> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  {
    std::ifstream e(err_file);
    r.err.assign(std::istreambuf_iterator<char>(e), {});
  }
  std::error_code ec;
  std::filesystem::remove(err_file, ec);
  EXPECT_EQ(r.err.find("[vulkan validation"), std::string::npos) << r.err;
  return r;
}

/// A JPEG (its bytes) with an EXIF block inserted after its start marker, saying "turn 90
/// degrees clockwise to display" (Orientation = 6): what a camera held sideways writes.
inline std::vector<uint8_t> with_exif_orientation_6(std::vector<uint8_t> jpeg) {
  const std::vector<uint8_t> tiff = {'M',  'M',  0, 42, 0, 0, 0, 8,  // big-endian, IFD at 8
                                     0,    1,                        // one entry
                                     0x01, 0x12, 0, 3,  0, 0, 0, 1, 0, 6, 0, 0,  // Orientation=6
                                     0,    0,    0, 0};                          // no next IFD
  std::vector<uint8_t> app1 = {0xff, 0xe1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  app1.insert(app1.end(), tiff.begin(), tiff.end());
  app1[3] = static_cast<uint8_t>(app1.size() - 2);
  if (jpeg.size() < 2) return jpeg;
  jpeg.insert(jpeg.begin() + 2, app1.begin(), app1.end());  // right after SOI
  return jpeg;
}

}  // namespace overfeat::testing
