// CPU fully connected layer: y = x wᵀ + b and its backward pass, as products of the tensors' own
// buffers through keel's packed GEMM (transposes are strided views, never copies). The op layer
// (op_shapes.cpp) has checked the operands.
#include "common/check.h"
#include "cpu/cpu_ops.h"
#include "cpu/gemm.h"
#include "cpu/workspace.h"

namespace keel::cpu::KEEL_CPU_ISA {

// x: (N, I), w: (O, I), b: (O) or undefined -> y: (N, O)       y = x wᵀ + b
void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  const int64_t n = x.dim(0), in = x.dim(1), out = w.dim(0);
  ensure_output(y, {n, out});
  float* yp = y.data();
  // wᵀ (I × O) is w read with swapped strides.
  gemm::multiply(n, out, in, gemm::View{x.data(), in, 1}, gemm::View{w.data(), 1, in}, yp, out,
                 false);
  if (b.defined()) {
    const float* bp = b.data();
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t o = 0; o < out; ++o) yp[i * out + o] += bp[o];
    }
  }
}

// dy: (N, O) -> dx: (N, I) (if != nullptr), dw: (O, I), db: (O) (if != nullptr)
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw,
                     Tensor* db) {
  const int64_t n = x.dim(0), in = x.dim(1), out = w.dim(0);
  const float* dyp = dy.data();
  // dw (O × I) = dyᵀ (O × N) · x (N × I)
  ensure_output(dw, {out, in});
  // With no rows (n == 0) the GEMM's depth is 0 and it writes zeros: a sum over nothing.
  gemm::multiply(out, in, n, gemm::View{dyp, 1, out}, gemm::View{x.data(), in, 1}, dw.data(), in,
                 false);
  if (dx) {
    // dx (N × I) = dy (N × O) · w (O × I)
    ensure_output(*dx, {n, in});
    gemm::multiply(n, in, out, gemm::View{dyp, out, 1}, gemm::View{w.data(), in, 1}, dx->data(), in,
                   false);
  }
  if (db) {
    ensure_output(*db, {out});
    float* dbp = db->data();
    for (int64_t o = 0; o < out; ++o) {
      double sum = 0.0;
      for (int64_t i = 0; i < n; ++i) sum += dyp[i * out + o];
      dbp[o] = static_cast<float>(sum);
    }
  }
}

}  // namespace keel::cpu::KEEL_CPU_ISA
