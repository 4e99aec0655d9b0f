// The single-process backend: a job of one rank, where a broadcast, a sum over ranks and a gather
// leave the data as they are. keel runs on it when built without MPI or started without mpirun.
#include <cstdlib>

#include "dist/communicator.h"

namespace keel::dist::detail {

namespace {

class SingleCommunicator final : public Communicator {
 public:
  const char* name() const override { return "single"; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  int local_rank() const override { return 0; }
  void broadcast(void*, size_t, Element, int) override {}
  void all_reduce_sum(void*, size_t, Element) override {}
  bool any(bool flag) override { return flag; }
  void barrier() override {}
  std::vector<std::string> gather(const std::string& bytes, int) override { return {bytes}; }
  [[noreturn]] void abort(int exit_code) override { std::exit(exit_code); }
  void finalize() override {}
};

}  // namespace

std::unique_ptr<Communicator> make_single_communicator() {
  return std::make_unique<SingleCommunicator>();
}

}  // namespace keel::dist::detail
