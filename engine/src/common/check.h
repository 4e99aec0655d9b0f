// Internal checks that throw keel::Error with the failing condition, file and line, so a broken
// invariant reads as a message rather than a crash. User-facing messages are built with fmt.
#pragma once

#include <fmt/format.h>

#include "keel/error.h"

#define KEEL_CHECK(cond, ...)                                                              \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      throw ::keel::Error(::keel::ErrorKind::runtime,                                      \
                          fmt::format("{} ({}:{}: check `{}` failed)", fmt::format(__VA_ARGS__), \
                                      __FILE__, __LINE__, #cond));                         \
    }                                                                                      \
  } while (0)
