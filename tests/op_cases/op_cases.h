// One table of numeric op cases, as ggml's test-backend-ops has: each case names an op, its
// operands (shape, how their values are drawn, which ones get a gradient), how to run its forward
// and backward passes on tensors of any device, and its float64 reference. The same table drives
//   - the float64-reference and finite-difference checks, and the thread-count and CPU-path checks
//     (tests/ops/op_cases_test.cpp, run once per CPU kernel path by CTest),
//   - the CPU-vs-CUDA parity checks (tests/gpu/op_cases_gpu_test.cpp),
//   - the benchmark rows "<device>/cases/..." of benchmarks/ops_bench.cpp.
// Adding a case to a cases_*.cpp file adds it to all of them. The table of operands an op must
// refuse is apart (tests/support/op_shape_cases.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "keel/tensor.h"

namespace keel::testing {

// How an operand's values are drawn (always from a generator seeded by the case and operand).
enum class Fill {
  uniform,         // uniform in [low, high)
  away_from_zero,  // |v| uniform in [0.1, 1), either sign: a ±1e-2 step never crosses a kink at 0
  tie_free,        // distinct values 0.05 apart, shuffled: a ±1e-2 step never changes a maximum
  whole_numbers,   // whole numbers in [0, high): class labels, row indices
};

struct Operand {
  std::string name;
  Shape shape;
  bool differentiable = false;  // the backward pass returns its gradient
  Fill fill = Fill::uniform;
  float low = -1.0f, high = 1.0f;
};

using Tensors = std::vector<Tensor>;
using Floats = std::vector<std::vector<float>>;
using Doubles = std::vector<std::vector<double>>;

struct OpCase {
  std::string op;     // the op as ops.h names it: "conv2d", "max_pool2d", "sgd_update"
  std::string shape;  // what this case exercises, usable in a test name: "3x3x5x7_k5_r3_s2p1"
  std::vector<Operand> operands;
  // Computes the outputs from the operands, all on one device. Outputs already present and of the
  // right shape are written in place (a caller poisons them to catch unwritten elements); an op
  // that updates state in place (running statistics, optimizer moments) works on a copy in `out`.
  std::function<void(const Tensors& in, Tensors& out)> forward;
  // The gradients of L = Σ out[0] ⊙ dy with respect to the differentiable operands, in their
  // order, written in place as `forward` writes its outputs. `out` holds the forward pass's outputs
  // for the same operands (what the backward op reads back: y, saved statistics, a mask,
  // probabilities), so a backward pass runs nothing of the forward one. Unset for ops without a
  // backward pass.
  std::function<void(const Tensors& in, const Tensors& out, const Tensor& dy, Tensors& grads)>
      backward;
  // The outputs and (where written) the gradients in float64, from the operands' values.
  std::function<Doubles(const Floats& in)> reference;
  std::function<Doubles(const Floats& in, const std::vector<float>& dy)> reference_backward;
  double reference_tol = 1e-5;        // relative error of every output vs float64
  double backward_reference_tol = 0;  // the same for the gradients, where not reference_tol
  double gradient_tol = 1e-3;         // relative error of central differences vs the backward pass
  float gradient_step = 1e-2f;        // their step h
  bool finite_differences = true;
  double parity_tol = 1e-5;        // relative error between CUDA and the CPU, and between CPU paths
  double backward_parity_tol = 0;  // the same for the gradients, where not parity_tol
  double flops = 0;                // of the forward pass (2 per multiply-add); 0: a memory-bound op

  std::string name() const { return op + "_" + shape; }
  bool has_backward() const { return static_cast<bool>(backward); }
  double gradient_reference_tol() const {
    return backward_reference_tol > 0 ? backward_reference_tol : reference_tol;
  }
  double gradient_parity_tol() const {
    return backward_parity_tol > 0 ? backward_parity_tol : parity_tol;
  }
};

// The whole table, in the order of the cases_*.cpp files.
const std::vector<OpCase>& op_cases();

// The operands of a case with their values drawn (on the CPU, then moved), so every device and
// every path sees the same numbers.
Tensors make_operands(const OpCase& c, Device device);

// A case run once: its outputs, and the upstream gradient and the operands' gradients where it
// has a backward pass. Each pass runs twice, the second time into outputs poisoned with NaN.
struct CaseRun {
  Tensors operands, outputs, grads;
  Tensor dy;
};
CaseRun run_case(const OpCase& c, Device device);

// The families, one file each (cases_*.cpp).
std::vector<OpCase> conv_and_linear_cases();
std::vector<OpCase> batch_norm_cases();
std::vector<OpCase> pool_and_resize_cases();
std::vector<OpCase> elementwise_cases();
std::vector<OpCase> loss_and_optimizer_cases();

// For the case files: out[i], the vector grown to hold it; and a state operand copied into out[i]
// (written in place if it is there already), for ops that update their state in place.
Tensor& slot(Tensors& out, size_t i);
Tensor& state_copy(Tensors& out, size_t i, const Tensor& state);

// The values as doubles (for references that pass an operand through).
std::vector<double> widen(const std::vector<float>& v);

}  // namespace keel::testing
