// The fused SGD and AdamW parameter updates on the CUDA device (the twin of
// cpu/optimizer_update.cpp).
#include "optimizer_update.cuh"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/graph.h"
#include "cuda/op_util.h"

namespace keel::cuda {

void sgd_update(Tensor& param, const Tensor& grad, Tensor& velocity, const SgdArgs& a,
                bool first_step) {
  const LiveGroupRow* live = live_group_row(a.group);
  // A captured update keeps the velocity even at momentum 0: a later replay's momentum may not be.
  const bool use_velocity =
      a.momentum != 0.0f || (live && velocity.defined() && velocity.shape() == param.shape());
  launch_sgd_update(param.data(), grad.data(), use_velocity ? velocity.data() : nullptr,
                    count(param), a.lr, a.momentum, a.dampening, a.weight_decay, a.nesterov,
                    first_step, live, stream());
}

void adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWArgs& a) {
  const AdamWBiasCorrections bc = adamw_bias_corrections(a.beta1, a.beta2, a.step);
  launch_adamw_update(param.data(), grad.data(), m.data(), v.data(), count(param), a.lr, a.beta1,
                      a.beta2, a.eps, a.weight_decay, bc.first, bc.second, live_group_row(a.group),
                      stream());
}

}  // namespace keel::cuda
