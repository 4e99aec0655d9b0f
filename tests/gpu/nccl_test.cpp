// keel::dist's NCCL path on one GPU: a job of one rank still sends CUDA tensors through NCCL
// (communicator from a unique id, all-reduce and broadcast on keel's stream), so a single device
// checks that the backend starts and leaves the values as a one-rank sum and mean must. Several
// GPUs: run dist_probe-like checks under mpirun (not automated; notes/distributed.md).
#include <vector>

#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "keel/dist.h"
#include "keel/tensor.h"

namespace keel {
namespace {

TEST(Nccl, OneRankAllReduceAndBroadcastOnTheGpu) {
  if (!dist::nccl_built()) {
    GTEST_SKIP() << "keel was built without NCCL (configure with -DKEEL_CUDA=ON -DKEEL_MPI=ON "
                    "-DKEEL_NCCL=ON on a machine with libnccl)";
  }
  KEEL_REQUIRE_CUDA();
  int argc = 0;
  char** argv = nullptr;
  dist::init(&argc, &argv);
  std::vector<float> values(1000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.25f * static_cast<float>(i) - 7.0f;
  Tensor t = Tensor::from_data(Shape{10, 100}, values, Device::cuda);
  dist::all_reduce(t, dist::Reduce::sum);
  EXPECT_EQ(t.to_vector(), values);
  dist::all_reduce(t, dist::Reduce::mean);
  EXPECT_EQ(t.to_vector(), values);
  dist::broadcast(t, 0);
  EXPECT_EQ(t.to_vector(), values);
}

}  // namespace
}  // namespace keel
