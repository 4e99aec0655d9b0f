// CapturedStep (see keel/captured_step.h): the public face of the CUDA backend's StreamCapture,
// which a build without CUDA, or a machine without a GPU, answers with a reason instead.
#include "keel/captured_step.h"

#include "common/check.h"
#include "keel/runtime.h"
#if defined(KEEL_HAS_CUDA)
#include "cuda/graph.h"
#endif

namespace keel {

struct CapturedStep::Impl {
#if defined(KEEL_HAS_CUDA)
  cuda::StreamCapture graph;
#endif
  std::string failure;
  int captures = 0;
};

CapturedStep::CapturedStep() : impl_(std::make_unique<Impl>()) {}
CapturedStep::~CapturedStep() = default;
CapturedStep::CapturedStep(CapturedStep&&) noexcept = default;
CapturedStep& CapturedStep::operator=(CapturedStep&&) noexcept = default;

bool CapturedStep::capture(const std::function<void()>& step) {
  impl_->failure.clear();
  if (!cuda_available()) {
    impl_->failure = cuda_built() ? "no CUDA device is present" : "keel was built without CUDA";
    return false;
  }
#if defined(KEEL_HAS_CUDA)
  impl_->failure = impl_->graph.capture(step);
#endif
  if (!impl_->failure.empty()) return false;
  ++impl_->captures;
  return true;
}

bool CapturedStep::current() const {
#if defined(KEEL_HAS_CUDA)
  return impl_->captures > 0 && impl_->graph.current();
#else
  return false;
#endif
}

void CapturedStep::replay(const LiveStepValues& values) {
  KEEL_CHECK(current(), "CapturedStep::replay: nothing captured, or device memory changed hands since "
                        "the capture: capture the step again");
#if defined(KEEL_HAS_CUDA)
  impl_->graph.replay(values);
#else
  (void)values;
#endif
}

const std::string& CapturedStep::failure() const { return impl_->failure; }
int CapturedStep::captures() const { return impl_->captures; }

}  // namespace keel
