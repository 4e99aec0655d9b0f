// The convolution policies of keel/runtime.h: which method the CPU and the CUDA convolutions take.
// Each is one relaxed atomic, read by every convolution, possibly on another thread than the one
// that set it. The CUDA ones start from KEEL_CONV_ALGO / KEEL_CONV_DW, read once at the first
// query, so a comparison can be steered from the shell without a rebuild.
#include <atomic>
#include <string>

#include <fmt/format.h>

#include "environment.h"
#include "keel/error.h"
#include "keel/runtime.h"

namespace keel {

namespace {

std::atomic<CpuConvAlgo> g_cpu_conv_algo{CpuConvAlgo::automatic};

// A policy whose starting value comes from an environment variable at the first query. A bad
// value throws there (the run's first convolution, or apply_runtime_settings, which asks early);
// it stays unsettled, so every later query throws the same error.
template <typename Policy>
class EnvironmentPolicy {
 public:
  using Parse = Policy (*)(std::string_view);
  EnvironmentPolicy(const char* variable, Policy fallback, Parse parse)
      : variable_(variable), fallback_(fallback), parse_(parse) {}

  Policy get() {
    const int value = value_.load(std::memory_order_acquire);
    return value == kUnset ? settle() : static_cast<Policy>(value);
  }
  void set(Policy policy) { value_.store(static_cast<int>(policy), std::memory_order_release); }

 private:
  static constexpr int kUnset = -1;

  Policy settle() {
    const std::string_view text = environment::read(variable_);
    Policy policy = fallback_;
    if (!text.empty()) {
      try {
        policy = parse_(text);
      } catch (const Error& e) {
        throw Error(ErrorKind::usage, fmt::format("{}={}: {} Unset {} to use the default.",
                                                  variable_, text, e.what(), variable_));
      }
    }
    int expected = kUnset;  // a set() that raced ahead of this first query wins
    value_.compare_exchange_strong(expected, static_cast<int>(policy), std::memory_order_acq_rel);
    return static_cast<Policy>(value_.load(std::memory_order_acquire));
  }

  const char* variable_;
  Policy fallback_;
  Parse parse_;
  std::atomic<int> value_{kUnset};
};

EnvironmentPolicy<GpuConvAlgo>& gpu_conv_algo_policy() {
  static EnvironmentPolicy<GpuConvAlgo> policy("KEEL_CONV_ALGO", GpuConvAlgo::automatic,
                                               parse_gpu_conv_algo);
  return policy;
}

EnvironmentPolicy<GpuConvDw>& gpu_conv_dw_policy() {
  static EnvironmentPolicy<GpuConvDw> policy("KEEL_CONV_DW", GpuConvDw::gemm, parse_gpu_conv_dw);
  return policy;
}

}  // namespace

void set_cpu_conv_algo(CpuConvAlgo algo) {
  g_cpu_conv_algo.store(algo, std::memory_order_relaxed);
}
CpuConvAlgo cpu_conv_algo() {
  return g_cpu_conv_algo.load(std::memory_order_relaxed);
}

CpuConvAlgo parse_cpu_conv_algo(std::string_view name) {
  if (name == "auto") return CpuConvAlgo::automatic;
  if (name == "im2col") return CpuConvAlgo::im2col;
  if (name == "winograd") return CpuConvAlgo::winograd;
  throw Error(ErrorKind::usage,
              fmt::format("'{}' is not a CPU convolution method: use auto (Winograd F(2x2, 3x3) "
                          "where it pays), im2col or winograd.",
                          name));
}

void set_gpu_conv_algo(GpuConvAlgo algo) {
  gpu_conv_algo_policy().set(algo);
}
GpuConvAlgo gpu_conv_algo() {
  return gpu_conv_algo_policy().get();
}

GpuConvAlgo parse_gpu_conv_algo(std::string_view name) {
  if (name == "auto") return GpuConvAlgo::automatic;
  if (name == "im2col") return GpuConvAlgo::im2col;
  if (name == "winograd") return GpuConvAlgo::winograd;
  if (name == "winograd2") return GpuConvAlgo::winograd2;
  if (name == "winograd4") return GpuConvAlgo::winograd4;
  throw Error(ErrorKind::usage,
              fmt::format("'{}' is not a CUDA convolution algorithm: use auto (Winograd for big "
                          "enough 3x3 stride-1 padding-1 convolutions, im2col otherwise), winograd "
                          "(Winograd for every such shape), winograd2 or winograd4 (Winograd "
                          "F(2x2) or F(4x4) for those shapes) or im2col.",
                          name));
}

void set_gpu_conv_dw(GpuConvDw method) {
  gpu_conv_dw_policy().set(method);
}
GpuConvDw gpu_conv_dw() {
  return gpu_conv_dw_policy().get();
}

GpuConvDw parse_gpu_conv_dw(std::string_view name) {
  if (name == "gemm") return GpuConvDw::gemm;
  if (name == "direct") return GpuConvDw::direct;
  throw Error(ErrorKind::usage,
              fmt::format("'{}' is not a filter-gradient method: use gemm (im2col and a GEMM, the "
                          "default) or direct (without the column matrix, for C·R·S up to 160).",
                          name));
}

}  // namespace keel
