// SPDX-License-Identifier: MIT
// Checking and installing the official weights: verdicts on folders and archives (sizes against
// the documented layouts), installation with progress, and that a failed or cancelled
// installation never leaves a partial file. Files of the official sizes are sparse, so the
// tests stay fast; byte-exact copies are checked on small layouts of random bytes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <random>

#include "overfeat/error.hpp"
#include "overfeat/paths.hpp"
#include "overfeat/weights.hpp"
#include "overfeat/weights_install.hpp"
#include "test_support.hpp"

namespace overfeat {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr std::uint64_t kFast = 583683488, kAccurate = 578625952;

void sparse_file(const fs::path& p, std::uint64_t size) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).close();
  fs::resize_file(p, size);
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

void write_file(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// tar (GNU tar, -S keeps sparse files sparse) is on every Debian system.
void make_tgz(const fs::path& archive, const fs::path& dir, const std::string& member) {
  const std::string cmd =
      "tar -czSf '" + archive.string() + "' -C '" + dir.string() + "' '" + member + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// The names in a folder, sorted: leftovers of an installation (temporary files) show up here.
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// Small layouts with real bytes, standing in for the official ones where contents matter.
std::vector<OfficialWeightFile> small_layout() {
  return {{"net_weight_0", 0, "fast", 3u << 20}, {"net_weight_1", 1, "accurate", 1u << 20}};
}

TEST(WeightsInstall, OfficialSizesAreTheDocumentedOnes) {
  const auto files = official_weight_files();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].name, "net_weight_0");
  EXPECT_EQ(files[0].bytes, kFast);
  EXPECT_EQ(files[1].name, "net_weight_1");
  EXPECT_EQ(files[1].bytes, kAccurate);
  EXPECT_EQ(group_digits(kFast), "583,683,488");
  EXPECT_EQ(group_digits(12), "12");
}

TEST(WeightsInstall, FolderVerdicts) {
  TempDir t("weights");
  sparse_file(t / "net_weight_0", kFast);
  sparse_file(t / "net_weight_1", kAccurate - 4096);
  write_file(t / "notes.txt", "hello");
  const WeightsCheck c = check_weights(t.path());
  EXPECT_FALSE(c.archive);
  EXPECT_TRUE(c.problem.empty()) << c.problem;
  ASSERT_EQ(c.files.size(), 2u);
  EXPECT_EQ(c.files[0].verdict, WeightVerdict::Ok);
  EXPECT_EQ(c.files[1].verdict, WeightVerdict::WrongSize);
  EXPECT_EQ(c.files[1].found_bytes, kAccurate - 4096);
  EXPECT_NE(c.files[1].explain().find("expected 578,625,952 bytes, found 578,621,856"),
            std::string::npos)
      << c.files[1].explain();
  EXPECT_NE(c.files[1].explain().find("truncated"), std::string::npos);
  EXPECT_EQ(c.ok_count(), 1);
  EXPECT_FALSE(c.all_ok());
  EXPECT_EQ(c.extra, std::vector<std::string>{"notes.txt"});
}

TEST(WeightsInstall, MissingSwappedAndTheReleaseLayout) {
  TempDir t("weights");
  // The release's layout: data/default under the folder the user picked.
  sparse_file(t / "data/default/net_weight_0", kAccurate);  // renamed: the other net's size
  const WeightsCheck c = check_weights(t.path());
  EXPECT_EQ(c.folder, t.path() / "data/default");
  EXPECT_EQ(c.files[0].verdict, WeightVerdict::WrongSize);
  EXPECT_NE(c.files[0].explain().find("size of net_weight_1"), std::string::npos)
      << c.files[0].explain();
  EXPECT_EQ(c.files[1].verdict, WeightVerdict::Missing);
  EXPECT_NE(c.files[1].explain().find("missing"), std::string::npos);

  const WeightsCheck none = check_weights(t / "does-not-exist");
  EXPECT_NE(none.problem.find("does not exist"), std::string::npos);
  EXPECT_EQ(none.ok_count(), 0);

  write_file(t / "photo.jpg", "not an archive at all");
  const WeightsCheck junk = check_weights(t / "photo.jpg");
  EXPECT_TRUE(junk.archive);
  EXPECT_FALSE(junk.problem.empty());

  // load_weights (the -d path) says "renamed" for the same file, as `overfeat weights` does;
  // it once said "truncated".
  try {
    load_weights(t / "data/default/net_weight_0", NetSpec::official(0));
    ADD_FAILURE() << "accepted a file of the other net's size";
  } catch (const WeightFileError& e) {
    EXPECT_NE(std::string(e.what()).find("size of net_weight_1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("renamed"), std::string::npos) << e.what();
  }
}

// A FIFO given as the archive once blocked the archive reader forever.
TEST(WeightsInstall, SpecialFilesAreRefusedWithoutBlocking) {
  TempDir t("weights");
  const fs::path fifo = t / "overfeat-weights.tgz";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const WeightsCheck c = check_weights(fifo);
  EXPECT_NE(c.problem.find("named pipe"), std::string::npos) << c.problem;
  EXPECT_EQ(c.ok_count(), 0);
  const WeightsCheck z = check_weights("/dev/zero");
  EXPECT_NE(z.problem.find("character device"), std::string::npos) << z.problem;
}

TEST(WeightsInstall, ArchiveVerdictsLikeTheRelease) {
  TempDir t("weights");
  sparse_file(t / "src/data/default/net_weight_0", kFast);
  sparse_file(t / "src/data/default/net_weight_1", 1234);
  write_file(t / "src/data/default/README", "readme");
  make_tgz(t / "overfeat-weights.tgz", t / "src", "data");
  const WeightsCheck c = check_weights(t / "overfeat-weights.tgz");
  EXPECT_TRUE(c.archive);
  EXPECT_TRUE(c.problem.empty()) << c.problem;
  EXPECT_EQ(c.files[0].verdict, WeightVerdict::Ok);
  EXPECT_EQ(c.files[0].location, "data/default/net_weight_0");
  EXPECT_EQ(c.files[1].verdict, WeightVerdict::WrongSize);
  EXPECT_EQ(c.files[1].found_bytes, 1234u);
  EXPECT_EQ(c.extra, std::vector<std::string>{"data/default/README"});

  // Installing takes the good file only; the sparse file stays sparse and is whole.
  const fs::path dest = t / "installed";
  const InstallOutcome out = install_weights(c, dest);
  EXPECT_EQ(out.installed, std::vector<std::string>{"net_weight_0"});
  ASSERT_EQ(out.refused.size(), 1u);
  EXPECT_NE(out.refused[0].find("net_weight_1: wrong size"), std::string::npos);
  EXPECT_EQ(fs::file_size(dest / "net_weight_0"), kFast);
  EXPECT_EQ(listing(dest), std::vector<std::string>{"net_weight_0"});
  EXPECT_EQ(check_weights(dest).files[0].verdict, WeightVerdict::Ok);
}

TEST(WeightsInstall, FolderInstallCopiesExactlyWithProgress) {
  TempDir t("weights");
  const auto layout = small_layout();
  const std::string a = random_bytes(layout[0].bytes, 1), b = random_bytes(layout[1].bytes, 2);
  write_file(t / "src/net_weight_0", a);
  write_file(t / "src/net_weight_1", b);
  const WeightsCheck c = check_weights(t / "src", layout);
  ASSERT_TRUE(c.all_ok());
  std::vector<std::uint64_t> seen;
  const InstallOutcome out = install_weights(c, t / "dest", [&](const InstallProgress& p) {
    EXPECT_EQ(p.total, layout[0].bytes + layout[1].bytes);
    seen.push_back(p.done);
    return true;
  });
  EXPECT_EQ(out.installed, (std::vector<std::string>{"net_weight_0", "net_weight_1"}));
  EXPECT_TRUE(read_file(t / "dest/net_weight_0") == a);
  EXPECT_TRUE(read_file(t / "dest/net_weight_1") == b);
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(seen.back(), layout[0].bytes + layout[1].bytes);
  EXPECT_EQ(listing(t / "dest"), (std::vector<std::string>{"net_weight_0", "net_weight_1"}));

  // Installing the data folder onto itself copies nothing.
  const InstallOutcome again = install_weights(check_weights(t / "dest", layout), t / "dest");
  EXPECT_TRUE(again.installed.empty());
  EXPECT_EQ(again.unchanged.size(), 2u);
}

TEST(WeightsInstall, ArchiveExtractsExactBytes) {
  TempDir t("weights");
  const auto layout = small_layout();
  const std::string a = random_bytes(layout[0].bytes, 3), b = random_bytes(layout[1].bytes, 4);
  write_file(t / "src/data/default/net_weight_0", a);
  write_file(t / "src/data/default/net_weight_1", b);
  make_tgz(t / "w.tar.gz", t / "src", "data");
  const WeightsCheck c = check_weights(t / "w.tar.gz", layout);
  ASSERT_TRUE(c.all_ok()) << c.problem;
  const InstallOutcome out = install_weights(c, t / "dest");
  EXPECT_EQ(out.installed.size(), 2u);
  EXPECT_TRUE(read_file(t / "dest/net_weight_0") == a);
  EXPECT_TRUE(read_file(t / "dest/net_weight_1") == b);
}

TEST(WeightsInstall, TruncatedArchiveIsDamaged) {
  TempDir t("weights");
  const auto layout = small_layout();
  write_file(t / "src/data/default/net_weight_1", random_bytes(layout[1].bytes, 5));
  write_file(t / "src/data/default/net_weight_0", random_bytes(layout[0].bytes, 6));
  // net_weight_1 first and whole, net_weight_0 cut off by an interrupted download.
  const fs::path both = t / "both.tgz";
  {
    const std::string cmd = "tar -czf '" + both.string() + "' -C '" + (t / "src").string() +
                            "' data/default/net_weight_1 data/default/net_weight_0";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  const std::string bytes = read_file(both);
  write_file(t / "cut.tgz", bytes.substr(0, bytes.size() / 2 + layout[1].bytes / 4));
  const WeightsCheck c = check_weights(t / "cut.tgz", layout);
  EXPECT_EQ(c.files[1].verdict, WeightVerdict::Ok);
  EXPECT_EQ(c.files[0].verdict, WeightVerdict::Damaged) << c.problem;
  EXPECT_NE(c.problem.find("truncated"), std::string::npos) << c.problem;

  const InstallOutcome out = install_weights(c, t / "dest");
  EXPECT_EQ(out.installed, std::vector<std::string>{"net_weight_1"});
  ASSERT_EQ(out.refused.size(), 1u);
  EXPECT_EQ(listing(t / "dest"), std::vector<std::string>{"net_weight_1"});
}

TEST(WeightsInstall, FailureOrCancelLeavesNoPartialFile) {
  TempDir t("weights");
  const auto layout = small_layout();
  write_file(t / "src/net_weight_0", random_bytes(layout[0].bytes, 7));
  write_file(t / "src/net_weight_1", random_bytes(layout[1].bytes, 8));
  make_tgz(t / "w.tgz", t / "src", ".");
  const WeightsCheck c = check_weights(t / "w.tgz", layout);
  ASSERT_TRUE(c.all_ok()) << c.problem;
  const fs::path dest = t / "dest";
  const std::string older = "an older file that must survive";
  write_file(dest / "net_weight_0", older);

  // Cancelled part-way through a file big enough for several progress reports.
  const std::vector<OfficialWeightFile> big = {{"net_weight_0", 0, "fast", 20u << 20}};
  write_file(t / "big/net_weight_0", random_bytes(big[0].bytes, 9));
  std::uint64_t reported = 0;
  const InstallOutcome cancelled =
      install_weights(check_weights(t / "big", big), dest, [&](const InstallProgress& p) {
        reported = p.done;
        return p.done < (8u << 20);
      });
  EXPECT_GE(reported, 8u << 20);
  EXPECT_LT(reported, big[0].bytes);
  EXPECT_TRUE(cancelled.cancelled);
  EXPECT_TRUE(cancelled.installed.empty());
  EXPECT_EQ(listing(dest), std::vector<std::string>{"net_weight_0"});
  EXPECT_TRUE(read_file(dest / "net_weight_0") == older);

  // The archive is damaged between the check and the installation.
  const std::string bytes = read_file(t / "w.tgz");
  write_file(t / "w.tgz", bytes.substr(0, bytes.size() / 3));
  EXPECT_THROW(install_weights(c, dest), Error);
  EXPECT_EQ(listing(dest), std::vector<std::string>{"net_weight_0"});
  EXPECT_TRUE(read_file(dest / "net_weight_0") == older);

  // A source file that shrinks between the check and the copy.
  const WeightsCheck folder = check_weights(t / "src", layout);
  ASSERT_TRUE(folder.all_ok());
  fs::resize_file(t / "src/net_weight_1", 100);
  EXPECT_THROW(install_weights(folder, dest), Error);
  EXPECT_EQ(listing(dest), std::vector<std::string>{"net_weight_0"});
}

// Installed data is looked up next to the executable (tests/test_package.sh runs an unpacked
// package for that); a build tree falls back to the source tree.
TEST(DataPaths, ExecutableDirAndFallbacks) {
  EXPECT_EQ(executable_dir(),
            fs::path(OVERFEAT_BIN).parent_path().parent_path().parent_path() / "tests");
  for (const fs::path& d : data_dirs()) EXPECT_TRUE(fs::is_directory(d)) << d;
  EXPECT_EQ(source_tree_file("README.md"), fs::path(OVERFEAT_SOURCE_DIR) / "README.md");
  EXPECT_TRUE(source_tree_file("no/such/file").empty());
  EXPECT_EQ(find_data_file("no/such/file", source_tree_file("README.md")),
            fs::path(OVERFEAT_SOURCE_DIR) / "README.md");
  EXPECT_TRUE(find_data_file("no/such/file").empty());
}

// The command: verdicts and exit codes (0 all good, 1 problems, 2 usage).
TEST(WeightsCli, CheckAndInstall) {
  TempDir t("weights");
  sparse_file(t / "good/net_weight_0", kFast);
  sparse_file(t / "good/net_weight_1", kAccurate);
  sparse_file(t / "bad/net_weight_0", 1000);
  const std::string env = "XDG_DATA_HOME='" + (t / "xdg").string() + "' OVERFEAT_WEIGHTS= ";
  const std::string bin = std::string(OVERFEAT_BIN) + " weights";

  auto r = testing::run_command(env + bin);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("583,683,488"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("overfeat-weights.tgz"), std::string::npos);
  EXPECT_NE(r.out.find((t / "xdg/overfeat-studio/weights").string()), std::string::npos) << r.out;

  r = testing::run_command(bin + " check '" + (t / "good").string() + "'");
  EXPECT_EQ(r.code, 0) << r.out;
  r = testing::run_command(bin + " check '" + (t / "bad").string() + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("wrong size: expected 583,683,488 bytes, found 1,000"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("net_weight_1  missing"), std::string::npos) << r.out;
  r = testing::run_command(bin + " check");
  EXPECT_EQ(r.code, 2);

  r = testing::run_command(env + bin + " install '" + (t / "bad").string() + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(fs::exists(t / "xdg/overfeat-studio/weights/net_weight_0"));
  r = testing::run_command(env + bin + " install '" + (t / "good").string() + "'");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(fs::file_size(t / "xdg/overfeat-studio/weights/net_weight_0"), kFast);
  r = testing::run_command(env + bin);
  EXPECT_EQ(r.code, 0) << r.out;
}

}  // namespace
}  // namespace overfeat
