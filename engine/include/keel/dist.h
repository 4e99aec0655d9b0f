// keel::dist: the processes of one training job and the collectives between them, one process per
// device. MPI (OpenMPI) carries host buffers; NCCL carries CUDA buffers where keel was built with
// it.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "keel/tensor.h"

namespace keel::dist {

enum class Reduce { sum, mean };

// Starts the job: the MPI backend when this build has it and a launcher started the process
// (mpirun sets OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK), else the single-process backend, on
// which every collective leaves its buffer as it is. Calling it again does nothing. With MPI and
// CUDA, each process then uses the GPU numbered by its rank on its node (local_rank). Throws
// keel::Error (usage) when mpirun started several processes of a build without MPI.
void init(int* argc, char*** argv);
// Ends the job after the last collective of every rank; a no-op for the single backend.
void finalize();
// Ends every process of the job with `exit_code` (MPI_Abort), so that no rank waits for a peer
// that has stopped; std::exit where the job is one process.
[[noreturn]] void abort(int exit_code);

bool mpi_built();
bool nccl_built();
const char* backend_name();  // "single" or "mpi"
int rank();
int world_size();
int local_rank();  // the rank among the processes on this node
inline bool is_root() {
  return rank() == 0;
}

// Host buffers.
void broadcast(std::span<float> data, int root = 0);
void broadcast(std::span<char> data, int root = 0);
void all_reduce(std::span<float> data, Reduce op);
void all_reduce(std::span<double> data, Reduce op);
// True on every rank when `flag` is true on any: decisions all ranks must take together.
bool any(bool flag);
void barrier();
// Every rank's bytes, in rank order, on `root` (an empty list elsewhere): the fold-parallel
// ensemble sends each model's probabilities, records and weights to rank 0 this way.
std::vector<std::string> gather(const std::string& bytes, int root = 0);

// Tensors: a CPU tensor through MPI; a CUDA tensor through NCCL when keel was built with it,
// otherwise through host memory and MPI.
void broadcast(Tensor& tensor, int root = 0);
void all_reduce(Tensor& tensor, Reduce op);

}  // namespace keel::dist
