// The dynamic loss scaler's kernels, whose state stays in device memory, so that its overflow check
// and scale update need no host round trip and a replayed CUDA graph reads each step's scale.
// Launchers queue on the given stream.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

#include "keel/loss_scaler.h"

namespace keel::cuda {

inline constexpr int kLossScaleBlock = 256;

// y = state->scale · x; y may be x.
void launch_apply_loss_scale(const float* x, const LossScaleState* state, float* y, size_t n,
                             cudaStream_t stream);
// grad *= 1 / state->scale; state->found_inf = 1 if an element is not finite (every thread that
// finds one writes the same 1, so the race is harmless).
void launch_unscale_gradients(float* grad, size_t n, LossScaleState* state, cudaStream_t stream);
// update_loss_scale(*state, rule) on one device thread.
void launch_loss_scale_update(LossScaleState* state, LossScaleRule rule, cudaStream_t stream);

}  // namespace keel::cuda
