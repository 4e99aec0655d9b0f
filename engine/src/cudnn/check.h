// KEEL_CUDNN_CHECK: every cuDNN call checked, the failure naming the statement, file and line.
#pragma once

#include <cudnn.h>

namespace keel::cudnn::detail {
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* statement, const char* file, int line);
}  // namespace keel::cudnn::detail

#define KEEL_CUDNN_CHECK(statement)                                                          \
  do {                                                                                       \
    cudnnStatus_t keel_status_ = (statement);                                                \
    if (keel_status_ != CUDNN_STATUS_SUCCESS)                                                \
      ::keel::cudnn::detail::throw_cudnn_error(keel_status_, #statement, __FILE__, __LINE__); \
  } while (0)
