// The grid-stride loop every elementwise-style kernel uses: thread i of the launch handles
// elements i, i + (threads in the grid), ..., so any grid size covers any count (grid_for in
// cuda/context.h sizes the launch). size_t indices: counts can pass 2^31.
#pragma once

#include <cstddef>

#define KEEL_GRID_STRIDE(i, total)                                            \
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < (total); \
       i += size_t{gridDim.x} * blockDim.x)
