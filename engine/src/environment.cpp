// environment.h: a thin wrapper, so that a grep for getenv in the engine finds this file alone.
#include "environment.h"

#include <cstdlib>

namespace keel::environment {

std::string_view read(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string_view() : std::string_view(value);
}

}  // namespace keel::environment
