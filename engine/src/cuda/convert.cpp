// Rounding to half / bfloat16 on the CUDA device (the twin of cpu/convert.cpp; kernels in
// kernels/convert.cu).
#include "convert.cuh"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/op_util.h"

namespace keel::cuda {

void round_to_precision(const Tensor& x, Precision precision, Tensor& y) {
  expect_cuda(x, "round_to_precision", "x");
  y.ensure(x.shape(), Device::cuda);
  switch (precision) {
    case Precision::fp32:
      if (y.data() != x.data()) y.copy_from(x);
      return;
    case Precision::fp16:
      launch_round_to_half(x.data(), y.data(), count(x), stream());
      return;
    case Precision::bf16:
      launch_round_to_bfloat16(x.data(), y.data(), count(x), stream());
      return;
  }
}

}  // namespace keel::cuda
