// Plain-loop float64 references for linear layers, batch norm, pooling, bilinear resize, softmax
// cross-entropy and the optimizer updates: the oracle the CPU fast paths are tested against.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace keel::reference {

// ---- linear: y = x wᵀ + b, x (n, in), w (out, in) ----------------------------------------------

struct LinearDims {
  int64_t n, in, out;
};

inline std::vector<double> linear(const std::vector<float>& x, const std::vector<float>& w,
                                  const std::vector<float>& b, const LinearDims& d) {
  std::vector<double> y(static_cast<size_t>(d.n * d.out));
  for (int64_t i = 0; i < d.n; ++i)
    for (int64_t o = 0; o < d.out; ++o) {
      double acc = b.empty() ? 0.0 : b[o];
      for (int64_t k = 0; k < d.in; ++k)
        acc += static_cast<double>(x[i * d.in + k]) * w[o * d.in + k];
      y[i * d.out + o] = acc;
    }
  return y;
}

struct LinearGradients {
  std::vector<double> dx, dw, db;
};

inline LinearGradients linear_backward(const std::vector<float>& x, const std::vector<float>& w,
                                       const std::vector<float>& dy, const LinearDims& d) {
  LinearGradients g{std::vector<double>(d.n * d.in, 0.0), std::vector<double>(d.out * d.in, 0.0),
                    std::vector<double>(d.out, 0.0)};
  for (int64_t i = 0; i < d.n; ++i)
    for (int64_t o = 0; o < d.out; ++o) {
      const double gy = dy[i * d.out + o];
      g.db[o] += gy;
      for (int64_t k = 0; k < d.in; ++k) {
        g.dx[i * d.in + k] += gy * w[o * d.in + k];
        g.dw[o * d.in + k] += gy * x[i * d.in + k];
      }
    }
  return g;
}

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

// The gradients of L = Σ y ⊙ dy through a training-mode batch norm, in closed form:
// dβ = Σ dy, dγ = Σ dy x̂, dx = γ/σ (dy − dβ/m − x̂ dγ/m) over the m values of each channel.
struct BatchNormGradients {
  std::vector<double> dx, dgamma, dbeta;
};

inline BatchNormGradients batch_norm_backward(const std::vector<float>& x,
                                              const std::vector<float>& gamma,
                                              const std::vector<float>& dy, int64_t n, int64_t c,
                                              int64_t l, double eps) {
  const BatchNormTrain t =
      batch_norm_train(x, n, c, l, gamma, std::vector<float>(c, 0.0f), std::vector<float>(c, 0.0f),
                       std::vector<float>(c, 1.0f), 0.0, eps);
  BatchNormGradients g{std::vector<double>(x.size()), std::vector<double>(c, 0.0),
                       std::vector<double>(c, 0.0)};
  const double m = static_cast<double>(n * l);
  for (int64_t ch = 0; ch < c; ++ch) {
    const double inv_std = 1.0 / std::sqrt(t.var_biased[ch] + eps);
    auto each = [&](auto&& f) {
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < l; ++k) f((i * c + ch) * l + k);
    };
    each([&](int64_t idx) {
      g.dbeta[ch] += dy[idx];
      g.dgamma[ch] += dy[idx] * (x[idx] - t.mean[ch]) * inv_std;
    });
    each([&](int64_t idx) {
      const double xhat = (x[idx] - t.mean[ch]) * inv_std;
      g.dx[idx] = gamma[ch] * inv_std * (dy[idx] - g.dbeta[ch] / m - xhat * g.dgamma[ch] / m);
    });
  }
  return g;
}

// ---- pooling: planes of (h, w), p planes -------------------------------------------------------

inline int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t pad) {
  return (in + 2 * pad - k) / s + 1;
}

// The rows (or columns) [begin, end) that one output index pools over.
struct Span {
  int64_t begin, end;
  int64_t size() const { return end - begin; }
};

// The fixed windows, output index -> span, padding included (positions outside [0, in) are
// padding), so every span has size k.
inline auto windows(int64_t k, int64_t s, int64_t pad) {
  return [=](int64_t o) { return Span{o * s - pad, o * s - pad + k}; };
}

// The adaptive cells: cell i of `out` over `in` covers [floor(i*in/out), ceil((i+1)*in/out)).
inline auto cells(int64_t in, int64_t out) {
  return [=](int64_t i) { return Span{(i * in) / out, ((i + 1) * in + out - 1) / out}; };
}

// The loops every pool shares: each output (oy, ox) of each plane pools the input positions in
// rows(oy) x cols(ox) that lie inside the (h, w) plane; positions outside are padding. `visit`
// gets the plane, the flat output index, the two spans and a callback that walks the positions
// in row-major order, giving each one's index into the plane.
template <typename Rows, typename Cols, typename Visit>
void for_each_pool_output(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, Rows rows,
                          Cols cols, Visit visit) {
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        const Span ry = rows(oy), rx = cols(ox);
        auto each_input = [&](auto&& f) {
          for (int64_t iy = ry.begin; iy < ry.end; ++iy)
            for (int64_t ix = rx.begin; ix < rx.end; ++ix)
              if (iy >= 0 && iy < h && ix >= 0 && ix < w) f(iy * w + ix);
        };
        visit(p, (p * oh + oy) * ow + ox, ry, rx, each_input);
      }
}

// Padding never wins a max (it is skipped); the first maximum in row-major order is the one whose
// position is returned in `argmax` (an index into the plane).
template <typename Rows, typename Cols>
std::vector<double> max_pool_spans(const std::vector<float>& x, int64_t planes, int64_t h,
                                   int64_t w, int64_t oh, int64_t ow, Rows rows, Cols cols,
                                   std::vector<int64_t>* argmax) {
  std::vector<double> y(planes * oh * ow);
  if (argmax) argmax->assign(y.size(), -1);
  for_each_pool_output(planes, h, w, oh, ow, rows, cols,
                       [&](int64_t p, int64_t o, Span, Span, auto each_input) {
                         double best = -std::numeric_limits<double>::infinity();
                         int64_t where = -1;
                         each_input([&](int64_t i) {
                           const double v = x[p * h * w + i];
                           if (v > best) {
                             best = v;
                             where = i;
                           }
                         });
                         y[o] = best;
                         if (argmax) (*argmax)[o] = where;
                       });
  return y;
}

// dx of a max pool: each output's gradient goes to its window's first maximum.
inline std::vector<double> scatter_to_argmax(const std::vector<float>& dy,
                                             const std::vector<int64_t>& argmax, int64_t planes,
                                             int64_t h, int64_t w) {
  const int64_t per_plane = static_cast<int64_t>(dy.size()) / planes;
  std::vector<double> dx(planes * h * w, 0.0);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t o = 0; o < per_plane; ++o)
      dx[p * h * w + argmax[p * per_plane + o]] += dy[p * per_plane + o];
  return dx;
}

// The divisor is the whole span area, padding included: k*k for a fixed window.
template <typename Rows, typename Cols>
std::vector<double> avg_pool_spans(const std::vector<float>& x, int64_t planes, int64_t h,
                                   int64_t w, int64_t oh, int64_t ow, Rows rows, Cols cols) {
  std::vector<double> y(planes * oh * ow);
  for_each_pool_output(planes, h, w, oh, ow, rows, cols,
                       [&](int64_t p, int64_t o, Span ry, Span rx, auto each_input) {
                         double total = 0.0;
                         each_input([&](int64_t i) { total += x[p * h * w + i]; });
                         y[o] = total / static_cast<double>(ry.size() * rx.size());
                       });
  return y;
}

template <typename Rows, typename Cols>
std::vector<double> avg_pool_spans_backward(const std::vector<float>& dy, int64_t planes, int64_t h,
                                            int64_t w, int64_t oh, int64_t ow, Rows rows,
                                            Cols cols) {
  std::vector<double> dx(planes * h * w, 0.0);
  for_each_pool_output(planes, h, w, oh, ow, rows, cols,
                       [&](int64_t p, int64_t o, Span ry, Span rx, auto each_input) {
                         const double share = dy[o] / static_cast<double>(ry.size() * rx.size());
                         each_input([&](int64_t i) { dx[p * h * w + i] += share; });
                       });
  return dx;
}

inline std::vector<double> max_pool2d(const std::vector<float>& x, int64_t planes, int64_t h,
                                      int64_t w, int64_t k, int64_t s, int64_t pad,
                                      std::vector<int64_t>* argmax = nullptr) {
  const auto window = windows(k, s, pad);
  return max_pool_spans(x, planes, h, w, out_size(h, k, s, pad), out_size(w, k, s, pad), window,
                        window, argmax);
}

inline std::vector<double> max_pool2d_backward(const std::vector<float>& x,
                                               const std::vector<float>& dy, int64_t planes,
                                               int64_t h, int64_t w, int64_t k, int64_t s,
                                               int64_t pad) {
  std::vector<int64_t> argmax;
  max_pool2d(x, planes, h, w, k, s, pad, &argmax);
  return scatter_to_argmax(dy, argmax, planes, h, w);
}

// Padding counts as zeros; the divisor is always k*k.
inline std::vector<double> avg_pool2d(const std::vector<float>& x, int64_t planes, int64_t h,
                                      int64_t w, int64_t k, int64_t s, int64_t pad) {
  const auto window = windows(k, s, pad);
  return avg_pool_spans(x, planes, h, w, out_size(h, k, s, pad), out_size(w, k, s, pad), window,
                        window);
}

inline std::vector<double> avg_pool2d_backward(const std::vector<float>& dy, int64_t planes,
                                               int64_t h, int64_t w, int64_t k, int64_t s,
                                               int64_t pad) {
  const auto window = windows(k, s, pad);
  return avg_pool_spans_backward(dy, planes, h, w, out_size(h, k, s, pad), out_size(w, k, s, pad),
                                 window, window);
}

inline std::vector<double> adaptive_avg_pool2d(const std::vector<float>& x, int64_t planes,
                                               int64_t h, int64_t w, int64_t oh, int64_t ow) {
  return avg_pool_spans(x, planes, h, w, oh, ow, cells(h, oh), cells(w, ow));
}

inline std::vector<double> adaptive_avg_pool2d_backward(const std::vector<float>& dy,
                                                        int64_t planes, int64_t h, int64_t w,
                                                        int64_t oh, int64_t ow) {
  return avg_pool_spans_backward(dy, planes, h, w, oh, ow, cells(h, oh), cells(w, ow));
}

inline std::vector<double> adaptive_max_pool2d(const std::vector<float>& x, int64_t planes,
                                               int64_t h, int64_t w, int64_t oh, int64_t ow,
                                               std::vector<int64_t>* argmax = nullptr) {
  return max_pool_spans(x, planes, h, w, oh, ow, cells(h, oh), cells(w, ow), argmax);
}

inline std::vector<double> adaptive_max_pool2d_backward(const std::vector<float>& x,
                                                        const std::vector<float>& dy,
                                                        int64_t planes, int64_t h, int64_t w,
                                                        int64_t oh, int64_t ow) {
  std::vector<int64_t> argmax;
  adaptive_max_pool2d(x, planes, h, w, oh, ow, &argmax);
  return scatter_to_argmax(dy, argmax, planes, h, w);
}

// ---- bilinear resize with aligned corners ------------------------------------------------------

// Source coordinate of output index i: i * (in - 1) / (out - 1), or 0 when out == 1.
inline double aligned_source(int64_t i, int64_t in, int64_t out) {
  return out > 1
             ? static_cast<double>(i) * static_cast<double>(in - 1) / static_cast<double>(out - 1)
             : 0.0;
}

// The four input pixels output (oy, ox) reads, and its fractions between them.
struct BilinearTaps {
  int64_t y0, x0, y1, x1;
  double fy, fx;
};

inline BilinearTaps bilinear_taps(int64_t oy, int64_t ox, int64_t h, int64_t w, int64_t oh,
                                  int64_t ow) {
  const double sy = aligned_source(oy, h, oh), sx = aligned_source(ox, w, ow);
  const int64_t y0 = static_cast<int64_t>(std::floor(sy)),
                x0 = static_cast<int64_t>(std::floor(sx));
  return {y0, x0, std::min(y0 + 1, h - 1), std::min(x0 + 1, w - 1), sy - y0, sx - x0};
}

inline std::vector<double> resize_bilinear(const std::vector<float>& x, int64_t planes, int64_t h,
                                           int64_t w, int64_t oh, int64_t ow) {
  std::vector<double> y(planes * oh * ow);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        const auto [y0, x0, y1, x1, fy, fx] = bilinear_taps(oy, ox, h, w, oh, ow);
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
        const auto [y0, x0, y1, x1, fy, fx] = bilinear_taps(oy, ox, h, w, oh, ow);
        const double g = dy[(p * oh + oy) * ow + ox];
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

// ---- optimizer updates, one step ---------------------------------------------------------------

struct SgdStep {
  std::vector<double> param, velocity;
};

// PyTorch's SGD: g += wd·p; with momentum v = g on the first step, else μ v + (1 − dampening) g;
// the step is v, or g + μ v with Nesterov.
inline SgdStep sgd_step(const std::vector<float>& p, const std::vector<float>& g0,
                        const std::vector<float>& v0, double lr, double momentum, double dampening,
                        double weight_decay, bool nesterov, bool first) {
  SgdStep r{std::vector<double>(p.size()), std::vector<double>(v0.begin(), v0.end())};
  for (size_t i = 0; i < p.size(); ++i) {
    double g = g0[i] + weight_decay * p[i];
    if (momentum != 0.0) {
      r.velocity[i] = first ? g : momentum * v0[i] + (1.0 - dampening) * g;
      g = nesterov ? g + momentum * r.velocity[i] : r.velocity[i];
    }
    r.param[i] = p[i] - lr * g;
  }
  return r;
}

struct AdamWStep {
  std::vector<double> param, m, v;
};

// Decoupled weight decay p −= lr·wd·p, then the bias-corrected Adam step of `step` (1-based).
inline AdamWStep adamw_step(const std::vector<float>& p, const std::vector<float>& g,
                            const std::vector<float>& m0, const std::vector<float>& v0, double lr,
                            double beta1, double beta2, double eps, double weight_decay,
                            int64_t step) {
  AdamWStep r{std::vector<double>(p.size()), std::vector<double>(p.size()),
              std::vector<double>(p.size())};
  const double c1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double c2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  for (size_t i = 0; i < p.size(); ++i) {
    r.m[i] = beta1 * m0[i] + (1.0 - beta1) * g[i];
    r.v[i] = beta2 * v0[i] + (1.0 - beta2) * g[i] * g[i];
    const double decayed = p[i] * (1.0 - lr * weight_decay);
    r.param[i] = decayed - lr * (r.m[i] / c1) / (std::sqrt(r.v[i] / c2) + eps);
  }
  return r;
}

}  // namespace keel::reference
