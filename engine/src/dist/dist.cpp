// keel::dist's front: picks the backend at init, then turns typed buffers, means and tensors into
// the backend's raw collectives.
#include "keel/dist.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "dist/communicator.h"
#include "environment.h"
#include "keel/error.h"
#include "keel/ops.h"
#include "keel/runtime.h"
#if defined(KEEL_HAS_NCCL)
#include "dist/nccl_collectives.h"
#endif

namespace keel::dist {

namespace detail {

namespace {
std::unique_ptr<Communicator>& current() {
  static std::unique_ptr<Communicator> comm;
  return comm;
}

// mpirun (OpenMPI), Hydra (MPICH) and PMIx launchers name the rank's job in the environment; a
// program started by hand is a job of one, and never pays for MPI's start-up.
[[maybe_unused]] bool started_by_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (!environment::read(name).empty()) return true;
  }
  return false;
}

#if !defined(KEEL_HAS_MPI)
// The job's size as the launcher announces it (1 when it does not).
int launched_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const std::string_view value = environment::read(name);
    if (!value.empty()) return std::max(1, std::atoi(std::string(value).c_str()));
  }
  return 1;
}

// N copies of a one-process run would each train everything and write the same files.
void refuse_launch_without_mpi() {
  const int size = launched_world_size();
  if (size == 1) return;
  throw Error(ErrorKind::usage,
              fmt::format("started as one of {} processes by mpirun, but this keel was built "
                          "without MPI, so each process would train alone and write the same "
                          "files: install libopenmpi-dev (scripts/install-deps.sh) and configure "
                          "with -DKEEL_MPI=ON, or run without mpirun",
                          size));
}
#endif
}  // namespace

Communicator& communicator() {
  if (!current()) current() = make_single_communicator();
  return *current();
}

}  // namespace detail

using detail::communicator;
using detail::Element;

void init(int* argc, char*** argv) {
  auto& comm = detail::current();
  if (comm) return;
#if defined(KEEL_HAS_MPI)
  if (detail::started_by_launcher()) comm = detail::make_mpi_communicator(argc, argv);
#else
  detail::refuse_launch_without_mpi();
#endif
  if (!comm) comm = detail::make_single_communicator();
  // One process per GPU: the ranks on a node take its devices in order.
  if (comm->world_size() > 1) set_cuda_device(comm->local_rank());
}

void finalize() {
  communicator().finalize();
}
void abort(int exit_code) {
  communicator().abort(exit_code);
  std::exit(exit_code);  // not reached: both backends end the process
}

bool mpi_built() {
#if defined(KEEL_HAS_MPI)
  return true;
#else
  return false;
#endif
}

bool nccl_built() {
#if defined(KEEL_HAS_NCCL)
  return true;
#else
  return false;
#endif
}

const char* backend_name() {
  return communicator().name();
}
int rank() {
  return communicator().rank();
}
int world_size() {
  return communicator().world_size();
}
int local_rank() {
  return communicator().local_rank();
}

void broadcast(std::span<float> data, int root) {
  communicator().broadcast(data.data(), data.size(), Element::f32, root);
}

void broadcast(std::span<char> data, int root) {
  communicator().broadcast(data.data(), data.size(), Element::byte, root);
}

void all_reduce(std::span<float> data, Reduce op) {
  communicator().all_reduce_sum(data.data(), data.size(), Element::f32);
  if (op == Reduce::mean) {
    const auto n = static_cast<float>(world_size());
    for (float& v : data) v /= n;
  }
}

void all_reduce(std::span<double> data, Reduce op) {
  communicator().all_reduce_sum(data.data(), data.size(), Element::f64);
  if (op == Reduce::mean) {
    const auto n = static_cast<double>(world_size());
    for (double& v : data) v /= n;
  }
}

bool any(bool flag) {
  return communicator().any(flag);
}
void barrier() {
  communicator().barrier();
}

std::vector<std::string> gather(const std::string& bytes, int root) {
  return communicator().gather(bytes, root);
}

namespace {
std::span<float> host_span(Tensor& t) {
  return {t.data(), static_cast<size_t>(t.numel())};
}
}  // namespace

// A CUDA tensor goes through NCCL even in a job of one, so that one GPU exercises the NCCL path.
void broadcast(Tensor& tensor, int root) {
  if (tensor.device() == Device::cpu) return broadcast(host_span(tensor), root);
#if defined(KEEL_HAS_NCCL)
  detail::nccl_broadcast(tensor.data(), static_cast<size_t>(tensor.numel()), root, communicator());
#else
  if (world_size() == 1) return;
  Tensor host = tensor.to(Device::cpu);
  broadcast(host_span(host), root);
  tensor.copy_from(host);
#endif
}

void all_reduce(Tensor& tensor, Reduce op) {
  if (tensor.device() == Device::cpu) return all_reduce(host_span(tensor), op);
#if defined(KEEL_HAS_NCCL)
  detail::nccl_all_reduce_sum(tensor.data(), static_cast<size_t>(tensor.numel()), communicator());
  if (op == Reduce::mean) scale(tensor, 1.0f / static_cast<float>(world_size()), tensor);
#else
  if (world_size() == 1) return;
  Tensor host = tensor.to(Device::cpu);
  all_reduce(host_span(host), op);
  tensor.copy_from(host);
#endif
}

}  // namespace keel::dist
