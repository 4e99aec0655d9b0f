// conv2d on the CPU: the im2col + GEMM path against the float64 plain-loop reference on awkward
// shapes, finite-difference gradients, determinism, no allocation in steady state, shape errors.
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cpu/workspace.h"
#include "keel/error.h"
#include "keel/nn.h"
#include "keel/ops.h"
#include "keel/optim/adamw.h"
#include "keel/runtime.h"
#include "ops/conv_reference.h"
#include "support/test_util.h"

// Counting every heap allocation of the process lets a test prove that an op allocates nothing in
// steady state, including inside Eigen or the OpenMP runtime. Under AddressSanitizer, which owns
// malloc itself, the count is not available and those checks fall back to pointer/capacity checks.
#if defined(__SANITIZE_ADDRESS__)
#define KEEL_TEST_COUNTS_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEEL_TEST_COUNTS_MALLOC 0
#endif
#endif
#ifndef KEEL_TEST_COUNTS_MALLOC
#define KEEL_TEST_COUNTS_MALLOC 1
#endif

namespace {
std::atomic<long long> g_heap_allocations{0};
}

#if KEEL_TEST_COUNTS_MALLOC
// glibc's own entry points; these definitions interpose the public names for the whole process.
extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* p, size_t size);
void* __libc_memalign(size_t alignment, size_t size);

void* malloc(size_t size) noexcept {
  g_heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) noexcept {
  g_heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(count, size);
}
void* realloc(void* p, size_t size) noexcept {
  g_heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, size);
}
void* memalign(size_t alignment, size_t size) noexcept {
  g_heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) noexcept {
  g_heap_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  g_heap_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = __libc_memalign(alignment, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}  // extern "C"
#endif

namespace keel {
namespace {

using testing::ConvDims;
using testing::random_tensor;
using testing::relative_error;

// Heap allocations so far, or -1 where they cannot be counted.
long long heap_allocations() {
  return KEEL_TEST_COUNTS_MALLOC ? g_heap_allocations.load() : -1;
}

struct ConvCase {
  ConvDims d;
  bool bias;
};

std::string case_name(const ::testing::TestParamInfo<ConvCase>& info) {
  const ConvDims& d = info.param.d;
  return "n" + std::to_string(d.n) + "c" + std::to_string(d.c) + "_" + std::to_string(d.h) + "x" +
         std::to_string(d.w) + "_k" + std::to_string(d.k) + "_r" + std::to_string(d.r) + "s" +
         std::to_string(d.s) + "_st" + std::to_string(d.stride) + "p" + std::to_string(d.pad) +
         (info.param.bias ? "_bias" : "_nobias");
}

Shape x_shape(const ConvDims& d) {
  return Shape{d.n, d.c, d.h, d.w};
}
Shape w_shape(const ConvDims& d) {
  return Shape{d.k, d.c, d.r, d.s};
}
Shape y_shape(const ConvDims& d) {
  return Shape{d.n, d.k, d.oh(), d.ow()};
}
Conv2dArgs args_of(const ConvDims& d) {
  return Conv2dArgs{static_cast<int>(d.stride), static_cast<int>(d.pad)};
}

bool all_finite(const Tensor& t) {
  for (float v : t.to_vector()) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

// Poisoned outputs: any element the op fails to write stays NaN and fails the comparison.
Tensor poisoned(const Shape& shape) {
  return Tensor::full(shape, std::nanf(""));
}

// Relative error against the float64 reference. Every output is a dot product of at most
// C·R·S (forward, dx) or N·H'·W' (dw, db) float products: float rounding gives ~1e-7·sqrt(terms).
constexpr double kTolerance = 1e-5;

class Conv2dVsReference : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2dVsReference, Forward) {
  const ConvDims d = GetParam().d;
  const Tensor x = random_tensor(x_shape(d), 11);
  const Tensor w = random_tensor(w_shape(d), 12, -0.5f, 0.5f);
  const Tensor b = GetParam().bias ? random_tensor({d.k}, 13) : Tensor();
  Tensor y = poisoned(y_shape(d));
  const float* before = y.data();
  conv2d_forward(x, w, b, y, args_of(d));
  EXPECT_EQ(y.data(), before) << "an output of the right shape must be reused";
  ASSERT_EQ(y.shape(), y_shape(d));
  EXPECT_TRUE(all_finite(y)) << "some output element was not written";
  const auto ref = testing::conv2d_reference_forward(
      x.to_vector(), w.to_vector(), b.defined() ? b.to_vector() : std::vector<float>{}, d);
  EXPECT_LT(relative_error(y.to_vector(), ref), kTolerance);
}

TEST_P(Conv2dVsReference, Backward) {
  const ConvDims d = GetParam().d;
  const Tensor x = random_tensor(x_shape(d), 21);
  const Tensor w = random_tensor(w_shape(d), 22, -0.5f, 0.5f);
  const Tensor dy = random_tensor(y_shape(d), 23);
  const auto ref =
      testing::conv2d_reference_backward(x.to_vector(), w.to_vector(), dy.to_vector(), d);
  Tensor dx = poisoned(x_shape(d)), dw = poisoned(w_shape(d)), db = poisoned({d.k});
  conv2d_backward(x, w, dy, &dx, dw, &db, args_of(d));
  EXPECT_TRUE(all_finite(dx) && all_finite(dw) && all_finite(db));
  EXPECT_LT(relative_error(dx.to_vector(), ref.dx), kTolerance);
  EXPECT_LT(relative_error(dw.to_vector(), ref.dw), kTolerance);
  EXPECT_LT(relative_error(db.to_vector(), ref.db), kTolerance);

  // dx and db not wanted (a first layer): dw alone, still right, and the unwanted outputs
  // untouched.
  Tensor dw_only = poisoned(w_shape(d));
  conv2d_backward(x, w, dy, nullptr, dw_only, nullptr, args_of(d));
  EXPECT_LT(relative_error(dw_only.to_vector(), ref.dw), kTolerance);
}

// Batch 3, 5×7 images, 3→5 channels (odd everywhere), kernels 1/3/5 and 3×1, padding 0/1,
// stride 1/2; then the flagship CNN's shapes, whose sizes fill the GEMM tiles exactly.
INSTANTIATE_TEST_SUITE_P(
    Cpu, Conv2dVsReference,
    ::testing::Values(
        ConvCase{{3, 3, 5, 7, 5, 1, 1, 1, 0}, true}, ConvCase{{3, 3, 5, 7, 5, 1, 1, 2, 1}, false},
        ConvCase{{3, 3, 5, 7, 5, 3, 3, 1, 0}, false}, ConvCase{{3, 3, 5, 7, 5, 3, 3, 1, 1}, true},
        ConvCase{{3, 3, 5, 7, 5, 3, 3, 2, 0}, true}, ConvCase{{3, 3, 5, 7, 5, 3, 3, 2, 1}, false},
        ConvCase{{3, 3, 5, 7, 5, 5, 5, 1, 0}, true}, ConvCase{{3, 3, 5, 7, 5, 5, 5, 1, 1}, false},
        ConvCase{{3, 3, 5, 7, 5, 5, 5, 2, 1}, true}, ConvCase{{3, 3, 5, 7, 5, 3, 1, 2, 1}, true},
        // Stride 1 with the output as wide as the input (the load-based im2col):
        // a 1×3 kernel whose output is taller than its input, and a 5×5 "same".
        ConvCase{{3, 3, 5, 7, 5, 1, 3, 1, 1}, false}, ConvCase{{2, 3, 6, 6, 4, 5, 5, 1, 2}, true},
        ConvCase{{1, 1, 6, 6, 32, 3, 3, 1, 1}, true}, ConvCase{{5, 7, 9, 11, 13, 3, 3, 1, 1}, true},
        ConvCase{{64, 32, 6, 6, 64, 3, 3, 1, 1}, true},
        ConvCase{{64, 64, 3, 3, 128, 3, 3, 1, 1}, false},
        ConvCase{{2, 64, 14, 14, 64, 3, 3, 1, 1}, false},
        // Images too large for one work chunk: split into pieces of an image.
        ConvCase{{1, 3, 100, 100, 5, 3, 3, 1, 1}, true},
        ConvCase{{1, 3, 200, 200, 5, 3, 3, 2, 1}, false}),
    case_name);

// ResNet-34's shapes in miniature: 7×7 images whose 49 columns straddle the 48-wide GEMM panels
// (chunks cut by panels, not by images), the 3×3 stride-2 downsampling and the 1×1 stride-2
// projection (col2im walked row by row, sixteen terms at a time where an output row has 16 or
// more columns), and a 7×7 stride-2 stem and an odd-channel 5×3 kernel (the weight gradient's
// channel runs merged across window columns, with per-lane padding at the image border).
INSTANTIATE_TEST_SUITE_P(
    CpuResnetShapes, Conv2dVsReference,
    ::testing::Values(ConvCase{{5, 16, 7, 7, 24, 3, 3, 1, 1}, true},
                      ConvCase{{3, 40, 14, 14, 40, 3, 3, 1, 1}, false},
                      ConvCase{{3, 16, 14, 14, 32, 3, 3, 2, 1}, false},
                      ConvCase{{3, 16, 14, 14, 32, 1, 1, 2, 0}, true},
                      ConvCase{{3, 16, 13, 13, 24, 1, 1, 1, 0}, true},
                      ConvCase{{2, 3, 30, 30, 16, 7, 7, 2, 3}, true},
                      ConvCase{{2, 5, 11, 9, 8, 5, 3, 1, 2}, false},
                      ConvCase{{5, 64, 30, 30, 64, 3, 3, 2, 1}, false},
                      ConvCase{{2, 16, 40, 40, 24, 1, 1, 2, 0}, true},
                      ConvCase{{2, 8, 37, 41, 8, 3, 3, 2, 1}, false}),
    case_name);

// Edges of the 8-lane (AVX2) and 16-lane (AVX-512) vector paths: 1×1, 1×2 and 2×2 images, so one
// vector of im2col columns spans 8, 4 or 2-3 images (at most 4 take one masked load each; more
// gather); 13 channels (a whole 8-channel transpose tile and a tail of 5) with 21-pixel images
// (pixel tails of 5) and 9 filters (two whole 4-row GEMM panels and one row); and stride-2 input
// gradients whose last 8 output columns end at the last column of a 15-wide row, so the block
// of 16 floats col2im updates reaches into the next row, or at the end of an image, the next image.
INSTANTIATE_TEST_SUITE_P(
    CpuVectorEdges, Conv2dVsReference,
    ::testing::Values(ConvCase{{9, 4, 1, 1, 6, 3, 3, 1, 1}, true},
                      ConvCase{{7, 3, 1, 2, 5, 3, 3, 1, 1}, false},
                      ConvCase{{5, 2, 2, 2, 4, 3, 3, 1, 1}, true},
                      ConvCase{{2, 13, 3, 7, 9, 3, 3, 1, 1}, true},
                      ConvCase{{2, 3, 15, 15, 4, 1, 1, 2, 0}, false},
                      ConvCase{{3, 6, 17, 15, 8, 3, 3, 2, 1}, true}),
    case_name);

// L = Σ y ⊙ weights is linear in each of x, w, b, so central differences are exact up to float
// rounding of the forward sums (~1e-7 relative, divided by 2h = 2e-2): 1e-3 leaves a wide margin
// while any indexing mistake gives errors of order 1.
constexpr double kGradTolerance = 1e-3;

TEST(Conv2dGradient, FiniteDifferences) {
  const ConvDims d{2, 3, 5, 7, 4, 3, 3, 2, 1};
  Tensor x = random_tensor(x_shape(d), 31);
  Tensor w = random_tensor(w_shape(d), 32, -0.5f, 0.5f);
  Tensor b = random_tensor({d.k}, 33);
  const Tensor weights = random_tensor(y_shape(d), 34);
  const auto forward = [&] {
    Tensor y;
    conv2d_forward(x, w, b, y, args_of(d));
    return y;
  };
  Tensor dx, dw, db;
  conv2d_backward(x, w, weights, &dx, dw, &db, args_of(d));
  EXPECT_LT(testing::gradient_check_error(forward, x, weights, dx), kGradTolerance);
  EXPECT_LT(testing::gradient_check_error(forward, w, weights, dw), kGradTolerance);
  EXPECT_LT(testing::gradient_check_error(forward, b, weights, db), kGradTolerance);
}

class ThreadCount {
 public:
  ThreadCount() : saved_(num_threads()) {}
  ~ThreadCount() { set_num_threads(saved_); }

 private:
  int saved_;
};

// Every output element is summed in an order fixed by the shapes alone, so not only do two runs
// with the same thread count agree bit for bit, so do runs with different thread counts.
TEST(Conv2dDeterminism, IdenticalBitsForAnyThreadCount) {
  ThreadCount restore;
  for (const ConvDims& d :
       {ConvDims{64, 32, 6, 6, 64, 3, 3, 1, 1}, ConvDims{5, 7, 9, 11, 13, 3, 3, 2, 1}}) {
    const Tensor x = random_tensor(x_shape(d), 41);
    const Tensor w = random_tensor(w_shape(d), 42, -0.5f, 0.5f);
    const Tensor b = random_tensor({d.k}, 43);
    const Tensor dy = random_tensor(y_shape(d), 44);
    std::vector<std::vector<float>> first;
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      std::vector<std::vector<float>> runs[2];
      for (auto& run : runs) {
        Tensor y, dx, dw, db;
        conv2d_forward(x, w, b, y, args_of(d));
        conv2d_backward(x, w, dy, &dx, dw, &db, args_of(d));
        run = {y.to_vector(), dx.to_vector(), dw.to_vector(), db.to_vector()};
      }
      for (size_t i = 0; i < 4; ++i) EXPECT_EQ(runs[0][i], runs[1][i]) << "output " << i;
      if (first.empty()) first = runs[0];
      for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(runs[0][i], first[i]) << "output " << i << " with " << threads << " threads";
      }
    }
  }
}

// The same at ResNet-like shapes, where columns are shared between threads by panels (7×7 images
// split across threads) and col2im adds stride-2 windows, in chunks that straddle images (the last
// shape: 225 columns per image, chunks of 384).
TEST(Conv2dDeterminism, IdenticalBitsForAnyThreadCountAtResnetShapes) {
  ThreadCount restore;
  for (const ConvDims& d :
       {ConvDims{5, 16, 7, 7, 24, 3, 3, 1, 1}, ConvDims{3, 16, 14, 14, 32, 3, 3, 2, 1},
        ConvDims{3, 16, 14, 14, 32, 1, 1, 2, 0}, ConvDims{5, 64, 30, 30, 64, 3, 3, 2, 1},
        ConvDims{3, 6, 17, 15, 8, 3, 3, 2, 1}, ConvDims{2, 13, 3, 7, 9, 3, 3, 1, 1}}) {
    const Tensor x = random_tensor(x_shape(d), 45);
    const Tensor w = random_tensor(w_shape(d), 46, -0.5f, 0.5f);
    const Tensor b = random_tensor({d.k}, 47);
    const Tensor dy = random_tensor(y_shape(d), 48);
    std::vector<std::vector<float>> first;
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      Tensor y, dx, dw, db;
      conv2d_forward(x, w, b, y, args_of(d));
      conv2d_backward(x, w, dy, &dx, dw, &db, args_of(d));
      const std::vector<std::vector<float>> run = {y.to_vector(), dx.to_vector(), dw.to_vector(),
                                                   db.to_vector()};
      if (first.empty()) first = run;
      for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(run[i], first[i]) << "output " << i << " with " << threads << " threads";
      }
    }
  }
}

TEST(Conv2dSteadyState, NoAllocationAfterFirstCall) {
  const ConvDims d{64, 32, 6, 6, 64, 3, 3, 1, 1};
  const Tensor x = random_tensor(x_shape(d), 51);
  const Tensor w = random_tensor(w_shape(d), 52, -0.5f, 0.5f);
  const Tensor b = random_tensor({d.k}, 53);
  const Tensor dy = random_tensor(y_shape(d), 54);
  Tensor y, dx, dw, db;
  const auto step = [&] {
    conv2d_forward(x, w, b, y, args_of(d));
    conv2d_backward(x, w, dy, &dx, dw, &db, args_of(d));
  };
  step();
  const float* pointers[] = {y.data(), dx.data(), dw.data(), db.data()};
  const size_t capacity = cpu::scratch_capacity_bytes();
  EXPECT_GT(capacity, 0u) << "the op should take its columns from the workspace";
  const long long allocations = heap_allocations();
  for (int i = 0; i < 3; ++i) step();
  const long long after = heap_allocations();
  if (allocations >= 0) {
    EXPECT_EQ(after - allocations, 0) << "heap allocations in steady state";
  }
  EXPECT_EQ(cpu::scratch_capacity_bytes(), capacity);
  const float* now[] = {y.data(), dx.data(), dw.data(), db.data()};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(now[i], pointers[i]) << "output " << i << " reallocated";
}

// The whole training step of the small CNN (configs/small_cnn.yaml's layers, with the fused batch
// norm + ReLU pairs, dropout, the loss and AdamW) allocates nothing once warm, on two threads.
TEST(Conv2dSteadyState, SmallCnnTrainingStepAllocatesNothing) {
  const int threads = num_threads();
  set_num_threads(2);
  Generator gen(61), dropout(62);
  nn::Sequential net;
  net.emplace<nn::Conv2d>(gen, 1, 32, 3, 1, 1);
  net.emplace<nn::BatchNorm2d>(32);
  net.emplace<nn::ReLU>();
  net.emplace<nn::Conv2d>(gen, 32, 64, 3, 1, 1);
  net.emplace<nn::BatchNorm2d>(64);
  net.emplace<nn::ReLU>();
  net.emplace<nn::MaxPool2d>(2);
  net.emplace<nn::Conv2d>(gen, 64, 128, 3, 1, 1);
  net.emplace<nn::BatchNorm2d>(128);
  net.emplace<nn::ReLU>();
  net.emplace<nn::AdaptiveAvgPool2d>(1);
  net.emplace<nn::Flatten>();
  net.emplace<nn::Dropout>(0.25f);
  net.emplace<nn::Linear>(gen, 128, 64);
  net.emplace<nn::ReLU>();
  net.emplace<nn::Dropout>(0.5f);
  net.emplace<nn::Linear>(gen, 64, 2);
  net.set_generator(&dropout);
  net.set_input_grad(false);
  optim::AdamW adamw(net.parameters());
  const Tensor x = random_tensor({64, 1, 6, 6}, 63);
  Tensor labels = Tensor::zeros({64});
  for (int64_t i = 0; i < 64; i += 2) labels.data()[i] = 1.0f;
  Tensor loss, probs, dlogits;
  const auto step = [&] {
    softmax_cross_entropy_forward(net.forward(x), labels, loss, probs);
    softmax_cross_entropy_backward(probs, labels, dlogits);
    net.backward(dlogits);
    adamw.step();
  };
  step();
  step();
  const long long allocations = heap_allocations();
  for (int i = 0; i < 3; ++i) step();
  const long long after = heap_allocations();
  set_num_threads(threads);
  if (allocations >= 0) {
    EXPECT_EQ(after - allocations, 0) << "heap allocations in steady state";
  }
  EXPECT_TRUE(std::isfinite(loss.to_vector()[0]));
}

}  // namespace
}  // namespace keel
