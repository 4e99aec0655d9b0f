// Helpers shared by the tests: seeded random tensors (never zeros), relative errors against
// float64 references, and the finite-difference gradient check used for every layer and loss.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "keel/tensor.h"

namespace keel::testing {

// Uniform values in [low, high) from a seeded generator.
Tensor random_tensor(const Shape& shape, uint64_t seed, float low = -1.0f, float high = 1.0f);

// ‖a − ref‖ / max(‖ref‖, tiny): a relative error that scales with the magnitude of the result.
double relative_error(const std::vector<float>& a, const std::vector<double>& ref);
double relative_error(const std::vector<float>& a, const std::vector<float>& ref);

// Finite-difference gradient check of one input (or parameter) tensor.
//   forward:  recomputes the output from the current contents of `input` (and everything else)
//   analytic: the gradient of  L = Σ output ⊙ weights  w.r.t. `input` computed by the backward pass
//             with dy = weights
// Each element of `input` is moved by ±h (central differences, L accumulated in double) and
// restored. Returns ‖numeric − analytic‖ / max(‖numeric‖, ‖analytic‖).
double gradient_check_error(const std::function<Tensor()>& forward, Tensor& input,
                            const Tensor& weights, const Tensor& analytic, float h = 1e-2f);

// Environment variable or a default; a test that needs data fails with a hint when it is missing.
std::string env_or(const char* name, const std::string& fallback);
std::string data_dir();  // KEEL_DATA_DIR (set by .ci/run), else the folder CMake was configured with

}  // namespace keel::testing
