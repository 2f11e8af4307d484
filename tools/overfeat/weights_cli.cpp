// SPDX-License-Identifier: MIT
// `overfeat weights [check PATH | install PATH [--to DIR]]`: what the official weight files are,
// where they are looked for, checking a folder or the release's archive, installing them.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "common.hpp"
#include "overfeat/netspec.hpp"
#include "overfeat/pipeline.hpp"
#include "overfeat/report.hpp"
#include "overfeat/weights_install.hpp"
#include "progress.hpp"

namespace overfeat::cli {
namespace {

namespace fs = std::filesystem;

void print_files(const WeightsCheck& c) {
  for (const WeightFileCheck& f : c.files) {
    std::cout << "  " << f.file.name << "  " << f.explain() << "\n";
    if (f.verdict != WeightVerdict::Missing && !f.location.empty() &&
        fs::path(f.location).filename() != f.location)
      std::cout << "      " << (c.archive ? "in the archive: " : "") << f.location << "\n";
  }
  if (c.extra_count > 0) {
    std::cout << "  other files, not used (" << c.extra_count << "):";
    for (const std::string& e : c.extra) std::cout << " " << e;
    if (c.extra_count > c.extra.size()) std::cout << " ...";
    std::cout << "\n";
  }
  if (!c.problem.empty()) std::cout << "  problem: " << c.problem << "\n";
}

int explain() {
  std::cout << "The official OverFeat weights\n\n";
  for (const OfficialWeightFile& f : official_weight_files())
    std::cout << "  " << f.name << "  the " << f.net << " net: " << group_digits(f.bytes)
              << " bytes (" << group_digits(f.bytes / 4) << " float32 parameters)\n";
  std::cout
      << "\nThey come from the original OverFeat release (Sermanet et al., NYU, 2013), in its\n"
         "archive overfeat-weights.tgz, folder data/default: raw little-endian float32, each\n"
         "convolution's weights then its biases in layer order, no header, so a file is right\n"
         "exactly when its size is. They are not redistributed with OverFeat Studio; the\n"
         "bundled model runs without them.\n\n";
  const fs::path bundled = bundled_model_path();
  std::cout << "The bundled model: "
            << (bundled.empty() ? std::string("not installed") : bundled.string()) << "\n\n";
  const fs::path dir = default_weights_dir();
  const char* env = std::getenv("OVERFEAT_WEIGHTS");
  std::cout << "Where they are looked for: " << dir.string() << "\n"
            << (env && *env ? "  (set by OVERFEAT_WEIGHTS)\n"
                            : "  (the data folder, $XDG_DATA_HOME/overfeat-studio/weights; set "
                              "OVERFEAT_WEIGHTS to use another)\n")
            << "  `-d DIR` on the command line, or a folder picked in the app, also works.\n\n";
  const WeightsCheck c = check_weights(dir);
  std::cout << "There now:\n";
  if (!c.problem.empty() && c.ok_count() == 0)
    std::cout << "  nothing yet (" << c.problem << ")\n";
  else
    print_files(c);
  std::cout
      << "\nCheck a download:    overfeat weights check overfeat-weights.tgz   (or a folder)\n"
         "Install it here:     overfeat weights install overfeat-weights.tgz [--to DIR]\n"
         "OverFeat Studio never downloads anything itself: it works fully offline.\n";
  return c.all_ok() ? 0 : 1;
}

int check(const std::string& path) {
  const WeightsCheck c = check_weights(path);
  std::cout << (c.archive ? "Archive " : "Folder ") << c.source.string();
  if (!c.archive && !c.folder.empty() && c.folder != c.source)
    std::cout << " (files in " << c.folder.string() << ")";
  std::cout << ":\n";
  print_files(c);
  std::cout << (c.all_ok() ? "All official files are good.\n"
                           : "Not all official files are good.\n");
  return c.all_ok() ? 0 : 1;
}

int install(const std::string& path, const std::string& to) {
  const fs::path dir = to.empty() ? default_weights_dir() : fs::path(to);
  const WeightsCheck c = check_weights(path);
  std::cout << "Checked " << c.source.string() << ":\n";
  print_files(c);
  if (c.ok_count() == 0) {
    std::cout << "Nothing to install: no official file of the right size was found.\n";
    return 1;
  }
  constexpr std::uint64_t kMiB = 1 << 20;
  std::uint64_t total = 0;
  for (const WeightFileCheck& f : c.files)
    if (f.verdict == WeightVerdict::Ok) total += f.file.bytes;
  InstallOutcome out;
  {
    ProgressBar bar("Installing (MiB)", total / kMiB);
    out = install_weights(c, dir, [&bar](const InstallProgress& p) {
      bar.update(p.done / kMiB, p.file);
      return true;
    });
  }
  for (const std::string& f : out.installed)
    std::cout << "Installed " << (dir / f).string() << "\n";
  for (const std::string& f : out.unchanged)
    std::cout << "Already in place: " << (dir / f).string() << "\n";
  for (const std::string& f : out.refused) std::cout << "Refused " << f << "\n";
  const bool ok = out.refused.empty() && c.problem.empty();
  if (!out.installed.empty() || !out.unchanged.empty())
    std::cout << "Run them with `overfeat --model fast ...` (or accurate)"
              << (to.empty() || fs::path(to) == default_weights_dir()
                      ? ""
                      : "; pass -d " + dir.string() + " since this is not the default folder")
              << ".\n";
  return ok ? 0 : 1;
}

}  // namespace

int run_weights(int argc, char** argv) {
  CLI::App app{
      "The official OverFeat weights (net_weight_0, net_weight_1): what they are, where they "
      "are looked for, checking and installing them. With no subcommand: the explanation and "
      "the status of the data folder. Exit codes: 0 all good, 1 a problem with the files, 2 "
      "usage."};
  app.require_subcommand(0, 1);
  std::string check_path, install_path, to;
  CLI::App* check_cmd =
      app.add_subcommand("check", "Check a folder or an archive (overfeat-weights.tgz)");
  check_cmd->add_option("path", check_path, "Folder or archive")->required();
  CLI::App* install_cmd = app.add_subcommand(
      "install", "Check, then copy or extract the good files into the data folder");
  install_cmd->add_option("path", install_path, "Folder or archive")->required();
  install_cmd->add_option("--to", to, "Install here instead of the data folder");
  if (const int rc = parse_or_exit(app, argc, argv); rc >= 0) return rc;
  if (*check_cmd) return check(check_path);
  if (*install_cmd) return install(install_path, to);
  return explain();
}

}  // namespace overfeat::cli
