// SPDX-License-Identifier: MIT
// The official weight files: what they are, checking a folder or the release's archive
// (overfeat-weights.tgz) against their documented sizes, and installing the good ones into the
// data folder. Shared by `overfeat weights` and the app's weights dialog.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace overfeat {

/// One of the official files and its documented layout.
struct OfficialWeightFile {
  std::string name;         ///< "net_weight_0"
  int net_index = 0;        ///< 0 fast, 1 accurate
  std::string net;          ///< "fast", "accurate"
  std::uint64_t bytes = 0;  ///< the exact size: the net's parameter count times 4 (float32)
};

/// net_weight_0 (fast) and net_weight_1 (accurate), sizes from NetSpec::official.
std::vector<OfficialWeightFile> official_weight_files();

/// `n` with thousands separators: 583,683,488.
std::string group_digits(std::uint64_t n);

enum class WeightVerdict {
  Ok,         ///< the exact documented size
  WrongSize,  ///< present, another size: truncated, or not an OverFeat weight file
  Missing,    ///< not in the folder or archive
  Damaged,    ///< the archive ends or fails inside this file
};

/// "OK", "wrong size", "missing", "damaged".
const char* verdict_name(WeightVerdict verdict);

/// The verdict on one official file.
struct WeightFileCheck {
  OfficialWeightFile file;
  WeightVerdict verdict = WeightVerdict::Missing;
  std::uint64_t found_bytes = 0;
  std::string location;  ///< the file's path, or its name inside the archive

  /// One line for people: the verdict, the sizes and what to do.
  std::string explain() const;
};

/// What a folder or an archive holds.
struct WeightsCheck {
  std::filesystem::path source;  ///< what was checked
  bool archive = false;
  std::filesystem::path folder;        ///< folders: where the files were looked for
  std::vector<WeightFileCheck> files;  ///< one per expected file, in order
  std::vector<std::string> extra;      ///< other files found (the first few)
  std::size_t extra_count = 0;         ///< all other files found
  std::string problem;  ///< the source as a whole: missing, unreadable, a damaged archive

  int ok_count() const;
  bool all_ok() const { return problem.empty() && ok_count() == static_cast<int>(files.size()); }
};

/// Checks a folder or an archive (.tgz, .tar.gz, .tar, .zip, ...: whatever libarchive reads)
/// against `expected` (default: the official files). A folder is searched directly, else in its
/// data/default subfolder (the release's layout); an archive's members are matched by file name
/// wherever they lie (the release has them in data/default/), and the archive is read to its
/// end so that a truncated download is caught. Naming one of the files checks its folder.
/// Never throws: what is wrong with the source as a whole is in `problem`.
WeightsCheck check_weights(
    const std::filesystem::path& folder_or_archive,
    const std::vector<OfficialWeightFile>& expected = official_weight_files());

/// How far an installation is. Returning false from the callback cancels it.
struct InstallProgress {
  std::uint64_t done = 0, total = 0;  ///< bytes over all files being installed
  std::string file;                   ///< the file being written
};
using InstallCallback = std::function<bool(const InstallProgress&)>;

/// What an installation did.
struct InstallOutcome {
  std::filesystem::path dir;
  std::vector<std::string> installed;  ///< files written (replacing any older copy)
  std::vector<std::string> unchanged;  ///< the source file already is the destination file
  std::vector<std::string> refused;    ///< "name: why", files not OK in the check
  bool cancelled = false;
};

/// Copies (folder) or extracts (archive) every file that `check` found OK into `dir` (created
/// when missing). Each file is written under a temporary name, its size verified, synced, then
/// renamed over the destination, so a failure or a cancel never leaves a partial file and never
/// harms a file already there. Files not OK are refused, never written. Throws Error on I/O
/// failures (the files completed before stay installed).
InstallOutcome install_weights(const WeightsCheck& check, const std::filesystem::path& dir,
                               const InstallCallback& progress = {});

}  // namespace overfeat
