// The op-case table (tests/op_cases/op_cases.h) on the CPU: every case's outputs and gradients
// against its float64 reference, its gradients against central differences where it is small
// enough, the same bits for any thread count, and agreement with another kernel path. CTest runs
// this program once per CPU kernel path, so every path meets every check. Each check walks the
// whole table (one test per check, not per case: a few hundred cases would otherwise be as many
// processes under CTest); a failure names its case, its output or operand, and the error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "keel/runtime.h"
#include "op_cases/op_cases.h"
#include "support/cpu_settings_guard.h"
#include "support/test_util.h"

namespace keel {
namespace {

using testing::CaseRun;
using testing::Floats;
using testing::op_cases;
using testing::OpCase;
using testing::relative_error;
using testing::run_case;
using testing::Tensors;

Floats values_of(const Tensors& tensors) {
  Floats values;
  for (const Tensor& t : tensors) values.push_back(t.to_vector());
  return values;
}

// Central differences cost two forward passes per element of every differentiable operand:
// cases beyond these sizes are covered by their float64 reference alone.
bool small_enough_for_finite_differences(const OpCase& c, const CaseRun& r) {
  int64_t elements = 0;
  for (const testing::Operand& o : c.operands) elements += o.differentiable ? o.shape.numel() : 0;
  return elements <= 2000 && r.outputs.at(0).numel() <= 50000;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  const std::vector<float> va = a.to_vector(), vb = b.to_vector();
  return va.size() == vb.size() &&
         std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) == 0;
}

TEST(OpCases, TheTableCoversEveryOpFamily) {
  std::vector<std::string> ops;
  for (const OpCase& c : op_cases()) ops.push_back(c.op);
  for (const char* op : {"conv2d",
                         "linear",
                         "batch_norm_train",
                         "batch_norm_relu_train",
                         "batch_norm_eval",
                         "max_pool2d",
                         "avg_pool2d",
                         "adaptive_max_pool2d",
                         "adaptive_avg_pool2d",
                         "resize_bilinear",
                         "relu",
                         "add",
                         "scale",
                         "normalize_channels",
                         "concat_channels",
                         "gather_rows",
                         "dropout",
                         "softmax_cross_entropy",
                         "argmax_rows",
                         "sgd_update",
                         "adamw_update"}) {
    EXPECT_NE(std::find(ops.begin(), ops.end(), op), ops.end()) << op << " has no case";
  }
  std::vector<std::string> names;
  for (const OpCase& c : op_cases()) names.push_back(c.name());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end()) << "a name twice";
}

TEST(OpCases, OutputsAndGradientsMatchTheFloat64Reference) {
  int checked = 0;
  for (const OpCase& c : op_cases()) {
    if (!c.reference) continue;
    SCOPED_TRACE(c.name());
    const CaseRun r = run_case(c, Device::cpu);
    const Floats in = values_of(r.operands);
    const testing::Doubles outputs = c.reference(in);
    ASSERT_EQ(outputs.size(), r.outputs.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
      EXPECT_LE(relative_error(r.outputs[i].to_vector(), outputs[i]), c.reference_tol)
          << "output " << i;
    }
    if (c.reference_backward) {
      const testing::Doubles grads = c.reference_backward(in, r.dy.to_vector());
      ASSERT_EQ(grads.size(), r.grads.size());
      for (size_t i = 0; i < grads.size(); ++i) {
        EXPECT_LE(relative_error(r.grads[i].to_vector(), grads[i]), c.gradient_reference_tol())
            << "gradient " << i;
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 200);
}

TEST(OpCases, GradientsMatchCentralDifferences) {
  int checked = 0;
  for (const OpCase& c : op_cases()) {
    if (!c.has_backward() || !c.finite_differences) continue;
    SCOPED_TRACE(c.name());
    CaseRun r = run_case(c, Device::cpu);
    if (!small_enough_for_finite_differences(c, r)) continue;
    const auto forward = [&] {
      Tensors out;
      c.forward(r.operands, out);
      return out[0];
    };
    size_t g = 0;
    for (size_t i = 0; i < c.operands.size(); ++i) {
      if (!c.operands[i].differentiable) continue;
      ASSERT_LT(g, r.grads.size());
      EXPECT_LT(testing::gradient_check_error(forward, r.operands[i], r.dy, r.grads[g++],
                                              c.gradient_step),
                c.gradient_tol)
          << "d/d" << c.operands[i].name;
    }
    EXPECT_EQ(g, r.grads.size()) << "one gradient per differentiable operand";
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

void expect_same_bits(const CaseRun& a, const CaseRun& b, const std::string& what) {
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    EXPECT_TRUE(same_bits(a.outputs[i], b.outputs[i])) << "output " << i << ", " << what;
  }
  for (size_t i = 0; i < a.grads.size(); ++i) {
    EXPECT_TRUE(same_bits(a.grads[i], b.grads[i])) << "gradient " << i << ", " << what;
  }
}

// Every element is summed in an order fixed by the shapes alone, never by the thread count.
TEST(OpCases, TheThreadCountChangesNoBit) {
  const testing::CpuSettingsGuard restore;
  for (const OpCase& c : op_cases()) {
    SCOPED_TRACE(c.name());
    set_num_threads(1);
    const CaseRun one = run_case(c, Device::cpu);
    for (int threads : {2, 3}) {
      set_num_threads(threads);
      expect_same_bits(run_case(c, Device::cpu), one, std::to_string(threads) + " threads vs 1");
    }
  }
}

// Paths sum in different orders (tile shapes, FMA contraction): they agree within each case's
// parity bound. The active path is compared with the portable one, or the portable path with the
// best one.
TEST(OpCases, TheActivePathAgreesWithAnother) {
  const testing::CpuSettingsGuard restore;
  const CpuIsa active = cpu_isa();
  const CpuIsa other = active == CpuIsa::portable ? best_cpu_isa() : CpuIsa::portable;
  if (other == active) GTEST_SKIP() << "this CPU has one kernel path only (portable)";
  for (const OpCase& c : op_cases()) {
    SCOPED_TRACE(c.name());
    set_cpu_isa(active);
    const CaseRun mine = run_case(c, Device::cpu);
    set_cpu_isa(other);
    const CaseRun theirs = run_case(c, Device::cpu);
    for (size_t i = 0; i < mine.outputs.size(); ++i) {
      EXPECT_LE(relative_error(mine.outputs[i].to_vector(), theirs.outputs[i].to_vector()),
                c.parity_tol)
          << "output " << i << ", " << cpu_isa_name(active) << " vs " << cpu_isa_name(other);
    }
    for (size_t i = 0; i < mine.grads.size(); ++i) {
      EXPECT_LE(relative_error(mine.grads[i].to_vector(), theirs.grads[i].to_vector()),
                c.gradient_parity_tol())
          << "gradient " << i << ", " << cpu_isa_name(active) << " vs " << cpu_isa_name(other);
    }
  }
}

}  // namespace
}  // namespace keel
