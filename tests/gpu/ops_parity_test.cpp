// CPU vs CUDA parity of the non-GEMM ops, forward and backward, on random inputs of awkward
// shapes, with outputs poisoned with NaN first. Bounds (relative error against the CPU result):
//   1e-6  elementwise, copies, pooling forward/backward, dropout (masks must match bit for bit)
//   1e-5  reductions: batch-norm statistics and outputs, softmax cross-entropy, adaptive pools,
//         bilinear resize, optimizer updates, sum
//   1e-4  batch-norm backward (dx subtracts two channel means from dy)
#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "keel/ops.h"
#include "keel/random.h"

namespace keel {
namespace {

using namespace gpu_testing;

constexpr double kExactTol = 1e-6;
constexpr double kReduceTol = 1e-5;
constexpr double kBnBackwardTol = 1e-4;

TEST(ElementwiseParity, ReluAddScale) {
  KEEL_REQUIRE_CUDA();
  const Shape s{3, 5, 7, 9};
  Tensor x = rand_cpu(s, 1), other = rand_cpu(s, 2), dy = rand_cpu(s, 3);
  Tensor y_cpu, dx_cpu, sum_cpu, scaled_cpu;
  KEEL_CPU_ORACLE(relu_forward(x, y_cpu); relu_backward(y_cpu, dy, dx_cpu); add(x, other, sum_cpu);
                  scale(x, -2.5f, scaled_cpu));
  Tensor y = poisoned(s), dx = poisoned(s), sum_gpu = poisoned(s), scaled = poisoned(s);
  relu_forward(to_gpu(x), y);
  relu_backward(y, to_gpu(dy), dx);
  add(to_gpu(x), to_gpu(other), sum_gpu);
  scale(to_gpu(x), -2.5f, scaled);
  KEEL_EXPECT_CLOSE(y, y_cpu, kExactTol);
  KEEL_EXPECT_CLOSE(dx, dx_cpu, kExactTol);
  KEEL_EXPECT_CLOSE(sum_gpu, sum_cpu, kExactTol);
  KEEL_EXPECT_CLOSE(scaled, scaled_cpu, kExactTol);

  // In place, as the layers use them.
  Tensor inplace = to_gpu(x);
  relu_forward(inplace, inplace);
  KEEL_EXPECT_CLOSE(inplace, y_cpu, kExactTol);
  Tensor acc = to_gpu(x);
  add(acc, to_gpu(other), acc);
  KEEL_EXPECT_CLOSE(acc, sum_cpu, kExactTol);
}

TEST(ElementwiseParity, ConcatAndSplitChannels) {
  KEEL_REQUIRE_CUDA();
  Tensor a = rand_cpu(Shape{3, 5, 2, 3}, 4), b = rand_cpu(Shape{3, 7, 2, 3}, 5);
  Tensor y_cpu, da_cpu, db_cpu;
  KEEL_CPU_ORACLE(concat_channels(a, b, y_cpu); split_channels(y_cpu, 5, da_cpu, db_cpu));
  Tensor y = poisoned(Shape{3, 12, 2, 3}), da = poisoned(a.shape()), db = poisoned(b.shape());
  concat_channels(to_gpu(a), to_gpu(b), y);
  split_channels(y, 5, da, db);
  KEEL_EXPECT_CLOSE(y, y_cpu, kExactTol);
  KEEL_EXPECT_CLOSE(da, a, kExactTol);
  KEEL_EXPECT_CLOSE(db, b, kExactTol);
}

TEST(ElementwiseParity, NormalizeChannelsAndGatherRows) {
  KEEL_REQUIRE_CUDA();
  Tensor x = rand_cpu(Shape{3, 3, 5, 7}, 6, 0.0f, 1.0f);
  Tensor mean = Tensor::from_data(Shape{3}, std::vector<float>{0.485f, 0.456f, 0.406f});
  Tensor std = Tensor::from_data(Shape{3}, std::vector<float>{0.229f, 0.224f, 0.225f});
  Tensor y_cpu;
  KEEL_CPU_ORACLE(normalize_channels(x, mean, std, y_cpu));
  Tensor y = poisoned(x.shape());
  normalize_channels(to_gpu(x), to_gpu(mean), to_gpu(std), y);
  KEEL_EXPECT_CLOSE(y, y_cpu, kExactTol);

  Tensor src = rand_cpu(Shape{9, 3, 2, 2}, 7);
  Tensor idx = Tensor::from_data(Shape{5}, std::vector<float>{8, 0, 3, 3, 5});
  Tensor g_cpu;
  KEEL_CPU_ORACLE(gather_rows(src, idx, g_cpu));
  Tensor g = poisoned(Shape{5, 3, 2, 2});
  gather_rows(to_gpu(src), to_gpu(idx), g);
  KEEL_EXPECT_CLOSE(g, g_cpu, 0.0);
}

TEST(DropoutParity, MaskIsIdenticalToCpuBitForBit) {
  KEEL_REQUIRE_CUDA();
  for (float p : {0.25f, 0.5f}) {
    const Shape s{3, 1027};  // not a multiple of 4: the last counter is partly used
    Tensor x = rand_cpu(s, 8), dy = rand_cpu(s, 9);
    Generator cpu_gen(1234), gpu_gen(1234);
    cpu_gen.reserve(17);
    gpu_gen.reserve(17);
    Tensor y_cpu, mask_cpu, dx_cpu;
    KEEL_CPU_ORACLE(dropout_forward(x, p, cpu_gen, y_cpu, mask_cpu); dropout_backward(dy, mask_cpu, dx_cpu));
    Tensor y = poisoned(s), mask = poisoned(s), dx = poisoned(s);
    dropout_forward(to_gpu(x), p, gpu_gen, y, mask);
    dropout_backward(to_gpu(dy), mask, dx);
    EXPECT_TRUE(bitwise_equal(mask, mask_cpu)) << "dropout mask differs from the CPU's at p=" << p;
    EXPECT_TRUE(bitwise_equal(y, y_cpu)) << "dropout output differs at p=" << p;
    KEEL_EXPECT_CLOSE(dx, dx_cpu, kExactTol);
    EXPECT_EQ(gpu_gen.offset(), cpu_gen.offset()) << "both devices must reserve the same counters";
    // The mask really drops: a fraction near p of the entries is zero.
    const std::vector<float> m = mask.to_vector();
    double zeros = 0;
    for (float v : m) zeros += v == 0.0f;
    EXPECT_NEAR(zeros / m.size(), p, 0.05);
  }
}

struct BnCase {
  Shape shape;
};

class BatchNormParity : public ::testing::TestWithParam<Shape> {};

TEST_P(BatchNormParity, TrainEvalBackwardMatchCpu) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_gpu_backend(GpuBackend::keel);
  const Shape s = GetParam();
  const int64_t c = s[1];
  // An offset mean (3.0) so a one-pass variance would lose digits.
  Tensor x = rand_cpu(s, 10, 2.0f, 4.0f), dy = rand_cpu(s, 11);
  Tensor gamma = rand_cpu(Shape{c}, 12, 0.5f, 1.5f), beta = rand_cpu(Shape{c}, 13);
  Tensor rm_cpu = rand_cpu(Shape{c}, 14), rv_cpu = rand_cpu(Shape{c}, 15, 0.5f, 1.5f);
  Tensor rm = to_gpu(rm_cpu), rv = to_gpu(rv_cpu);
  Tensor y_cpu, mean_cpu, invstd_cpu, dx_cpu, dgamma_cpu, dbeta_cpu, eval_cpu;
  KEEL_CPU_ORACLE(batch_norm_forward_train(x, gamma, beta, rm_cpu, rv_cpu, 0.1f, 1e-5f, y_cpu, mean_cpu, invstd_cpu);
                  batch_norm_backward(x, gamma, mean_cpu, invstd_cpu, dy, dx_cpu, dgamma_cpu, dbeta_cpu);
                  batch_norm_forward_eval(x, gamma, beta, rm_cpu, rv_cpu, 1e-5f, eval_cpu));
  Tensor y = poisoned(s), mean = poisoned(Shape{c}), invstd = poisoned(Shape{c});
  Tensor dx = poisoned(s), dgamma = poisoned(Shape{c}), dbeta = poisoned(Shape{c}), eval = poisoned(s);
  batch_norm_forward_train(to_gpu(x), to_gpu(gamma), to_gpu(beta), rm, rv, 0.1f, 1e-5f, y, mean, invstd);
  batch_norm_backward(to_gpu(x), to_gpu(gamma), mean, invstd, to_gpu(dy), dx, dgamma, dbeta);
  batch_norm_forward_eval(to_gpu(x), to_gpu(gamma), to_gpu(beta), rm, rv, 1e-5f, eval);
  KEEL_EXPECT_CLOSE(y, y_cpu, kReduceTol);
  KEEL_EXPECT_CLOSE(mean, mean_cpu, kReduceTol);
  KEEL_EXPECT_CLOSE(invstd, invstd_cpu, kReduceTol);
  KEEL_EXPECT_CLOSE(rm, rm_cpu, kReduceTol);
  KEEL_EXPECT_CLOSE(rv, rv_cpu, kReduceTol);
  KEEL_EXPECT_CLOSE(eval, eval_cpu, kReduceTol);
  KEEL_EXPECT_CLOSE(dx, dx_cpu, kBnBackwardTol);
  KEEL_EXPECT_CLOSE(dgamma, dgamma_cpu, kBnBackwardTol);
  KEEL_EXPECT_CLOSE(dbeta, dbeta_cpu, kBnBackwardTol);
}

INSTANTIATE_TEST_SUITE_P(Shapes, BatchNormParity,
                         ::testing::Values(Shape{3, 5, 7, 9},      // 2d, odd everything
                                           Shape{64, 3, 33, 31},   // several reduction parts per channel
                                           Shape{5, 1024},         // 1d (head of the seed model)
                                           Shape{3, 7}));

// The fused batch norm + ReLU pair against the CPU's fused pass, on both GPU backends.
TEST_P(BatchNormParity, FusedReluMatchesCpu) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  const Shape s = GetParam();
  const int64_t c = s[1];
  // Mean near zero so that about half of the outputs are clipped by the ReLU.
  Tensor x = rand_cpu(s, 20), dy = rand_cpu(s, 21);
  Tensor gamma = rand_cpu(Shape{c}, 22, 0.5f, 1.5f), beta = rand_cpu(Shape{c}, 23);
  for (GpuBackend backend : {GpuBackend::keel, GpuBackend::cudnn}) {
    if (backend == GpuBackend::cudnn && !cudnn_built()) continue;
    set_gpu_backend(backend);
    Tensor rm_cpu = rand_cpu(Shape{c}, 24), rv_cpu = rand_cpu(Shape{c}, 25, 0.5f, 1.5f);
    Tensor rm = to_gpu(rm_cpu), rv = to_gpu(rv_cpu);
    Tensor y_cpu, mean_cpu, invstd_cpu, dx_cpu, dgamma_cpu, dbeta_cpu;
    KEEL_CPU_ORACLE(batch_norm_relu_forward_train(x, gamma, beta, rm_cpu, rv_cpu, 0.1f, 1e-5f, y_cpu,
                                                  mean_cpu, invstd_cpu);
                    batch_norm_relu_backward(x, y_cpu, gamma, mean_cpu, invstd_cpu, dy, dx_cpu,
                                             dgamma_cpu, dbeta_cpu));
    Tensor y = poisoned(s), mean = poisoned(Shape{c}), invstd = poisoned(Shape{c});
    Tensor dx = poisoned(s), dgamma = poisoned(Shape{c}), dbeta = poisoned(Shape{c});
    batch_norm_relu_forward_train(to_gpu(x), to_gpu(gamma), to_gpu(beta), rm, rv, 0.1f, 1e-5f, y,
                                  mean, invstd);
    batch_norm_relu_backward(to_gpu(x), y, to_gpu(gamma), mean, invstd, to_gpu(dy), dx, dgamma,
                             dbeta);
    KEEL_EXPECT_CLOSE(y, y_cpu, kReduceTol);
    KEEL_EXPECT_CLOSE(rm, rm_cpu, kReduceTol);
    KEEL_EXPECT_CLOSE(rv, rv_cpu, kReduceTol);
    KEEL_EXPECT_CLOSE(dx, dx_cpu, kBnBackwardTol);
    KEEL_EXPECT_CLOSE(dgamma, dgamma_cpu, kBnBackwardTol);
    KEEL_EXPECT_CLOSE(dbeta, dbeta_cpu, kBnBackwardTol);
  }
}

struct PoolCase {
  Shape shape;
  Pool2dArgs args;
};

class WindowPoolParity : public ::testing::TestWithParam<PoolCase> {};

TEST_P(WindowPoolParity, MaxAndAvgMatchCpu) {
  KEEL_REQUIRE_CUDA();
  const PoolCase pc = GetParam();
  const Shape& s = pc.shape;
  Tensor x = rand_cpu(s, 16);
  const Shape out{s[0], s[1], conv_out_size(s[2], pc.args.kernel, pc.args.stride, pc.args.padding),
                  conv_out_size(s[3], pc.args.kernel, pc.args.stride, pc.args.padding)};
  Tensor dy = rand_cpu(out, 17);
  Tensor max_cpu, dmax_cpu, avg_cpu, davg_cpu;
  KEEL_CPU_ORACLE(max_pool2d_forward(x, max_cpu, pc.args); max_pool2d_backward(x, dy, dmax_cpu, pc.args);
                  avg_pool2d_forward(x, avg_cpu, pc.args); avg_pool2d_backward(dy, davg_cpu, pc.args, s[2], s[3]));
  Tensor mx = poisoned(out), dmax = poisoned(s), avg = poisoned(out), davg = poisoned(s);
  max_pool2d_forward(to_gpu(x), mx, pc.args);
  max_pool2d_backward(to_gpu(x), to_gpu(dy), dmax, pc.args);
  avg_pool2d_forward(to_gpu(x), avg, pc.args);
  avg_pool2d_backward(to_gpu(dy), davg, pc.args, s[2], s[3]);
  KEEL_EXPECT_CLOSE(mx, max_cpu, kExactTol);
  KEEL_EXPECT_CLOSE(dmax, dmax_cpu, kExactTol);
  KEEL_EXPECT_CLOSE(avg, avg_cpu, kExactTol);
  KEEL_EXPECT_CLOSE(davg, davg_cpu, kExactTol);
}

INSTANTIATE_TEST_SUITE_P(Windows, WindowPoolParity,
                         ::testing::Values(PoolCase{Shape{3, 5, 7, 9}, Pool2dArgs{3, 2, 1}},   // ResNet stem pool
                                           PoolCase{Shape{3, 4, 8, 6}, Pool2dArgs{2, 2, 0}},
                                           PoolCase{Shape{2, 3, 9, 7}, Pool2dArgs{3, 1, 1}},   // overlapping
                                           PoolCase{Shape{1, 2, 5, 5}, Pool2dArgs{2, 3, 0}})); // gaps

TEST(AdaptivePoolParity, AvgAndMaxMatchCpu) {
  KEEL_REQUIRE_CUDA();
  const Shape s{3, 5, 7, 9};
  for (auto [oh, ow] : {std::pair<int64_t, int64_t>{1, 1}, {2, 3}, {3, 4}, {7, 9}, {9, 11}}) {
    Tensor x = rand_cpu(s, 18);
    Tensor dy = rand_cpu(Shape{3, 5, oh, ow}, 19);
    Tensor avg_cpu, davg_cpu, mx_cpu, dmx_cpu;
    KEEL_CPU_ORACLE(adaptive_avg_pool2d_forward(x, avg_cpu, oh, ow); adaptive_avg_pool2d_backward(dy, davg_cpu, 7, 9);
                    adaptive_max_pool2d_forward(x, mx_cpu, oh, ow); adaptive_max_pool2d_backward(x, dy, dmx_cpu));
    Tensor avg = poisoned(Shape{3, 5, oh, ow}), davg = poisoned(s), mx = poisoned(Shape{3, 5, oh, ow}), dmx = poisoned(s);
    adaptive_avg_pool2d_forward(to_gpu(x), avg, oh, ow);
    adaptive_avg_pool2d_backward(to_gpu(dy), davg, 7, 9);
    adaptive_max_pool2d_forward(to_gpu(x), mx, oh, ow);
    adaptive_max_pool2d_backward(to_gpu(x), to_gpu(dy), dmx);
    KEEL_EXPECT_CLOSE(avg, avg_cpu, kReduceTol);
    KEEL_EXPECT_CLOSE(davg, davg_cpu, kReduceTol);
    KEEL_EXPECT_CLOSE(mx, mx_cpu, kExactTol);
    KEEL_EXPECT_CLOSE(dmx, dmx_cpu, kExactTol);
  }
}

TEST(LossParity, SoftmaxCrossEntropyAndArgmax) {
  KEEL_REQUIRE_CUDA();
  for (int64_t k : {2, 7}) {
    const int64_t n = 5;
    Tensor logits = rand_cpu(Shape{n, k}, 20, -3.0f, 3.0f);
    std::vector<float> label_values;
    for (int64_t i = 0; i < n; ++i) label_values.push_back(static_cast<float>((i * 3) % k));
    Tensor labels = Tensor::from_data(Shape{n}, label_values);
    Tensor loss_cpu, probs_cpu, dlogits_cpu, pred_cpu;
    KEEL_CPU_ORACLE(softmax_cross_entropy_forward(logits, labels, loss_cpu, probs_cpu);
                    softmax_cross_entropy_backward(probs_cpu, labels, dlogits_cpu); argmax_rows(logits, pred_cpu));
    Tensor loss = poisoned(Shape{1}), probs = poisoned(Shape{n, k}), dlogits = poisoned(Shape{n, k}),
           pred = poisoned(Shape{n});
    softmax_cross_entropy_forward(to_gpu(logits), to_gpu(labels), loss, probs);
    softmax_cross_entropy_backward(probs, to_gpu(labels), dlogits);
    argmax_rows(to_gpu(logits), pred);
    KEEL_EXPECT_CLOSE(loss, loss_cpu, kReduceTol);
    KEEL_EXPECT_CLOSE(probs, probs_cpu, kReduceTol);
    KEEL_EXPECT_CLOSE(dlogits, dlogits_cpu, kReduceTol);
    KEEL_EXPECT_CLOSE(pred, pred_cpu, 0.0);
  }
}

TEST(ResizeParity, BilinearAlignedCornersUpAndDown) {
  KEEL_REQUIRE_CUDA();
  for (auto [ih, iw, oh, ow] : {std::array<int64_t, 4>{6, 6, 13, 17}, {9, 7, 4, 5}, {6, 6, 224, 224}, {1, 5, 3, 4}}) {
    const Shape in{2, 3, ih, iw}, out{2, 3, oh, ow};
    Tensor x = rand_cpu(in, 21), dy = rand_cpu(out, 22);
    Tensor y_cpu, dx_cpu;
    KEEL_CPU_ORACLE(resize_bilinear_forward(x, y_cpu, oh, ow); resize_bilinear_backward(dy, dx_cpu, ih, iw));
    Tensor y = poisoned(out), dx = poisoned(in);
    resize_bilinear_forward(to_gpu(x), y, oh, ow);
    resize_bilinear_backward(to_gpu(dy), dx, ih, iw);
    KEEL_EXPECT_CLOSE(y, y_cpu, kReduceTol);
    KEEL_EXPECT_CLOSE(dx, dx_cpu, kReduceTol);
  }
}

TEST(OptimizerParity, SgdVariantsOverTwoSteps) {
  KEEL_REQUIRE_CUDA();
  const Shape s{7, 13};
  for (SgdArgs a : {SgdArgs{0.1f, 0.0f, 0.0f, 0.0f, false}, SgdArgs{0.05f, 0.9f, 0.0f, 1e-2f, false},
                    SgdArgs{0.05f, 0.9f, 0.1f, 1e-2f, false}, SgdArgs{0.05f, 0.9f, 0.0f, 1e-2f, true}}) {
    Tensor p_cpu = rand_cpu(s, 23), v_cpu = Tensor::zeros(s);
    Tensor p = to_gpu(p_cpu), v = to_gpu(v_cpu);
    for (int step = 0; step < 2; ++step) {
      Tensor g = rand_cpu(s, 24 + step);
      KEEL_CPU_ORACLE(sgd_update(p_cpu, g, v_cpu, a, step == 0));
      sgd_update(p, to_gpu(g), v, a, step == 0);
    }
    KEEL_EXPECT_CLOSE(p, p_cpu, kReduceTol);
    if (a.momentum != 0.0f) KEEL_EXPECT_CLOSE(v, v_cpu, kReduceTol);
  }
}

TEST(OptimizerParity, AdamWOverThreeSteps) {
  KEEL_REQUIRE_CUDA();
  const Shape s{5, 11};
  Tensor p_cpu = rand_cpu(s, 26), m_cpu = Tensor::zeros(s), v_cpu = Tensor::zeros(s);
  Tensor p = to_gpu(p_cpu), m = to_gpu(m_cpu), v = to_gpu(v_cpu);
  for (int64_t step = 1; step <= 3; ++step) {
    Tensor g = rand_cpu(s, 27 + static_cast<uint64_t>(step));
    AdamWArgs a{3e-3f, 0.9f, 0.99f, 1e-8f, 0.01f, step};
    KEEL_CPU_ORACLE(adamw_update(p_cpu, g, m_cpu, v_cpu, a));
    adamw_update(p, to_gpu(g), m, v, a);
  }
  KEEL_EXPECT_CLOSE(p, p_cpu, kReduceTol);
  KEEL_EXPECT_CLOSE(m, m_cpu, kReduceTol);
  KEEL_EXPECT_CLOSE(v, v_cpu, kReduceTol);
}

TEST(ReductionParity, SumMatchesCpuAndFloat64) {
  KEEL_REQUIRE_CUDA();
  Tensor x = rand_cpu(Shape{3, 5, 77, 91}, 30, 0.0f, 2.0f);
  double ref = 0.0;
  for (float v : x.to_vector()) ref += v;
  const double gpu = sum(to_gpu(x));
  EXPECT_LE(std::abs(gpu - ref), 1e-9 * std::abs(ref));  // double accumulation on the device
  double cpu = 0.0;
  KEEL_CPU_ORACLE(cpu = sum(x));
  EXPECT_LE(std::abs(gpu - cpu), kReduceTol * std::abs(cpu));
}

}  // namespace
}  // namespace keel
