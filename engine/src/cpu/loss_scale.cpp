// The loss scaler's ops on the CPU (see keel/loss_scaler.h): scaling the loss gradient, unscaling
// the parameter gradients with the overflow check, and the scale update, all through the state
// tensor so they mirror the CUDA kernels that keep it in device memory.
#include <bit>
#include <cstdint>

#include "common/check.h"
#include "cpu/cpu_ops.h"
#include "cpu/parallel.h"

namespace keel::cpu::KEEL_CPU_ISA {

namespace {
constexpr int64_t kMinParallel = 1 << 15;

LossScaleState& state_of(const Tensor& state) {
  // Its size is checked by the op layer.
  KEEL_CHECK(state.defined() && state.device() == Device::cpu,
             "loss scaler: the state must be a CPU tensor");
  return *reinterpret_cast<LossScaleState*>(state.data());
}

// Inf and NaN are the float patterns whose exponent bits are all ones.
bool all_finite(const float* x, int64_t n) {
  uint32_t exponent_all_ones = 0;
#pragma omp simd reduction(| : exponent_all_ones)
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t exponent = std::bit_cast<uint32_t>(x[i]) & 0x7f800000u;
    exponent_all_ones |= exponent == 0x7f800000u ? 1u : 0u;
  }
  return exponent_all_ones == 0;
}
}  // namespace

// x: any shape, state: (4) -> y: same shape as x; y may be x.
void apply_loss_scale(const Tensor& x, const Tensor& state, Tensor& y) {
  const float factor = state_of(state).scale;
  ::keel::cpu::KEEL_CPU_ISA::scale(x, factor, y);
}

// grad: any shape, scaled in place; state: (4).
void unscale_gradients(Tensor& grad, Tensor& state) {
  LossScaleState& s = state_of(state);
  KEEL_CHECK(grad.defined() && grad.device() == Device::cpu,
             "unscale_gradients: grad is not a CPU tensor");
  if (!all_finite(grad.data(), grad.numel())) s.found_inf = 1.0f;
  ::keel::cpu::KEEL_CPU_ISA::scale(grad, 1.0f / s.scale, grad);
}

void loss_scale_update(Tensor& state, const LossScaleRule& rule) {
  update_loss_scale(state_of(state), rule);
}

}  // namespace keel::cpu::KEEL_CPU_ISA
