// SPDX-License-Identifier: MIT
#include "overfeat/weights_install.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>

#include "overfeat/error.hpp"
#include "overfeat/files.hpp"
#include "overfeat/netspec.hpp"
#include "overfeat/weights.hpp"

namespace overfeat {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxExtra = 20;
constexpr std::uint64_t kReportEvery = 8u << 20;  // progress callbacks at most every 8 MiB

std::string errno_text() {
  return std::strerror(errno);
}

std::string base_name(const std::string& member) {
  const auto slash = member.find_last_of('/');
  return slash == std::string::npos ? member : member.substr(slash + 1);
}

// The index of the expected file called `name`, or -1.
int file_index(const WeightsCheck& c, const std::string& name) {
  for (std::size_t i = 0; i < c.files.size(); ++i)
    if (c.files[i].file.name == name) return static_cast<int>(i);
  return -1;
}

void note_extra(WeightsCheck& c, const std::string& name) {
  if (c.extra.size() < kMaxExtra) c.extra.push_back(name);
  ++c.extra_count;
}

// Records a file found with `bytes`; a second copy only replaces a first one that is not OK.
void note_found(WeightFileCheck& f, const std::string& location, std::uint64_t bytes) {
  if (f.verdict == WeightVerdict::Ok) return;
  f.location = location;
  f.found_bytes = bytes;
  f.verdict = bytes == f.file.bytes ? WeightVerdict::Ok : WeightVerdict::WrongSize;
}

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

ArchivePtr open_archive(const fs::path& file, std::string& error) {
  ArchivePtr a(archive_read_new());
  archive_read_support_filter_all(a.get());
  // The formats a download can come in; not format_all, whose mtree reader takes any text file
  // for an archive.
  for (auto support : {archive_read_support_format_tar, archive_read_support_format_gnutar,
                       archive_read_support_format_zip, archive_read_support_format_7zip,
                       archive_read_support_format_cpio})
    support(a.get());
  if (archive_read_open_filename(a.get(), file.c_str(), 1 << 16) != ARCHIVE_OK) {
    error = archive_error_string(a.get()) ? archive_error_string(a.get()) : "cannot open";
    return nullptr;
  }
  return a;
}

std::string member_name(archive_entry* e) {
  const char* p = archive_entry_pathname(e);
  std::string s = p ? p : "";
  while (s.rfind("./", 0) == 0) s.erase(0, 2);
  return s;
}

void check_archive(WeightsCheck& c) {
  c.archive = true;
  std::string error;
  ArchivePtr a = open_archive(c.source, error);
  if (!a) {
    c.problem = "cannot read " + c.source.string() + ": " + error;
    return;
  }
  archive_entry* e = nullptr;
  int entries = 0;
  for (;;) {
    const int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      const std::string why = archive_error_string(a.get()) ? archive_error_string(a.get()) : "";
      c.problem =
          entries == 0
              ? c.source.string() + " is not an archive OverFeat Studio can read (" + why + ")"
              : "the archive is damaged or truncated after " + std::to_string(entries) +
                    " entries (" + why + "): download it again";
      return;
    }
    ++entries;
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    const std::string name = member_name(e);
    const int i = file_index(c, base_name(name));
    if (i >= 0)
      note_found(c.files[i], name, static_cast<std::uint64_t>(archive_entry_size(e)));
    else
      note_extra(c, name);
    // Reading through the data (decompressing it) is what catches a truncated download.
    if (archive_read_data_skip(a.get()) < ARCHIVE_WARN) {
      const std::string why = archive_error_string(a.get()) ? archive_error_string(a.get()) : "";
      if (i >= 0 && c.files[i].location == name) c.files[i].verdict = WeightVerdict::Damaged;
      c.problem = "the archive is damaged or truncated inside " + name + " (" + why +
                  "): download it again";
      return;
    }
  }
  if (entries == 0) c.problem = c.source.string() + " is an empty archive";
}

void check_folder(WeightsCheck& c) {
  std::error_code ec;
  fs::path folder = c.source;
  auto has_any = [&](const fs::path& dir) {
    for (const auto& f : c.files)
      if (fs::exists(dir / f.file.name, ec)) return true;
    return false;
  };
  if (!has_any(folder))
    for (const char* sub : {"data/default", "overfeat/data/default"})
      if (has_any(c.source / sub)) {
        folder = c.source / sub;
        break;
      }
  c.folder = folder;
  for (auto& f : c.files) {
    const fs::path p = folder / f.file.name;
    if (!fs::exists(p, ec)) continue;
    const std::uint64_t size = fs::is_regular_file(p, ec) ? fs::file_size(p, ec) : 0;
    if (ec) {
      f.verdict = WeightVerdict::Damaged;
      f.location = p.string();
      continue;
    }
    note_found(f, p.string(), size);
  }
  fs::directory_iterator it(folder, ec), end;
  if (ec) {
    c.problem = "cannot list " + folder.string() + ": " + ec.message();
    return;
  }
  std::vector<std::string> others;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (!it->is_regular_file(ec) || name.empty() || name[0] == '.') continue;
    if (file_index(c, name) < 0) others.push_back(name);
  }
  std::sort(others.begin(), others.end());
  for (const auto& o : others) note_extra(c, o);
}

// A file written under a temporary name in the destination folder, renamed into place only
// when complete. Blocks of zeros become holes, so sparse inputs stay sparse.
class PendingFile {
 public:
  PendingFile(const fs::path& dir, const std::string& name) : final_(dir / name) {
    temp_ = dir / ("." + name + ".partial-" + std::to_string(::getpid()));
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error("Cannot write " + temp_.string() + ": " + errno_text());
  }
  ~PendingFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;

  void write_at(const char* data, std::size_t n, std::uint64_t offset) {
    constexpr std::size_t kChunk = 64 << 10;
    for (std::size_t pos = 0; pos < n; pos += kChunk) {
      const std::size_t len = std::min(kChunk, n - pos);
      const char* p = data + pos;
      if (std::all_of(p, p + len, [](char ch) { return ch == 0; })) continue;
      std::size_t done = 0;
      while (done < len) {
        const ssize_t w = ::pwrite(fd_, p + done, len - done, offset + pos + done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw Error("Cannot write " + temp_.string() + ": " + errno_text());
        done += static_cast<std::size_t>(w);
      }
    }
  }

  void commit(std::uint64_t size) {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0 || ::fsync(fd_) != 0)
      throw Error("Cannot write " + temp_.string() + ": " + errno_text());
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != size)
      throw Error("Writing " + temp_.string() + " gave the wrong size");
    ::close(fd_);
    fd_ = -1;
    if (::rename(temp_.c_str(), final_.c_str()) != 0)
      throw Error("Cannot rename " + temp_.string() + " to " + final_.string() + ": " +
                  errno_text());
    committed_ = true;
    if (int dfd = ::open(final_.parent_path().c_str(), O_RDONLY | O_DIRECTORY); dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  fs::path final_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

// Throttled progress: the callback hears about every file's start and end and every 8 MiB.
class Reporter {
 public:
  Reporter(const InstallCallback& cb, std::uint64_t total) : cb_(cb) { p_.total = total; }
  // Returns false when cancelled.
  bool start(const std::string& file, std::uint64_t base) {
    p_.file = file;
    base_ = base;
    return update(0, true);
  }
  // `within`: bytes done of the current file. Returns false when cancelled.
  bool update(std::uint64_t within, bool force = false) {
    p_.done = base_ + within;
    if (!cb_ || (!force && p_.done < last_ + kReportEvery)) return true;
    last_ = p_.done;
    return cb_(p_);
  }

 private:
  const InstallCallback& cb_;
  InstallProgress p_;
  std::uint64_t base_ = 0, last_ = 0;
};

// Copies `from` to `dir/name`; false when cancelled.
bool copy_weight_file(const fs::path& from, const fs::path& dir, const WeightFileCheck& f,
                      Reporter& report) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw Error("Cannot read " + from.string() + ": " + errno_text());
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{in};
  PendingFile out(dir, f.file.name);
  std::vector<char> buf(4 << 20);
  std::uint64_t done = 0;
  const std::uint64_t size = fs::file_size(from);
  for (;;) {
    // Holes of a sparse file are skipped (they read as zeros and stay holes in the copy).
    const off_t data = ::lseek(in, static_cast<off_t>(done), SEEK_DATA);
    if (data < 0 && errno == ENXIO) {
      done = std::max(done, size);
      break;
    }
    if (data > static_cast<off_t>(done)) done = static_cast<std::uint64_t>(data);
    const ssize_t n = ::pread(in, buf.data(), buf.size(), static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error("Cannot read " + from.string() + ": " + errno_text());
    if (n == 0) break;
    out.write_at(buf.data(), static_cast<std::size_t>(n), done);
    done += static_cast<std::uint64_t>(n);
    if (done > f.file.bytes) break;
    if (!report.update(done)) return false;
  }
  if (done != f.file.bytes)
    throw Error(from.string() + " changed while it was copied (" + group_digits(done) +
                " bytes read, " + group_digits(f.file.bytes) + " expected); nothing installed");
  out.commit(f.file.bytes);
  report.update(done, true);
  return true;
}

// Extracts the current archive entry to `dir/name`; false when cancelled.
bool extract_entry(archive* a, const fs::path& dir, const WeightFileCheck& f, Reporter& report) {
  PendingFile out(dir, f.file.name);
  const void* block = nullptr;
  std::size_t size = 0;
  la_int64_t offset = 0;
  std::uint64_t end = 0;
  for (;;) {
    const int r = archive_read_data_block(a, &block, &size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN)
      throw Error("The archive is damaged inside " + f.location + " (" +
                  (archive_error_string(a) ? archive_error_string(a) : "read error") +
                  "); nothing written for " + f.file.name);
    end = std::max<std::uint64_t>(end, static_cast<std::uint64_t>(offset) + size);
    if (end > f.file.bytes)
      throw Error(f.location + " in the archive is larger than its header says");
    out.write_at(static_cast<const char*>(block), size, static_cast<std::uint64_t>(offset));
    if (!report.update(end)) return false;
  }
  out.commit(f.file.bytes);
  report.update(f.file.bytes, true);
  return true;
}

}  // namespace

std::vector<OfficialWeightFile> official_weight_files() {
  std::vector<OfficialWeightFile> files;
  for (int i = 0; i < 2; ++i) {
    const NetSpec spec = NetSpec::official(i);
    files.push_back({official_weight_path("", i).string(), i, spec.name,
                     static_cast<std::uint64_t>(spec.parameter_count()) * 4});
  }
  return files;
}

std::string group_digits(std::uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
  return s;
}

const char* verdict_name(WeightVerdict verdict) {
  switch (verdict) {
    case WeightVerdict::Ok:
      return "OK";
    case WeightVerdict::WrongSize:
      return "wrong size";
    case WeightVerdict::Missing:
      return "missing";
    case WeightVerdict::Damaged:
      return "damaged";
  }
  return "?";
}

std::string WeightFileCheck::explain() const {
  const std::string expected = group_digits(file.bytes) + " bytes";
  switch (verdict) {
    case WeightVerdict::Ok:
      return "OK: " + expected + ", the exact size of the " + file.net + " net";
    case WeightVerdict::Missing:
      return "missing (expected " + expected + " for the " + file.net + " net)";
    case WeightVerdict::Damaged:
      return "damaged: the archive fails inside this file; download it again";
    case WeightVerdict::WrongSize: {
      std::string why = found_bytes < file.bytes
                            ? "truncated (an interrupted download?), or not an OverFeat file"
                            : "too large: not an OverFeat weight file";
      for (const auto& other : official_weight_files())
        if (other.name != file.name && other.bytes == found_bytes)
          why = "that is the size of " + other.name + ": were the files renamed?";
      return "wrong size: expected " + expected + ", found " + group_digits(found_bytes) + ": " +
             why;
    }
  }
  return {};
}

int WeightsCheck::ok_count() const {
  return static_cast<int>(std::count_if(files.begin(), files.end(), [](const WeightFileCheck& f) {
    return f.verdict == WeightVerdict::Ok;
  }));
}

WeightsCheck check_weights(const fs::path& folder_or_archive,
                           const std::vector<OfficialWeightFile>& expected) {
  WeightsCheck c;
  c.source = folder_or_archive;
  for (const auto& f : expected) c.files.push_back({f, WeightVerdict::Missing, 0, ""});
  std::error_code ec;
  const auto status = fs::status(folder_or_archive, ec);
  if (!fs::exists(status)) {
    c.problem = folder_or_archive.string() + " does not exist";
    return c;
  }
  if (fs::is_directory(status)) {
    check_folder(c);
  } else if (const auto problem = files::problem(folder_or_archive, UINTMAX_MAX)) {
    // A FIFO or a device would block the archive reader, or never end.
    c.problem = folder_or_archive.string() + " " + *problem +
                "; give the folder with the weight files or the release's archive";
  } else if (file_index(c, folder_or_archive.filename().string()) >= 0) {
    c.source =
        folder_or_archive.parent_path().empty() ? fs::path(".") : folder_or_archive.parent_path();
    check_folder(c);
  } else {
    check_archive(c);
  }
  return c;
}

InstallOutcome install_weights(const WeightsCheck& check, const fs::path& dir,
                               const InstallCallback& progress) {
  InstallOutcome out;
  out.dir = dir;
  std::vector<const WeightFileCheck*> to_install;
  std::uint64_t total = 0;
  for (const auto& f : check.files) {
    if (f.verdict == WeightVerdict::Ok) {
      std::error_code ec;
      if (!check.archive && fs::equivalent(f.location, dir / f.file.name, ec)) {
        out.unchanged.push_back(f.file.name);
        continue;
      }
      to_install.push_back(&f);
      total += f.file.bytes;
    } else if (f.verdict != WeightVerdict::Missing) {
      out.refused.push_back(f.file.name + ": " + f.explain());
    }
  }
  if (to_install.empty()) return out;

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("Cannot create " + dir.string() + ": " + ec.message());
  std::uint64_t replaced = 0;
  for (const auto* f : to_install)
    replaced += fs::exists(dir / f->file.name, ec) ? f->file.bytes : 0;
  const auto space = fs::space(dir, ec);
  if (!ec && space.available + replaced < total)
    throw Error("Not enough space in " + dir.string() + ": the weights need " +
                group_digits(total) + " bytes, " + group_digits(space.available) + " are free");

  Reporter report(progress, total);
  std::uint64_t base = 0;
  auto finish = [&](const WeightFileCheck& f, bool completed) {
    if (!completed) {
      out.cancelled = true;
      return false;
    }
    out.installed.push_back(f.file.name);
    base += f.file.bytes;
    return true;
  };

  if (!check.archive) {
    for (const auto* f : to_install) {
      if (!finish(*f, report.start(f->file.name, base) &&
                          copy_weight_file(f->location, dir, *f, report)))
        return out;
    }
    return out;
  }

  std::string error;
  ArchivePtr a = open_archive(check.source, error);
  if (!a) throw Error("Cannot read " + check.source.string() + ": " + error);
  archive_entry* e = nullptr;
  std::size_t left = to_install.size();
  while (left > 0) {
    const int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN)
      throw Error("The archive " + check.source.string() + " is damaged (" +
                  (archive_error_string(a.get()) ? archive_error_string(a.get()) : "") + ")");
    const std::string name = member_name(e);
    for (const auto* f : to_install)
      if (f->location == name && std::find(out.installed.begin(), out.installed.end(),
                                           f->file.name) == out.installed.end()) {
        if (!finish(*f,
                    report.start(f->file.name, base) && extract_entry(a.get(), dir, *f, report)))
          return out;
        --left;
        break;
      }
  }
  if (left > 0)
    throw Error("The archive " + check.source.string() +
                " changed since it was checked: some files were not found again");
  return out;
}

}  // namespace overfeat
