// The number format the GEMMs and convolutions of a model read their operands in: float32, or
// IEEE half / bfloat16 with float32 accumulation, as tensor cores compute.
#pragma once

#include <string_view>

namespace keel {

enum class Precision { fp32, fp16, bf16 };

const char* precision_name(Precision precision);  // "fp32", "fp16", "bf16"
// "fp32", "fp16" or "bf16"; anything else throws keel::Error (usage) listing them.
Precision parse_precision(std::string_view name);

}  // namespace keel
