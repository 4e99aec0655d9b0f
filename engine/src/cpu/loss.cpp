// CPU softmax cross-entropy (mean over the batch) and the row argmax used for predictions.
// Rows are processed in order on one thread: the batch loss is then the same sum on every run.
#include <algorithm>
#include <cmath>
#include <string>

#include "common/check.h"
#include "cpu/cpu_ops.h"
#include "cpu/workspace.h"

namespace keel::cpu::KEEL_CPU_ISA {

namespace {

// logits or probs: (N, K), labels: (N) holding class indices as floats (shapes checked by the op
// layer); throws keel::Error naming the first row whose label is not an integer in [0, K).
void check_labels(const Tensor& scores, const Tensor& labels, const char* op) {
  const float* lp = labels.data();
  const int64_t k = scores.dim(1);
  for (int64_t i = 0; i < scores.dim(0); ++i) {
    const float label = lp[i];
    KEEL_CHECK(label >= 0.0f && label < static_cast<float>(k) && label == std::floor(label),
               "{}: label {} of row {} is not a class index in [0, {}); check the data's label "
               "column and the model's number of outputs",
               op, label, i, k);
  }
}

}  // namespace

// logits: (N, K), labels: (N) -> loss: (1) = mean_i [log Σ_j exp(z_ij) - z_i,label], probs: (N, K)
void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& loss,
                                   Tensor& probs) {
  check_labels(logits, labels, "softmax_cross_entropy_forward");
  const int64_t n = logits.dim(0), k = logits.dim(1);
  ensure_output(loss, {1});
  probs.ensure(logits.shape(), Device::cpu);
  const float* zp = logits.data();
  const float* lp = labels.data();
  float* pp = probs.data();
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float* z = zp + i * k;
    float* p = pp + i * k;
    // Shifting by the row maximum keeps exp() in range whatever the logits' scale.
    float top = z[0];
    for (int64_t j = 1; j < k; ++j) top = std::max(top, z[j]);
    double denom = 0.0;
    for (int64_t j = 0; j < k; ++j) {
      p[j] = std::exp(z[j] - top);
      denom += p[j];
    }
    const float inv = static_cast<float>(1.0 / denom);
    for (int64_t j = 0; j < k; ++j) p[j] *= inv;
    const int64_t label = static_cast<int64_t>(lp[i]);
    total += std::log(denom) - (static_cast<double>(z[label]) - top);
  }
  *loss.data() = static_cast<float>(total / static_cast<double>(n));
}

// probs: (N, K), labels: (N) -> dlogits: (N, K) = (probs - onehot(labels)) / N; dlogits may be
// probs
void softmax_cross_entropy_backward(const Tensor& probs, const Tensor& labels, Tensor& dlogits) {
  check_labels(probs, labels, "softmax_cross_entropy_backward");
  const int64_t n = probs.dim(0), k = probs.dim(1);
  dlogits.ensure(probs.shape(), Device::cpu);
  const float* pp = probs.data();
  const float* lp = labels.data();
  float* dp = dlogits.data();
  const float inv_n = 1.0f / static_cast<float>(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = static_cast<int64_t>(lp[i]);
    const float* p = pp + i * k;
    float* d = dp + i * k;
    // The row as p / N, then the label's element: a loop without the compare vectorises on AVX2
    // too (only AVX-512's masked add had vectorised it), and p - 0 is p, so the bits are the
    // same. The label's probability is read first: dlogits may be probs.
    const float at_label = p[label];
#pragma omp simd
    for (int64_t j = 0; j < k; ++j) d[j] = p[j] * inv_n;
    d[label] = (at_label - 1.0f) * inv_n;
  }
}

// logits: (N, K) -> pred: (N), the index of each row's first maximum as a float
void argmax_rows(const Tensor& logits, Tensor& pred) {
  const int64_t n = logits.dim(0), k = logits.dim(1);
  ensure_output(pred, {n});
  const float* zp = logits.data();
  float* out = pred.data();
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (zp[i * k + j] > zp[i * k + best]) best = j;
    out[i] = static_cast<float>(best);
  }
}

}  // namespace keel::cpu::KEEL_CPU_ISA
