// Loss and optimizer cases: softmax cross-entropy (also with logits whose exponentials overflow),
// row argmax, and one step of SGD (plain, momentum, dampening, Nesterov, weight decay) and AdamW.
#include <string>

#include "keel/ops.h"
#include "op_cases/misc_reference.h"
#include "op_cases/op_cases.h"

namespace keel::testing {

namespace {

std::string rows_name(int64_t n, int64_t k) {
  return std::to_string(n) + "x" + std::to_string(k);
}

// The loss is out[0] (one value), so the backward pass scales d loss / d logits by dy's one value
// (a second, element-wise op in its benchmark row).
OpCase cross_entropy_case(int64_t n, int64_t k, float low, float high) {
  OpCase c;
  c.op = "softmax_cross_entropy";
  c.shape = rows_name(n, k) + (high > 100.0f ? "_huge" : low < -100.0f ? "_tiny" : "");
  c.operands = {{"logits", Shape{n, k}, true, Fill::uniform, low, high},
                {"labels", Shape{n}, false, Fill::whole_numbers, 0.0f, static_cast<float>(k)}};
  c.forward = [](const Tensors& in, Tensors& out) {
    slot(out, 1);
    softmax_cross_entropy_forward(in[0], in[1], out[0], out[1]);
  };
  c.backward = [](const Tensors& in, const Tensors& out, const Tensor& dy, Tensors& g) {
    softmax_cross_entropy_backward(out[1], in[1], slot(g, 0));  // out[1]: the probabilities
    scale(g[0], dy.item(), g[0]);
  };
  c.reference = [=](const Floats& in) {
    const auto r = reference::softmax_cross_entropy(in[0], in[1], n, k);
    return Doubles{{r.loss}, r.probs};
  };
  c.reference_backward = [=](const Floats& in, const std::vector<float>& dy) {
    auto r = reference::softmax_cross_entropy(in[0], in[1], n, k);
    for (double& v : r.dlogits) v *= dy[0];
    return Doubles{r.dlogits};
  };
  c.reference_tol = 1e-5;
  // A smooth function: central differences (h = 1e-2) leave the O(h²) term. With logits near
  // ±1000 the loss itself is near 1000 and a step's change drowns in its float rounding.
  c.gradient_tol = 1e-2;
  c.finite_differences = high < 100.0f && low > -100.0f;
  c.parity_tol = 1e-5;
  return c;
}

OpCase argmax_case(int64_t n, int64_t k) {
  OpCase c;
  c.op = "argmax_rows";
  c.shape = rows_name(n, k);
  c.operands = {{"logits", Shape{n, k}, false, Fill::tie_free}};
  c.forward = [](const Tensors& in, Tensors& out) { argmax_rows(in[0], slot(out, 0)); };
  c.reference = [=](const Floats& in) {
    std::vector<double> pred(n);
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = 0;
      for (int64_t j = 1; j < k; ++j) best = in[0][i * k + j] > in[0][i * k + best] ? j : best;
      pred[i] = static_cast<double>(best);
    }
    return Doubles{pred};
  };
  c.reference_tol = 0;
  c.parity_tol = 0;
  return c;
}

// Operands p, g, v; outputs the updated p and v.
OpCase sgd_case(const std::string& name, SgdArgs a, bool first_step) {
  OpCase c;
  c.op = "sgd_update";
  c.shape = name + (first_step ? "_first_step" : "_later_step");
  const Shape s{7, 13};
  c.operands = {{"param", s}, {"grad", s}, {"velocity", s}};
  c.forward = [=](const Tensors& in, Tensors& out) {
    slot(out, 1);
    sgd_update(state_copy(out, 0, in[0]), in[1], state_copy(out, 1, in[2]), a, first_step);
  };
  c.reference = [=](const Floats& in) {
    const auto r = reference::sgd_step(in[0], in[1], in[2], a.lr, a.momentum, a.dampening,
                                       a.weight_decay, a.nesterov, first_step);
    return Doubles{r.param, r.velocity};
  };
  c.reference_tol = 1e-6;
  c.parity_tol = 1e-6;
  return c;
}

// Operands p, g, m, v (v ≥ 0); outputs the updated p, m and v.
OpCase adamw_case(int64_t step, float weight_decay) {
  const AdamWArgs a{3e-3f, 0.9f, 0.99f, 1e-8f, weight_decay, step};
  OpCase c;
  c.op = "adamw_update";
  c.shape =
      "step" + std::to_string(step) + "_wd" + std::to_string(static_cast<int>(weight_decay * 100));
  const Shape s{5, 11};
  c.operands = {{"param", s},
                {"grad", s},
                {"m", s, false, Fill::uniform, -0.1f, 0.1f},
                {"v", s, false, Fill::uniform, 0.0f, 0.01f}};
  c.forward = [=](const Tensors& in, Tensors& out) {
    slot(out, 2);
    adamw_update(state_copy(out, 0, in[0]), in[1], state_copy(out, 1, in[2]),
                 state_copy(out, 2, in[3]), a);
  };
  c.reference = [=](const Floats& in) {
    const auto r = reference::adamw_step(in[0], in[1], in[2], in[3], a.lr, a.beta1, a.beta2, a.eps,
                                         a.weight_decay, a.step);
    return Doubles{r.param, r.m, r.v};
  };
  c.reference_tol = 1e-6;
  c.parity_tol = 1e-5;  // a square root and a division per element, rounded differently
  return c;
}

}  // namespace

std::vector<OpCase> loss_and_optimizer_cases() {
  return {
      cross_entropy_case(3, 7, -3.0f, 3.0f),
      cross_entropy_case(64, 2, -2.0f, 2.0f),  // the flagship's head
      cross_entropy_case(5, 1000, -5.0f, 5.0f),
      cross_entropy_case(3, 7, 900.0f, 1000.0f),  // exp(900) overflows float and double
      cross_entropy_case(3, 7, -1000.0f, -900.0f),
      argmax_case(5, 2),
      argmax_case(7, 37),
      sgd_case("plain", SgdArgs{0.1f, 0.0f, 0.0f, 0.0f, false}, false),
      sgd_case("momentum", SgdArgs{0.05f, 0.9f, 0.0f, 0.0f, false}, true),
      sgd_case("momentum", SgdArgs{0.05f, 0.9f, 0.0f, 0.0f, false}, false),
      sgd_case("dampening_decay", SgdArgs{0.05f, 0.9f, 0.3f, 1e-2f, false}, false),
      sgd_case("nesterov_decay", SgdArgs{0.05f, 0.9f, 0.0f, 5e-2f, true}, false),
      adamw_case(1, 0.0f),
      adamw_case(3, 0.01f),
      adamw_case(1000, 0.3f),
  };
}

}  // namespace keel::testing
