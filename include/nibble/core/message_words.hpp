#pragma once
// Words every part's error messages use: a path quoted, and the operating
// system's reason for an errno value ("No space left on device"). On the
// ground floor, so that data/ and io/ both speak the same way.
#include <filesystem>
#include <string>
#include <system_error>

namespace nibble {

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

}  // namespace nibble
