// Shared pieces of the CPU tests of the Winograd transforms (F(2x2,3x3) and F(4x4,3x3)): random
// inputs, the error measure, and a plain loop standing in for the batched SGEMM.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "support/test_util.h"

namespace keel::testing {

inline constexpr float kWinogradPoison = std::numeric_limits<float>::quiet_NaN();

inline std::vector<float> random_values(size_t count, uint64_t seed) {
  return random_tensor(Shape{static_cast<int64_t>(count)}, seed).to_vector();
}

// The largest error relative to the largest reference magnitude: every element counts, so a wrong
// border element cannot hide in a norm; an unwritten (NaN) element is an infinite error.
inline double max_relative_error(const std::vector<float>& got, const std::vector<double>& ref) {
  if (got.size() != ref.size()) return INFINITY;
  double diff = 0.0, scale = 1e-30;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i])) return INFINITY;
    diff = std::max(diff, std::abs(got[i] - ref[i]));
    scale = std::max(scale, std::abs(ref[i]));
  }
  return diff / scale;
}

// Row-major C_i (m×n) = A_i · op(B_i) + beta · C_i for i < batch, the float sum in index order: the
// stand-in for gemm_strided_batched (transpose_b: B_i stored (n×k)).
inline void batched_gemm(bool transpose_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t stride_a,
                         const float* b, int64_t stride_b, float beta, float* c, int64_t stride_c, int64_t batch) {
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t col = 0; col < n; ++col) {
        float sum = 0.0f;
        for (int64_t j = 0; j < k; ++j) {
          const float bv = transpose_b ? b[i * stride_b + col * k + j] : b[i * stride_b + j * n + col];
          sum += a[i * stride_a + r * k + j] * bv;
        }
        float& out = c[i * stride_c + r * n + col];
        out = beta == 0.0f ? sum : sum + beta * out;
      }
}

}  // namespace keel::testing
