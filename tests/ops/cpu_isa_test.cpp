// The CPU kernels' instruction-set paths: choosing and refusing a path, and the same op on every
// path this CPU supports: bit-identical for any thread count on one path, and within float
// rounding of the other paths.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/ops.h"
#include "keel/random.h"
#include "keel/runtime.h"
#include "keel/tensor.h"
#include "support/cpu_settings_guard.h"

namespace keel {
namespace {

const CpuIsa kAllPaths[] = {CpuIsa::portable, CpuIsa::avx2, CpuIsa::avx512};

std::vector<CpuIsa> supported_paths() {
  std::vector<CpuIsa> paths;
  for (CpuIsa isa : kAllPaths) {
    if (cpu_isa_supported(isa)) paths.push_back(isa);
  }
  return paths;
}

TEST(CpuIsa, NamesRoundTrip) {
  for (CpuIsa isa : kAllPaths) EXPECT_EQ(parse_cpu_isa(cpu_isa_name(isa)), isa);
  try {
    parse_cpu_isa("avx3");
    FAIL() << "an unknown path name was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::usage);
    EXPECT_NE(std::string(e.what()).find("avx512, avx2 or portable"), std::string::npos) << e.what();
  }
}

// CTest runs this program once per path with KEEL_CPU_ISA set: that path is the one that runs.
TEST(CpuIsa, TheEnvironmentChoosesThePath) {
  const char* forced = std::getenv("KEEL_CPU_ISA");
  EXPECT_EQ(cpu_isa(), forced && *forced ? parse_cpu_isa(forced) : best_cpu_isa());
}

TEST(CpuIsa, PortableAlwaysRunsAndTheBestIsSupported) {
  EXPECT_TRUE(cpu_isa_supported(CpuIsa::portable));
  EXPECT_TRUE(cpu_isa_supported(best_cpu_isa()));
  if (cpu_isa_supported(CpuIsa::avx512)) {
    EXPECT_TRUE(cpu_isa_supported(CpuIsa::avx2));
  }
}

TEST(CpuIsa, ForcedPathIsTheActiveOne) {
  const testing::CpuSettingsGuard guard;
  for (CpuIsa isa : supported_paths()) {
    set_cpu_isa(isa);
    EXPECT_EQ(cpu_isa(), isa);
  }
}

TEST(CpuIsa, UnsupportedPathIsRefusedWithTheSupportedOnes) {
  const testing::CpuSettingsGuard guard;
  for (CpuIsa isa : kAllPaths) {
    if (cpu_isa_supported(isa)) continue;
    try {
      set_cpu_isa(isa);
      FAIL() << cpu_isa_name(isa) << " was accepted on a CPU without it";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::usage);
      EXPECT_NE(std::string(e.what()).find("portable"), std::string::npos) << e.what();
    }
  }
  if (supported_paths().size() == 3) GTEST_SKIP() << "this CPU supports every path";
}

Tensor random_tensor(const Shape& shape, Generator& gen, float low, float high) {
  std::vector<float> values(static_cast<size_t>(shape.numel()));
  for (float& v : values) v = gen.next_uniform(low, high);
  return Tensor::from_data(shape, values);
}

struct ConvResult {
  std::vector<float> y, dx, dw, db;
};

// A convolution forward and backward at a shape with ragged tiles on every path (channels and
// pixel counts that no register tile divides), from fixed random inputs.
ConvResult conv_on_active_path() {
  Generator gen(11);
  const Conv2dArgs args{1, 1};
  Tensor x = random_tensor({5, 3, 11, 9}, gen, -1.0f, 1.0f);
  Tensor w = random_tensor({7, 3, 3, 3}, gen, -0.5f, 0.5f);
  Tensor b = random_tensor({7}, gen, -0.5f, 0.5f);
  Tensor y, dx, dw, db;
  conv2d_forward(x, w, b, y, args);
  Tensor dy = random_tensor(y.shape(), gen, -1.0f, 1.0f);
  conv2d_backward(x, w, dy, &dx, dw, &db, args);
  return {y.to_vector(), dx.to_vector(), dw.to_vector(), db.to_vector()};
}

double max_relative_gap(const std::vector<float>& a, const std::vector<float>& b) {
  double scale = 0.0, gap = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
    gap = std::max(gap, std::fabs(static_cast<double>(a[i]) - b[i]));
  }
  return gap / std::max(scale, 1e-30);
}

TEST(CpuIsa, EveryPathIsThreadIndependentAndAgreesWithTheOthers) {
  const testing::CpuSettingsGuard guard;
  set_cpu_isa(CpuIsa::portable);
  set_num_threads(1);
  const ConvResult reference = conv_on_active_path();
  for (CpuIsa isa : supported_paths()) {
    SCOPED_TRACE(cpu_isa_name(isa));
    set_cpu_isa(isa);
    set_num_threads(1);
    const ConvResult one = conv_on_active_path();
    set_num_threads(2);
    const ConvResult two = conv_on_active_path();
    EXPECT_EQ(one.y, two.y);
    EXPECT_EQ(one.dx, two.dx);
    EXPECT_EQ(one.dw, two.dw);
    EXPECT_EQ(one.db, two.db);
    // Paths sum in different orders (tile shapes, FMA contraction): float rounding apart.
    EXPECT_LT(max_relative_gap(one.y, reference.y), 1e-5);
    EXPECT_LT(max_relative_gap(one.dx, reference.dx), 1e-5);
    EXPECT_LT(max_relative_gap(one.dw, reference.dw), 1e-5);
    EXPECT_LT(max_relative_gap(one.db, reference.db), 1e-5);
  }
}

}  // namespace
}  // namespace keel
