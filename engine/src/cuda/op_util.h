// Small helpers shared by the host wrappers of the CUDA ops: shape checks with the op's name, and
// element counts as the kernels' integer types.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "common/check.h"
#include "keel/runtime.h"
#include "keel/tensor.h"

namespace keel::cuda {

inline size_t count(const Tensor& t) { return static_cast<size_t>(t.numel()); }

// Whether convolution and batch norm go to cuDNN: the one question the CUDA ops ask, and
// set_gpu_backend has already refused cudnn in a build without it.
inline bool cudnn_selected() {
  return keel::gpu_backend() == GpuBackend::cudnn;
}

inline void expect_cuda(const Tensor& t, const char* op, const char* name) {
  KEEL_CHECK(t.defined() && t.device() == Device::cuda, "{}: {} must be a defined CUDA tensor", op, name);
}

inline void expect_ndim(const Tensor& t, int ndim, const char* op, const char* name) {
  KEEL_CHECK(t.ndim() == ndim, "{}: {} must have {} dimensions, got shape {}", op, name, ndim,
             t.shape().str());
}

// AdamW's bias corrections 1 - beta^step, in double on the host (beta^step underflows gracefully)
// and rounded to float once: the eager update and a captured graph's live values use the same.
struct AdamWBiasCorrections {
  float first;
  float second;
};
inline AdamWBiasCorrections adamw_bias_corrections(float beta1, float beta2, int64_t step) {
  const double s = static_cast<double>(step);
  return {static_cast<float>(1.0 - std::pow(static_cast<double>(beta1), s)),
          static_cast<float>(1.0 - std::pow(static_cast<double>(beta2), s))};
}

}  // namespace keel::cuda
