// keel::Error: the one exception type users see. Its kind decides the program's exit code
// (apps map usage/config/data/checkpoint errors to 2 and runtime errors to 3).
#pragma once

#include <stdexcept>
#include <string>

namespace keel {

enum class ErrorKind { usage, config, data, checkpoint, runtime, out_of_memory };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Exit code a command-line program returns for an error of this kind.
inline int exit_code_for(ErrorKind kind) {
  return (kind == ErrorKind::runtime || kind == ErrorKind::out_of_memory) ? 3 : 2;
}

}  // namespace keel
