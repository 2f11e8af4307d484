// SPDX-License-Identifier: MIT
// Reading the files a user names (images, models, stores, weights, archives) safely: only
// regular files (a FIFO or a device would block or never end), never more than a stated size.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace overfeat::files {

/// What is wrong with reading `file` as data: it does not exist, cannot be examined, is a
/// folder, is not a regular file (a FIFO, a device, a socket), or holds more than `max_bytes`.
/// Phrased to follow the file's name ("is a named pipe (FIFO), not a regular file"); empty when
/// the file can be read.
std::optional<std::string> problem(const std::filesystem::path& file, std::uintmax_t max_bytes);

/// The whole content of `file`, which problem() accepts. Throws Error naming the file and
/// `what` it was ("image", "one-shot store") when it cannot be read or outgrows `max_bytes`
/// while being read.
std::string read_all(const std::filesystem::path& file, std::uintmax_t max_bytes,
                     const std::string& what);

/// A byte count for messages: "812 bytes", "3.4 MB", "1.2 GB" (decimal units).
std::string describe_size(std::uintmax_t bytes);

}  // namespace overfeat::files
