// The convolution policies of keel/runtime.h: every name parses to its value, an unknown name is a
// usage error that lists the valid ones, and a setting holds until it is changed. (Where the
// starting value comes from the environment is tested through titanic_train, in
// tests/cli/bad_input_test.cpp, since a process reads each variable once.)
#include <string>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/runtime.h"

namespace keel {
namespace {

// The message of the usage error that fn throws (fails the test when it throws nothing).
template <typename Fn>
std::string usage_error(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::usage);
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(RuntimePolicy, CpuConvAlgoNames) {
  EXPECT_EQ(parse_cpu_conv_algo("auto"), CpuConvAlgo::automatic);
  EXPECT_EQ(parse_cpu_conv_algo("im2col"), CpuConvAlgo::im2col);
  EXPECT_EQ(parse_cpu_conv_algo("winograd"), CpuConvAlgo::winograd);
  const std::string message = usage_error([] { parse_cpu_conv_algo("winograd4"); });
  for (const char* name : {"'winograd4'", "auto", "im2col", "winograd"}) {
    EXPECT_NE(message.find(name), std::string::npos) << message;
  }
}

TEST(RuntimePolicy, GpuConvAlgoNames) {
  EXPECT_EQ(parse_gpu_conv_algo("auto"), GpuConvAlgo::automatic);
  EXPECT_EQ(parse_gpu_conv_algo("im2col"), GpuConvAlgo::im2col);
  EXPECT_EQ(parse_gpu_conv_algo("winograd"), GpuConvAlgo::winograd);
  EXPECT_EQ(parse_gpu_conv_algo("winograd2"), GpuConvAlgo::winograd2);
  EXPECT_EQ(parse_gpu_conv_algo("winograd4"), GpuConvAlgo::winograd4);
  const std::string message = usage_error([] { parse_gpu_conv_algo("fft"); });
  for (const char* name : {"'fft'", "auto", "winograd2", "winograd4", "im2col"}) {
    EXPECT_NE(message.find(name), std::string::npos) << message;
  }
  EXPECT_FALSE(usage_error([] { parse_gpu_conv_algo(""); }).empty());
}

TEST(RuntimePolicy, GpuConvDwNames) {
  EXPECT_EQ(parse_gpu_conv_dw("gemm"), GpuConvDw::gemm);
  EXPECT_EQ(parse_gpu_conv_dw("direct"), GpuConvDw::direct);
  const std::string message = usage_error([] { parse_gpu_conv_dw("fastest"); });
  for (const char* name : {"'fastest'", "gemm", "direct"}) {
    EXPECT_NE(message.find(name), std::string::npos) << message;
  }
}

// Settings hold until changed, on a machine without a GPU too (the policy is not the device's).
TEST(RuntimePolicy, SettingsHoldUntilChanged) {
  const CpuConvAlgo cpu = cpu_conv_algo();
  const GpuConvAlgo gpu = gpu_conv_algo();
  const GpuConvDw dw = gpu_conv_dw();
  for (GpuConvAlgo algo : {GpuConvAlgo::im2col, GpuConvAlgo::winograd4, GpuConvAlgo::automatic}) {
    set_gpu_conv_algo(algo);
    EXPECT_EQ(gpu_conv_algo(), algo);
  }
  set_gpu_conv_dw(GpuConvDw::direct);
  EXPECT_EQ(gpu_conv_dw(), GpuConvDw::direct);
  set_cpu_conv_algo(CpuConvAlgo::winograd);
  EXPECT_EQ(cpu_conv_algo(), CpuConvAlgo::winograd);
  set_cpu_conv_algo(cpu);
  set_gpu_conv_algo(gpu);
  set_gpu_conv_dw(dw);
}

// The cuDNN choice is refused when it is made, in a build without cuDNN, not at the first
// convolution; the setting stays what it was.
TEST(RuntimePolicy, CudnnBackendIsRefusedWhereTheBuildHasNone) {
  if (cudnn_built()) GTEST_SKIP() << "this keel build has cuDNN, so the cudnn backend is allowed";
  const GpuBackend before = gpu_backend();
  const std::string message = usage_error([] { set_gpu_backend(GpuBackend::cudnn); });
  EXPECT_NE(message.find("no cuDNN"), std::string::npos) << message;
  EXPECT_EQ(gpu_backend(), before);
}

}  // namespace
}  // namespace keel
