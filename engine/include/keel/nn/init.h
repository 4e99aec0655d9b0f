// Weight initialisation drawn from a keel::Generator, so the same seed gives the same weights on
// every device. Mirrors torch.nn.init: fan_in/fan_out, gain sqrt(2 / (1 + a^2)) for (leaky) ReLU.
#pragma once

#include <cstdint>
#include <functional>

#include "keel/random.h"
#include "keel/tensor.h"

namespace keel::nn {

enum class FanMode { fan_in, fan_out };

// w: (out, in, kh, kw) or (out, in): fan_in = in * kh * kw, fan_out = out * kh * kw.
int64_t fan_in(const Tensor& w);
int64_t fan_out(const Tensor& w);

// Gain of a leaky ReLU with negative slope a (a = 0: plain ReLU, gain sqrt(2)).
double relu_gain(double a = 0.0);

// Normal(0, gain / sqrt(fan)).
void kaiming_normal_(Tensor& w, Generator& gen, double a = 0.0, FanMode mode = FanMode::fan_in);
// Uniform(±gain * sqrt(3 / fan)).
void kaiming_uniform_(Tensor& w, Generator& gen, double a = 0.0, FanMode mode = FanMode::fan_in);
void uniform_(Tensor& t, float low, float high, Generator& gen);
void normal_(Tensor& t, float mean, float stddev, Generator& gen);
void zeros_(Tensor& t);
void ones_(Tensor& t);

// PyTorch's default for Conv2d and Linear: kaiming_uniform_ with a = sqrt(5) (a bound of
// 1/sqrt(fan_in)) on the weight, then the bias (when defined) uniform in ±1/sqrt(fan_in).
void default_init_(Tensor& weight, Tensor& bias, Generator& gen);

// How a layer initialises its weight and bias (bias undefined when the layer has none).
using InitFn = std::function<void(Tensor& weight, Tensor& bias, Generator& gen)>;

}  // namespace keel::nn
