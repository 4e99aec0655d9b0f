// CPU fully connected layer: y = x wᵀ + b and its backward pass, as GEMMs on Eigen maps of the
// tensors' own buffers (no copies).
#include <Eigen/Core>

#include "common/check.h"
#include "cpu/cpu_ops.h"

namespace keel::cpu {

namespace {
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapRM = Eigen::Map<RowMatrix>;
using ConstMapRM = Eigen::Map<const RowMatrix>;

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
  if (b.defined()) expect_shape(b, Shape{out}, "linear_forward: bias b");
  y.ensure(Shape{n, out}, Device::cpu);
  MapRM ym(y.data(), n, out);
  ym.noalias() = ConstMapRM(x.data(), n, in) * ConstMapRM(w.data(), out, in).transpose();
  if (b.defined()) ym.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(b.data(), out);
}

// dy: (N, O) -> dx: (N, I) (if != nullptr), dw: (O, I), db: (O) (if != nullptr)
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw,
                     Tensor* db) {
  check_linear("linear_backward", x, w);
  const int64_t n = x.dim(0), in = x.dim(1), out = w.dim(0);
  expect_shape(dy, Shape{n, out}, "linear_backward: dy");
  const ConstMapRM dym(dy.data(), n, out);
  dw.ensure(w.shape(), Device::cpu);
  MapRM(dw.data(), out, in).noalias() = dym.transpose() * ConstMapRM(x.data(), n, in);
  if (dx) {
    dx->ensure(x.shape(), Device::cpu);
    MapRM(dx->data(), n, in).noalias() = dym * ConstMapRM(w.data(), out, in);
  }
  if (db) {
    db->ensure(Shape{out}, Device::cpu);
    Eigen::Map<Eigen::RowVectorXf>(db->data(), out) = dym.colwise().sum();
  }
}

}  // namespace keel::cpu
