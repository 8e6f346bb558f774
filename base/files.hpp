// Reading the files dutyd is given (configuration and its includes, holiday data, templates,
// credentials, imported CSV): regular files only, whole, up to a size cap. The file is opened
// with O_NONBLOCK and checked with fstat before a byte is read, so a FIFO, a device, a socket or
// a directory named by a path (or by a symlink) is refused at once instead of hanging a reload
// or growing memory without bound (/dev/zero).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace dutyd {

struct FileReadError : std::runtime_error {
  enum Kind : std::uint8_t { not_found, not_regular, too_large, unreadable };
  // what(): "<role> <path> <reason>"; reason: the same without role and path, for messages that
  // already name the file (a diagnostic's FILE:LINE:COL).
  FileReadError(Kind k, const std::string& role_and_path, std::string why)
      : std::runtime_error(role_and_path + " " + why), kind(k), reason(std::move(why)) {}
  Kind kind;
  std::string reason;
};

// The file's bytes. Throws FileReadError whose message names the path, what is wrong and what
// to do ("... is a FIFO, not a regular file — name a regular file"). `what` names the file's
// role in messages ("the configuration file", "credential 'smtp_password'").
std::string read_regular_file(const std::string& path, std::size_t max_bytes,
                              const std::string& what = "the file");

// As above, but a file that does not exist is std::nullopt rather than an error.
std::optional<std::string> read_regular_file_if_exists(const std::string& path,
                                                       std::size_t max_bytes,
                                                       const std::string& what = "the file");

// The caps dutyd applies unless configured otherwise: generous for what people write, small for
// secrets.
inline constexpr std::size_t kMaxConfigFileBytes = 64u << 20;
inline constexpr std::size_t kMaxDataFileBytes = 64u << 20;  // holidays, templates, CSV imports
inline constexpr std::size_t kMaxCredentialBytes = 1u << 20;

// "12 MiB", "640 KiB", "512 bytes": a size for messages.
std::string describe_size(std::size_t bytes);

}  // namespace dutyd
