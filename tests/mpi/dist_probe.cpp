// dist_probe: every keel::dist collective with values whose results are known exactly (small
// integers, exact in float), checked on every rank. Run by collectives_test.cpp under mpirun;
// --exit-on-rank R makes rank R leave before the first collective, to see the others not hang.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "keel/dist.h"

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (ok) return;
  ++failures;
  std::fprintf(stderr, "dist_probe rank %d: %s is wrong\n", keel::dist::rank(), what);
}

void check_broadcast(int n) {
  std::vector<float> values(4099, 0.0f);
  if (keel::dist::rank() == n - 1) {
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) + 0.5f;
  }
  keel::dist::broadcast(std::span<float>(values), n - 1);
  bool ok = true;
  for (size_t i = 0; i < values.size(); ++i) ok = ok && values[i] == static_cast<float>(i) + 0.5f;
  check(ok, "broadcast from the last rank");
}

void check_all_reduce(int rank, int n) {
  // A million floats: more than one message of MPI's eager protocol.
  std::vector<float> sum(1 << 20), mean(1 << 20);
  std::vector<double> twice(1000);
  for (size_t i = 0; i < sum.size(); ++i)
    sum[i] = mean[i] = static_cast<float>((rank + 1) * (i % 1000));
  for (size_t i = 0; i < twice.size(); ++i) twice[i] = 2.0 * (rank + 1) * static_cast<double>(i);
  keel::dist::all_reduce(std::span<float>(sum), keel::dist::Reduce::sum);
  keel::dist::all_reduce(std::span<float>(mean), keel::dist::Reduce::mean);
  keel::dist::all_reduce(std::span<double>(twice), keel::dist::Reduce::sum);
  const double ranks_sum = n * (n + 1) / 2.0;
  bool sum_ok = true, mean_ok = true, double_ok = true;
  for (size_t i = 0; i < sum.size(); ++i) {
    const double k = static_cast<double>(i % 1000);
    sum_ok = sum_ok && sum[i] == static_cast<float>(ranks_sum * k);
    mean_ok = mean_ok && mean[i] == static_cast<float>(ranks_sum * k / n);
  }
  for (size_t i = 0; i < twice.size(); ++i)
    double_ok = double_ok && twice[i] == 2.0 * ranks_sum * i;
  check(sum_ok, "all_reduce sum (float)");
  check(mean_ok, "all_reduce mean (float)");
  check(double_ok, "all_reduce sum (double)");

  keel::Tensor t = keel::Tensor::full(keel::Shape{3, 5}, static_cast<float>(rank));
  keel::dist::all_reduce(t, keel::dist::Reduce::sum);
  check(t.to_vector() == std::vector<float>(15, static_cast<float>(n * (n - 1) / 2)),
        "all_reduce of a CPU tensor");
}

void check_any_and_gather(int rank, int n) {
  check(keel::dist::any(rank == n - 1), "any (true on the last rank)");
  check(!keel::dist::any(false), "any (false everywhere)");
  // Each rank sends a different size, with zero bytes inside.
  const std::string mine =
      "rank " + std::to_string(rank) + std::string(static_cast<size_t>(rank), '\0');
  const std::vector<std::string> all = keel::dist::gather(mine, 0);
  if (rank != 0) return check(all.empty(), "gather (off the root)");
  bool ok = static_cast<int>(all.size()) == n;
  for (int r = 0; ok && r < n; ++r) {
    ok = all[static_cast<size_t>(r)] ==
         "rank " + std::to_string(r) + std::string(static_cast<size_t>(r), '\0');
  }
  check(ok, "gather (on the root)");
}

}  // namespace

int main(int argc, char** argv) {
  keel::dist::init(&argc, &argv);
  const int rank = keel::dist::rank(), n = keel::dist::world_size();
  if (argc == 3 && std::strcmp(argv[1], "--exit-on-rank") == 0 && rank == std::atoi(argv[2])) {
    std::fprintf(stderr, "dist_probe rank %d: leaving without a word to the others\n", rank);
    std::_Exit(5);
  }
  check_broadcast(n);
  check_all_reduce(rank, n);
  check_any_and_gather(rank, n);
  keel::dist::barrier();
  std::printf("dist_probe rank %d of %d (%s): %s\n", rank, n, keel::dist::backend_name(),
              failures == 0 ? "ok" : "FAILED");
  keel::dist::finalize();
  return failures == 0 ? 0 : 1;
}
