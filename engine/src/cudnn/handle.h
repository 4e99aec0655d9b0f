// The process's cuDNN handle, bound to keel's one CUDA stream.
#pragma once

#include <cudnn.h>

namespace keel::cudnn {
cudnnHandle_t handle();
}  // namespace keel::cudnn
