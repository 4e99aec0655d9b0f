// TEMPORARY: placeholders until the real CPU ops land; deleted op by op.
#include "cpu/cpu_ops.h"
#include "keel/error.h"
namespace keel::cpu {
void dropout_forward(const Tensor& x, float p, Generator& gen, Tensor& y, Tensor& mask) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& loss,
                                   Tensor& probs) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, Tensor& dlogits) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void argmax_rows(const Tensor& logits, Tensor& pred) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void resize_bilinear_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void resize_bilinear_backward(const Tensor& dy, Tensor& dx, int64_t in_h, int64_t in_w) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void sgd_update(Tensor& param, const Tensor& grad, Tensor& velocity, const SgdArgs& a, bool first_step) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWArgs& a) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
double sum(const Tensor& x) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
}
