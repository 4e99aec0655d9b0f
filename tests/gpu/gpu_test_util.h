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

// Sets an environment variable for one scope and restores what was there; nullptr unsets it.
class EnvGuard {
 public:
  EnvGuard(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~EnvGuard() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// KEEL_CONV_ALGO (the CUDA convolution's algorithm choice, read at every call) for one scope;
// nullptr: the default choice.
class ConvAlgoGuard : public EnvGuard {
 public:
  explicit ConvAlgoGuard(const char* value) : EnvGuard("KEEL_CONV_ALGO", value) {}
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
