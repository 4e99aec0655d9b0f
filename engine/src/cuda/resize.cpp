// Bilinear image resizing (forward and backward) on the CUDA device.
#include "resize.cuh"
#include "cuda/context.h"
#include "cuda/cuda_ops.h"
#include "cuda/op_util.h"

namespace keel::cuda {

// x: (N, C, H, W) -> y: (N, C, out_h, out_w)
void resize_bilinear_forward(const Tensor& x, Tensor& y, int64_t out_h, int64_t out_w) {
  y.ensure(Shape{x.dim(0), x.dim(1), out_h, out_w}, Device::cuda);
  launch_resize_bilinear_forward(x.data(), x.dim(0) * x.dim(1), x.dim(2), x.dim(3), y.data(), out_h,
                                 out_w, stream());
}

void resize_bilinear_backward(const Tensor& dy, Tensor& dx, int64_t in_h, int64_t in_w) {
  dx.ensure(Shape{dy.dim(0), dy.dim(1), in_h, in_w}, Device::cuda);
  launch_resize_bilinear_backward(dy.data(), dy.dim(0) * dy.dim(1), dy.dim(2), dy.dim(3), dx.data(),
                                  in_h, in_w, stream());
}

}  // namespace keel::cuda
