// Batch-norm cases: training (2d and 1d, a large mean, plane lengths around the vector widths),
// evaluation, and the fused batch norm + ReLU pair.
#include <algorithm>
#include <cmath>
#include <string>

#include "keel/ops.h"
#include "op_cases/misc_reference.h"
#include "op_cases/op_cases.h"

namespace keel::testing {

namespace {

constexpr float kMomentum = 0.1f;
constexpr float kEps = 1e-5f;

struct Dims {
  int64_t n, c, l;  // x as (N, C, L): L = H·W (2d) or 1 (1d)
};

Dims dims_of(const Shape& s) {
  return {s[0], s[1], s.numel() / (s[0] * s[1])};
}

std::string shape_name(const Shape& s) {
  std::string name;
  for (int i = 0; i < s.ndim(); ++i) name += (i ? "x" : "") + std::to_string(s[i]);
  return name;
}

// x, then γ, β, running mean and running variance (kept positive).
std::vector<Operand> operands(const Shape& x, float low, float high, bool train) {
  const Shape c{x[1]};
  return {{"x", x, train, Fill::uniform, low, high},
          {"gamma", c, train, Fill::uniform, 0.5f, 1.5f},
          {"beta", c, train, Fill::uniform, -0.5f, 0.5f},
          {"running_mean", c, false, Fill::uniform, -0.2f, 0.2f},
          {"running_var", c, false, Fill::uniform, 0.5f, 2.0f}};
}

std::vector<double> inv_std_of(const std::vector<double>& var) {
  std::vector<double> out;
  for (double v : var) out.push_back(1.0 / std::sqrt(v + kEps));
  return out;
}

// Outputs y, saved mean, saved 1/σ, and the updated running mean and variance.
void train_forward(bool relu, const Tensors& in, Tensors& out) {
  slot(out, 4);
  Tensor& rm = state_copy(out, 3, in[3]);
  Tensor& rv = state_copy(out, 4, in[4]);
  auto op = relu ? batch_norm_relu_forward_train : batch_norm_forward_train;
  op(in[0], in[1], in[2], rm, rv, kMomentum, kEps, out[0], out[1], out[2]);
}

// The saved mean and 1/σ (and, fused, y) are the forward pass's outputs.
void train_backward(bool relu, const Tensors& in, const Tensors& saved, const Tensor& dy,
                    Tensors& g) {
  slot(g, 2);
  if (relu) {
    batch_norm_relu_backward(in[0], saved[0], in[1], saved[1], saved[2], dy, g[0], g[1], g[2]);
  } else {
    batch_norm_backward(in[0], in[1], saved[1], saved[2], dy, g[0], g[1], g[2]);
  }
}

OpCase train_case(const Shape& x, float low, float high, bool relu) {
  const Dims d = dims_of(x);
  OpCase c;
  c.op = relu ? "batch_norm_relu_train" : "batch_norm_train";
  c.shape = shape_name(x) + (low > 10.0f ? "_mean100" : "");
  c.operands = operands(x, low, high, true);
  c.forward = [relu](const Tensors& in, Tensors& out) { train_forward(relu, in, out); };
  c.backward = [relu](const Tensors& in, const Tensors& out, const Tensor& dy, Tensors& g) {
    train_backward(relu, in, out, dy, g);
  };
  c.reference = [d, relu](const Floats& in) {
    reference::BatchNormTrain r = reference::batch_norm_train(in[0], d.n, d.c, d.l, in[1], in[2],
                                                              in[3], in[4], kMomentum, kEps);
    if (relu) {
      for (double& v : r.y) v = std::max(v, 0.0);
    }
    return Doubles{r.y, r.mean, inv_std_of(r.var_biased), r.running_mean, r.running_var};
  };
  c.reference_backward = [d, relu](const Floats& in, const std::vector<float>& dy) {
    std::vector<float> through = dy;  // the ReLU passes dy where its output is positive
    if (relu) {
      const std::vector<double> y = reference::batch_norm_train(in[0], d.n, d.c, d.l, in[1], in[2],
                                                                in[3], in[4], kMomentum, kEps)
                                        .y;
      for (size_t i = 0; i < y.size(); ++i) through[i] = y[i] > 0.0 ? dy[i] : 0.0f;
    }
    reference::BatchNormGradients g =
        reference::batch_norm_backward(in[0], in[1], through, d.n, d.c, d.l, kEps);
    return Doubles{g.dx, g.dgamma, g.dbeta};
  };
  // Two passes in float over each channel; with a mean of 100 and σ ≈ 0.06, the saved mean's
  // rounding to float (≈ 4e-6 / 0.06) is what remains, where a one-pass E[x²] − E[x]² would lose
  // every digit. Batch norm is smooth: central differences (h = 1e-2) leave the O(h²) term, except
  // with σ ≈ 0.06, where a step of 1e-2 is not small. The fused pair has a kink wherever an output
  // is 0, and every element's step moves its whole channel: some step always crosses it (errors
  // of 3-4% at some plane lengths). Its gradient is checked against the closed form under the
  // ReLU's mask here, and bit for bit against batch norm and ReLU apart (batch_norm_test.cpp),
  // each of which central differences check.
  c.reference_tol = low > 10.0f ? 2e-4 : 1e-5;
  c.finite_differences = low < 10.0f && !relu;
  c.gradient_tol = 1e-2;
  // dx subtracts two channel means from dy: the devices' different summation orders show more.
  c.parity_tol = 1e-5;
  c.backward_parity_tol = 1e-4;
  return c;
}

OpCase eval_case(const Shape& x) {
  const Dims d = dims_of(x);
  OpCase c;
  c.op = "batch_norm_eval";
  c.shape = shape_name(x);
  c.operands = operands(x, -1.5f, 1.5f, false);
  c.forward = [](const Tensors& in, Tensors& out) {
    batch_norm_forward_eval(in[0], in[1], in[2], in[3], in[4], kEps, slot(out, 0));
  };
  c.reference = [d](const Floats& in) {
    return Doubles{
        reference::batch_norm_eval(in[0], d.n, d.c, d.l, in[1], in[2], in[3], in[4], kEps)};
  };
  c.reference_tol = 1e-6;  // one multiply-add per element after the channel's constants
  c.parity_tol = 1e-5;
  return c;
}

}  // namespace

std::vector<OpCase> batch_norm_cases() {
  std::vector<OpCase> cases;
  // Odd everything; the flagship CNN's blocks (parallel, 36- and 9-value planes); 1d with two
  // whole blocks of 16 channels and a tail; the heads of the flagship and of ResNet; several
  // reduction parts per channel on CUDA; an offset mean that a one-pass variance would lose.
  const std::vector<std::pair<Shape, float>> train{
      {{3, 5, 5, 7}, -0.7f}, {{64, 32, 6, 6}, -2.2f}, {{64, 128, 3, 3}, -1.0f},
      {{5, 37}, -0.9f},      {{6, 19}, -1.0f},        {{64, 1024}, -1.0f},
      {{3, 7}, -1.0f},       {{3, 5, 7, 9}, 2.0f},    {{64, 3, 33, 31}, 2.0f}};
  for (const auto& [x, low] : train) {
    for (bool relu : {false, true}) cases.push_back(train_case(x, low, low + 2.0f, relu));
    cases.push_back(eval_case(x));
  }
  cases.push_back(train_case({3, 5, 5, 7}, 99.9f, 100.1f, false));
  cases.push_back(train_case({7, 19}, 99.9f, 100.1f, false));
  // Plane lengths H·W around the vector widths (8 floats on AVX2, 16 on AVX-512): shorter than one
  // vector, whole vectors, and tails of every length from 1 to 7 after one to four vectors.
  for (int64_t l : {2, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 25, 31, 32, 33, 36}) {
    const Shape x{5, 3, 1, l};
    for (bool relu : {false, true}) cases.push_back(train_case(x, -0.7f, 1.3f, relu));
    cases.push_back(eval_case(x));
  }
  return cases;
}

}  // namespace keel::testing
