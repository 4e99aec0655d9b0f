// CPU gather of dataset rows into a batch (the trainer's shuffled mini-batches).
// src: (N, ...), indices: (B) -> dst: (B, ...)
#include <cstring>

#include "common/check.h"
#include "cpu/cpu_ops.h"

namespace keel::cpu::KEEL_CPU_ISA {

void gather_rows(const Tensor& src, const Tensor& indices, Tensor& dst) {
  std::vector<int64_t> dims = src.shape().dims();
  const int64_t n = dims[0], batch = indices.dim(0);
  const int64_t row = n == 0 ? 0 : src.numel() / n;
  dims[0] = batch;
  dst.ensure(Shape(dims), Device::cpu);
  const float* idx = indices.data();
  for (int64_t i = 0; i < batch; ++i) {
    const auto r = static_cast<int64_t>(idx[i]);
    KEEL_CHECK(r >= 0 && r < n && static_cast<float>(r) == idx[i],
               "gather_rows: index {} out of range for {} rows", idx[i], n);
    std::memcpy(dst.data() + i * row, src.data() + r * row, static_cast<size_t>(row) * sizeof(float));
  }
}

}  // namespace keel::cpu::KEEL_CPU_ISA
