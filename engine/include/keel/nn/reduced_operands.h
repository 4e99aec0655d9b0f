// The one place where a layer's GEMM or convolution operands are rounded to the model's precision
// (nn::Module::set_precision): the input, the weight and the output gradient are rounded to fp16
// or bf16 as the tensor cores would read them, and the op accumulates in float32 as they do. At
// fp32 each call hands back its argument, untouched and uncopied.
#pragma once

#include "keel/ops.h"
#include "keel/precision.h"
#include "keel/tensor.h"

namespace keel::nn::detail {

class ReducedOperands {
 public:
  // The rounded copies live here until the next call for the same operand, so the backward pass
  // reuses the input rounded by the forward pass.
  const Tensor& input(const Tensor& x, Precision p) { return rounded(x, p, input_); }
  const Tensor& weight(const Tensor& w, Precision p) { return rounded(w, p, weight_); }
  const Tensor& output_grad(const Tensor& dy, Precision p) { return rounded(dy, p, output_grad_); }

 private:
  static const Tensor& rounded(const Tensor& x, Precision p, Tensor& copy) {
    if (p == Precision::fp32) return x;
    round_to_precision(x, p, copy);
    return copy;
  }
  Tensor input_, weight_, output_grad_;
};

}  // namespace keel::nn::detail
