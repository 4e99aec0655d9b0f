// The CPU backend (Eigen + OpenMP): every op of ops.h under the same name and argument order, once
// per instruction-set variant (keel::cpu::portable, and on x86-64 keel::cpu::avx2 and
// keel::cpu::avx512; see cmake/KeelCpuVariants.cmake). One .cpp per op family in this folder,
// compiled once per variant into namespace keel::cpu::KEEL_CPU_ISA; ops.cpp calls the active one
// (cpu/isa.h). The plain-loop references live in tests/.
#pragma once

#include <cstdint>

#include "keel/ops.h"

// x86-64 builds carry the avx2 and avx512 variants too (cmake/KeelCpuVariants.cmake decides the
// same from the target processor).
#if defined(__x86_64__) || defined(_M_X64)
#define KEEL_CPU_X86 1
#endif

namespace keel::cpu::portable {
#include "keel/op_list.inc"
namespace gemm {
#include "cpu/gemm_api.inc"
}
namespace convert {
#include "cpu/convert_api.inc"
}
}  // namespace keel::cpu::portable

#if defined(KEEL_CPU_X86)
namespace keel::cpu::avx2 {
#include "keel/op_list.inc"
namespace gemm {
#include "cpu/gemm_api.inc"
}
namespace convert {
#include "cpu/convert_api.inc"
}
}  // namespace keel::cpu::avx2

namespace keel::cpu::avx512 {
#include "keel/op_list.inc"
namespace gemm {
#include "cpu/gemm_api.inc"
}
namespace convert {
#include "cpu/convert_api.inc"
}
}  // namespace keel::cpu::avx512
#endif
