// Label smoothing and mixup on top of softmax cross-entropy, with ops only (no new kernels): the
// soft-target gradient is a blend of two hard-label gradients and the probabilities.
#include "soft_targets.h"

#include <algorithm>
#include <cmath>

#include "keel/ops.h"

namespace keel::train::detail {

void SoftTargetLoss::forward_backward(const Tensor& logits, const SoftTargets& t, Tensor& loss,
                                      Tensor& probs, Tensor& dlogits) {
  softmax_cross_entropy_forward(logits, *t.labels, loss, probs);
  softmax_cross_entropy_backward(probs, *t.labels, dlogits);
  const bool mixed = t.lambda < 1.0f && t.partner_labels != nullptr;
  if (mixed) {
    softmax_cross_entropy_forward(logits, *t.partner_labels, partner_loss_, partner_probs_);
    softmax_cross_entropy_backward(probs, *t.partner_labels, partner_grad_);
    scale(loss, t.lambda, loss);
    scale(partner_loss_, 1.0f - t.lambda, partner_loss_);
    add(loss, partner_loss_, loss);
    scale(dlogits, t.lambda, dlogits);
    scale(partner_grad_, 1.0f - t.lambda, partner_grad_);
    add(dlogits, partner_grad_, dlogits);
  }
  if (t.epsilon <= 0.0f) return;
  const auto n = static_cast<float>(logits.dim(0)), k = static_cast<float>(logits.dim(1));
  scale(dlogits, 1.0f - t.epsilon, dlogits);
  scale(probs, t.epsilon / n, partner_grad_);
  add(dlogits, partner_grad_, dlogits);
  uniform_.ensure(logits.shape(), logits.device());
  uniform_.fill_(-t.epsilon / (k * n));
  add(dlogits, uniform_, dlogits);
}

namespace {

// Standard normal by Box-Muller (one of the pair is enough here).
double normal(Generator& gen) {
  const double u1 = std::max(static_cast<double>(gen.next_uniform()), 1e-12);
  const double u2 = gen.next_uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

// Gamma(shape, 1) by Marsaglia and Tsang; shapes below 1 through Gamma(shape + 1) * U^(1/shape).
double gamma(double shape, Generator& gen) {
  if (shape < 1.0) {
    const double u = std::max(static_cast<double>(gen.next_uniform()), 1e-12);
    return gamma(shape + 1.0, gen) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = normal(gen);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = gen.next_uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(std::max(u, 1e-300)) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

}  // namespace

float sample_mixup_lambda(double alpha, Generator& gen) {
  const double a = gamma(alpha, gen), b = gamma(alpha, gen);
  const double lambda = a + b > 0 ? a / (a + b) : 0.5;
  return static_cast<float>(std::max(lambda, 1.0 - lambda));
}

void mix_rows(const Tensor& x, const Tensor& partners, float lambda, Tensor& mixed,
              Tensor& scratch) {
  gather_rows(x, partners, scratch);
  scale(scratch, 1.0f - lambda, scratch);
  scale(x, lambda, mixed);
  add(mixed, scratch, mixed);
}

}  // namespace keel::train::detail
