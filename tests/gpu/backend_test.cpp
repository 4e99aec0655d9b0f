// The CUDA backend's own guarantees: keel's kernels and cuDNN agree, the caching allocator stops
// calling cudaMalloc once a loop is warm, deterministic mode repeats bit for bit, and running out
// of memory says which setting to lower.
#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "keel/ops.h"

namespace keel {
namespace {

using namespace gpu_testing;

struct ConvResult {
  Tensor y, dx, dw, db;
};

ConvResult run_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy, Conv2dArgs a) {
  ConvResult r;
  conv2d_forward(x, w, b, r.y, a);
  conv2d_backward(x, w, dy, &r.dx, r.dw, &r.db, a);
  return r;
}

struct BnResult {
  Tensor y, mean, invstd, rm, rv, dx, dgamma, dbeta;
};

BnResult run_bn(const Tensor& x, const Tensor& dy) {
  const int64_t c = x.dim(1);
  BnResult r;
  Tensor gamma = to_gpu(rand_cpu(Shape{c}, 51, 0.5f, 1.5f)), beta = to_gpu(rand_cpu(Shape{c}, 52));
  r.rm = Tensor::zeros(Shape{c}, Device::cuda);
  r.rv = Tensor::full(Shape{c}, 1.0f, Device::cuda);
  batch_norm_forward_train(x, gamma, beta, r.rm, r.rv, 0.1f, 1e-5f, r.y, r.mean, r.invstd);
  batch_norm_backward(x, gamma, r.mean, r.invstd, dy, r.dx, r.dgamma, r.dbeta);
  return r;
}

TEST(CudnnBackend, ConvolutionAgreesWithKeelKernels) {
  KEEL_REQUIRE_CUDA();
  if (!cudnn_built()) GTEST_SKIP() << "this keel build has no cuDNN backend";
  GpuSettingsGuard guard;
  set_allow_tf32(false);
  for (Conv2dArgs a : {Conv2dArgs{1, 1}, Conv2dArgs{2, 0}, Conv2dArgs{2, 3}}) {
    const int64_t r = a.padding == 3 ? 7 : 3;
    Tensor x = to_gpu(rand_cpu(Shape{3, 5, 17, 15}, 53)), w = to_gpu(rand_cpu(Shape{6, 5, r, r}, 54, -0.5f, 0.5f));
    Tensor b = to_gpu(rand_cpu(Shape{6}, 55));
    const Shape out{3, 6, conv_out_size(17, r, a.stride, a.padding), conv_out_size(15, r, a.stride, a.padding)};
    Tensor dy = to_gpu(rand_cpu(out, 56));
    set_gpu_backend(GpuBackend::keel);
    ConvResult k = run_conv(x, w, b, dy, a);
    set_gpu_backend(GpuBackend::cudnn);
    ConvResult c = run_conv(x, w, b, dy, a);
    KEEL_EXPECT_CLOSE(c.y, k.y, 1e-4);
    KEEL_EXPECT_CLOSE(c.dx, k.dx, 1e-4);
    KEEL_EXPECT_CLOSE(c.dw, k.dw, 1e-4);
    KEEL_EXPECT_CLOSE(c.db, k.db, 1e-5);
  }
}

TEST(CudnnBackend, BatchNormAgreesWithKeelKernels) {
  KEEL_REQUIRE_CUDA();
  if (!cudnn_built()) GTEST_SKIP() << "this keel build has no cuDNN backend";
  GpuSettingsGuard guard;
  set_deterministic(false);
  for (Shape s : {Shape{3, 5, 7, 9}, Shape{6, 1024}}) {
    Tensor x = to_gpu(rand_cpu(s, 57, 1.0f, 3.0f)), dy = to_gpu(rand_cpu(s, 58));
    set_gpu_backend(GpuBackend::keel);
    BnResult k = run_bn(x, dy);
    set_gpu_backend(GpuBackend::cudnn);
    BnResult c = run_bn(x, dy);
    KEEL_EXPECT_CLOSE(c.y, k.y, 1e-5);
    KEEL_EXPECT_CLOSE(c.mean, k.mean, 1e-5);
    KEEL_EXPECT_CLOSE(c.invstd, k.invstd, 1e-5);
    // Same momentum convention and unbiased running variance on both paths.
    KEEL_EXPECT_CLOSE(c.rm, k.rm, 1e-5);
    KEEL_EXPECT_CLOSE(c.rv, k.rv, 1e-5);
    KEEL_EXPECT_CLOSE(c.dx, k.dx, 1e-4);
    KEEL_EXPECT_CLOSE(c.dgamma, k.dgamma, 1e-4);
    KEEL_EXPECT_CLOSE(c.dbeta, k.dbeta, 1e-4);
  }
}

TEST(CachingAllocator, WarmLoopCallsNoCudaMalloc) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  for (GpuBackend backend : {GpuBackend::keel, GpuBackend::cudnn}) {
    if (backend == GpuBackend::cudnn && !cudnn_built()) continue;
    set_gpu_backend(backend);
    Tensor x = to_gpu(rand_cpu(Shape{4, 8, 20, 20}, 59)), w = to_gpu(rand_cpu(Shape{16, 8, 3, 3}, 60));
    Tensor dy = to_gpu(rand_cpu(Shape{4, 16, 20, 20}, 61));
    Tensor y, dx, dw, db, act, pooled, dpool;
    auto step = [&] {
      conv2d_forward(x, w, Tensor(), y, Conv2dArgs{1, 1});
      relu_forward(y, act);
      // Temporaries that die each step (as in a layer's backward) must come back from the cache.
      Tensor tmp;
      max_pool2d_forward(act, tmp, Pool2dArgs{2, 2, 0});
      conv2d_backward(x, w, dy, &dx, dw, &db, Conv2dArgs{1, 1});
    };
    step();
    step();
    synchronize();
    const GpuMemoryStats warm = gpu_memory_stats();
    for (int i = 0; i < 5; ++i) step();
    synchronize();
    const GpuMemoryStats after = gpu_memory_stats();
    EXPECT_EQ(after.device_allocations, warm.device_allocations) << "cudaMalloc inside a warm loop";
    EXPECT_GT(after.cache_hits, warm.cache_hits) << "temporaries should be served from the cache";
    EXPECT_EQ(after.bytes_in_use, warm.bytes_in_use) << "a warm step must not leak device memory";
    EXPECT_GE(after.peak_bytes_in_use, after.bytes_in_use);
  }
}

TEST(CachingAllocator, OutOfMemoryNamesTheSettingToLower) {
  KEEL_REQUIRE_CUDA();
  try {
    Tensor huge(Shape{int64_t{1} << 40}, Device::cuda);  // 4 TiB
    FAIL() << "a 4 TiB allocation succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::out_of_memory);
    EXPECT_NE(std::string(e.what()).find("batch_size"), std::string::npos) << e.what();
  }
  // The device is still usable afterwards.
  Tensor t = Tensor::full(Shape{1000}, 2.0f, Device::cuda);
  EXPECT_DOUBLE_EQ(sum(t), 2000.0);
}

TEST(Determinism, TwoRunsAreBitIdentical) {
  KEEL_REQUIRE_CUDA();
  GpuSettingsGuard guard;
  set_deterministic(true);
  for (GpuBackend backend : {GpuBackend::keel, GpuBackend::cudnn}) {
    if (backend == GpuBackend::cudnn && !cudnn_built()) continue;
    set_gpu_backend(backend);
    Tensor x = to_gpu(rand_cpu(Shape{8, 16, 28, 28}, 62)), w = to_gpu(rand_cpu(Shape{32, 16, 3, 3}, 63));
    Tensor b = to_gpu(rand_cpu(Shape{32}, 64)), dy = to_gpu(rand_cpu(Shape{8, 32, 14, 14}, 65));
    ConvResult c1 = run_conv(x, w, b, dy, Conv2dArgs{2, 1});
    ConvResult c2 = run_conv(x, w, b, dy, Conv2dArgs{2, 1});
    EXPECT_TRUE(bitwise_equal(c1.y, c2.y));
    EXPECT_TRUE(bitwise_equal(c1.dx, c2.dx));
    EXPECT_TRUE(bitwise_equal(c1.dw, c2.dw));
    EXPECT_TRUE(bitwise_equal(c1.db, c2.db));
    Tensor bx = to_gpu(rand_cpu(Shape{16, 32, 14, 14}, 66)), bdy = to_gpu(rand_cpu(Shape{16, 32, 14, 14}, 67));
    BnResult b1 = run_bn(bx, bdy), b2 = run_bn(bx, bdy);
    EXPECT_TRUE(bitwise_equal(b1.y, b2.y));
    EXPECT_TRUE(bitwise_equal(b1.rv, b2.rv));
    EXPECT_TRUE(bitwise_equal(b1.dx, b2.dx));
    EXPECT_TRUE(bitwise_equal(b1.dgamma, b2.dgamma));
    EXPECT_EQ(sum(bx), sum(bx));
  }
}

TEST(CudaErrors, ShapeMismatchThrowsWithTheOpName) {
  KEEL_REQUIRE_CUDA();
  Tensor x = Tensor::zeros(Shape{2, 3, 5, 5}, Device::cuda), w = Tensor::zeros(Shape{4, 2, 3, 3}, Device::cuda);
  Tensor y;
  try {
    conv2d_forward(x, w, Tensor(), y, Conv2dArgs{1, 1});
    FAIL() << "channel mismatch accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv2d_forward"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace keel
