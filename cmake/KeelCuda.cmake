# Decides whether the CUDA backend (and the cuDNN one) is built: KEEL_CUDA=AUTO|ON|OFF.
# AUTO builds it when nvcc and cuBLAS are found; ON fails loudly when they are not.
include(CheckLanguage)

set(KEEL_HAS_CUDA OFF)
set(KEEL_HAS_CUDNN OFF)
if(NOT KEEL_CUDA STREQUAL "OFF")
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    find_package(CUDAToolkit)
  endif()
  # CUDA 12 or newer: the graph API keel uses (cudaGraphInstantiate's flags, cudaGraphExecUpdate's
  # result info) took its present form there.
  if(CUDAToolkit_FOUND AND CUDAToolkit_VERSION VERSION_LESS 12.0)
    message(STATUS "keel: CUDA ${CUDAToolkit_VERSION} is older than 12.0; the CUDA backend needs 12 or newer")
    set(CUDAToolkit_FOUND OFF)
  endif()
  if(CMAKE_CUDA_COMPILER AND CUDAToolkit_FOUND AND TARGET CUDA::cublas)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # sm_75: the T4 of a cloud VM; sm_90: H100/H200.
      set(CMAKE_CUDA_ARCHITECTURES "75;90")
    endif()
    enable_language(CUDA)
    # C++17 for .cu files: CMake 3.25 knows no C++20 flag for nvcc, and the kernels see only plain
    # types (never keel's C++20 public headers), so C++17 is all they need.
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(KEEL_HAS_CUDA ON)
  elseif(KEEL_CUDA STREQUAL "ON")
    message(FATAL_ERROR "keel: KEEL_CUDA=ON but nvcc 12+ or cuBLAS was not found; install the CUDA toolkit (12 or newer) "
                        "or configure with -DKEEL_CUDA=OFF")
  endif()
endif()
keel_status(KEEL_HAS_CUDA "CUDA backend" "(nvcc ${CMAKE_CUDA_COMPILER_VERSION}, cuBLAS; archs ${CMAKE_CUDA_ARCHITECTURES})")

if(KEEL_HAS_CUDA AND KEEL_CUDNN)
  find_library(CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib)
  find_path(CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
  if(CUDNN_LIBRARY AND CUDNN_INCLUDE_DIR)
    set(KEEL_HAS_CUDNN ON)
  endif()
endif()
keel_status(KEEL_HAS_CUDNN "cuDNN backend" "(${CUDNN_LIBRARY})")
