// Training targets other than one class per row: label smoothing (train.label_smoothing) and mixup
// (train.mixup). Both are built from the existing cross-entropy op, so they run on every device.
#pragma once

#include <cstdint>

#include "keel/random.h"
#include "keel/tensor.h"

namespace keel::train::detail {

// The batch's targets: class `labels` with weight lambda, the mixup partners' `partner_labels`
// with weight 1 - lambda (lambda 1: no mixup), all smoothed by epsilon.
struct SoftTargets {
  const Tensor* labels = nullptr;          // (N) class ids
  const Tensor* partner_labels = nullptr;  // (N) class ids; may be null when lambda is 1
  float lambda = 1.0f;
  float epsilon = 0.0f;
};

// The loss over q = (1 - epsilon) [lambda onehot(a) + (1 - lambda) onehot(b)] + epsilon / K:
//   L = -(1/N) sum_i sum_k q_ik log p_ik,  p = softmax(logits),  dL/dlogits = (p - q) / N,
// computed as (1 - epsilon) [lambda g_a + (1 - lambda) g_b] + epsilon (p - 1/K) / N, where g_y is
// the plain cross-entropy gradient (p - onehot(y)) / N of the existing op.
// `loss` receives lambda CE(a) + (1 - lambda) CE(b), the cross-entropy against the mixed hard
// labels (without the smoothing term, which would hide progress behind a constant floor).
class SoftTargetLoss {
 public:
  // logits: (N, K) -> loss: (1), probs: (N, K), dlogits: (N, K)
  void forward_backward(const Tensor& logits, const SoftTargets& targets, Tensor& loss,
                        Tensor& probs, Tensor& dlogits);

 private:
  Tensor partner_loss_, partner_probs_, partner_grad_, uniform_;
};

// A mixup weight: lambda ~ Beta(alpha, alpha), folded to max(lambda, 1 - lambda) so each mixed
// image stays closest to its own row (as fastai's MixUpCallback does).
float sample_mixup_lambda(double alpha, Generator& gen);

// Mixup of a batch: x <- lambda x + (1 - lambda) x[partners], the partners a permutation of the
// batch's rows. x: (N, ...) on any device; partners: (N) row indices as floats, on x's device.
void mix_rows(const Tensor& x, const Tensor& partners, float lambda, Tensor& mixed,
              Tensor& scratch);

}  // namespace keel::train::detail
