// The CPU op dispatch's view of the instruction-set path (keel::cpu_isa() in runtime.h): one
// relaxed atomic read per op, the first one settling the path from the CPU and KEEL_CPU_ISA.
#pragma once

#include <atomic>

#include "cpu/cpu_ops.h"
#include "keel/runtime.h"

namespace keel::cpu {

namespace detail {
inline constexpr int kUnset = -1;
extern std::atomic<int> g_isa;
CpuIsa settle_isa();
}  // namespace detail

inline CpuIsa active_isa() {
  const int isa = detail::g_isa.load(std::memory_order_relaxed);
  return isa == detail::kUnset ? detail::settle_isa() : static_cast<CpuIsa>(isa);
}

}  // namespace keel::cpu

// Runs `call` (an op name with its arguments) in the namespace of the active path.
#if defined(KEEL_CPU_X86)
#define KEEL_ON_CPU(call)                      \
  switch (::keel::cpu::active_isa()) {         \
    case ::keel::CpuIsa::avx512:               \
      return ::keel::cpu::avx512::call;        \
    case ::keel::CpuIsa::avx2:                 \
      return ::keel::cpu::avx2::call;          \
    case ::keel::CpuIsa::portable:             \
      break;                                   \
  }                                            \
  return ::keel::cpu::portable::call
#else
#define KEEL_ON_CPU(call) return ::keel::cpu::portable::call
#endif
