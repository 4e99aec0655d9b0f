// The one place engine code reads the process environment. Each KEEL_* variable it serves is read
// once, where the setting it names settles (the CPU path in cpu/isa.cpp, the CUDA convolution
// policies in conv_policy.cpp, the test pause point in train/pause_point.cpp); the run itself then
// follows the policy, which the API and the config can also set. dist/dist.cpp reads the MPI
// launcher's variables through it too. KEEL_DATA_DIR is the program's (apps/), not the engine's.
#pragma once

#include <string_view>

namespace keel::environment {

// The variable's value, or an empty view when it is unset (or set to nothing).
std::string_view read(const char* name);

}  // namespace keel::environment
