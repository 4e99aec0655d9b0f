// The table of op_shape_cases.h.
#include "support/op_shape_cases.h"

#include "keel/ops.h"
#include "keel/random.h"

namespace keel::testing {

namespace {

Tensor on(Device device, const Shape& shape) {
  return Tensor::full(shape, 0.5f).to(device);
}

std::vector<OpShapeCase> conv_cases() {
  auto forward = [](Shape xs, Shape ws, Shape bs, Conv2dArgs a) {
    return [=](Device d) {
      Tensor y;
      conv2d_forward(on(d, xs), on(d, ws), bs.ndim() ? on(d, bs) : Tensor(), y, a);
    };
  };
  auto backward = [](Shape xs, Shape ws, Shape dys, Conv2dArgs a) {
    return [=](Device d) {
      Tensor dx, dw, db;
      conv2d_backward(on(d, xs), on(d, ws), on(d, dys), &dx, dw, &db, a);
    };
  };
  const Shape x{2, 3, 5, 5}, w{4, 3, 3, 3};
  return {
      {"x without a batch dimension", "conv2d_forward", forward({3, 5, 5}, w, {}, {})},
      {"w of rank 3", "conv2d_forward", forward(x, {4, 3, 3}, {}, {})},
      {"channels of x and w differ", "conv2d_forward", forward({2, 4, 5, 5}, w, {}, {})},
      {"a bias of the wrong length", "conv2d_forward", forward(x, w, {3}, {})},
      {"a window larger than the input", "conv2d_forward", forward(x, {4, 3, 7, 7}, {}, {})},
      {"stride 0", "conv2d_forward", forward(x, w, {}, Conv2dArgs{0, 1})},
      {"negative padding", "conv2d_forward", forward(x, w, {}, Conv2dArgs{1, -1})},
      {"filters with no output channel", "conv2d_forward", forward(x, {0, 3, 3, 3}, {}, {})},
      {"dy of the input's size", "conv2d_backward", backward(x, w, {2, 4, 5, 5}, {})},
      {"dy of another batch", "conv2d_backward", backward(x, w, {3, 4, 3, 3}, {})},
      {"channels of x and w differ", "conv2d_backward",
       backward({2, 4, 5, 5}, w, {2, 4, 3, 3}, {})},
  };
}

std::vector<OpShapeCase> linear_cases() {
  auto forward = [](Shape xs, Shape ws, Shape bs) {
    return [=](Device d) {
      Tensor y;
      linear_forward(on(d, xs), on(d, ws), bs.ndim() ? on(d, bs) : Tensor(), y);
    };
  };
  auto backward = [](Shape xs, Shape ws, Shape dys) {
    return [=](Device d) {
      Tensor dx, dw, db;
      linear_backward(on(d, xs), on(d, ws), on(d, dys), &dx, dw, &db);
    };
  };
  return {
      {"inputs of x and w differ", "linear_forward", forward({4, 6}, {3, 5}, {})},
      {"x of rank 3", "linear_forward", forward({4, 6, 1}, {3, 6}, {})},
      {"a bias of the wrong length", "linear_forward", forward({4, 6}, {3, 6}, {4})},
      {"dy with the wrong outputs", "linear_backward", backward({4, 6}, {3, 6}, {4, 4})},
      {"dy of another batch", "linear_backward", backward({4, 6}, {3, 6}, {3, 3})},
      {"inputs of x and w differ", "linear_backward", backward({4, 6}, {3, 5}, {4, 3})},
  };
}

std::vector<OpShapeCase> pool_cases() {
  auto max_forward = [](Shape xs, Pool2dArgs a) {
    return [=](Device d) {
      Tensor y;
      max_pool2d_forward(on(d, xs), y, a);
    };
  };
  auto avg_forward = [](Shape xs, Pool2dArgs a) {
    return [=](Device d) {
      Tensor y;
      avg_pool2d_forward(on(d, xs), y, a);
    };
  };
  auto max_backward = [](Shape xs, Shape dys, Pool2dArgs a) {
    return [=](Device d) {
      Tensor dx;
      max_pool2d_backward(on(d, xs), on(d, dys), dx, a);
    };
  };
  auto avg_backward = [](Shape dys, Pool2dArgs a, int64_t h, int64_t w) {
    return [=](Device d) {
      Tensor dx;
      avg_pool2d_backward(on(d, dys), dx, a, h, w);
    };
  };
  auto adaptive = [](bool max, Shape xs, int64_t oh, int64_t ow) {
    return [=](Device d) {
      Tensor y;
      if (max) {
        adaptive_max_pool2d_forward(on(d, xs), y, oh, ow);
      } else {
        adaptive_avg_pool2d_forward(on(d, xs), y, oh, ow);
      }
    };
  };
  const Shape x{3, 5, 5, 7};
  return {
      {"x of rank 2", "max_pool2d_forward", max_forward({3, 5}, {})},
      {"a window taller than the input", "max_pool2d_forward", max_forward(x, {7, 1, 0})},
      {"padding over half the window", "max_pool2d_forward", max_forward(x, {2, 2, 2})},
      {"stride 0", "avg_pool2d_forward", avg_forward(x, {2, 0, 0})},
      {"x of rank 2", "avg_pool2d_forward", avg_forward({3, 5}, {})},
      {"dy of the input's size", "max_pool2d_backward", max_backward(x, x, {})},
      {"dy of the input's size", "avg_pool2d_backward", avg_backward(x, {}, 5, 7)},
      {"an input the window does not fit", "avg_pool2d_backward",
       avg_backward({3, 5, 1, 1}, {3, 1, 0}, 2, 2)},
      {"an output of 0x1", "adaptive_avg_pool2d_forward", adaptive(false, x, 0, 1)},
      {"x of rank 2", "adaptive_max_pool2d_forward", adaptive(true, {3, 5}, 1, 1)},
      {"an empty plane", "adaptive_avg_pool2d_forward", adaptive(false, {3, 5, 0, 7}, 1, 1)},
      {"an input of 0x7", "adaptive_avg_pool2d_backward",
       [](Device d) {
         Tensor dx;
         adaptive_avg_pool2d_backward(on(d, {3, 5, 2, 2}), dx, 0, 7);
       }},
      {"dy of another batch", "adaptive_max_pool2d_backward",
       [](Device d) {
         Tensor dx;
         adaptive_max_pool2d_backward(on(d, {3, 5, 5, 7}), on(d, {2, 5, 2, 2}), dx);
       }},
  };
}

std::vector<OpShapeCase> batch_norm_cases() {
  // x, then gamma, beta, running mean and variance (training and evaluation), or gamma, saved
  // mean and saved 1/std (backward): one shape each.
  auto train = [](Shape xs, Shape gs, Shape bs, Shape ms, Shape vs, bool fused) {
    return [=](Device d) {
      Tensor rm = on(d, ms), rv = on(d, vs), y, sm, si;
      if (fused) {
        batch_norm_relu_forward_train(on(d, xs), on(d, gs), on(d, bs), rm, rv, 0.1f, 1e-5f, y, sm,
                                      si);
      } else {
        batch_norm_forward_train(on(d, xs), on(d, gs), on(d, bs), rm, rv, 0.1f, 1e-5f, y, sm, si);
      }
    };
  };
  auto eval = [](Shape xs, Shape gs, Shape vs) {
    return [=](Device d) {
      Tensor y;
      batch_norm_forward_eval(on(d, xs), on(d, gs), on(d, gs), on(d, gs), on(d, vs), 1e-5f, y);
    };
  };
  auto backward = [](Shape xs, Shape gs, Shape dys) {
    return [=](Device d) {
      Tensor dx, dg, db;
      batch_norm_backward(on(d, xs), on(d, gs), on(d, gs), on(d, gs), on(d, dys), dx, dg, db);
    };
  };
  const Shape x{4, 3, 2, 2}, c{3};
  return {
      {"x of rank 3", "batch_norm_forward_train", train({4, 3, 2}, c, c, c, c, false)},
      {"gamma of the wrong length", "batch_norm_forward_train", train(x, {2}, c, c, c, false)},
      {"running_var of the wrong length", "batch_norm_forward_train",
       train(x, c, c, c, {4}, false)},
      {"one value per channel in training", "batch_norm_forward_train",
       train({1, 3, 1, 1}, c, c, c, c, false)},
      {"one row in training (1d)", "batch_norm_relu_forward_train",
       train({1, 3}, c, c, c, c, true)},
      {"beta of the wrong length", "batch_norm_relu_forward_train", train(x, c, {4}, c, c, true)},
      {"running_var of the wrong length", "batch_norm_forward_eval", eval(x, c, {2})},
      {"x of rank 1", "batch_norm_forward_eval", eval({3}, c, c)},
      {"dy of another shape", "batch_norm_backward", backward(x, c, {4, 3, 2, 1})},
      {"saved statistics of the wrong length", "batch_norm_backward", backward(x, {2}, x)},
      {"y of another shape", "batch_norm_relu_backward",
       [=](Device d) {
         Tensor dx, dg, db;
         batch_norm_relu_backward(on(d, x), on(d, {4, 3, 1, 2}), on(d, c), on(d, c), on(d, c),
                                  on(d, x), dx, dg, db);
       }},
  };
}

std::vector<OpShapeCase> elementwise_cases() {
  const Shape x{2, 3, 4, 4};
  return {
      {"dy of another shape", "relu_backward",
       [=](Device d) {
         Tensor dx;
         relu_backward(on(d, x), on(d, {2, 3, 4, 5}), dx);
       }},
      {"b of another shape", "add",
       [=](Device d) {
         Tensor y;
         add(on(d, x), on(d, {2, 3, 16}), y);
       }},
      {"p = 1 (an infinite scale for what is kept)", "dropout_forward",
       [=](Device d) {
         Tensor y, mask;
         Generator gen(1);
         dropout_forward(on(d, x), 1.0f, gen, y, mask);
       }},
      {"a negative p", "dropout_forward",
       [=](Device d) {
         Tensor y, mask;
         Generator gen(1);
         dropout_forward(on(d, x), -0.1f, gen, y, mask);
       }},
      {"a mask of another shape", "dropout_backward",
       [=](Device d) {
         Tensor dx;
         dropout_backward(on(d, x), on(d, {2, 3, 4, 3}), dx);
       }},
      {"a and b of different heights", "concat_channels",
       [=](Device d) {
         Tensor y;
         concat_channels(on(d, x), on(d, {2, 5, 3, 4}), y);
       }},
      {"a and b of different ranks", "concat_channels",
       [=](Device d) {
         Tensor y;
         concat_channels(on(d, x), on(d, {2, 5}), y);
       }},
      {"a split past the channels", "split_channels",
       [=](Device d) {
         Tensor da, db;
         split_channels(on(d, x), 4, da, db);
       }},
      {"dy without channels", "split_channels",
       [=](Device d) {
         Tensor da, db;
         split_channels(on(d, {6}), 1, da, db);
       }},
      {"a mean of the wrong length", "normalize_channels",
       [=](Device d) {
         Tensor y;
         normalize_channels(on(d, x), on(d, {2}), on(d, {3}), y);
       }},
      {"x of rank 2", "normalize_channels",
       [=](Device d) {
         Tensor y;
         normalize_channels(on(d, {2, 3}), on(d, {3}), on(d, {3}), y);
       }},
      {"a resize to zero rows", "resize_bilinear_forward",
       [=](Device d) {
         Tensor y;
         resize_bilinear_forward(on(d, x), y, 0, 4);
       }},
      {"dy of rank 3", "resize_bilinear_backward",
       [=](Device d) {
         Tensor dx;
         resize_bilinear_backward(on(d, {3, 4, 4}), dx, 8, 8);
       }},
  };
}

std::vector<OpShapeCase> loss_and_row_cases() {
  return {
      {"labels of another batch", "softmax_cross_entropy_forward",
       [](Device d) {
         Tensor loss, probs;
         softmax_cross_entropy_forward(on(d, {4, 2}), on(d, {5}), loss, probs);
       }},
      {"logits without rows", "softmax_cross_entropy_forward",
       [](Device d) {
         Tensor loss, probs;
         softmax_cross_entropy_forward(on(d, {0, 2}), on(d, {0}), loss, probs);
       }},
      {"probabilities of rank 1", "softmax_cross_entropy_backward",
       [](Device d) {
         Tensor dlogits;
         softmax_cross_entropy_backward(on(d, {4}), on(d, {4}), dlogits);
       }},
      {"logits without classes", "argmax_rows",
       [](Device d) {
         Tensor pred;
         argmax_rows(on(d, {4, 0}), pred);
       }},
      {"indices of rank 2", "gather_rows",
       [](Device d) {
         Tensor dst;
         gather_rows(on(d, {6, 3}), Tensor::zeros({2, 1}).to(d), dst);
       }},
  };
}

std::vector<OpShapeCase> optimizer_cases() {
  const Shape p{3, 4};
  auto sgd = [=](Shape gs, Shape vs, SgdArgs a) {
    return [=](Device d) {
      Tensor param = on(d, p), velocity = vs.ndim() ? on(d, vs) : Tensor();
      sgd_update(param, on(d, gs), velocity, a, false);
    };
  };
  auto adamw = [=](Shape gs, Shape ms, int64_t step) {
    return [=](Device d) {
      Tensor param = on(d, p), m = on(d, ms), v = on(d, p);
      AdamWArgs a;
      a.step = step;
      adamw_update(param, on(d, gs), m, v, a);
    };
  };
  SgdArgs momentum;
  momentum.momentum = 0.9f;
  SgdArgs nesterov_without_momentum;
  nesterov_without_momentum.nesterov = true;
  return {
      {"a gradient of another shape", "sgd_update", sgd({4, 3}, {}, {})},
      {"a velocity of another shape, with momentum", "sgd_update", sgd(p, {12}, momentum)},
      {"no velocity, with momentum", "sgd_update", sgd(p, {}, momentum)},
      {"Nesterov without momentum", "sgd_update", sgd(p, {}, nesterov_without_momentum)},
      {"a gradient of another shape", "adamw_update", adamw({3, 5}, p, 1)},
      {"a first moment of another shape", "adamw_update", adamw(p, {3}, 1)},
      {"step 0", "adamw_update", adamw(p, p, 0)},
      {"a loss-scaler state of 3 values", "unscale_gradients",
       [=](Device d) {
         Tensor grad = on(d, p), state = on(d, {3});
         unscale_gradients(grad, state);
       }},
  };
}

}  // namespace

const std::vector<OpShapeCase>& op_shape_cases() {
  static const std::vector<OpShapeCase> cases = [] {
    std::vector<OpShapeCase> all;
    for (auto part : {conv_cases(), linear_cases(), pool_cases(), batch_norm_cases(),
                      elementwise_cases(), loss_and_row_cases(), optimizer_cases()}) {
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }();
  return cases;
}

}  // namespace keel::testing
