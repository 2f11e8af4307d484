// SPDX-License-Identifier: MIT
#include "overfeat/paths.hpp"

#ifndef OVERFEAT_INSTALL_DATADIR
#define OVERFEAT_INSTALL_DATADIR ""
#endif
#ifndef OVERFEAT_SOURCE_DIR
#define OVERFEAT_SOURCE_DIR ""
#endif

namespace overfeat {

namespace fs = std::filesystem;

fs::path executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

std::vector<fs::path> data_dirs() {
  std::vector<fs::path> dirs;
  std::error_code ec;
  auto add = [&](const fs::path& dir) {
    if (dir.empty() || !fs::is_directory(dir, ec)) return;
    const fs::path canonical = fs::weakly_canonical(dir, ec);
    for (const fs::path& d : dirs)
      if (d == canonical) return;
    dirs.push_back(canonical);
  };
  if (const fs::path exe = executable_dir(); !exe.empty())
    add(exe.parent_path() / "share" / "overfeat-studio");
  add(OVERFEAT_INSTALL_DATADIR);
  return dirs;
}

fs::path find_data_file(const fs::path& relative, const fs::path& source_fallback) {
  std::error_code ec;
  for (const fs::path& dir : data_dirs())
    if (fs::exists(dir / relative, ec)) return dir / relative;
  if (!source_fallback.empty() && fs::exists(source_fallback, ec)) return source_fallback;
  return {};
}

fs::path source_tree_file(const fs::path& relative) {
  if (!*OVERFEAT_SOURCE_DIR) return {};
  std::error_code ec;
  const fs::path p = fs::path(OVERFEAT_SOURCE_DIR) / relative;
  return fs::exists(p, ec) ? p : fs::path();
}

}  // namespace overfeat
