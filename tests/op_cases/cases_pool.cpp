// Pooling and resize cases: max and average pools over awkward planes (stride 2, padding 0 and 1,
// overlapping windows, gaps between windows, the widths of the 2×2 pool's vector path), adaptive
// pools to sizes that do not divide (and to larger ones), and bilinear resize up and down.
#include <string>
#include <utility>

#include "keel/ops.h"
#include "op_cases/misc_reference.h"
#include "op_cases/op_cases.h"

namespace keel::testing {

namespace {

using Size = std::pair<int64_t, int64_t>;

std::string plane_name(const Shape& s) {
  return std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]) + "x" +
         std::to_string(s[3]);
}

struct Plane {
  int64_t planes, h, w;
};

Plane plane_of(const Shape& s) {
  return {s[0] * s[1], s[2], s[3]};
}

// Max pools see tie-free inputs: a ±1e-2 step never changes which element is a window's maximum,
// and no tie hides a wrong choice between equal values. Their outputs are copies of inputs.
OpCase window_case(const Shape& x, Pool2dArgs a, bool max) {
  const Plane p = plane_of(x);
  OpCase c;
  c.op = max ? "max_pool2d" : "avg_pool2d";
  c.shape = plane_name(x) + "_k" + std::to_string(a.kernel) + "s" + std::to_string(a.stride) + "p" +
            std::to_string(a.padding);
  c.operands = {{"x", x, true, max ? Fill::tie_free : Fill::uniform}};
  if (max) {
    c.forward = [a](const Tensors& in, Tensors& out) {
      max_pool2d_forward(in[0], slot(out, 0), a);
    };
    c.backward = [a](const Tensors& in, const Tensors&, const Tensor& dy, Tensors& g) {
      max_pool2d_backward(in[0], dy, slot(g, 0), a);
    };
    c.reference = [=](const Floats& in) {
      return Doubles{
          reference::max_pool2d(in[0], p.planes, p.h, p.w, a.kernel, a.stride, a.padding)};
    };
    c.reference_backward = [=](const Floats& in, const std::vector<float>& dy) {
      return Doubles{reference::max_pool2d_backward(in[0], dy, p.planes, p.h, p.w, a.kernel,
                                                    a.stride, a.padding)};
    };
    c.reference_tol = 1e-7;
  } else {
    c.forward = [a](const Tensors& in, Tensors& out) {
      avg_pool2d_forward(in[0], slot(out, 0), a);
    };
    c.backward = [a, p](const Tensors&, const Tensors&, const Tensor& dy, Tensors& g) {
      avg_pool2d_backward(dy, slot(g, 0), a, p.h, p.w);
    };
    c.reference = [=](const Floats& in) {
      return Doubles{
          reference::avg_pool2d(in[0], p.planes, p.h, p.w, a.kernel, a.stride, a.padding)};
    };
    c.reference_backward = [=](const Floats&, const std::vector<float>& dy) {
      return Doubles{
          reference::avg_pool2d_backward(dy, p.planes, p.h, p.w, a.kernel, a.stride, a.padding)};
    };
    c.reference_tol = 1e-6;
  }
  c.backward_reference_tol = 1e-6;  // dx sums a few dy shares per element
  c.parity_tol = 1e-6;
  return c;
}

OpCase adaptive_case(const Shape& x, Size out_size, bool max) {
  const Plane p = plane_of(x);
  const auto [oh, ow] = out_size;
  OpCase c;
  c.op = max ? "adaptive_max_pool2d" : "adaptive_avg_pool2d";
  c.shape = plane_name(x) + "_to" + std::to_string(oh) + "x" + std::to_string(ow);
  c.operands = {{"x", x, true, max ? Fill::tie_free : Fill::uniform}};
  if (max) {
    c.forward = [=](const Tensors& in, Tensors& out) {
      adaptive_max_pool2d_forward(in[0], slot(out, 0), oh, ow);
    };
    c.backward = [](const Tensors& in, const Tensors&, const Tensor& dy, Tensors& g) {
      adaptive_max_pool2d_backward(in[0], dy, slot(g, 0));
    };
    c.reference = [=](const Floats& in) {
      return Doubles{reference::adaptive_max_pool2d(in[0], p.planes, p.h, p.w, oh, ow)};
    };
    c.reference_backward = [=](const Floats& in, const std::vector<float>& dy) {
      return Doubles{
          reference::adaptive_max_pool2d_backward(in[0], dy, p.planes, p.h, p.w, oh, ow)};
    };
    c.reference_tol = 1e-7;
    c.parity_tol = 1e-6;
  } else {
    c.forward = [=](const Tensors& in, Tensors& out) {
      adaptive_avg_pool2d_forward(in[0], slot(out, 0), oh, ow);
    };
    c.backward = [p](const Tensors&, const Tensors&, const Tensor& dy, Tensors& g) {
      adaptive_avg_pool2d_backward(dy, slot(g, 0), p.h, p.w);
    };
    c.reference = [=](const Floats& in) {
      return Doubles{reference::adaptive_avg_pool2d(in[0], p.planes, p.h, p.w, oh, ow)};
    };
    c.reference_backward = [=](const Floats&, const std::vector<float>& dy) {
      return Doubles{reference::adaptive_avg_pool2d_backward(dy, p.planes, p.h, p.w, oh, ow)};
    };
    c.reference_tol = 1e-6;
    c.parity_tol = 1e-5;  // cell sums in another order
  }
  c.backward_reference_tol = 1e-6;
  return c;
}

OpCase resize_case(const Shape& x, Size out_size) {
  const Plane p = plane_of(x);
  const auto [oh, ow] = out_size;
  OpCase c;
  c.op = "resize_bilinear";
  c.shape = plane_name(x) + "_to" + std::to_string(oh) + "x" + std::to_string(ow);
  c.operands = {{"x", x, true}};
  c.forward = [=](const Tensors& in, Tensors& out) {
    resize_bilinear_forward(in[0], slot(out, 0), oh, ow);
  };
  c.backward = [p](const Tensors&, const Tensors&, const Tensor& dy, Tensors& g) {
    resize_bilinear_backward(dy, slot(g, 0), p.h, p.w);
  };
  c.reference = [=](const Floats& in) {
    return Doubles{reference::resize_bilinear(in[0], p.planes, p.h, p.w, oh, ow)};
  };
  c.reference_backward = [=](const Floats&, const std::vector<float>& dy) {
    return Doubles{reference::resize_bilinear_backward(dy, p.planes, p.h, p.w, oh, ow)};
  };
  c.reference_tol = 1e-6;
  c.backward_reference_tol = 1e-5;  // for 6×6 → 224×224 each input sums ~1400 contributions
  c.parity_tol = 1e-5;
  return c;
}

}  // namespace

std::vector<OpCase> pool_and_resize_cases() {
  std::vector<OpCase> cases;
  const Shape awkward{3, 5, 5, 7};
  const std::vector<Pool2dArgs> windows{{2, 2, 0}, {3, 2, 1}, {3, 2, 0}, {3, 1, 1}, {2, 1, 1}};
  // Widths up to 16 take the one-vector-per-row path of the 2×2 max pool (even and odd sizes),
  // wider ones the scalar loop; the flagship CNN's planes take the parallel path.
  for (const Shape& x : {awkward, Shape{64, 32, 6, 6}, Shape{2, 3, 5, 16}, Shape{2, 3, 4, 17}}) {
    for (const Pool2dArgs& a : windows) cases.push_back(window_case(x, a, true));
  }
  for (const Shape& x : {awkward, Shape{64, 32, 6, 6}}) {
    for (const Pool2dArgs& a : windows) cases.push_back(window_case(x, a, false));
  }
  // ResNet's stem pool, windows that tile, overlap, and leave gaps.
  const std::vector<std::pair<Shape, Pool2dArgs>> more{{{3, 5, 7, 9}, {3, 2, 1}},
                                                       {{3, 4, 8, 6}, {2, 2, 0}},
                                                       {{2, 3, 9, 7}, {3, 1, 1}},
                                                       {{1, 2, 5, 5}, {2, 3, 0}}};
  for (const auto& [x, a] : more) {
    for (bool max : {true, false}) cases.push_back(window_case(x, a, max));
  }
  // Global, non-dividing, equal to the input, and larger than the input; the concat-pool head.
  for (bool max : {true, false}) {
    for (Size s : {Size{1, 1}, {2, 3}, {3, 4}, {4, 5}, {5, 7}, {6, 9}}) {
      cases.push_back(adaptive_case(awkward, s, max));
    }
    for (Size s : {Size{3, 4}, {7, 9}, {9, 11}})
      cases.push_back(adaptive_case({3, 5, 7, 9}, s, max));
    cases.push_back(adaptive_case({64, 128, 3, 3}, {1, 1}, max));
    cases.push_back(adaptive_case({2, 512, 7, 7}, {1, 1}, max));
  }
  // Up and down, single-pixel outputs and inputs, the demo's 6×6 → 224×224 (the parallel path).
  for (Size s : {Size{9, 11}, {2, 3}, {1, 1}, {1, 4}, {5, 7}, {13, 6}, {17, 29}}) {
    cases.push_back(resize_case(awkward, s));
  }
  cases.push_back(resize_case({1, 3, 1, 1}, {4, 5}));
  cases.push_back(resize_case({2, 3, 6, 6}, {13, 17}));
  cases.push_back(resize_case({2, 3, 9, 7}, {4, 5}));
  cases.push_back(resize_case({2, 3, 1, 5}, {3, 4}));
  cases.push_back(resize_case({2, 3, 6, 6}, {224, 224}));
  return cases;
}

}  // namespace keel::testing
