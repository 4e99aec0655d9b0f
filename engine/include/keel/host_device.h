// KEEL_HOST_DEVICE: a function the CUDA kernels call and the CPU tests run as well, so that both
// execute the same index arithmetic (nvcc compiles it for both sides, g++ as a plain inline).
#pragma once

#if defined(__CUDACC__)
#define KEEL_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define KEEL_HOST_DEVICE inline
#endif
