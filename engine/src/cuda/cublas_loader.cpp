// Resolves the cuBLAS entry points keel uses from the shared library at first use. dlopen searches
// libkeel's own run path, which holds the CUDA toolkit's library folder it was linked against.
#include "cuda/cublas_loader.h"

#include <dlfcn.h>

#include <string>

#include <fmt/format.h>

#include "keel/error.h"

namespace keel::cuda {

namespace {

template <typename Function>
void resolve(void* library, const std::string& library_name, const char* symbol, Function& target) {
  void* address = ::dlsym(library, symbol);
  if (!address) {
    throw Error(ErrorKind::runtime,
                fmt::format("{} has no `{}`: install the cuBLAS that matches this keel's CUDA "
                            "toolkit (cuBLAS {})",
                            library_name, symbol, CUBLAS_VER_MAJOR));
  }
  target = reinterpret_cast<Function>(address);
}

CublasApi load() {
  const std::string name = fmt::format("libcublas.so.{}", CUBLAS_VER_MAJOR);
  void* library = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    throw Error(ErrorKind::runtime,
                fmt::format("cannot load {} ({}): install the CUDA toolkit's cuBLAS or add its "
                            "library folder to LD_LIBRARY_PATH, or run with --device cpu",
                            name, ::dlerror()));
  }
  CublasApi api{};
  resolve(library, name, "cublasCreate_v2", api.create);
  resolve(library, name, "cublasSetStream_v2", api.set_stream);
  resolve(library, name, "cublasSetWorkspace_v2", api.set_workspace);
  resolve(library, name, "cublasSetMathMode", api.set_math_mode);
  resolve(library, name, "cublasSgemm_v2", api.sgemm);
  resolve(library, name, "cublasSgemmStridedBatched", api.sgemm_strided_batched);
  resolve(library, name, "cublasGetStatusName", api.status_name);
  resolve(library, name, "cublasGetStatusString", api.status_string);
  return api;  // the library stays loaded for the life of the process
}

}  // namespace

const CublasApi& cublas_api() {
  static const CublasApi api = load();
  return api;
}

}  // namespace keel::cuda
