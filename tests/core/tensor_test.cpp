// Tensor basics: creation, views sharing storage, copies, seeded randomness, ensure() reuse.
#include <cmath>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/random.h"
#include "keel/runtime.h"
#include "keel/tensor.h"

namespace keel {
namespace {

TEST(Tensor, ZerosFullAndFromData) {
  Tensor z = Tensor::zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  for (float v : z.to_vector()) EXPECT_EQ(v, 0.0f);
  Tensor f = Tensor::full({4}, 2.5f);
  for (float v : f.to_vector()) EXPECT_EQ(v, 2.5f);
  Tensor d = Tensor::from_data({2, 2}, std::vector<float>{1, 2, 3, 4});
  EXPECT_EQ(d.to_vector(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_THROW(Tensor::from_data({3}, std::vector<float>{1, 2}), Error);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = Tensor::from_data({3, 2}, std::vector<float>{0, 1, 2, 3, 4, 5});
  Tensor r = t.rows(1, 3);
  EXPECT_EQ(r.shape(), (Shape{2, 2}));
  EXPECT_EQ(r.to_vector(), (std::vector<float>{2, 3, 4, 5}));
  r.fill_(9.0f);
  EXPECT_EQ(t.to_vector(), (std::vector<float>{0, 1, 9, 9, 9, 9}));
  Tensor v = t.reshape({6});
  EXPECT_TRUE(v.shares_storage_with(t));
  EXPECT_THROW(t.reshape({4}), Error);
  EXPECT_THROW(t.rows(2, 4), Error);
  EXPECT_EQ(Tensor::zeros({2, 3, 4, 5}).flatten().shape(), (Shape{2, 60}));
}

TEST(Tensor, CloneIsIndependent) {
  Tensor t = Tensor::full({3}, 1.0f);
  Tensor c = t.clone();
  c.fill_(2.0f);
  EXPECT_EQ(t.to_vector(), (std::vector<float>{1, 1, 1}));
  EXPECT_FALSE(c.shares_storage_with(t));
}

TEST(Tensor, SeededRandomIsReproducibleAndPlausible) {
  Generator a(42), b(42), c(43);
  Tensor x = Tensor::normal({10000}, 1.0f, 2.0f, a);
  Tensor y = Tensor::normal({10000}, 1.0f, 2.0f, b);
  Tensor z = Tensor::normal({10000}, 1.0f, 2.0f, c);
  EXPECT_EQ(x.to_vector(), y.to_vector());
  EXPECT_NE(x.to_vector(), z.to_vector());
  double mean = 0, var = 0;
  for (float v : x.to_vector()) mean += v;
  mean /= 10000;
  for (float v : x.to_vector()) var += (v - mean) * (v - mean);
  var /= 10000;
  EXPECT_NEAR(mean, 1.0, 0.06);
  EXPECT_NEAR(std::sqrt(var), 2.0, 0.06);
  Tensor u = Tensor::uniform({1000}, -3.0f, 5.0f, a);
  for (float v : u.to_vector()) {
    EXPECT_GE(v, -3.0f);
    EXPECT_LT(v, 5.0f);
  }
  EXPECT_GT(a.offset(), 0u);
}

TEST(Tensor, GeneratorHostDrawsAreUnbiasedAndSeeded) {
  Generator g(7), h(7);
  int counts[6] = {0};
  for (int i = 0; i < 60000; ++i) {
    uint64_t k = g.next_below(6);
    ASSERT_LT(k, 6u);
    ++counts[k];
    ASSERT_EQ(k, h.next_below(6));
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 400);
}

TEST(Tensor, EnsureReusesStorage) {
  Tensor t;
  t.ensure({4, 4}, Device::cpu);
  float* first = t.data();
  t.ensure({4, 4}, Device::cpu);
  EXPECT_EQ(t.data(), first);
  t.ensure({2, 4}, Device::cpu);  // smaller: same allocation
  EXPECT_EQ(t.data(), first);
  t.ensure({8, 8}, Device::cpu);  // larger: new allocation
  EXPECT_EQ(t.shape(), (Shape{8, 8}));
}

TEST(Tensor, CudaTensorWithoutAGpuIsAClearError) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is present: the error path is for CPU-only machines";
  try {
    Tensor t({2}, Device::cuda);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--device cpu"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace keel
