// CPU reductions used by metrics. One thread, accumulating in double, so the same tensor gives the
// same sum whatever the thread count (metrics are computed on small tensors).
#include "common/check.h"
#include "cpu/cpu_ops.h"

namespace keel::cpu::KEEL_CPU_ISA {

// x: any shape -> Σ x in double
double sum(const Tensor& x) {
  KEEL_CHECK(x.defined() && x.device() == Device::cpu, "sum: x must be a defined CPU tensor");
  const float* xp = x.data();
  const int64_t n = x.numel();
  double total = 0.0;
#pragma omp simd reduction(+ : total)
  for (int64_t i = 0; i < n; ++i) total += xp[i];
  return total;
}

}  // namespace keel::cpu::KEEL_CPU_ISA
