// cuBLAS is opened at first use rather than linked: every entry point keel calls must resolve from
// the library this build was made against. Needs the CUDA toolkit's libraries, not a GPU.
#include <gtest/gtest.h>

#include "cuda/cublas_loader.h"

namespace keel::cuda {
namespace {

TEST(CublasLoader, ResolvesEveryEntryPointKeelCalls) {
  const CublasApi& api = cublas_api();
  EXPECT_NE(api.create, nullptr);
  EXPECT_NE(api.set_stream, nullptr);
  EXPECT_NE(api.set_math_mode, nullptr);
  EXPECT_NE(api.sgemm, nullptr);
  EXPECT_NE(api.sgemm_strided_batched, nullptr);
  ASSERT_NE(api.status_name, nullptr);
  ASSERT_NE(api.status_string, nullptr);
  // A call that needs no device: the library really is the one these pointers came from.
  EXPECT_STREQ(api.status_name(CUBLAS_STATUS_SUCCESS), "CUBLAS_STATUS_SUCCESS");
  EXPECT_EQ(&cublas_api(), &api) << "loaded once";
}

}  // namespace
}  // namespace keel::cuda
