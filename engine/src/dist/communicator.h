// The backends behind keel::dist: one interface, a single-process implementation and an MPI one.
// Collectives take raw host buffers; keel/dist.h adds the element types, means and tensors.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace keel::dist::detail {

enum class Element { f32, f64, byte };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual const char* name() const = 0;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual int local_rank() const = 0;
  virtual void broadcast(void* data, size_t count, Element type, int root) = 0;
  virtual void all_reduce_sum(void* data, size_t count, Element type) = 0;
  virtual bool any(bool flag) = 0;
  virtual void barrier() = 0;
  virtual std::vector<std::string> gather(const std::string& bytes, int root) = 0;
  [[noreturn]] virtual void abort(int exit_code) = 0;
  virtual void finalize() = 0;
};

std::unique_ptr<Communicator> make_single_communicator();
// Only in builds with MPI (KEEL_HAS_MPI).
std::unique_ptr<Communicator> make_mpi_communicator(int* argc, char*** argv);
// The communicator keel::dist::init made (the single one before init).
Communicator& communicator();

}  // namespace keel::dist::detail
