// Thread shares of a loop for the CPU ops, also for those that only sometimes pay for a parallel
// region: a region switched off by an if clause still builds a one-thread team, which libgomp
// allocates on the heap on every call, so small calls must not enter one at all.
#pragma once

#include <cstdint>

#include <omp.h>

namespace keel::cpu {

// Internal linkage: every kernel variant keeps its own copy, so the linker never swaps in one
// compiled for a wider instruction set (cmake/KeelCpuVariants.cmake).
namespace {

// A half-open index range [begin, end): a thread's share of a loop, or a window's rows.
struct Range {
  int64_t begin, end;
};

// Part t of `threads` equal parts of [0, n): a fixed partition (of images, panels or channels),
// so each thread's share, and the order of its sums, depends only on n and the team size.
inline Range split(int64_t n, int t, int threads) {
  return {n * t / threads, n * (t + 1) / threads};
}

}  // namespace

// fn(begin, end) over [0, n): split into equal contiguous shares among the OpenMP team when
// `parallel`, else called once for all of it on the calling thread, outside any region.
template <class Fn>
void for_shares(int64_t n, bool parallel, Fn fn) {
  if (!parallel || n <= 1) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    fn(n * t / team, n * (t + 1) / team);
  }
}

}  // namespace keel::cpu
