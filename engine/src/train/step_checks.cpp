// SquareSums and clip_factor (see step_checks.h).
#include "step_checks.h"

#include <algorithm>

#include "keel/ops.h"

namespace keel::train::detail {

namespace {
// Σ x² of `x` into row `row` of `slots`: (1, n) · (1, n)ᵀ.
void square_sum_into(const Tensor& x, Tensor& slots, int64_t row) {
  const Tensor flat = x.reshape({1, x.numel()});
  Tensor slot = slots.rows(row, row + 1);
  linear_forward(flat, flat, Tensor(), slot);
}
}  // namespace

std::vector<float> SquareSums::read(const std::vector<const Tensor*>& tensors,
                                    const Tensor* extra) {
  const auto count = static_cast<int64_t>(tensors.size()) + (extra ? 1 : 0);
  if (count == 0) return {};
  slots_.ensure({count, 1}, extra ? extra->device() : tensors.front()->device());
  for (size_t i = 0; i < tensors.size(); ++i)
    square_sum_into(*tensors[i], slots_, static_cast<int64_t>(i));
  if (extra) slots_.rows(count - 1, count).copy_from(*extra);
  return slots_.to_vector();
}

void SquareSums::reserve_flags(const std::vector<const Tensor*>& tensors) {
  if (tensors.empty()) return;
  int64_t largest = 0;
  for (const Tensor* t : tensors) largest = std::max(largest, t->numel());
  const Device device = tensors.front()->device();
  zeroed_.ensure({largest}, device);
  slots_.ensure({static_cast<int64_t>(tensors.size()), 1}, device);
}

std::vector<float> SquareSums::non_finite_flags(const std::vector<const Tensor*>& tensors) {
  if (tensors.empty()) return {};
  reserve_flags(tensors);
  for (size_t i = 0; i < tensors.size(); ++i) {
    // One buffer serves every tensor: the device runs these in order, each sum before the next
    // scale.
    Tensor zeroed = zeroed_.rows(0, tensors[i]->numel());
    scale(tensors[i]->reshape({tensors[i]->numel()}), 0.0f, zeroed);
    square_sum_into(zeroed, slots_, static_cast<int64_t>(i));
  }
  return slots_.to_vector();
}

double clip_factor(double norm, double max_norm) {
  return std::min(1.0, max_norm / (norm + 1e-6));
}

}  // namespace keel::train::detail
