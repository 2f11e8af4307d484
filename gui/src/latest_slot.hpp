// SPDX-License-Identifier: MIT
// A one-item mailbox between threads where the newest value wins: a producer that is faster than
// its consumer replaces the waiting value (counted as dropped) instead of queueing it. This is
// how camera frames reach the network: when inference is slower than the camera, stale frames
// are dropped, never queued.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>

namespace overfeat::studio {

template <class T>
class LatestSlot {
 public:
  /// Stores `value`. Returns true when it replaced a value nobody took (that one is dropped).
  bool put(T value) {
    bool replaced = false;
    {
      std::lock_guard lock(mutex_);
      replaced = value_.has_value();
      value_ = std::move(value);
      ++puts_;
      if (replaced) ++dropped_;
    }
    ready_.notify_one();
    return replaced;
  }
  /// Waits for a value; nullopt once the slot is closed (or after `timeout`).
  std::optional<T> take(std::chrono::milliseconds timeout = std::chrono::milliseconds::max()) {
    std::unique_lock lock(mutex_);
    auto ready = [&] { return closed_ || value_.has_value(); };
    if (timeout == std::chrono::milliseconds::max())
      ready_.wait(lock, ready);
    else if (!ready_.wait_for(lock, timeout, ready))
      return std::nullopt;
    if (closed_) return std::nullopt;
    return pop(lock);
  }
  /// The waiting value, if any, without blocking.
  std::optional<T> try_take() {
    std::unique_lock lock(mutex_);
    return pop(lock);
  }
  /// Drops the waiting value (not counted as dropped: it was withdrawn).
  void clear() {
    std::lock_guard lock(mutex_);
    value_.reset();
  }
  /// Wakes every waiter; take() returns nullopt from now on.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }
  bool has_value() const {
    std::lock_guard lock(mutex_);
    return value_.has_value();
  }
  uint64_t puts() const {
    std::lock_guard lock(mutex_);
    return puts_;
  }
  uint64_t dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  std::optional<T> pop(std::unique_lock<std::mutex>&) {
    std::optional<T> out = std::move(value_);
    value_.reset();
    return out;
  }
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::optional<T> value_;
  bool closed_ = false;
  uint64_t puts_ = 0, dropped_ = 0;
};

}  // namespace overfeat::studio
