// Which CPU kernel variant runs: the best the CPU supports, or the one KEEL_CPU_ISA or
// set_cpu_isa() names. Compiled for the baseline architecture, like everything outside the
// kernel variants, so it runs on any CPU of the target architecture.
#include "cpu/isa.h"

#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "environment.h"
#include "keel/error.h"

namespace keel {

namespace {

bool cpu_has(CpuIsa isa) {
#if defined(KEEL_CPU_X86)
  // __builtin_cpu_supports also checks that the OS saves the wider registers (XGETBV), so a
  // hypervisor that hides AVX-512 state reads as "no AVX-512".
  switch (isa) {
    case CpuIsa::portable:
      return true;
    case CpuIsa::avx2:
      // F16C (half conversions) came with or before AVX2 on every x86 CPU that has AVX2.
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
    case CpuIsa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             cpu_has(CpuIsa::avx2);
  }
  return false;
#else
  return isa == CpuIsa::portable;
#endif
}

std::string supported_list() {
  std::string names;
  for (CpuIsa isa : {CpuIsa::avx512, CpuIsa::avx2, CpuIsa::portable}) {
    if (!cpu_isa_supported(isa)) continue;
    names += names.empty() ? "" : ", ";
    names += cpu_isa_name(isa);
  }
  return names;
}

}  // namespace

namespace cpu::detail {

std::atomic<int> g_isa{kUnset};

CpuIsa settle_isa() {
  CpuIsa isa = best_cpu_isa();
  if (const std::string_view env = environment::read("KEEL_CPU_ISA"); !env.empty()) {
    try {
      isa = parse_cpu_isa(env);
    } catch (const Error& e) {
      throw Error(ErrorKind::usage, fmt::format("KEEL_CPU_ISA: {}", e.what()));
    }
    if (!cpu_isa_supported(isa)) {
      throw Error(ErrorKind::usage,
                  fmt::format("KEEL_CPU_ISA={}: this CPU does not support the {} path; it "
                              "supports {}. Unset KEEL_CPU_ISA to use the best one.",
                              env, env, supported_list()));
    }
  }
  g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
  return isa;
}

}  // namespace cpu::detail

bool cpu_isa_supported(CpuIsa isa) { return cpu_has(isa); }

CpuIsa best_cpu_isa() {
  for (CpuIsa isa : {CpuIsa::avx512, CpuIsa::avx2}) {
    if (cpu_has(isa)) return isa;
  }
  return CpuIsa::portable;
}

CpuIsa cpu_isa() { return cpu::active_isa(); }

void set_cpu_isa(CpuIsa isa) {
  if (!cpu_isa_supported(isa)) {
    throw Error(ErrorKind::usage,
                fmt::format("set_cpu_isa({}): this CPU does not support that path; it supports {}",
                            cpu_isa_name(isa), supported_list()));
  }
  cpu::detail::g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::portable:
      return "portable";
    case CpuIsa::avx2:
      return "avx2";
    case CpuIsa::avx512:
      return "avx512";
  }
  return "unknown";
}

CpuIsa parse_cpu_isa(std::string_view name) {
  for (CpuIsa isa : {CpuIsa::portable, CpuIsa::avx2, CpuIsa::avx512}) {
    if (name == cpu_isa_name(isa)) return isa;
  }
  throw Error(ErrorKind::usage,
              fmt::format("unknown CPU path '{}': use avx512, avx2 or portable", name));
}

}  // namespace keel
