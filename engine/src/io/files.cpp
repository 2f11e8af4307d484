// SPDX-License-Identifier: MIT
#include "overfeat/files.hpp"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <system_error>

#include "overfeat/error.hpp"

namespace overfeat::files {
namespace fs = std::filesystem;

std::string describe_size(std::uintmax_t bytes) {
  if (bytes < 1000) return std::to_string(bytes) + " bytes";
  const double b = static_cast<double>(bytes);
  char text[32];
  if (bytes < 1000 * 1000)
    std::snprintf(text, sizeof text, "%.1f kB", b / 1e3);
  else if (bytes < 1000ULL * 1000 * 1000)
    std::snprintf(text, sizeof text, "%.1f MB", b / 1e6);
  else
    std::snprintf(text, sizeof text, "%.1f GB", b / 1e9);
  return text;
}

std::optional<std::string> problem(const fs::path& file, std::uintmax_t max_bytes) {
  std::error_code ec;
  const fs::file_status status = fs::status(file, ec);
  if (!fs::exists(status)) {
    if (ec && ec != std::errc::no_such_file_or_directory)
      return "cannot be examined (" + ec.message() + ")";
    return std::string("does not exist");
  }
  switch (status.type()) {
    case fs::file_type::regular:
      break;
    case fs::file_type::directory:
      return std::string("is a directory (folder), not a file");
    case fs::file_type::fifo:
      return std::string("is a named pipe (FIFO), not a regular file");
    case fs::file_type::character:
      return std::string("is a character device, not a regular file");
    case fs::file_type::block:
      return std::string("is a block device, not a regular file");
    case fs::file_type::socket:
      return std::string("is a socket, not a regular file");
    default:
      return std::string("is not a regular file");
  }
  const std::uintmax_t size = fs::file_size(file, ec);
  if (ec) return "cannot be examined (" + ec.message() + ")";
  if (size > max_bytes)
    return "is " + describe_size(size) + ", more than the " + describe_size(max_bytes) +
           " this kind of file may have";
  return std::nullopt;
}

std::string read_all(const fs::path& file, std::uintmax_t max_bytes, const std::string& what) {
  if (const auto p = problem(file, max_bytes))
    throw Error("The " + what + " '" + file.string() + "' " + *p + ".");
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw Error("The " + what + " '" + file.string() +
                "' cannot be opened; check its permissions.");
  std::string text;
  char buffer[1 << 16];
  while (in) {
    in.read(buffer, sizeof buffer);
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes)  // the file grew after the check
      throw Error("The " + what + " '" + file.string() + "' " + "holds more than " +
                  describe_size(max_bytes) + ".");
  }
  if (in.bad()) throw Error("The " + what + " '" + file.string() + "' could not be read.");
  return text;
}

}  // namespace overfeat::files
