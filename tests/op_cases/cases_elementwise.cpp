// Element-wise and channel cases: ReLU, add, scale, per-channel normalisation, channel concat and
// its split, row gathers, and dropout (whose mask is drawn afresh from the same seed each pass).
#include <string>

#include "keel/ops.h"
#include "keel/random.h"
#include "op_cases/op_cases.h"

namespace keel::testing {

namespace {

std::string dims_name(const Shape& s) {
  std::string name;
  for (int i = 0; i < s.ndim(); ++i) name += (i ? "x" : "") + std::to_string(s[i]);
  return name;
}

// Inputs at |x| ≥ 0.1, so a ±1e-2 step never crosses the kink at 0.
OpCase relu_case(const Shape& x) {
  OpCase c;
  c.op = "relu";
  c.shape = dims_name(x);
  c.operands = {{"x", x, true, Fill::away_from_zero}};
  c.forward = [](const Tensors& in, Tensors& out) { relu_forward(in[0], slot(out, 0)); };
  c.backward = [](const Tensors&, const Tensors& out, const Tensor& dy, Tensors& g) {
    relu_backward(out[0], dy, slot(g, 0));
  };
  c.reference = [](const Floats& in) {
    std::vector<double> y = widen(in[0]);
    for (double& v : y) v = v > 0.0 ? v : 0.0;
    return Doubles{y};
  };
  c.reference_backward = [](const Floats& in, const std::vector<float>& dy) {
    std::vector<double> dx(dy.size());
    for (size_t i = 0; i < dx.size(); ++i) dx[i] = in[0][i] > 0.0f ? dy[i] : 0.0;
    return Doubles{dx};
  };
  c.reference_tol = 0;  // a copy or a zero: exact
  c.parity_tol = 0;
  return c;
}

OpCase add_case(const Shape& x) {
  OpCase c;
  c.op = "add";
  c.shape = dims_name(x);
  c.operands = {{"a", x}, {"b", x}};
  c.forward = [](const Tensors& in, Tensors& out) { add(in[0], in[1], slot(out, 0)); };
  c.reference = [](const Floats& in) {
    std::vector<double> y(in[0].size());
    for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<double>(in[0][i]) + in[1][i];
    return Doubles{y};
  };
  c.reference_tol = 1e-7;  // one rounding per element
  c.parity_tol = 0;
  return c;
}

OpCase scale_case(const Shape& x, float alpha) {
  OpCase c;
  c.op = "scale";
  c.shape = dims_name(x);
  c.operands = {{"x", x}};
  c.forward = [alpha](const Tensors& in, Tensors& out) { scale(in[0], alpha, slot(out, 0)); };
  c.reference = [alpha](const Floats& in) {
    std::vector<double> y = widen(in[0]);
    for (double& v : y) v *= alpha;
    return Doubles{y};
  };
  c.reference_tol = 1e-7;
  c.parity_tol = 0;
  return c;
}

// ImageNet-like statistics per channel.
OpCase normalize_case(const Shape& x) {
  OpCase c;
  c.op = "normalize_channels";
  c.shape = dims_name(x);
  c.operands = {{"x", x, false, Fill::uniform, 0.0f, 1.0f},
                {"mean", Shape{x[1]}, false, Fill::uniform, 0.4f, 0.5f},
                {"std", Shape{x[1]}, false, Fill::uniform, 0.2f, 0.25f}};
  c.forward = [](const Tensors& in, Tensors& out) {
    normalize_channels(in[0], in[1], in[2], slot(out, 0));
  };
  const int64_t channels = x[1], plane = x.numel() / (x[0] * x[1]);
  c.reference = [=](const Floats& in) {
    std::vector<double> y(in[0].size());
    for (size_t i = 0; i < y.size(); ++i) {
      const size_t ch = (i / plane) % channels;
      y[i] = (in[0][i] - static_cast<double>(in[1][ch])) / in[2][ch];
    }
    return Doubles{y};
  };
  c.reference_tol = 1e-6;
  c.parity_tol = 1e-6;
  return c;
}

// a and b differ only in their channel count (dimension 1).
OpCase concat_case(const Shape& a, int64_t b_channels) {
  std::vector<int64_t> dims = a.dims();
  dims[1] = b_channels;
  const Shape b(dims);
  const int64_t ca = a[1], rows = a[0], inner = a.numel() / (a[0] * a[1]);
  OpCase c;
  c.op = "concat_channels";
  c.shape = dims_name(a) + "_plus" + std::to_string(b_channels);
  c.operands = {{"a", a, true}, {"b", b, true}};
  c.forward = [](const Tensors& in, Tensors& out) { concat_channels(in[0], in[1], slot(out, 0)); };
  c.backward = [ca](const Tensors&, const Tensors&, const Tensor& dy, Tensors& g) {
    slot(g, 1);
    split_channels(dy, ca, g[0], g[1]);
  };
  auto join = [=](const std::vector<float>& x, const std::vector<float>& y) {
    std::vector<double> out;
    for (int64_t n = 0; n < rows; ++n) {
      out.insert(out.end(), x.begin() + n * ca * inner, x.begin() + (n + 1) * ca * inner);
      out.insert(out.end(), y.begin() + n * b_channels * inner,
                 y.begin() + (n + 1) * b_channels * inner);
    }
    return out;
  };
  c.reference = [join](const Floats& in) { return Doubles{join(in[0], in[1])}; };
  c.reference_backward = [=](const Floats&, const std::vector<float>& dy) {
    Doubles g(2);
    const int64_t row = (ca + b_channels) * inner;
    for (int64_t n = 0; n < rows; ++n) {
      g[0].insert(g[0].end(), dy.begin() + n * row, dy.begin() + n * row + ca * inner);
      g[1].insert(g[1].end(), dy.begin() + n * row + ca * inner, dy.begin() + (n + 1) * row);
    }
    return g;
  };
  c.reference_tol = 0;  // copies
  c.parity_tol = 0;
  return c;
}

OpCase gather_case(const Shape& src, int64_t picks) {
  const int64_t row = src.numel() / src[0];
  OpCase c;
  c.op = "gather_rows";
  c.shape = dims_name(src) + "_pick" + std::to_string(picks);
  c.operands = {
      {"src", src},
      {"indices", Shape{picks}, false, Fill::whole_numbers, 0.0f, static_cast<float>(src[0])}};
  c.forward = [](const Tensors& in, Tensors& out) { gather_rows(in[0], in[1], slot(out, 0)); };
  c.reference = [row](const Floats& in) {
    std::vector<double> y;
    for (float index : in[1]) {
      const auto first = in[0].begin() + static_cast<int64_t>(index) * row;
      y.insert(y.end(), first, first + row);
    }
    return Doubles{y};
  };
  c.reference_tol = 0;
  c.parity_tol = 0;
  return c;
}

// No float64 reference: the mask follows the Philox recipe, checked on its own in
// tests/ops/dropout_test.cpp. Here: the gradient, and the same mask on every device and path.
OpCase dropout_case(const Shape& x, float p) {
  OpCase c;
  c.op = "dropout";
  c.shape = dims_name(x) + "_p" + std::to_string(static_cast<int>(p * 100));
  c.operands = {{"x", x, true}};
  c.forward = [p](const Tensors& in, Tensors& out) {
    slot(out, 1);
    Generator gen(1234);  // afresh each pass: the same mask every time
    gen.reserve(17);      // a counter offset, as a generator has after earlier layers drew theirs
    dropout_forward(in[0], p, gen, out[0], out[1]);
  };
  c.backward = [](const Tensors&, const Tensors& out, const Tensor& dy, Tensors& g) {
    dropout_backward(dy, out[1], slot(g, 0));  // out[1]: the mask
  };
  c.parity_tol = 0;  // the same mask bit for bit, and one multiplication per element
  return c;
}

}  // namespace

std::vector<OpCase> elementwise_cases() {
  std::vector<OpCase> cases;
  // 3·5·5·7 elements, and the flagship's activations for the parallel path.
  for (const Shape& x : {Shape{3, 5, 5, 7}, Shape{64, 32, 6, 6}}) {
    cases.push_back(relu_case(x));
    cases.push_back(add_case(x));
    cases.push_back(scale_case(x, -2.5f));
  }
  cases.push_back(scale_case({64, 1024}, 0.37f));
  cases.push_back(normalize_case({3, 3, 5, 7}));
  cases.push_back(normalize_case({2, 3, 224, 224}));
  cases.push_back(concat_case({3, 5, 2, 3}, 7));
  cases.push_back(concat_case({3, 5}, 7));
  cases.push_back(concat_case({4, 512, 1, 1}, 512));  // the concat-pool head
  cases.push_back(gather_case({9, 3, 2, 2}, 5));
  cases.push_back(gather_case({712, 36}, 64));  // a batch of the flagship's feature rows
  // A row length that is not a multiple of 4: the last Philox counter is partly used.
  for (float p : {0.25f, 0.5f}) cases.push_back(dropout_case({3, 1027}, p));
  cases.push_back(dropout_case({4, 33}, 0.25f));
  return cases;
}

}  // namespace keel::testing
