// Implementation of the shared test helpers (see test_util.h).
#include "support/test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "keel/random.h"

namespace keel::testing {

Tensor random_tensor(const Shape& shape, uint64_t seed, float low, float high) {
  Generator gen(seed);
  return Tensor::uniform(shape, low, high, gen);
}

double relative_error(const std::vector<float>& a, const std::vector<double>& ref) {
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < a.size() && i < ref.size(); ++i) {
    if (std::isnan(a[i])) return INFINITY;
    diff += (a[i] - ref[i]) * (a[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  if (a.size() != ref.size()) return INFINITY;
  return std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
}

double relative_error(const std::vector<float>& a, const std::vector<float>& ref) {
  return relative_error(a, std::vector<double>(ref.begin(), ref.end()));
}

namespace {
double weighted_sum(const Tensor& output, const std::vector<float>& weights) {
  std::vector<float> y = output.to_vector();
  double total = 0.0;
  for (size_t i = 0; i < y.size(); ++i) total += static_cast<double>(y[i]) * weights[i];
  return total;
}
}  // namespace

double gradient_check_error(const std::function<Tensor()>& forward, Tensor& input,
                            const Tensor& weights, const Tensor& analytic, float h) {
  const std::vector<float> w = weights.to_vector();
  const std::vector<float> grad = analytic.to_vector();
  std::vector<float> values = input.to_vector();
  double diff = 0.0, norm_numeric = 0.0, norm_analytic = 0.0;
  for (size_t i = 0; i < values.size(); ++i) {
    const float original = values[i];
    values[i] = original + h;
    input.copy_from(Tensor::from_data(input.shape(), values));
    const double plus = weighted_sum(forward(), w);
    values[i] = original - h;
    input.copy_from(Tensor::from_data(input.shape(), values));
    const double minus = weighted_sum(forward(), w);
    values[i] = original;
    input.copy_from(Tensor::from_data(input.shape(), values));
    const double numeric = (plus - minus) / (2.0 * h);
    diff += (numeric - grad[i]) * (numeric - grad[i]);
    norm_numeric += numeric * numeric;
    norm_analytic += static_cast<double>(grad[i]) * grad[i];
  }
  return std::sqrt(diff) / std::max({std::sqrt(norm_numeric), std::sqrt(norm_analytic), 1e-30});
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return (value && *value) ? std::string(value) : fallback;
}

std::string data_dir() { return env_or("KEEL_DATA_DIR", KEEL_TEST_DEFAULT_DATA_DIR); }

}  // namespace keel::testing
