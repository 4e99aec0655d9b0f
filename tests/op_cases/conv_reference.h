// Plain-loop float64 reference of conv2d forward and backward: the oracle the fast CPU path is
// tested against, written as the most direct reading of the definition (no im2col, no GEMM).
#pragma once

#include <cstdint>
#include <vector>

#include "keel/ops.h"

namespace keel::testing {

// x: (n, c, h, w), w: (k, c, r, s) -> y: (n, k, oh, ow) with oh = (h + 2 pad - r) / stride + 1.
struct ConvDims {
  int64_t n, c, h, w, k, r, s;
  int64_t stride = 1, pad = 0;
  int64_t oh() const { return (h + 2 * pad - r) / stride + 1; }
  int64_t ow() const { return (w + 2 * pad - s) / stride + 1; }
  Shape x_shape() const { return Shape{n, c, h, w}; }
  Shape w_shape() const { return Shape{k, c, r, s}; }
  Shape y_shape() const { return Shape{n, k, oh(), ow()}; }
  Conv2dArgs args() const { return Conv2dArgs{static_cast<int>(stride), static_cast<int>(pad)}; }
};

// y[n, k, i, j] = b[k] + Σ_{c, p, q} x[n, c, i·stride − pad + p, j·stride − pad + q] · w[k, c, p,
// q] (out-of-range x reads as zero). `b` may be empty (no bias).
inline std::vector<double> conv2d_reference_forward(const std::vector<float>& x,
                                                    const std::vector<float>& w,
                                                    const std::vector<float>& b,
                                                    const ConvDims& d) {
  const int64_t oh = d.oh(), ow = d.ow();
  std::vector<double> y(static_cast<size_t>(d.n * d.k * oh * ow));
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t k = 0; k < d.k; ++k)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = b.empty() ? 0.0 : b[static_cast<size_t>(k)];
          for (int64_t c = 0; c < d.c; ++c)
            for (int64_t p = 0; p < d.r; ++p)
              for (int64_t q = 0; q < d.s; ++q) {
                const int64_t ih = i * d.stride - d.pad + p, iw = j * d.stride - d.pad + q;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                acc += static_cast<double>(
                           x[static_cast<size_t>(((n * d.c + c) * d.h + ih) * d.w + iw)]) *
                       w[static_cast<size_t>(((k * d.c + c) * d.r + p) * d.s + q)];
              }
          y[static_cast<size_t>(((n * d.k + k) * oh + i) * ow + j)] = acc;
        }
  return y;
}

struct ConvGradients {
  std::vector<double> dx, dw, db;
};

// The gradients of L = Σ y ⊙ dy: each term x·w of the forward sum sends dy·w to dx and dy·x to dw.
inline ConvGradients conv2d_reference_backward(const std::vector<float>& x,
                                               const std::vector<float>& w,
                                               const std::vector<float>& dy, const ConvDims& d) {
  const int64_t oh = d.oh(), ow = d.ow();
  ConvGradients g;
  g.dx.assign(static_cast<size_t>(d.n * d.c * d.h * d.w), 0.0);
  g.dw.assign(static_cast<size_t>(d.k * d.c * d.r * d.s), 0.0);
  g.db.assign(static_cast<size_t>(d.k), 0.0);
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t k = 0; k < d.k; ++k)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          const double gy = dy[static_cast<size_t>(((n * d.k + k) * oh + i) * ow + j)];
          g.db[static_cast<size_t>(k)] += gy;
          for (int64_t c = 0; c < d.c; ++c)
            for (int64_t p = 0; p < d.r; ++p)
              for (int64_t q = 0; q < d.s; ++q) {
                const int64_t ih = i * d.stride - d.pad + p, iw = j * d.stride - d.pad + q;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                const size_t xi = static_cast<size_t>(((n * d.c + c) * d.h + ih) * d.w + iw);
                const size_t wi = static_cast<size_t>(((k * d.c + c) * d.r + p) * d.s + q);
                g.dx[xi] += gy * w[wi];
                g.dw[wi] += gy * x[xi];
              }
        }
  return g;
}

}  // namespace keel::testing
