// Weight initialisation (see keel/nn/init.h). Values are drawn on the host from the generator and
// copied to the tensor's device, so CPU and CUDA models built from one seed start identical.
#include "keel/nn/init.h"

#include <cmath>

#include "common/check.h"

namespace keel::nn {

namespace {
int64_t receptive_field(const Tensor& w) {
  int64_t size = 1;
  for (int i = 2; i < w.ndim(); ++i) size *= w.dim(i);
  return size;
}

double fan(const Tensor& w, FanMode mode) {
  const int64_t f = mode == FanMode::fan_in ? fan_in(w) : fan_out(w);
  KEEL_CHECK(f > 0, "cannot initialise a tensor of shape {} by fan", w.shape().str());
  return static_cast<double>(f);
}
}  // namespace

int64_t fan_in(const Tensor& w) {
  KEEL_CHECK(w.ndim() >= 2, "fan_in needs a weight of at least 2 dimensions, got {}",
             w.shape().str());
  return w.dim(1) * receptive_field(w);
}

int64_t fan_out(const Tensor& w) {
  KEEL_CHECK(w.ndim() >= 2, "fan_out needs a weight of at least 2 dimensions, got {}",
             w.shape().str());
  return w.dim(0) * receptive_field(w);
}

double relu_gain(double a) {
  return std::sqrt(2.0 / (1.0 + a * a));
}

void kaiming_normal_(Tensor& w, Generator& gen, double a, FanMode mode) {
  const double stddev = relu_gain(a) / std::sqrt(fan(w, mode));
  normal_(w, 0.0f, static_cast<float>(stddev), gen);
}

void kaiming_uniform_(Tensor& w, Generator& gen, double a, FanMode mode) {
  const double bound = relu_gain(a) * std::sqrt(3.0 / fan(w, mode));
  uniform_(w, static_cast<float>(-bound), static_cast<float>(bound), gen);
}

void uniform_(Tensor& t, float low, float high, Generator& gen) {
  t.copy_from(Tensor::uniform(t.shape(), low, high, gen, t.device()));
}

void normal_(Tensor& t, float mean, float stddev, Generator& gen) {
  t.copy_from(Tensor::normal(t.shape(), mean, stddev, gen, t.device()));
}

void zeros_(Tensor& t) {
  t.fill_(0.0f);
}
void ones_(Tensor& t) {
  t.fill_(1.0f);
}

void default_init_(Tensor& weight, Tensor& bias, Generator& gen) {
  kaiming_uniform_(weight, gen, std::sqrt(5.0));
  if (bias.defined()) {
    const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(fan_in(weight))));
    uniform_(bias, -bound, bound, gen);
  }
}

}  // namespace keel::nn
