// CUDA buffers between the job's GPUs through NCCL, one GPU per rank (the one numbered by the
// rank's local_rank). Only in builds with NCCL (KEEL_HAS_NCCL).
#pragma once

#include <cstddef>

#include "dist/communicator.h"

namespace keel::dist::detail {

// The NCCL communicator is made at the first call: rank 0's ncclUniqueId reaches the other ranks
// through `host` (MPI). Both run on keel's CUDA stream, in order with the kernels around them.
void nccl_all_reduce_sum(float* device_data, size_t count, Communicator& host);
void nccl_broadcast(float* device_data, size_t count, int root, Communicator& host);

}  // namespace keel::dist::detail
