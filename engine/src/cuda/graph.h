// Capture of keel's one stream into a CUDA graph (behind keel::CapturedStep), and the live values
// that captured dropout and optimizer kernels read at replay time (kernels/live_values.cuh).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <cuda_runtime.h>

#include "keel/captured_step.h"
#include "live_values.cuh"

namespace keel::cuda {

// While this thread is capturing: the device address of the graph's live dropout shift, or of a
// parameter group's row (throws for a group past kMaxLiveGroups, which ends that capture). Outside a
// capture both are null and kernels use their by-value arguments.
const unsigned long long* live_dropout_shift();
const LiveGroupRow* live_group_row(int group);

class StreamCapture {
 public:
  StreamCapture() = default;
  ~StreamCapture();
  StreamCapture(const StreamCapture&) = delete;
  StreamCapture& operator=(const StreamCapture&) = delete;

  // Records what `work` queues on the stream; returns "" or why it could not.
  std::string capture(const std::function<void()>& work);
  bool current() const;
  void replay(const LiveStepValues& values);  // needs current()

 private:
  void instantiate(cudaGraph_t graph);

  cudaGraphExec_t exec_ = nullptr;
  LiveValues* live_ = nullptr;
  uint64_t generation_ = 0;  // the allocator's generation right after the capture
  bool valid_ = false;       // the last capture succeeded
};

}  // namespace keel::cuda
