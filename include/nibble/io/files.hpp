#pragma once
// Reading and writing whole files, with the operating system's reason in
// every error.
//
// write_file_atomically is the full sequence that makes a file either the
// old version or the new one after any crash or power loss: write a
// temporary file beside the target, fsync it, rename it over the target,
// fsync the folder (which makes the rename itself durable). On any failure
// the temporary file is removed and the target is left as it was.
#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nibble/io/error.hpp"

namespace nibble::io {

namespace detail {
// Closes a file descriptor on every path out of a scope.
class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports close's own error (NFS reports write errors here).
  int close() {
    const int r = ::close(fd_);
    fd_ = -1;
    return r;
  }

 private:
  int fd_;
};

inline std::filesystem::path folder_of(const std::filesystem::path& file) {
  return file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
}
}  // namespace detail

// The temporary name write_file_atomically uses for `file`.
inline std::filesystem::path temporary_path(const std::filesystem::path& file) { return file.string() + ".tmp"; }

// The whole file. `kind` names it in messages ("checkpoint", "metrics file").
inline std::vector<std::byte> read_file(const std::filesystem::path& file, const std::string& kind) {
  const std::string what = "cannot read " + kind + " " + quoted(file) + ": ";
  detail::fd_guard fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw io_error(what + system_reason(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw io_error(what + system_reason(errno));
  if (!S_ISREG(st.st_mode)) throw io_error(what + "it is not a regular file");
  std::vector<std::byte> bytes(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw io_error(what + system_reason(errno));
    if (n == 0) break;  // the file shrank while being read
    done += std::size_t(n);
  }
  bytes.resize(done);
  return bytes;
}

inline void write_file_atomically(const std::filesystem::path& file, std::span<const std::byte> bytes,
                                  const std::string& kind) {
  const std::filesystem::path tmp = temporary_path(file);
  const std::string what = "cannot write " + kind + " " + quoted(file) + ": ";
  auto fail = [&](const std::string& step, int error_number) {
    ::unlink(tmp.c_str());
    throw io_error(what + system_reason(error_number) + " (" + step + ")");
  };
  {
    detail::fd_guard fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) throw io_error(what + system_reason(errno) + " (creating " + quoted(tmp) + ")");
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        fail("after " + std::to_string(done) + " of " + std::to_string(bytes.size()) + " bytes of " + quoted(tmp),
             errno);
      done += std::size_t(n);
    }
    if (::fsync(fd.get()) != 0) fail("flushing " + quoted(tmp) + " to disk", errno);
    if (fd.close() != 0) fail("closing " + quoted(tmp), errno);
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) fail("renaming " + quoted(tmp) + " over it", errno);
  // Make the rename durable. File systems that cannot sync a folder say
  // EINVAL; their renames are as durable as they get.
  const std::filesystem::path folder = detail::folder_of(file);
  detail::fd_guard dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0 && ::fsync(dir.get()) != 0 && errno != EINVAL)
    throw io_error(what + system_reason(errno) + " (flushing folder " + quoted(folder) + " to disk)");
}

// Creates `folder` if needed and proves that files can be created in it, so
// that an unusable output folder is reported before hours of work, not after.
inline void ensure_writable_folder(const std::filesystem::path& folder, const std::string& kind) {
  const std::string what = "cannot use " + kind + " " + quoted(folder) + ": ";
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) throw io_error(what + ec.message());
  if (!std::filesystem::is_directory(folder, ec)) throw io_error(what + "it is not a folder");
  const std::filesystem::path probe = folder / (".nibble-write-test-" + std::to_string(::getpid()));
  detail::fd_guard fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) throw io_error(what + "cannot create files in it: " + system_reason(errno));
  ::unlink(probe.c_str());
}

}  // namespace nibble::io
