// CapturedStep: one step of device work, such as a training step's forward pass, backward pass and
// optimizer update, recorded once as a CUDA graph and then replayed with a single launch. A small
// model's GPU step is a few dozen short kernels whose launch costs outweigh their work; a replay
// pays one launch.
//
// A graph freezes every kernel's arguments and buffers at capture, so:
// - what changes from step to step travels in LiveStepValues, written to the device before each
//   replay: the dropout counters reserved since the captured step, and each optimizer group's
//   learning rate, momentum (AdamW's beta1), beta2 and step number;
// - the buffers must stay where they were: current() turns false once the device allocator hands
//   out or returns memory, and the step must then be captured again.
// Capturing runs nothing on the device; each replay() performs the step.
//
// What the caller keeps true (keel::train::StepGraph does all of it for a training step):
// - the step has run once eagerly before: tensors it creates or zero-fills on first use would
//   otherwise be created inside the graph and zero-filled again at every replay;
// - inputs stay in the same tensors, with the same shapes: current() sees reallocations, not a
//   tensor that was resized in place or a view that now points elsewhere;
// - no other thread allocates device memory while a capture runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace keel {

// One optimizer parameter group (Parameter::group), as its update op would receive it.
struct LiveGroup {
  float lr = 0.0f;
  float momentum = 0.0f;  // SGD's momentum, AdamW's beta1
  float beta2 = 0.0f;     // AdamW only
  int64_t step = 1;       // the step being taken, counted from 1 (AdamW's bias corrections)
};

inline constexpr int kMaxLiveGroups = 8;

struct LiveStepValues {
  uint64_t dropout_shift = 0;     // Philox counters reserved since the captured step
  std::vector<LiveGroup> groups;  // by group index; at most kMaxLiveGroups
};

class CapturedStep {
 public:
  CapturedStep();
  ~CapturedStep();
  CapturedStep(CapturedStep&&) noexcept;
  CapturedStep& operator=(CapturedStep&&) noexcept;
  CapturedStep(const CapturedStep&) = delete;
  CapturedStep& operator=(const CapturedStep&) = delete;

  // Records the device work that `step` queues, replacing any earlier capture. Returns false, with
  // the reason in failure(), when it cannot: no CUDA device, or a step that waits for the device,
  // copies from the host or has more than 8 optimizer groups. The device is usable either way;
  // host-side state that `step` changed (a generator's offset, an optimizer's step count) is the
  // caller's to put back, since nothing ran.
  bool capture(const std::function<void()>& step);
  // Captured, and no device memory has changed hands since: replay() is safe.
  bool current() const;
  // Runs the captured step once with these values (queued on keel's stream, like any op).
  void replay(const LiveStepValues& values);
  const std::string& failure() const;
  int captures() const;  // successful captures so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keel
