// conv2d on the CPU: no allocation in steady state, for one convolution and for a whole training
// step of the small CNN. The numerics (float64 reference on awkward shapes, finite differences,
// thread-count independence) are the op-case table's (tests/op_cases/cases_conv.cpp).
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
#include "op_cases/conv_reference.h"
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

// Heap allocations so far, or -1 where they cannot be counted.
long long heap_allocations() {
  return KEEL_TEST_COUNTS_MALLOC ? g_heap_allocations.load() : -1;
}

TEST(Conv2dSteadyState, NoAllocationAfterFirstCall) {
  const ConvDims d{64, 32, 6, 6, 64, 3, 3, 1, 1};
  const Tensor x = random_tensor(d.x_shape(), 51);
  const Tensor w = random_tensor(d.w_shape(), 52, -0.5f, 0.5f);
  const Tensor b = random_tensor({d.k}, 53);
  const Tensor dy = random_tensor(d.y_shape(), 54);
  Tensor y, dx, dw, db;
  const auto step = [&] {
    conv2d_forward(x, w, b, y, d.args());
    conv2d_backward(x, w, dy, &dx, dw, &db, d.args());
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
