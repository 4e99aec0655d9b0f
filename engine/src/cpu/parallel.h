// Thread shares of a loop for the CPU ops that only sometimes pay for a parallel region: a region
// switched off by an if clause still builds a one-thread team, which libgomp allocates on the heap
// on every call, so small calls must not enter one at all.
#pragma once

#include <cstdint>

#include <omp.h>

namespace keel::cpu {

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
