// Plain-loop float64 references for batch norm, pooling, bilinear resize and softmax
// cross-entropy: the oracle the CPU fast paths (and later the CUDA kernels) are tested against.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace keel::reference {

// ---- batch norm: x as (N, C, L), L = H*W (2d) or 1 (1d)
// ------------------------------------------

struct BatchNormTrain {
  std::vector<double> y, mean, var_biased, running_mean, running_var;
};

inline BatchNormTrain batch_norm_train(const std::vector<float>& x, int64_t n, int64_t c, int64_t l,
                                       const std::vector<float>& gamma,
                                       const std::vector<float>& beta,
                                       const std::vector<float>& running_mean,
                                       const std::vector<float>& running_var, double momentum,
                                       double eps) {
  BatchNormTrain r;
  r.y.assign(x.size(), 0.0);
  r.mean.assign(c, 0.0);
  r.var_biased.assign(c, 0.0);
  r.running_mean.assign(c, 0.0);
  r.running_var.assign(c, 0.0);
  const double m = static_cast<double>(n * l);
  for (int64_t ch = 0; ch < c; ++ch) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < l; ++k) s += x[(i * c + ch) * l + k];
    const double mean = s / m;
    double sq = 0.0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < l; ++k) {
        const double d = x[(i * c + ch) * l + k] - mean;
        sq += d * d;
      }
    const double var = sq / m;
    r.mean[ch] = mean;
    r.var_biased[ch] = var;
    r.running_mean[ch] = (1.0 - momentum) * running_mean[ch] + momentum * mean;
    r.running_var[ch] = (1.0 - momentum) * running_var[ch] + momentum * sq / (m - 1.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < l; ++k) {
        const int64_t idx = (i * c + ch) * l + k;
        r.y[idx] = gamma[ch] * (x[idx] - mean) / std::sqrt(var + eps) + beta[ch];
      }
  }
  return r;
}

inline std::vector<double> batch_norm_eval(const std::vector<float>& x, int64_t n, int64_t c,
                                           int64_t l, const std::vector<float>& gamma,
                                           const std::vector<float>& beta,
                                           const std::vector<float>& running_mean,
                                           const std::vector<float>& running_var, double eps) {
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < l; ++k) {
        const int64_t idx = (i * c + ch) * l + k;
        y[idx] = gamma[ch] * (x[idx] - running_mean[ch]) /
                     std::sqrt(static_cast<double>(running_var[ch]) + eps) +
                 beta[ch];
      }
  return y;
}

// ---- pooling: planes of (h, w), p planes -------------------------------------------------------

inline int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t pad) {
  return (in + 2 * pad - k) / s + 1;
}

// Padding never wins a max (it is -inf); the first maximum in row-major window order is the one
// whose position is returned in `argmax` (an index into the plane).
inline std::vector<double> max_pool2d(const std::vector<float>& x, int64_t planes, int64_t h,
                                      int64_t w, int64_t k, int64_t s, int64_t pad,
                                      std::vector<int64_t>* argmax = nullptr) {
  const int64_t oh = out_size(h, k, s, pad), ow = out_size(w, k, s, pad);
  std::vector<double> y(planes * oh * ow);
  if (argmax) argmax->assign(y.size(), -1);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        double best = -std::numeric_limits<double>::infinity();
        int64_t where = -1;
        for (int64_t ky = 0; ky < k; ++ky)
          for (int64_t kx = 0; kx < k; ++kx) {
            const int64_t iy = oy * s - pad + ky, ix = ox * s - pad + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const double v = x[(p * h + iy) * w + ix];
            if (v > best) {
              best = v;
              where = iy * w + ix;
            }
          }
        const int64_t o = (p * oh + oy) * ow + ox;
        y[o] = best;
        if (argmax) (*argmax)[o] = where;
      }
  return y;
}

inline std::vector<double> max_pool2d_backward(const std::vector<float>& x,
                                               const std::vector<float>& dy, int64_t planes,
                                               int64_t h, int64_t w, int64_t k, int64_t s,
                                               int64_t pad) {
  std::vector<int64_t> argmax;
  max_pool2d(x, planes, h, w, k, s, pad, &argmax);
  const int64_t per_plane = static_cast<int64_t>(dy.size()) / planes;
  std::vector<double> dx(x.size(), 0.0);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t o = 0; o < per_plane; ++o)
      dx[p * h * w + argmax[p * per_plane + o]] += dy[p * per_plane + o];
  return dx;
}

// Padding counts as zeros; the divisor is always k*k.
inline std::vector<double> avg_pool2d(const std::vector<float>& x, int64_t planes, int64_t h,
                                      int64_t w, int64_t k, int64_t s, int64_t pad) {
  const int64_t oh = out_size(h, k, s, pad), ow = out_size(w, k, s, pad);
  std::vector<double> y(planes * oh * ow);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        double total = 0.0;
        for (int64_t ky = 0; ky < k; ++ky)
          for (int64_t kx = 0; kx < k; ++kx) {
            const int64_t iy = oy * s - pad + ky, ix = ox * s - pad + kx;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) total += x[(p * h + iy) * w + ix];
          }
        y[(p * oh + oy) * ow + ox] = total / static_cast<double>(k * k);
      }
  return y;
}

inline std::vector<double> avg_pool2d_backward(const std::vector<float>& dy, int64_t planes,
                                               int64_t h, int64_t w, int64_t k, int64_t s,
                                               int64_t pad) {
  const int64_t oh = out_size(h, k, s, pad), ow = out_size(w, k, s, pad);
  std::vector<double> dx(planes * h * w, 0.0);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t ky = 0; ky < k; ++ky)
          for (int64_t kx = 0; kx < k; ++kx) {
            const int64_t iy = oy * s - pad + ky, ix = ox * s - pad + kx;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w)
              dx[(p * h + iy) * w + ix] += dy[(p * oh + oy) * ow + ox] / static_cast<double>(k * k);
          }
  return dx;
}

// Adaptive cell i of `out` over `in` covers [floor(i*in/out), ceil((i+1)*in/out)).
inline int64_t cell_begin(int64_t i, int64_t in, int64_t out) {
  return (i * in) / out;
}
inline int64_t cell_end(int64_t i, int64_t in, int64_t out) {
  return ((i + 1) * in + out - 1) / out;
}

inline std::vector<double> adaptive_avg_pool2d(const std::vector<float>& x, int64_t planes,
                                               int64_t h, int64_t w, int64_t oh, int64_t ow) {
  std::vector<double> y(planes * oh * ow);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        double total = 0.0;
        int64_t count = 0;
        for (int64_t iy = cell_begin(oy, h, oh); iy < cell_end(oy, h, oh); ++iy)
          for (int64_t ix = cell_begin(ox, w, ow); ix < cell_end(ox, w, ow); ++ix) {
            total += x[(p * h + iy) * w + ix];
            ++count;
          }
        y[(p * oh + oy) * ow + ox] = total / static_cast<double>(count);
      }
  return y;
}

inline std::vector<double> adaptive_avg_pool2d_backward(const std::vector<float>& dy,
                                                        int64_t planes, int64_t h, int64_t w,
                                                        int64_t oh, int64_t ow) {
  std::vector<double> dx(planes * h * w, 0.0);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int64_t y0 = cell_begin(oy, h, oh), y1 = cell_end(oy, h, oh);
        const int64_t x0 = cell_begin(ox, w, ow), x1 = cell_end(ox, w, ow);
        const double share =
            dy[(p * oh + oy) * ow + ox] / static_cast<double>((y1 - y0) * (x1 - x0));
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) dx[(p * h + iy) * w + ix] += share;
      }
  return dx;
}

inline std::vector<double> adaptive_max_pool2d(const std::vector<float>& x, int64_t planes,
                                               int64_t h, int64_t w, int64_t oh, int64_t ow,
                                               std::vector<int64_t>* argmax = nullptr) {
  std::vector<double> y(planes * oh * ow);
  if (argmax) argmax->assign(y.size(), -1);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        double best = -std::numeric_limits<double>::infinity();
        int64_t where = -1;
        for (int64_t iy = cell_begin(oy, h, oh); iy < cell_end(oy, h, oh); ++iy)
          for (int64_t ix = cell_begin(ox, w, ow); ix < cell_end(ox, w, ow); ++ix) {
            const double v = x[(p * h + iy) * w + ix];
            if (v > best) {
              best = v;
              where = iy * w + ix;
            }
          }
        const int64_t o = (p * oh + oy) * ow + ox;
        y[o] = best;
        if (argmax) (*argmax)[o] = where;
      }
  return y;
}

inline std::vector<double> adaptive_max_pool2d_backward(const std::vector<float>& x,
                                                        const std::vector<float>& dy,
                                                        int64_t planes, int64_t h, int64_t w,
                                                        int64_t oh, int64_t ow) {
  std::vector<int64_t> argmax;
  adaptive_max_pool2d(x, planes, h, w, oh, ow, &argmax);
  std::vector<double> dx(x.size(), 0.0);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t o = 0; o < oh * ow; ++o)
      dx[p * h * w + argmax[p * oh * ow + o]] += dy[p * oh * ow + o];
  return dx;
}

// ---- bilinear resize with aligned corners ------------------------------------------------------

// Source coordinate of output index i: i * (in - 1) / (out - 1), or 0 when out == 1.
inline double aligned_source(int64_t i, int64_t in, int64_t out) {
  return out > 1
             ? static_cast<double>(i) * static_cast<double>(in - 1) / static_cast<double>(out - 1)
             : 0.0;
}

inline std::vector<double> resize_bilinear(const std::vector<float>& x, int64_t planes, int64_t h,
                                           int64_t w, int64_t oh, int64_t ow) {
  std::vector<double> y(planes * oh * ow);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        const double sy = aligned_source(oy, h, oh), sx = aligned_source(ox, w, ow);
        const int64_t y0 = static_cast<int64_t>(std::floor(sy)),
                      x0 = static_cast<int64_t>(std::floor(sx));
        const int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
        const double fy = sy - y0, fx = sx - x0;
        auto at = [&](int64_t iy, int64_t ix) {
          return static_cast<double>(x[(p * h + iy) * w + ix]);
        };
        y[(p * oh + oy) * ow + ox] = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) +
                                     fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
      }
  return y;
}

inline std::vector<double> resize_bilinear_backward(const std::vector<float>& dy, int64_t planes,
                                                    int64_t h, int64_t w, int64_t oh, int64_t ow) {
  std::vector<double> dx(planes * h * w, 0.0);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        const double sy = aligned_source(oy, h, oh), sx = aligned_source(ox, w, ow);
        const int64_t y0 = static_cast<int64_t>(std::floor(sy)),
                      x0 = static_cast<int64_t>(std::floor(sx));
        const int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
        const double fy = sy - y0, fx = sx - x0, g = dy[(p * oh + oy) * ow + ox];
        dx[(p * h + y0) * w + x0] += (1 - fy) * (1 - fx) * g;
        dx[(p * h + y0) * w + x1] += (1 - fy) * fx * g;
        dx[(p * h + y1) * w + x0] += fy * (1 - fx) * g;
        dx[(p * h + y1) * w + x1] += fy * fx * g;
      }
  return dx;
}

// ---- softmax cross-entropy over rows of (n, k) --------------------------------------------------

struct SoftmaxCrossEntropy {
  double loss = 0.0;
  std::vector<double> probs, dlogits;
};

inline SoftmaxCrossEntropy softmax_cross_entropy(const std::vector<float>& logits,
                                                 const std::vector<float>& labels, int64_t n,
                                                 int64_t k) {
  SoftmaxCrossEntropy r;
  r.probs.assign(n * k, 0.0);
  r.dlogits.assign(n * k, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double top = logits[i * k];
    for (int64_t j = 1; j < k; ++j) top = std::max(top, static_cast<double>(logits[i * k + j]));
    double total = 0.0;
    for (int64_t j = 0; j < k; ++j) total += std::exp(logits[i * k + j] - top);
    const int64_t label = static_cast<int64_t>(labels[i]);
    r.loss += (std::log(total) + top - logits[i * k + label]) / static_cast<double>(n);
    for (int64_t j = 0; j < k; ++j) {
      r.probs[i * k + j] = std::exp(logits[i * k + j] - top) / total;
      r.dlogits[i * k + j] =
          (r.probs[i * k + j] - (j == label ? 1.0 : 0.0)) / static_cast<double>(n);
    }
  }
  return r;
}

}  // namespace keel::reference
