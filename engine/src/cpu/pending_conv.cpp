// TEMPORARY: placeholders until the real CPU ops land; deleted op by op.
#include "cpu/cpu_ops.h"
#include "keel/error.h"
namespace keel::cpu {
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, Conv2dArgs a) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw,
                     Tensor* db, Conv2dArgs a) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor& dw,
                     Tensor* db) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
}
