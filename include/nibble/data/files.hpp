#pragma once
// Reading a data file whole, with messages that name the file and say what
// is wrong (missing folder, missing file, unreadable, short read).
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "nibble/data/dataset.hpp"
#include "nibble/core/message_words.hpp"

namespace nibble::data::detail {

using nibble::quoted;

inline std::string cannot_read(const std::filesystem::path& file, const char* format) {
  return std::string("nibble::data: cannot read ") + format + " file " + quoted(file) + ": ";
}

// The whole file, or a data_error that says why not.
inline std::vector<std::uint8_t> read_bytes(const std::filesystem::path& file, const char* format) {
  namespace fs = std::filesystem;
  const std::string what = cannot_read(file, format);
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    const fs::path folder = file.parent_path();
    if (!folder.empty() && !fs::is_directory(folder, ec))
      throw data_error(what + "folder " + quoted(folder) + " does not exist");
    throw data_error(what + "file does not exist");
  }
  if (!fs::is_regular_file(file, ec)) throw data_error(what + "not a regular file");
  const std::uintmax_t actual = fs::file_size(file, ec);
  if (ec) throw data_error(what + "cannot determine its size (" + ec.message() + ")");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(actual));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw data_error(what + "cannot open it for reading");
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<std::uintmax_t>(in.gcount()) != actual)
    throw data_error(what + "read only " + std::to_string(in.gcount()) + " of " + std::to_string(actual) + " bytes");
  return bytes;
}

}  // namespace nibble::data::detail
