// Fully connected layer on the CUDA device: cuBLAS SGEMMs plus a bias broadcast and a
// deterministic column sum for the bias gradient. The op layer (op_shapes.cpp) has checked the
// operands.
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/op_util.h"
#include "elementwise.cuh"

namespace keel::cuda {

// x: (N, I), w: (O, I), b: (O) or undefined -> y: (N, O)
void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  const int64_t n = x.dim(0), in = x.dim(1), out = w.dim(0);
  y.ensure(Shape{n, out}, Device::cuda);
  if (n == 0 || out == 0) return;
  gemm(false, true, static_cast<int>(n), static_cast<int>(out), static_cast<int>(in), 1.0f, x.data(), w.data(),
       0.0f, y.data());
  if (b.defined()) launch_add_row_bias(y.data(), b.data(), n, out, stream());
}

// dy: (N, O) -> dx: (N, I) (if dx), dw: (O, I), db: (O) (if db)
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw,
                     Tensor* db) {
  const int64_t n = x.dim(0), in = x.dim(1), out = w.dim(0);
  dw.ensure(w.shape(), Device::cuda);
  if (dx) dx->ensure(x.shape(), Device::cuda);
  if (db) db->ensure(Shape{out}, Device::cuda);
  // dw (O, I) = dyᵀ (O, N) · x (N, I); with N == 0 beta = 0 still clears it.
  if (n == 0) {
    dw.zero_();
    if (db) db->zero_();
    return;
  }
  gemm(true, false, static_cast<int>(out), static_cast<int>(in), static_cast<int>(n), 1.0f, dy.data(), x.data(),
       0.0f, dw.data());
  // dx (N, I) = dy (N, O) · w (O, I)
  if (dx) gemm(false, false, static_cast<int>(n), static_cast<int>(in), static_cast<int>(out), 1.0f, dy.data(),
               w.data(), 0.0f, dx->data());
  if (db) launch_column_sums(dy.data(), n, out, db->data(), stream());
}

}  // namespace keel::cuda
