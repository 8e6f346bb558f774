#include "base/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dutyd {

namespace {

constexpr const char* kDash = " — ";

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

std::optional<std::string> read_impl(const std::string& path, std::size_t max_bytes,
                                     const std::string& what, bool missing_ok) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (f.fd < 0) {
    const int e = errno;
    if (e == ENOENT && missing_ok) return std::nullopt;
    // A socket cannot be opened at all (ENXIO): say what it is rather than the errno text.
    if (struct stat st{}; e != ENOENT && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      throw FileReadError(FileReadError::not_regular, what + " " + path,
                          "is " + file_type_name(st.st_mode) + ", not a regular file" + kDash +
                              "name a regular file");
    throw FileReadError(e == ENOENT ? FileReadError::not_found : FileReadError::unreadable,
                        what + " " + path,
                        std::string("cannot be opened: ") + std::strerror(e) + kDash +
                            "check the path and that dutyd may read it");
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0)
    throw FileReadError(FileReadError::unreadable, what + " " + path,
                        std::string("cannot be examined: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw FileReadError(FileReadError::not_regular, what + " " + path,
                        "is " + file_type_name(st.st_mode) + ", not a regular file" + kDash +
                            "name a regular file");
  const auto size = static_cast<std::size_t>(st.st_size);
  auto too_large = [&](std::size_t seen) {
    return FileReadError(FileReadError::too_large, what + " " + path,
                         "is larger than " + describe_size(max_bytes) + " (" +
                             (seen > size ? "at least " : "") + describe_size(seen) + ")" + kDash +
                             "split it, or check that the right file is named");
  };
  if (size > max_bytes) throw too_large(size);
  // Back to blocking reads: a regular file never blocks, and O_NONBLOCK only kept open() from
  // waiting on a FIFO's writer.
  ::fcntl(f.fd, F_SETFL, ::fcntl(f.fd, F_GETFL) & ~O_NONBLOCK);
  std::string out;
  out.resize(size);
  std::size_t have = 0;
  for (;;) {
    if (have == out.size()) {
      // The file grew since fstat (or reports size 0, as /proc files do): read on, capped.
      if (out.size() >= max_bytes + 1) break;
      out.resize(std::min(max_bytes + 1, std::max<std::size_t>(out.size() * 2, 4096)));
    }
    const ssize_t n = ::read(f.fd, out.data() + have, out.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw FileReadError(FileReadError::unreadable, what + " " + path,
                          std::string("cannot be read: ") + std::strerror(errno));
    }
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  if (have > max_bytes) throw too_large(have);
  out.resize(have);
  return out;
}

}  // namespace

std::string read_regular_file(const std::string& path, std::size_t max_bytes,
                              const std::string& what) {
  return *read_impl(path, max_bytes, what, false);
}

std::optional<std::string> read_regular_file_if_exists(const std::string& path,
                                                       std::size_t max_bytes,
                                                       const std::string& what) {
  return read_impl(path, max_bytes, what, true);
}

std::string describe_size(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1u << 20))
    return std::to_string((bytes * 10 >> 20) / 10) + "." + std::to_string((bytes * 10 >> 20) % 10) +
           " MiB";
  if (bytes >= 1024) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace dutyd
