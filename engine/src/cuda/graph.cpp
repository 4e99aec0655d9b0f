// StreamCapture (see graph.h). Capture is thread-local: only this thread's calls are recorded and
// checked, so a checkpoint writer on another thread may use the runtime meanwhile.
#include "cuda/graph.h"

#include <exception>

#include <fmt/format.h>

#include "common/check.h"
#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/context.h"
#include "cuda/op_util.h"

namespace keel::cuda {

namespace {
thread_local LiveValues* t_capturing = nullptr;

LiveValues to_device_layout(const LiveStepValues& values) {
  static_assert(keel::kMaxLiveGroups == kMaxLiveGroups, "live_values.cuh and captured_step.h agree");
  KEEL_CHECK(values.groups.size() <= static_cast<size_t>(kMaxLiveGroups),
             "CapturedStep::replay: {} optimizer groups, at most {}", values.groups.size(),
             kMaxLiveGroups);
  LiveValues v{};
  v.dropout_shift = values.dropout_shift;
  for (size_t g = 0; g < values.groups.size(); ++g) {
    const LiveGroup& in = values.groups[g];
    const AdamWBiasCorrections bc = adamw_bias_corrections(in.momentum, in.beta2, in.step);
    v.groups[g] = {in.lr, in.momentum, bc.first, bc.second};
  }
  return v;
}
}  // namespace

const unsigned long long* live_dropout_shift() {
  return t_capturing ? &t_capturing->dropout_shift : nullptr;
}

const LiveGroupRow* live_group_row(int group) {
  if (!t_capturing) return nullptr;
  KEEL_CHECK(group >= 0 && group < kMaxLiveGroups,
             "a captured step can update at most {} parameter groups; parameter group {} cannot be "
             "captured",
             kMaxLiveGroups, group);
  return &t_capturing->groups[group];
}

StreamCapture::~StreamCapture() {
  // Errors are ignored here: a destructor must not throw, and a dead context has nothing to free.
  // A replay may still be running (an exception unwinding past it): let it finish first.
  if (exec_) {
    (void)cudaStreamSynchronize(stream());
    (void)cudaGraphExecDestroy(exec_);
  }
  if (live_) release_bytes(live_);
}

std::string StreamCapture::capture(const std::function<void()>& work) {
  valid_ = false;
  // An error left by earlier work is that work's, not the capture's: report it as it is.
  KEEL_CUDA_CHECK(cudaPeekAtLastError());
  try {
    if (!live_) live_ = static_cast<LiveValues*>(allocate_bytes(sizeof(LiveValues)));
    KEEL_CUDA_CHECK(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
  } catch (const std::exception& e) {
    return e.what();
  }
  std::string failure;
  t_capturing = live_;
  try {
    work();
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "the step threw an exception that is not a std::exception";
  }
  t_capturing = nullptr;
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream(), &graph);
  if (failure.empty() && ended != cudaSuccess) {
    failure = fmt::format("the stream capture ended with {} ({})", cudaGetErrorName(ended),
                          cudaGetErrorString(ended));
  }
  // A refused call inside the capture leaves its error behind; the stream itself is usable again.
  (void)cudaGetLastError();
  if (!failure.empty()) {
    if (graph) (void)cudaGraphDestroy(graph);
    return failure;
  }
  try {
    instantiate(graph);
  } catch (const std::exception& e) {
    return e.what();
  }
  generation_ = allocator_generation();
  valid_ = true;
  return {};
}

// An executable graph of the same shape takes the new graph's arguments in place (cheaper than a
// new instantiation); anything else gets a fresh one. The executable graph does not need the graph
// it was made from, so that is destroyed either way.
void StreamCapture::instantiate(cudaGraph_t graph) {
  if (exec_) {
    cudaGraphExecUpdateResultInfo info{};
    if (cudaGraphExecUpdate(exec_, graph, &info) != cudaSuccess) {
      (void)cudaGetLastError();  // "not updatable" is an answer, not an error of the stream
      (void)cudaGraphExecDestroy(exec_);
      exec_ = nullptr;
    }
  }
  const cudaError_t status = exec_ ? cudaSuccess : cudaGraphInstantiate(&exec_, graph, 0);
  if (status != cudaSuccess) exec_ = nullptr;
  (void)cudaGraphDestroy(graph);
  KEEL_CUDA_CHECK(status);
}

bool StreamCapture::current() const {
  return valid_ && allocator_generation() == generation_;
}

// keel::CapturedStep::replay, the one caller, has checked current() (a lock of the allocator).
void StreamCapture::replay(const LiveStepValues& values) {
  launch_write_live_values(live_, to_device_layout(values), stream());
  KEEL_CUDA_CHECK(cudaGraphLaunch(exec_, stream()));
}

}  // namespace keel::cuda
