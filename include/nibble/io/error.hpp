#pragma once
// The one error type of io/: a file nibble reads or writes cannot be used.
// Its message names the file and says why, in words, with the operating
// system's reason when there is one ("No space left on device").
#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace nibble::io {

class io_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The operating system's words for an errno value.
inline std::string system_reason(int error_number) { return std::generic_category().message(error_number); }

// 'path', quoted for messages. Built by appending rather than "'" + s + "'",
// which trips a false -Wrestrict in GCC 12 at -O3.
inline std::string quoted(const std::filesystem::path& p) {
  std::string s(1, '\'');
  s += p.string();
  s += '\'';
  return s;
}

}  // namespace nibble::io
