// Small helpers shared by the host wrappers of the CUDA ops: shape checks with the op's name, and
// element counts as the kernels' integer types.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/check.h"
#include "keel/tensor.h"

namespace keel::cuda {

inline size_t count(const Tensor& t) { return static_cast<size_t>(t.numel()); }

inline void expect_cuda(const Tensor& t, const char* op, const char* name) {
  KEEL_CHECK(t.defined() && t.device() == Device::cuda, "{}: {} must be a defined CUDA tensor", op, name);
}

inline void expect_ndim(const Tensor& t, int ndim, const char* op, const char* name) {
  KEEL_CHECK(t.ndim() == ndim, "{}: {} must have {} dimensions, got shape {}", op, name, ndim,
             t.shape().str());
}

}  // namespace keel::cuda
