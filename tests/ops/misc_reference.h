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
