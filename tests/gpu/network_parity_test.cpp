// Whole-network parity: a small CNN (conv-BN-ReLU ×2, max pool, conv-BN-ReLU with stride 2,
// adaptive average pool, linear, softmax cross-entropy) built from ops.h calls and trained with
// AdamW for 3 steps on the CPU and on the GPU from the same initial weights. Bounds: losses within
// 1e-4 relative, every parameter within 1e-3 relative (AdamW's first steps move each weight by
// about ±lr whatever the gradient's size, so tiny gradient differences show up undamped).
#include <vector>

#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "keel/ops.h"

namespace keel {
namespace {

using namespace gpu_testing;

struct Param {
  Tensor value, grad, m, v;
};

struct SmallCnn {
  std::vector<Param> params;  // w1 g1 b1 w2 g2 b2 w3 g3 b3 fw fb
  std::vector<Tensor> running;  // rm1 rv1 rm2 rv2 rm3 rv3

  explicit SmallCnn(Device d) {
    const std::vector<Shape> shapes{{8, 3, 3, 3}, {8}, {8}, {8, 8, 3, 3}, {8}, {8}, {16, 8, 3, 3}, {16}, {16}, {3, 16}, {3}};
    uint64_t seed = 100;
    for (size_t i = 0; i < shapes.size(); ++i) {
      const bool is_gamma = i == 1 || i == 4 || i == 7;
      Tensor host = is_gamma ? rand_cpu(shapes[i], seed++, 0.8f, 1.2f) : rand_cpu(shapes[i], seed++, -0.3f, 0.3f);
      params.push_back(Param{host.to(d), Tensor(), Tensor::zeros(shapes[i], d), Tensor::zeros(shapes[i], d)});
    }
    for (int64_t c : {8, 8, 16}) {
      running.push_back(Tensor::zeros(Shape{c}, d));
      running.push_back(Tensor::full(Shape{c}, 1.0f, d));
    }
  }

  float step(const Tensor& x, const Tensor& labels, int64_t t) {
    auto& P = params;
    const Conv2dArgs same{1, 1}, down{2, 1};
    Tensor c1, n1, r1, m1, s1, c2, n2, r2, m2, s2, pooled, c3, n3, r3, m3, s3, avg, logits, loss, probs;
    conv2d_forward(x, P[0].value, Tensor(), c1, same);
    batch_norm_forward_train(c1, P[1].value, P[2].value, running[0], running[1], 0.1f, 1e-5f, n1, m1, s1);
    relu_forward(n1, r1);
    conv2d_forward(r1, P[3].value, Tensor(), c2, same);
    batch_norm_forward_train(c2, P[4].value, P[5].value, running[2], running[3], 0.1f, 1e-5f, n2, m2, s2);
    relu_forward(n2, r2);
    max_pool2d_forward(r2, pooled, Pool2dArgs{2, 2, 0});
    conv2d_forward(pooled, P[6].value, Tensor(), c3, down);
    batch_norm_forward_train(c3, P[7].value, P[8].value, running[4], running[5], 0.1f, 1e-5f, n3, m3, s3);
    relu_forward(n3, r3);
    adaptive_avg_pool2d_forward(r3, avg, 1, 1);
    const Tensor features = avg.reshape(Shape{x.dim(0), 16});
    linear_forward(features, P[9].value, P[10].value, logits);
    softmax_cross_entropy_forward(logits, labels, loss, probs);

    Tensor dlogits, dfeat, dr3, dn3, dc3, dpooled, dr2, dn2, dc2, dr1, dn1, dc1;
    softmax_cross_entropy_backward(probs, labels, dlogits);
    linear_backward(features, P[9].value, dlogits, &dfeat, P[9].grad, &P[10].grad);
    adaptive_avg_pool2d_backward(dfeat.reshape(Shape{x.dim(0), 16, 1, 1}), dr3, r3.dim(2), r3.dim(3));
    relu_backward(r3, dr3, dn3);
    batch_norm_backward(c3, P[7].value, m3, s3, dn3, dc3, P[7].grad, P[8].grad);
    conv2d_backward(pooled, P[6].value, dc3, &dpooled, P[6].grad, nullptr, down);
    max_pool2d_backward(r2, dpooled, dr2, Pool2dArgs{2, 2, 0});
    relu_backward(r2, dr2, dn2);
    batch_norm_backward(c2, P[4].value, m2, s2, dn2, dc2, P[4].grad, P[5].grad);
    conv2d_backward(r1, P[3].value, dc2, &dr1, P[3].grad, nullptr, same);
    relu_backward(r1, dr1, dn1);
    batch_norm_backward(c1, P[1].value, m1, s1, dn1, dc1, P[1].grad, P[2].grad);
    conv2d_backward(x, P[0].value, dc1, nullptr, P[0].grad, nullptr, same);

    const AdamWArgs args{3e-3f, 0.9f, 0.99f, 1e-8f, 0.01f, t};
    for (Param& p : P) adamw_update(p.value, p.grad, p.m, p.v, args);
    return loss.item();
  }
};

TEST(NetworkParity, SmallCnnThreeAdamWStepsMatchCpu) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_allow_tf32(false);
  for (GpuBackend backend : {GpuBackend::keel, GpuBackend::cudnn}) {
    if (backend == GpuBackend::cudnn && !cudnn_built()) continue;
    set_gpu_backend(backend);
    Tensor x = rand_cpu(Shape{4, 3, 12, 12}, 7);
    Tensor labels = Tensor::from_data(Shape{4}, std::vector<float>{0, 1, 2, 1});
    SmallCnn cpu(Device::cpu), gpu(Device::cuda);
    const Tensor xg = to_gpu(x), lg = to_gpu(labels);
    for (int64_t t = 1; t <= 3; ++t) {
      float cpu_loss = 0.0f;
      KEEL_CPU_ORACLE(cpu_loss = cpu.step(x, labels, t));
      const float gpu_loss = gpu.step(xg, lg, t);
      EXPECT_NEAR(gpu_loss, cpu_loss, 1e-4 * std::abs(cpu_loss)) << "step " << t;
    }
    for (size_t i = 0; i < cpu.params.size(); ++i)
      EXPECT_LE(rel_err(gpu.params[i].value, cpu.params[i].value), 1e-3) << "parameter " << i;
    for (size_t i = 0; i < cpu.running.size(); ++i)
      EXPECT_LE(rel_err(gpu.running[i], cpu.running[i]), 1e-4) << "running statistic " << i;
  }
}

TEST(NetworkParity, DeterministicGpuTrainingRepeatsBitForBit) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_deterministic(true);
  Tensor x = to_gpu(rand_cpu(Shape{4, 3, 12, 12}, 8));
  Tensor labels = to_gpu(Tensor::from_data(Shape{4}, std::vector<float>{2, 0, 1, 1}));
  SmallCnn a(Device::cuda), b(Device::cuda);
  for (int64_t t = 1; t <= 3; ++t) {
    a.step(x, labels, t);
    b.step(x, labels, t);
  }
  for (size_t i = 0; i < a.params.size(); ++i)
    EXPECT_TRUE(bitwise_equal(a.params[i].value, b.params[i].value)) << "parameter " << i;
}

}  // namespace
}  // namespace keel
