#pragma once
// The one error type of io/: a file nibble reads or writes cannot be used.
// Its message names the file and says why, in words, with the operating
// system's reason when there is one ("No space left on device").
#include <stdexcept>

#include "nibble/core/message_words.hpp"

namespace nibble::io {

class io_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The words of every message (core/message_words.hpp), by their io/ names too.
using nibble::quoted;
using nibble::system_reason;

}  // namespace nibble::io
