// CPU fully connected layer: y = x wᵀ + b and its backward pass, as products of the tensors' own
// buffers through keel's packed GEMM (transposes are strided views, never copies).
#include "common/check.h"
#include "cpu/cpu_ops.h"
#include "cpu/gemm.h"
#include "cpu/workspace.h"

namespace keel::cpu::KEEL_CPU_ISA {

namespace {
void check_linear(const char* op, const Tensor& x, const Tensor& w) {
  KEEL_CHECK(x.defined() && w.defined(), "{}: x and w must be defined", op);
  KEEL_CHECK(x.device() == Device::cpu && w.device() == Device::cpu,
             "{}: x and w must be CPU tensors", op);
  KEEL_CHECK(x.ndim() == 2, "{}: x must be (N, I), got {}", op, x.shape().str());
  KEEL_CHECK(w.ndim() == 2, "{}: w must be (O, I), got {}", op, w.shape().str());
  KEEL_CHECK(w.dim(1) == x.dim(1), "{}: w {} expects {} inputs but x {} has {}", op,
             w.shape().str(), w.dim(1), x.shape().str(), x.dim(1));
}
}  // namespace

// x: (N, I), w: (O, I), b: (O) or undefined -> y: (N, O)       y = x wᵀ + b
void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  check_linear("linear_forward", x, w);
  const int64_t n = x.dim(0), in = x.dim(1), out = w.dim(0);
  if (b.defined()) expect_dims(b, {out}, "linear_forward: bias b");
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
  check_linear("linear_backward", x, w);
  const int64_t n = x.dim(0), in = x.dim(1), out = w.dim(0);
  expect_dims(dy, {n, out}, "linear_backward: dy");
  KEEL_CHECK(dy.device() == Device::cpu, "linear_backward: dy must be a CPU tensor");
  const float* dyp = dy.data();
  // dw (O × I) = dyᵀ (O × N) · x (N × I)
  ensure_output(dw, {out, in});
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
