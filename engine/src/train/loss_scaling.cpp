// LossScaling (see loss_scaling.h).
#include "loss_scaling.h"

#include <algorithm>
#include <array>

#include "common/check.h"
#include "keel/ops.h"

namespace keel::train::detail {

namespace {
Tensor state_tensor(const LossScaleState& s, Device device) {
  return Tensor::from_data({kLossScaleStateFloats}, loss_scale_floats(s), device);
}
}  // namespace

LossScaling::LossScaling(double initial_scale, int growth_interval, Device device) {
  rule_.growth_interval = growth_interval;
  LossScaleState initial;
  initial.scale = static_cast<float>(initial_scale);
  state_ = state_tensor(initial, device);
}

void LossScaling::scale_loss_gradient(Tensor& dlogits) {
  apply_loss_scale(dlogits, state_, dlogits);
}

bool LossScaling::unscale(const std::vector<nn::Parameter*>& params) {
  for (nn::Parameter* p : params) unscale_gradients(p->grad, state_);
  return state().found_inf != 0.0f;
}

void LossScaling::update() {
  loss_scale_update(state_, rule_);
}

LossScaleState LossScaling::state() const {
  const std::vector<float> read = state_.to_vector();
  KEEL_CHECK(read.size() == kLossScaleStateFloats, "loss scaler state has {} values, expected {}",
             read.size(), kLossScaleStateFloats);
  std::array<float, kLossScaleStateFloats> values{};
  std::copy(read.begin(), read.end(), values.begin());
  return loss_scale_state(values);
}

void LossScaling::save(Checkpoint& c, const std::string& prefix) const {
  const LossScaleState s = state();
  c.reals[prefix + "loss_scale"] = s.scale;
  c.reals[prefix + "loss_scale_growth_tracker"] = s.growth_tracker;
  c.reals[prefix + "loss_scale_skipped_steps"] = s.skipped_steps;
}

void LossScaling::load(const Checkpoint& c, const std::string& prefix) {
  LossScaleState s;
  s.scale = static_cast<float>(c.real_at(prefix + "loss_scale"));
  s.growth_tracker = static_cast<float>(c.real_at(prefix + "loss_scale_growth_tracker"));
  s.skipped_steps = static_cast<float>(c.real_at(prefix + "loss_scale_skipped_steps"));
  state_.copy_from(state_tensor(s, state_.device()));
}

}  // namespace keel::train::detail
