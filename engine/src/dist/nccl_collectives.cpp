// NCCL collectives for CUDA tensors, bootstrapped through MPI as PyTorch and Horovod do: rank 0
// makes the unique id, MPI broadcasts it, every rank joins with its own GPU.
#include "dist/nccl_collectives.h"

#include <nccl.h>

#include <fmt/format.h>

#include "cuda/check.h"
#include "cuda/context.h"
#include "keel/error.h"
#include "keel/runtime.h"

#define KEEL_NCCL_CHECK(statement)                                                             \
  do {                                                                                         \
    ncclResult_t keel_nccl_status_ = (statement);                                              \
    if (keel_nccl_status_ != ncclSuccess) {                                                    \
      throw ::keel::Error(                                                                     \
          ::keel::ErrorKind::runtime,                                                          \
          fmt::format("NCCL error {} in `{}` at {}:{}", ncclGetErrorString(keel_nccl_status_), \
                      #statement, __FILE__, __LINE__));                                        \
    }                                                                                          \
  } while (0)

namespace keel::dist::detail {

namespace {

ncclComm_t nccl_comm(Communicator& host) {
  static ncclComm_t comm = nullptr;
  if (comm) return comm;
  ncclUniqueId id{};
  if (host.rank() == 0) KEEL_NCCL_CHECK(ncclGetUniqueId(&id));
  host.broadcast(&id, sizeof(id), Element::byte, 0);
  KEEL_CUDA_CHECK(cudaSetDevice(cuda_device()));
  KEEL_NCCL_CHECK(ncclCommInitRank(&comm, host.world_size(), id, host.rank()));
  return comm;
}

}  // namespace

void nccl_all_reduce_sum(float* device_data, size_t count, Communicator& host) {
  KEEL_NCCL_CHECK(ncclAllReduce(device_data, device_data, count, ncclFloat, ncclSum,
                                nccl_comm(host), cuda::stream()));
}

void nccl_broadcast(float* device_data, size_t count, int root, Communicator& host) {
  KEEL_NCCL_CHECK(ncclBroadcast(device_data, device_data, count, ncclFloat, root, nccl_comm(host),
                                cuda::stream()));
}

}  // namespace keel::dist::detail
