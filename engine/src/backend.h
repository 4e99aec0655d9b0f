// The backends behind ops.h: keel::cpu (always built) and keel::cuda (built when KEEL_HAS_CUDA).
// KEEL_ON_CUDA is the single place where a CPU-only build turns a CUDA call into a clear error.
#pragma once

#include "cpu/cpu_ops.h"
#include "cuda/cuda_ops.h"

namespace keel::detail {
[[noreturn]] void throw_no_cuda_backend();
}

#if defined(KEEL_HAS_CUDA)
#define KEEL_ON_CUDA(call) return ::keel::cuda::call
#else
#define KEEL_ON_CUDA(call) ::keel::detail::throw_no_cuda_backend()
#endif
