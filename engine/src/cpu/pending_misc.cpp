// TEMPORARY: placeholders until the real CPU ops land; deleted op by op.
#include "cpu/cpu_ops.h"
#include "keel/error.h"
namespace keel::cpu {
void batch_norm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                              Tensor& running_mean, Tensor& running_var, float momentum, float eps,
                              Tensor& y, Tensor& save_mean, Tensor& save_invstd) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                             const Tensor& running_mean, const Tensor& running_var, float eps,
                             Tensor& y) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& dy, Tensor& dx, Tensor& dgamma,
                         Tensor& dbeta) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void relu_forward(const Tensor& x, Tensor& y) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void add(const Tensor& a, const Tensor& b, Tensor& y) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void scale(const Tensor& x, float alpha, Tensor& y) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void max_pool2d_forward(const Tensor& x, Tensor& y, Pool2dArgs a) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void max_pool2d_backward(const Tensor& x, const Tensor& dy, Tensor& dx, Pool2dArgs a) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void avg_pool2d_forward(const Tensor& x, Tensor& y, Pool2dArgs a) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void avg_pool2d_backward(const Tensor& dy, Tensor& dx, Pool2dArgs a, int64_t in_h, int64_t in_w) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void adaptive_avg_pool2d_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void adaptive_avg_pool2d_backward(const Tensor& dy, Tensor& dx, int64_t in_h, int64_t in_w) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void adaptive_max_pool2d_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void adaptive_max_pool2d_backward(const Tensor& x, const Tensor& dy, Tensor& dx) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void concat_channels(const Tensor& a, const Tensor& b, Tensor& y) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void split_channels(const Tensor& dy, int64_t ca, Tensor& da, Tensor& db) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void dropout_forward(const Tensor& x, float p, Generator& gen, Tensor& y, Tensor& mask) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void dropout_backward(const Tensor& dy, const Tensor& mask, Tensor& dx) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& loss,
                                   Tensor& probs) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, Tensor& dlogits) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void argmax_rows(const Tensor& logits, Tensor& pred) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void resize_bilinear_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void resize_bilinear_backward(const Tensor& dy, Tensor& dx, int64_t in_h, int64_t in_w) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void normalize_channels(const Tensor& x, const Tensor& mean, const Tensor& std, Tensor& y) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void sgd_update(Tensor& param, const Tensor& grad, Tensor& velocity, const SgdArgs& a, bool first_step) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
void adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWArgs& a) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
double sum(const Tensor& x) { throw Error(ErrorKind::runtime, "cpu op not implemented yet"); }
}
