// The MPI backend (OpenMPI): one rank per process, started by mpirun on one machine or a hostfile.
// MPI's default error handler stays on: a failed collective, or a peer that dies, ends the whole
// job through the launcher instead of leaving the other ranks waiting.
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "dist/communicator.h"

namespace keel::dist::detail {

namespace {

// MPI counts are ints: larger buffers go in pieces of at most this many elements.
constexpr size_t kMaxPiece = size_t{1} << 30;

MPI_Datatype mpi_type(Element type) {
  switch (type) {
    case Element::f32:
      return MPI_FLOAT;
    case Element::f64:
      return MPI_DOUBLE;
    case Element::byte:
      return MPI_BYTE;
  }
  return MPI_BYTE;
}

size_t element_bytes(Element type) {
  return type == Element::f64 ? 8 : type == Element::f32 ? 4 : 1;
}

// Calls `piece(offset, count)` over [0, total) in pieces an int can count.
template <typename Piece>
void in_pieces(size_t total, Piece piece) {
  for (size_t offset = 0; offset < total; offset += kMaxPiece) {
    piece(offset, static_cast<int>(std::min(kMaxPiece, total - offset)));
  }
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(int* argc, char*** argv) {
    int ready = 0;
    MPI_Initialized(&ready);
    if (!ready) {
      // Only the main thread calls MPI; keel's OpenMP and checkpoint threads never do.
      int provided = 0;
      MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local_rank_);
    MPI_Comm_free(&node);
  }

  const char* name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  int local_rank() const override { return local_rank_; }

  void broadcast(void* data, size_t count, Element type, int root) override {
    auto* bytes = static_cast<char*>(data);
    in_pieces(count, [&](size_t offset, int n) {
      MPI_Bcast(bytes + offset * element_bytes(type), n, mpi_type(type), root, MPI_COMM_WORLD);
    });
  }

  void all_reduce_sum(void* data, size_t count, Element type) override {
    auto* bytes = static_cast<char*>(data);
    in_pieces(count, [&](size_t offset, int n) {
      MPI_Allreduce(MPI_IN_PLACE, bytes + offset * element_bytes(type), n, mpi_type(type), MPI_SUM,
                    MPI_COMM_WORLD);
    });
  }

  bool any(bool flag) override {
    int value = flag ? 1 : 0;
    MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    return value != 0;
  }

  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }

  // Point to point in rank order rather than MPI_Gatherv, whose int displacements would cap the
  // total at 2 GiB (a few dozen ResNet-34 models).
  std::vector<std::string> gather(const std::string& bytes, int root) override {
    if (rank_ != root) {
      send_bytes(bytes, root);
      return {};
    }
    std::vector<std::string> all(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r)
      all[static_cast<size_t>(r)] = r == root ? bytes : receive_bytes(r);
    return all;
  }

  [[noreturn]] void abort(int exit_code) override {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::exit(exit_code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

  void finalize() override {
    int done = 0;
    MPI_Finalized(&done);
    if (!done) MPI_Finalize();
  }

 private:
  static constexpr int kSizeTag = 17, kBytesTag = 18;

  void send_bytes(const std::string& bytes, int to) {
    auto size = static_cast<int64_t>(bytes.size());
    MPI_Send(&size, 1, MPI_INT64_T, to, kSizeTag, MPI_COMM_WORLD);
    in_pieces(bytes.size(), [&](size_t offset, int n) {
      MPI_Send(bytes.data() + offset, n, MPI_BYTE, to, kBytesTag, MPI_COMM_WORLD);
    });
  }

  std::string receive_bytes(int from) {
    int64_t size = 0;
    MPI_Recv(&size, 1, MPI_INT64_T, from, kSizeTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    std::string bytes(static_cast<size_t>(size), '\0');
    in_pieces(bytes.size(), [&](size_t offset, int n) {
      MPI_Recv(bytes.data() + offset, n, MPI_BYTE, from, kBytesTag, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
    });
    return bytes;
  }

  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(int* argc, char*** argv) {
  return std::make_unique<MpiCommunicator>(argc, argv);
}

}  // namespace keel::dist::detail
