// SPDX-License-Identifier: MIT
// The app's identity on the desktop: the desktop entry's id (also the AppStream id and the icon
// name, packaging/) and its icon.
#pragma once
#include <QIcon>
#include <QString>

#include <filesystem>

#include "overfeat/paths.hpp"

namespace overfeat::studio {

inline constexpr const char* kDesktopId = "io.github.overfeat_studio.OverFeatStudio";

/// The icon from the desktop's icon theme (the package installs it into hicolor); else the
/// package's PNGs next to the executable (an unpacked package), or the source tree's (a build).
inline QIcon appIcon() {
  QIcon icon = QIcon::fromTheme(kDesktopId);
  if (!icon.isNull()) return icon;
  const std::filesystem::path exe = overfeat::executable_dir();
  for (int size : {16, 24, 32, 48, 64, 128, 256, 512}) {
    const std::string n = std::to_string(size);
    const std::filesystem::path rel = "hicolor/" + n + "x" + n + "/apps/" + kDesktopId + ".png";
    std::filesystem::path file = exe.empty() ? "" : exe.parent_path() / "share/icons" / rel;
    std::error_code ec;
    if (file.empty() || !std::filesystem::exists(file, ec))
      file = overfeat::source_tree_file("packaging/icons" / rel);
    if (!file.empty()) icon.addFile(QString::fromStdString(file.string()), QSize(size, size));
  }
  return icon;
}

}  // namespace overfeat::studio
