#pragma once
// Whether a file was written for the network a program builds, by the
// network's description in words (net/describe.hpp), and when it was not, a
// message a user can act on: both summaries and the first layer that differs.
// Checkpoints and model files both use it.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "nibble/net/describe.hpp"

namespace nibble::io {

namespace detail {
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}
}  // namespace detail

// Empty when `file_text` describes `program`; else, for a file `file_name`
// of kind `kind` ("checkpoint"), the lines
//   <file_name> holds a different network from the one this program builds:
//     checkpoint: <file label>, <summary>
//     program:    <program label>, <summary>
//     first difference: ...
// Labels ("VGG4bit") may be empty.
inline std::string network_mismatch(const std::string& file_name, std::string_view kind, const std::string& file_text,
                                    std::string_view file_label, const network_description& program,
                                    std::string_view program_label) {
  const std::string expected = program.text();
  if (file_text == expected) return {};
  const auto file_lines = detail::lines_of(file_text), program_lines = detail::lines_of(expected);
  auto label = [](std::string_view l) { return l.empty() ? std::string() : std::string(l) + ", "; };
  // Align the two columns: "checkpoint:" and "program:" (or "model file:").
  const std::size_t width = std::max(kind.size(), std::string_view("program").size()) + 2;
  auto head = [&](std::string_view word) { return "  " + std::string(word) + ":" + std::string(width - word.size() - 1, ' '); };
  std::string message = file_name + " holds a different network from the one this program builds:\n" + head(kind) +
                        label(file_label) + (file_lines.empty() ? "" : file_lines[0]) + "\n" + head("program") +
                        label(program_label) + program.summary;
  // Line 0 is the summary; then the input and one line per layer.
  std::size_t at = 1;
  while (at < file_lines.size() && at < program_lines.size() && file_lines[at] == program_lines[at]) ++at;
  if (at < std::max(file_lines.size(), program_lines.size())) {
    auto line = [](const std::vector<std::string>& l, std::size_t i) {
      return i < l.size() ? l[i] : std::string("(no such layer)");
    };
    message += "\n  first difference:\n  " + head(kind) + line(file_lines, at) + "\n  " + head("program") +
               line(program_lines, at);
  }
  return message;
}

}  // namespace nibble::io
