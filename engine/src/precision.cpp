// Names of the operand precisions (see keel/precision.h).
#include "keel/precision.h"

#include <fmt/format.h>

#include "keel/error.h"

namespace keel {

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::fp32:
      return "fp32";
    case Precision::fp16:
      return "fp16";
    case Precision::bf16:
      return "bf16";
  }
  return "unknown";
}

Precision parse_precision(std::string_view name) {
  for (Precision p : {Precision::fp32, Precision::fp16, Precision::bf16}) {
    if (name == precision_name(p)) return p;
  }
  throw Error(ErrorKind::usage,
              fmt::format("unknown precision '{}': use fp32, fp16 or bf16", name));
}

}  // namespace keel
