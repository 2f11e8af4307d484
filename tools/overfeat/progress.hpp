// SPDX-License-Identifier: MIT
// A progress bar on stderr: redrawn in place on a terminal, a line every 10 % otherwise (logs).
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace overfeat::cli {

class ProgressBar {
 public:
  ProgressBar(std::string what, size_t total)
      : what_(std::move(what)), total_(total), tty_(isatty(STDERR_FILENO)) {}
  ~ProgressBar() { finish(); }

  void update(size_t done, const std::string& note = "") {
    done_ = done;
    const double elapsed = seconds();
    const int percent = total_ ? static_cast<int>(100.0 * done / total_) : 100;
    if (!tty_ && percent / 10 == last_decile_ && done != total_) return;
    last_decile_ = percent / 10;
    const double rate = elapsed > 0 ? done / elapsed : 0;
    const double eta = rate > 0 ? (total_ - done) / rate : 0;
    constexpr int kWidth = 30;
    const int filled = total_ ? static_cast<int>(kWidth * done / total_) : kWidth;
    std::string bar(filled, '=');
    if (filled < kWidth) bar += '>' + std::string(kWidth - filled - 1, ' ');
    std::fprintf(stderr, "%s%s [%s] %zu/%zu %3d%%  %.2f/s  ETA %s  %s%s", tty_ ? "\r" : "",
                 what_.c_str(), bar.c_str(), done, total_, percent, rate, clock(eta).c_str(),
                 note.c_str(), tty_ ? "\033[K" : "\n");
    std::fflush(stderr);
  }
  void finish() {
    if (finished_) return;
    finished_ = true;
    if (tty_) std::fprintf(stderr, "\n");
  }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  static std::string clock(double s) {
    const long t = static_cast<long>(s + 0.5);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    return buf;
  }
  std::string what_;
  size_t total_, done_ = 0;
  bool tty_;
  int last_decile_ = -1;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace overfeat::cli
