// Convolution and linear cases: awkward shapes (odd everything, stride 2, padding), the shapes
// that straddle the CPU's GEMM tiles and vector widths, the flagship CNN's and ResNet-34's in
// miniature, and first layers whose input needs no gradient.
#include <string>

#include "keel/ops.h"
#include "op_cases/conv_reference.h"
#include "op_cases/misc_reference.h"
#include "op_cases/op_cases.h"

namespace keel::testing {

namespace {

struct ConvSpec {
  ConvDims d;
  bool bias = true;
  bool input_gradient = true;  // false: a first layer, dx not computed
};

std::string conv_name(const ConvSpec& s) {
  const ConvDims& d = s.d;
  auto n = [](int64_t v) { return std::to_string(v); };
  return "n" + n(d.n) + "c" + n(d.c) + "_" + n(d.h) + "x" + n(d.w) + "_k" + n(d.k) + "_r" + n(d.r) +
         "x" + n(d.s) + "_s" + n(d.stride) + "p" + n(d.pad) + (s.bias ? "_bias" : "") +
         (s.input_gradient ? "" : "_no_dx");
}

OpCase conv_case(const ConvSpec& s) {
  const ConvDims d = s.d;
  const Conv2dArgs args = d.args();
  OpCase c;
  c.op = "conv2d";
  c.shape = conv_name(s);
  c.operands = {{"x", d.x_shape(), s.input_gradient},
                {"w", d.w_shape(), true, Fill::uniform, -0.5f, 0.5f}};
  if (s.bias) c.operands.push_back({"b", Shape{d.k}, true});
  const bool bias = s.bias, want_dx = s.input_gradient;
  c.forward = [=](const Tensors& in, Tensors& out) {
    conv2d_forward(in[0], in[1], bias ? in[2] : Tensor(), slot(out, 0), args);
  };
  c.backward = [=](const Tensors& in, const Tensors&, const Tensor& dy, Tensors& g) {
    const size_t dw = want_dx ? 1 : 0;
    slot(g, dw + (bias ? 1 : 0));
    conv2d_backward(in[0], in[1], dy, want_dx ? &g[0] : nullptr, g[dw], bias ? &g[dw + 1] : nullptr,
                    args);
  };
  c.reference = [=](const Floats& in) {
    return Doubles{conv2d_reference_forward(in[0], in[1], bias ? in[2] : std::vector<float>{}, d)};
  };
  c.reference_backward = [=](const Floats& in, const std::vector<float>& dy) {
    ConvGradients r = conv2d_reference_backward(in[0], in[1], dy, d);
    Doubles grads;
    if (want_dx) grads.push_back(r.dx);
    grads.push_back(r.dw);
    if (bias) grads.push_back(r.db);
    return grads;
  };
  // Every output is a float dot product of at most C·R·S (forward, dx) or N·H'·W' (dw, db) terms:
  // rounding of ~1e-7·sqrt(terms). CUDA and the CPU sum in different orders, so twice that apart.
  c.reference_tol = 1e-5;
  c.parity_tol = 1e-4;
  c.flops = 2.0 * d.n * d.k * d.c * d.r * d.s * d.oh() * d.ow();
  return c;
}

OpCase linear_case(int64_t n, int64_t in_features, int64_t out_features, bool bias,
                   bool input_gradient = true) {
  OpCase c;
  c.op = "linear";
  c.shape = std::to_string(n) + "x" + std::to_string(in_features) + "_to" +
            std::to_string(out_features) + (bias ? "_bias" : "") + (input_gradient ? "" : "_no_dx");
  c.operands = {{"x", Shape{n, in_features}, input_gradient},
                {"w", Shape{out_features, in_features}, true, Fill::uniform, -0.5f, 0.5f}};
  if (bias) c.operands.push_back({"b", Shape{out_features}, true});
  c.forward = [=](const Tensors& in, Tensors& out) {
    linear_forward(in[0], in[1], bias ? in[2] : Tensor(), slot(out, 0));
  };
  c.backward = [=](const Tensors& in, const Tensors&, const Tensor& dy, Tensors& g) {
    const size_t dw = input_gradient ? 1 : 0;
    slot(g, dw + (bias ? 1 : 0));
    linear_backward(in[0], in[1], dy, input_gradient ? &g[0] : nullptr, g[dw],
                    bias ? &g[dw + 1] : nullptr);
  };
  const reference::LinearDims d{n, in_features, out_features};
  c.reference = [=](const Floats& in) {
    return Doubles{reference::linear(in[0], in[1], bias ? in[2] : std::vector<float>{}, d)};
  };
  c.reference_backward = [=](const Floats& in, const std::vector<float>& dy) {
    reference::LinearGradients r = reference::linear_backward(in[0], in[1], dy, d);
    Doubles grads;
    if (input_gradient) grads.push_back(r.dx);
    grads.push_back(r.dw);
    if (bias) grads.push_back(r.db);
    return grads;
  };
  c.reference_tol = 1e-5;  // dot products of at most max(N, I) terms, as for conv2d
  c.parity_tol = 1e-4;
  c.flops = 2.0 * n * in_features * out_features;
  return c;
}

std::vector<ConvSpec> conv_specs() {
  return {
      // Batch 3, 5×7 images, 3→5 channels (odd everywhere), kernels 1/3/5 and 3×1, padding 0/1,
      // stride 1/2.
      {{3, 3, 5, 7, 5, 1, 1, 1, 0}, true},
      {{3, 3, 5, 7, 5, 1, 1, 2, 1}, false},
      {{3, 3, 5, 7, 5, 3, 3, 1, 0}, false},
      {{3, 3, 5, 7, 5, 3, 3, 1, 1}, true},
      {{3, 3, 5, 7, 5, 3, 3, 2, 0}, true},
      {{3, 3, 5, 7, 5, 3, 3, 2, 1}, false},
      {{3, 3, 5, 7, 5, 5, 5, 1, 0}, true},
      {{3, 3, 5, 7, 5, 5, 5, 1, 1}, false},
      {{3, 3, 5, 7, 5, 5, 5, 2, 1}, true},
      {{3, 3, 5, 7, 5, 3, 1, 2, 1}, true},
      {{2, 3, 5, 7, 4, 3, 3, 2, 1}, true},
      {{5, 4, 4, 4, 3, 2, 3, 1, 1}, true},  // a kernel of even height
      // Stride 1 with the output as wide as the input (the load-based im2col): a 1×3 kernel
      // whose output is taller than its input, and a 5×5 "same".
      {{3, 3, 5, 7, 5, 1, 3, 1, 1}, false},
      {{2, 3, 6, 6, 4, 5, 5, 1, 2}, true},
      // The flagship CNN's shapes, whose sizes fill the GEMM tiles exactly, and its first layer.
      {{1, 1, 6, 6, 32, 3, 3, 1, 1}, true},
      {{64, 1, 6, 6, 32, 3, 3, 1, 1}, true, false},
      {{5, 7, 9, 11, 13, 3, 3, 1, 1}, true},
      {{64, 32, 6, 6, 64, 3, 3, 1, 1}, true},
      {{64, 64, 3, 3, 128, 3, 3, 1, 1}, false},
      {{2, 64, 14, 14, 64, 3, 3, 1, 1}, false},
      // Images too large for one work chunk: split into pieces of an image.
      {{1, 3, 100, 100, 5, 3, 3, 1, 1}, true},
      {{1, 3, 200, 200, 5, 3, 3, 2, 1}, false},
      // ResNet-34's shapes in miniature: 7×7 images whose 49 columns straddle the 48-wide GEMM
      // panels, the 3×3 stride-2 downsampling and the 1×1 stride-2 projection (col2im walked row
      // by row, sixteen terms at a time where an output row has 16 or more columns), a 7×7
      // stride-2 stem (a first layer) and an odd-channel 5×3 kernel (the weight gradient's channel
      // runs merged across window columns, with per-lane padding at the image border).
      {{5, 16, 7, 7, 24, 3, 3, 1, 1}, true},
      {{3, 40, 14, 14, 40, 3, 3, 1, 1}, false},
      {{3, 16, 14, 14, 32, 3, 3, 2, 1}, false},
      {{3, 16, 14, 14, 32, 1, 1, 2, 0}, true},
      {{3, 16, 13, 13, 24, 1, 1, 1, 0}, true},
      {{2, 3, 30, 30, 16, 7, 7, 2, 3}, true},
      {{2, 3, 30, 30, 16, 7, 7, 2, 3}, false, false},
      {{2, 5, 11, 9, 8, 5, 3, 1, 2}, false},
      {{5, 64, 30, 30, 64, 3, 3, 2, 1}, false},
      {{2, 16, 40, 40, 24, 1, 1, 2, 0}, true},
      {{2, 8, 37, 41, 8, 3, 3, 2, 1}, false},
      // Edges of the 8-lane (AVX2) and 16-lane (AVX-512) vector paths: 1×1, 1×2 and 2×2 images,
      // so one vector of im2col columns spans 8, 4 or 2-3 images; 13 channels (a whole 8-channel
      // transpose tile and a tail of 5) with 21-pixel images and 9 filters (two whole 4-row GEMM
      // panels and one row); and stride-2 input gradients whose last 8 output columns end at the
      // last column of a 15-wide row, so the block of 16 floats col2im updates reaches into the
      // next row or, at the end of an image, the next image.
      {{9, 4, 1, 1, 6, 3, 3, 1, 1}, true},
      {{7, 3, 1, 2, 5, 3, 3, 1, 1}, false},
      {{5, 2, 2, 2, 4, 3, 3, 1, 1}, true},
      {{2, 13, 3, 7, 9, 3, 3, 1, 1}, true},
      {{2, 3, 15, 15, 4, 1, 1, 2, 0}, false},
      {{3, 6, 17, 15, 8, 3, 3, 2, 1}, true},
      {{1, 16, 7, 7, 9, 3, 3, 1, 1}, true},
  };
}

}  // namespace

std::vector<OpCase> conv_and_linear_cases() {
  std::vector<OpCase> cases;
  for (const ConvSpec& s : conv_specs()) cases.push_back(conv_case(s));
  // Odd sizes smaller than a tile, the flagship head (64×128 → 64 → 2) and the ResNet head.
  for (bool bias : {true, false}) {
    cases.push_back(linear_case(3, 5, 7, bias));
    cases.push_back(linear_case(17, 33, 9, bias));
  }
  cases.push_back(linear_case(1, 1, 1, true));
  cases.push_back(linear_case(64, 128, 64, true));
  cases.push_back(linear_case(64, 64, 2, true));
  cases.push_back(linear_case(64, 1024, 512, false));
  cases.push_back(linear_case(64, 1024, 512, false, false));  // a first layer: no dx
  cases.push_back(linear_case(7, 13, 5, true, false));
  return cases;
}

}  // namespace keel::testing
