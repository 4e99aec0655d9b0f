// Dynamic loss scaling for fp16 training, PyTorch GradScaler's rule: the loss gradient is
// multiplied by `scale` so small gradients survive fp16, the gradients are divided by it before
// the update, and a step whose gradients overflowed is skipped and halves the scale, while
// `growth_interval` clean steps in a row double it. The state is four floats, so it lives in a
// Tensor on either device and the same update runs on the host and in a CUDA kernel (one thread);
// kept in device memory, the scale is read by the kernels themselves and a replayed CUDA graph
// sees each step's value.
#pragma once

#include <array>
#include <cstdint>

#include "keel/host_device.h"

namespace keel {

struct LossScaleRule {
  float growth_factor = 2.0f;
  float backoff_factor = 0.5f;
  int32_t growth_interval = 2000;  // clean steps in a row before the scale grows
  // PyTorch sets no bounds. Below 1 the scale would shrink gradients that overflow unscaled, which
  // no scale can cure (the trainer hands such a step to train.on_nonfinite); 2^24 is Apex's cap:
  // past it the scaled gradients of the layers keel trains overflow fp16 at every step.
  float min_scale = 1.0f;
  float max_scale = 16777216.0f;
};

// Counters are floats so the state is one float tensor; they are exact up to 2^24 steps.
struct LossScaleState {
  float scale = 65536.0f;       // PyTorch's initial 2^16
  float growth_tracker = 0.0f;  // clean steps since the scale last changed
  float found_inf = 0.0f;       // 1: a gradient of this step is not finite (set by the check)
  float skipped_steps = 0.0f;   // steps dropped for an overflow so far
};
inline constexpr int64_t kLossScaleStateFloats = 4;
static_assert(sizeof(LossScaleState) == kLossScaleStateFloats * sizeof(float));

// The state as the floats of its tensor, in member order, and back.
inline std::array<float, kLossScaleStateFloats> loss_scale_floats(const LossScaleState& s) {
  return {s.scale, s.growth_tracker, s.found_inf, s.skipped_steps};
}
inline LossScaleState loss_scale_state(const std::array<float, kLossScaleStateFloats>& v) {
  LossScaleState s;
  s.scale = v[0];
  s.growth_tracker = v[1];
  s.found_inf = v[2];
  s.skipped_steps = v[3];
  return s;
}

// After a step's gradients were checked: an overflow (found_inf) skips the step, counts it and
// backs the scale off; otherwise the step counts towards growth. Clears found_inf for the next
// step. Bounds: the scale never leaves [min_scale, max_scale] through this update.
KEEL_HOST_DEVICE void update_loss_scale(LossScaleState& state, const LossScaleRule& rule) {
  if (state.found_inf != 0.0f) {
    const float backed_off = state.scale * rule.backoff_factor;
    state.scale = backed_off < rule.min_scale ? rule.min_scale : backed_off;
    state.growth_tracker = 0.0f;
    state.skipped_steps += 1.0f;
  } else {
    state.growth_tracker += 1.0f;
    if (state.growth_tracker >= static_cast<float>(rule.growth_interval)) {
      const float grown = state.scale * rule.growth_factor;
      state.scale = grown > rule.max_scale ? rule.max_scale : grown;
      state.growth_tracker = 0.0f;
    }
  }
  state.found_inf = 0.0f;
}

}  // namespace keel
