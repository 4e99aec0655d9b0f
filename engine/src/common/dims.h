// Shape checks that allocate nothing when the shape already matches (a Shape owns a std::vector,
// so building one per call would allocate on every training step). Used by the op layer's checks
// (op_shapes.cpp) and by the CPU ops that size their outputs.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "keel/tensor.h"

namespace keel {

inline bool has_dims(const Tensor& t, std::initializer_list<int64_t> dims) {
  if (!t.defined() || t.ndim() != static_cast<int>(dims.size())) return false;
  int i = 0;
  for (int64_t d : dims) {
    if (t.dim(i++) != d) return false;
  }
  return true;
}

// Throws keel::Error naming `what` (expect_shape's message) unless t has these dimensions.
inline void expect_dims(const Tensor& t, std::initializer_list<int64_t> dims, const char* what) {
  if (!has_dims(t, dims)) expect_shape(t, Shape(dims), what);
}

}  // namespace keel
