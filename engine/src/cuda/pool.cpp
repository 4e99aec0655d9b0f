// Pooling ops on the CUDA device (x: (N, C, H, W) -> y: (N, C, H', W')).
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/op_util.h"
#include "pool.cuh"

namespace keel::cuda {

namespace {

// The op layer (op_shapes.cpp) has checked every operand and window; these only size the work.
PoolGeometry window_geometry(const Tensor& x, Pool2dArgs a) {
  PoolGeometry g{};
  g.planes = x.dim(0) * x.dim(1);
  g.h = x.dim(2);
  g.w = x.dim(3);
  g.out_h = conv_out_size(g.h, a.kernel, a.stride, a.padding);
  g.out_w = conv_out_size(g.w, a.kernel, a.stride, a.padding);
  g.kernel = a.kernel;
  g.stride = a.stride;
  g.padding = a.padding;
  return g;
}

// Any output size, also larger than the input: a cell then repeats input pixels (as PyTorch).
PoolGeometry adaptive_geometry(const Tensor& x, int64_t out_h, int64_t out_w) {
  PoolGeometry g{};
  g.planes = x.dim(0) * x.dim(1);
  g.h = x.dim(2);
  g.w = x.dim(3);
  g.out_h = out_h;
  g.out_w = out_w;
  return g;
}

Shape out_shape(const Tensor& x, const PoolGeometry& g) { return Shape{x.dim(0), x.dim(1), g.out_h, g.out_w}; }

}  // namespace

void max_pool2d_forward(const Tensor& x, Tensor& y, Pool2dArgs a) {
  const PoolGeometry g = window_geometry(x, a);
  y.ensure(out_shape(x, g), Device::cuda);
  launch_max_pool_forward(x.data(), g, y.data(), stream());
}

void max_pool2d_backward(const Tensor& x, const Tensor& dy, Tensor& dx, Pool2dArgs a) {
  const PoolGeometry g = window_geometry(x, a);
  dx.ensure(x.shape(), Device::cuda);
  launch_max_pool_backward(x.data(), dy.data(), g, dx.data(), stream());
}

void avg_pool2d_forward(const Tensor& x, Tensor& y, Pool2dArgs a) {
  const PoolGeometry g = window_geometry(x, a);
  y.ensure(out_shape(x, g), Device::cuda);
  launch_avg_pool_forward(x.data(), g, y.data(), stream());
}

void avg_pool2d_backward(const Tensor& dy, Tensor& dx, Pool2dArgs a, int64_t in_h, int64_t in_w) {
  const Shape in_shape{dy.dim(0), dy.dim(1), in_h, in_w};
  dx.ensure(in_shape, Device::cuda);
  const PoolGeometry g = window_geometry(dx, a);
  launch_avg_pool_backward(dy.data(), g, dx.data(), stream());
}

void adaptive_avg_pool2d_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) {
  const PoolGeometry g = adaptive_geometry(x, out_h, out_w);
  y.ensure(out_shape(x, g), Device::cuda);
  launch_adaptive_avg_forward(x.data(), g, y.data(), stream());
}

void adaptive_avg_pool2d_backward(const Tensor& dy, Tensor& dx, int64_t in_h, int64_t in_w) {
  dx.ensure(Shape{dy.dim(0), dy.dim(1), in_h, in_w}, Device::cuda);
  const PoolGeometry g = adaptive_geometry(dx, dy.dim(2), dy.dim(3));
  launch_adaptive_avg_backward(dy.data(), g, dx.data(), stream());
}

void adaptive_max_pool2d_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) {
  const PoolGeometry g = adaptive_geometry(x, out_h, out_w);
  y.ensure(out_shape(x, g), Device::cuda);
  launch_adaptive_max_forward(x.data(), g, y.data(), stream());
}

void adaptive_max_pool2d_backward(const Tensor& x, const Tensor& dy, Tensor& dx) {
  const PoolGeometry g = adaptive_geometry(x, dy.dim(2), dy.dim(3));
  dx.ensure(x.shape(), Device::cuda);
  launch_adaptive_max_backward(x.data(), dy.data(), g, dx.data(), stream());
}

}  // namespace keel::cuda
