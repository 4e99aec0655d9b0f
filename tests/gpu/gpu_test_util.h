// Shared pieces of the GPU tests: the skip when no device is present, poisoned (NaN) device outputs,
// and CPU-vs-CUDA comparison by relative error. The CPU ops are the oracle (they are checked
// against plain loops and finite differences in tests/ops).
#pragma once

#include <cmath>
#include <cstring>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/runtime.h"
#include "keel/tensor.h"
#include "support/test_util.h"

namespace keel::gpu_testing {

inline std::string no_cuda_reason() {
  return keel::cuda_built() ? "this keel build has the CUDA backend, but no CUDA device is visible"
                            : "this keel build has no CUDA backend (configured without nvcc/cuBLAS)";
}

#define KEEL_REQUIRE_CUDA() \
  if (!::keel::cuda_available()) GTEST_SKIP() << "no CUDA device: " << ::keel::gpu_testing::no_cuda_reason()

// Runs the CPU side of a parity check; a CPU op that has not landed yet skips the test with its
// message instead of failing it, since the comparison has nothing to compare against.
#define KEEL_CPU_ORACLE(...)                                                             \
  do {                                                                                   \
    try {                                                                                \
      __VA_ARGS__;                                                                       \
    } catch (const ::keel::Error& e) {                                                   \
      if (std::string(e.what()).find("not implemented") != std::string::npos)            \
        GTEST_SKIP() << "CPU oracle missing: " << e.what();                              \
      throw;                                                                             \
    }                                                                                    \
  } while (0)

// keel::gpu_conv_algo() for one scope, by its name (nullptr: auto), restored afterwards.
class ConvAlgoGuard {
 public:
  explicit ConvAlgoGuard(const char* name) : old_(gpu_conv_algo()) {
    set_gpu_conv_algo(name ? parse_gpu_conv_algo(name) : GpuConvAlgo::automatic);
  }
  ~ConvAlgoGuard() { set_gpu_conv_algo(old_); }
  ConvAlgoGuard(const ConvAlgoGuard&) = delete;
  ConvAlgoGuard& operator=(const ConvAlgoGuard&) = delete;

 private:
  GpuConvAlgo old_;
};

// keel::gpu_conv_dw() for one scope, by its name (nullptr: gemm, the default), restored afterwards.
class ConvDwGuard {
 public:
  explicit ConvDwGuard(const char* name) : old_(gpu_conv_dw()) {
    set_gpu_conv_dw(name ? parse_gpu_conv_dw(name) : GpuConvDw::gemm);
  }
  ~ConvDwGuard() { set_gpu_conv_dw(old_); }
  ConvDwGuard(const ConvDwGuard&) = delete;
  ConvDwGuard& operator=(const ConvDwGuard&) = delete;

 private:
  GpuConvDw old_;
};

inline Tensor rand_cpu(const Shape& shape, uint64_t seed, float low = -1.0f, float high = 1.0f) {
  return keel::testing::random_tensor(shape, seed, low, high);
}

inline Tensor to_gpu(const Tensor& t) { return t.to(Device::cuda); }

// A device tensor full of NaN: an op that forgets to write an element leaves a NaN behind.
inline Tensor poisoned(const Shape& shape) { return Tensor::full(shape, NAN, Device::cuda); }

inline double rel_err(const Tensor& gpu, const Tensor& cpu) {
  if (gpu.shape() != cpu.shape()) return INFINITY;
  return keel::testing::relative_error(gpu.to_vector(), cpu.to_vector());
}

#define KEEL_EXPECT_CLOSE(gpu, cpu, tol)                                                      \
  do {                                                                                        \
    ASSERT_EQ((gpu).shape(), (cpu).shape()) << #gpu " shape " << (gpu).shape().str();        \
    const double keel_err_ = ::keel::gpu_testing::rel_err((gpu), (cpu));                     \
    EXPECT_LE(keel_err_, (tol)) << #gpu " vs " #cpu " relative error";                       \
  } while (0)

inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  return std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) == 0;
}

// Restores the process-wide GPU settings a test changes.
class GpuSettingsGuard {
 public:
  GpuSettingsGuard()
      : backend_(keel::gpu_backend()), tf32_(keel::allow_tf32()), deterministic_(keel::deterministic()) {}
  ~GpuSettingsGuard() {
    keel::set_gpu_backend(backend_);
    keel::set_allow_tf32(tf32_);
    keel::set_deterministic(deterministic_);
  }

 private:
  GpuBackend backend_;
  bool tf32_;
  bool deterministic_;
};

}  // namespace keel::gpu_testing
