// The table of op_cases.h put together, the operands' values drawn, and one case run.
#include "op_cases/op_cases.h"

#include <cmath>
#include <numeric>
#include <utility>

#include "keel/random.h"

namespace keel::testing {

namespace {

std::vector<float> draw(const Operand& o, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> v(static_cast<size_t>(o.shape.numel()));
  switch (o.fill) {
    case Fill::uniform:
      for (float& x : v) x = gen.next_uniform(o.low, o.high);
      break;
    case Fill::away_from_zero:
      for (float& x : v) {
        const float sign = gen.next_below(2) ? 1.0f : -1.0f;  // drawn first on every compiler
        x = sign * gen.next_uniform(0.1f, 1.0f);
      }
      break;
    case Fill::tie_free:
      std::iota(v.begin(), v.end(), 0.0f);
      for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[gen.next_below(i)]);
      for (float& x : v) x = 0.05f * x - 0.025f * static_cast<float>(v.size());
      break;
    case Fill::whole_numbers:
      for (float& x : v) x = static_cast<float>(gen.next_below(static_cast<uint64_t>(o.high)));
      break;
  }
  return v;
}

std::vector<OpCase> all_cases() {
  std::vector<OpCase> all;
  for (auto family : {conv_and_linear_cases, batch_norm_cases, pool_and_resize_cases,
                      elementwise_cases, loss_and_optimizer_cases}) {
    std::vector<OpCase> cases = family();
    for (OpCase& c : cases) all.push_back(std::move(c));
  }
  return all;
}

// FNV-1a: the same seeds on every platform, unlike std::hash.
uint64_t seed_of(const std::string& name, size_t operand) {
  uint64_t h = 14695981039346656037ull;
  for (char ch : name) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  return h + 7919 * operand;
}

void poison(Tensors& tensors) {
  for (Tensor& t : tensors) {
    if (t.defined()) t.fill_(NAN);
  }
}

}  // namespace

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = all_cases();
  return cases;
}

Tensors make_operands(const OpCase& c, Device device) {
  Tensors operands;
  for (size_t i = 0; i < c.operands.size(); ++i) {
    const Operand& o = c.operands[i];
    operands.push_back(Tensor::from_data(o.shape, draw(o, seed_of(c.name(), i))).to(device));
  }
  return operands;
}

CaseRun run_case(const OpCase& c, Device device) {
  CaseRun r;
  r.operands = make_operands(c, device);
  const Tensors& in = r.operands;
  c.forward(in, r.outputs);
  poison(r.outputs);
  c.forward(in, r.outputs);
  if (!c.has_backward()) return r;
  Operand upstream{"dy", r.outputs.at(0).shape()};
  r.dy = Tensor::from_data(upstream.shape, draw(upstream, 97)).to(device);
  c.backward(in, r.outputs, r.dy, r.grads);
  poison(r.grads);
  c.backward(in, r.outputs, r.dy, r.grads);
  return r;
}

Tensor& slot(Tensors& out, size_t i) {
  if (out.size() <= i) out.resize(i + 1);
  return out[i];
}

Tensor& state_copy(Tensors& out, size_t i, const Tensor& state) {
  Tensor& t = slot(out, i);
  if (t.defined() && t.shape() == state.shape() && t.device() == state.device()) {
    t.copy_from(state);
  } else {
    t = state.clone();
  }
  return t;
}

std::vector<double> widen(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

}  // namespace keel::testing
