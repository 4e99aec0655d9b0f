# Decides keel::dist's backends. KEEL_MPI=AUTO|ON|OFF: the MPI backend (OpenMPI, libopenmpi-dev)
# for multi-process training; without it keel runs as one process. KEEL_NCCL: the NCCL backend for
# CUDA buffers, off by default (it needs the CUDA backend, MPI and libnccl).
set(KEEL_MPI AUTO CACHE STRING
    "Build keel::dist's MPI backend: AUTO (when MPI is found), ON or OFF")
set_property(CACHE KEEL_MPI PROPERTY STRINGS AUTO ON OFF)
option(KEEL_NCCL "Build keel::dist's NCCL backend for CUDA tensors (needs CUDA and MPI)" OFF)

set(KEEL_HAS_MPI OFF)
if(NOT KEEL_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(KEEL_HAS_MPI ON)
  elseif(KEEL_MPI STREQUAL "ON")
    message(FATAL_ERROR "keel: KEEL_MPI=ON but MPI was not found; install libopenmpi-dev and "
                        "openmpi-bin (scripts/install-deps.sh) or configure with -DKEEL_MPI=OFF")
  endif()
endif()
keel_status(KEEL_HAS_MPI "MPI backend"
            "(keel::dist; MPI ${MPI_CXX_VERSION}, ${MPIEXEC_EXECUTABLE}) libopenmpi-dev")

set(KEEL_HAS_NCCL OFF)
if(KEEL_NCCL)
  if(NOT KEEL_HAS_CUDA OR NOT KEEL_HAS_MPI)
    message(FATAL_ERROR "keel: KEEL_NCCL=ON needs the CUDA backend and MPI (its ranks meet through "
                        "MPI); configure with KEEL_CUDA and KEEL_MPI on, or -DKEEL_NCCL=OFF")
  endif()
  find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}/lib)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
  if(NOT NCCL_LIBRARY OR NOT NCCL_INCLUDE_DIR)
    message(FATAL_ERROR "keel: KEEL_NCCL=ON but libnccl or nccl.h was not found next to the CUDA "
                        "toolkit; install NCCL or configure with -DKEEL_NCCL=OFF")
  endif()
  set(KEEL_HAS_NCCL ON)
endif()
keel_status(KEEL_HAS_NCCL "NCCL backend" "(keel::dist on CUDA tensors; ${NCCL_LIBRARY})")
