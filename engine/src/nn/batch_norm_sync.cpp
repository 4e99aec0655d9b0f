// Synchronised batch norm (train.sync_batch_norm): the training passes of BatchNorm with the
// statistics of the global batch of a data-parallel job. Sums are taken in double on the host, in
// two passes (mean, then squared deviations), so no rank's shift or cancellation enters the result.
#include <cmath>
#include <vector>

#include "keel/dist.h"
#include "keel/nn/batch_norm.h"

namespace keel::nn {

namespace {

// x: (N, C) or (N, C, H, W) seen as (N, C, L).
struct Layout {
  int64_t n, c, l;
  explicit Layout(const Tensor& x)
      : n(x.dim(0)), c(x.dim(1)), l(x.numel() / (x.dim(0) * x.dim(1))) {}
  // Calls f(channel, value index) over every value.
  template <typename F>
  void each(F f) const {
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t base = (i * c + ch) * l;
        for (int64_t j = 0; j < l; ++j) f(ch, base + j);
      }
    }
  }
};

// The per-channel sums of f over this rank's values, added up over every rank.
template <typename F>
std::vector<double> global_channel_sums(const Layout& d, F f) {
  std::vector<double> sums(static_cast<size_t>(d.c), 0.0);
  d.each([&](int64_t ch, int64_t k) { sums[static_cast<size_t>(ch)] += f(ch, k); });
  dist::all_reduce(std::span<double>(sums), dist::Reduce::sum);
  return sums;
}

// A (C) tensor of `values`, written into `target`'s own storage (a gradient may be a view into
// the job's flat gradient buffer).
void store(Tensor& target, const std::vector<float>& values, Device device) {
  const Tensor host = Tensor::from_data(Shape{static_cast<int64_t>(values.size())}, values);
  if (!target.defined()) target = Tensor(host.shape(), device);
  target.copy_from(host);
}

}  // namespace

void BatchNorm::forward_train_synced(const Tensor& x) {
  const Device device = x.device();
  input_ = x;
  const Tensor xh = x.to(Device::cpu);
  const float* xp = xh.data();
  const Layout d(xh);
  double count = static_cast<double>(d.n * d.l);
  dist::all_reduce(std::span<double>(&count, 1), dist::Reduce::sum);
  std::vector<double> mean = global_channel_sums(d, [&](int64_t, int64_t k) { return xp[k]; });
  for (double& m : mean) m /= count;
  const std::vector<double> square_sums = global_channel_sums(d, [&](int64_t ch, int64_t k) {
    const double dev = xp[k] - mean[static_cast<size_t>(ch)];
    return dev * dev;
  });
  std::vector<float> mean_f(static_cast<size_t>(d.c)), invstd_f(mean_f.size());
  std::vector<float> running_mean = running_mean_.to_vector(),
                     running_var = running_var_.to_vector();
  for (size_t ch = 0; ch < mean_f.size(); ++ch) {
    const double var = square_sums[ch] / count;
    mean_f[ch] = static_cast<float>(mean[ch]);
    invstd_f[ch] = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps_)));
    running_mean[ch] =
        static_cast<float>((1.0 - momentum_) * running_mean[ch] + momentum_ * mean[ch]);
    running_var[ch] = static_cast<float>((1.0 - momentum_) * running_var[ch] +
                                         momentum_ * var * count / (count - 1.0));
  }
  store(save_mean_, mean_f, device);
  store(save_invstd_, invstd_f, device);
  store(running_mean_, running_mean, device);
  store(running_var_, running_var, device);

  const std::vector<float> gamma = weight_.value.to_vector(), beta = bias_.value.to_vector();
  Tensor yh(xh.shape());
  float* yp = yh.data();
  d.each([&](int64_t ch, int64_t k) {
    const auto c = static_cast<size_t>(ch);
    // Centred, as the single-process op computes it.
    yp[k] = (xp[k] - mean_f[c]) * (gamma[c] * invstd_f[c]) + beta[c];
  });
  y_.ensure(x.shape(), device);
  y_.copy_from(yh);
  have_batch_stats_ = true;
}

void BatchNorm::backward_synced(const Tensor& dy) {
  const Tensor xh = input_.to(Device::cpu), dyh = dy.to(Device::cpu);
  const float *xp = xh.data(), *dyp = dyh.data();
  const Layout d(xh);
  const std::vector<float> mean = save_mean_.to_vector(), invstd = save_invstd_.to_vector();
  const std::vector<float> gamma = weight_.value.to_vector();
  auto xhat = [&](int64_t ch, int64_t k) {
    const auto c = static_cast<size_t>(ch);
    return (static_cast<double>(xp[k]) - mean[c]) * invstd[c];
  };
  // This rank's sums of dy and dy·x̂ are its share of beta's and gamma's gradients.
  std::vector<double> sum_dy(static_cast<size_t>(d.c), 0.0), sum_dy_xhat(sum_dy.size(), 0.0);
  d.each([&](int64_t ch, int64_t k) {
    sum_dy[static_cast<size_t>(ch)] += dyp[k];
    sum_dy_xhat[static_cast<size_t>(ch)] += dyp[k] * xhat(ch, k);
  });
  store(bias_.grad, std::vector<float>(sum_dy.begin(), sum_dy.end()), dy.device());
  store(weight_.grad, std::vector<float>(sum_dy_xhat.begin(), sum_dy_xhat.end()), dy.device());

  // One all-reduce: both sums, then the number of values per channel.
  std::vector<double> global(sum_dy);
  global.insert(global.end(), sum_dy_xhat.begin(), sum_dy_xhat.end());
  global.push_back(static_cast<double>(d.n * d.l));
  dist::all_reduce(std::span<double>(global), dist::Reduce::sum);
  const double count = global.back();
  Tensor dxh(xh.shape());
  float* dxp = dxh.data();
  d.each([&](int64_t ch, int64_t k) {
    const auto c = static_cast<size_t>(ch);
    const double mean_dy = global[c] / count, mean_dy_xhat = global[c + sum_dy.size()] / count;
    dxp[k] =
        static_cast<float>(gamma[c] * invstd[c] * (dyp[k] - mean_dy - xhat(ch, k) * mean_dy_xhat));
  });
  dx_.ensure(xh.shape(), dy.device());
  dx_.copy_from(dxh);
}

}  // namespace keel::nn
