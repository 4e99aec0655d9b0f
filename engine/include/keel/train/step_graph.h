// StepGraph: a training step replayed as a CUDA graph (keel::CapturedStep with its bookkeeping
// done), behind the trainer's config key cuda_graph and usable on its own. The first call runs
// nothing, so the caller's eager step sizes every buffer, fills the allocator's cache, lets cuDNN
// pick its algorithms and gives SGD its velocity. The next call captures the step, and every call
// replays the capture with that step's live values: the dropout counters, and each group's learning
// rate, momentum and step, exactly what the eager step would have used, so both give the same bits.
// A replay needs the same input and label buffers and no device memory changed hands since the
// capture; otherwise the step is captured again (an evaluation between epochs usually does that).
// A step that needs a new capture at every step gains nothing from graphs, so after a few such
// steps in a row the path turns itself off and says so.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "keel/captured_step.h"
#include "keel/optim/optimizer.h"
#include "keel/random.h"
#include "keel/tensor.h"

namespace keel::train {

class StepGraph {
 public:
  StepGraph(Generator& dropout, optim::Optimizer& optimizer) : dropout_(dropout), optimizer_(optimizer) {}

  // Performs `step` (which reads `input` and `labels`) as a replay, capturing it first when
  // needed. Returns false when the caller must run the step itself: on the first call, before the
  // optimizer's first step, or once a capture has failed (failure() says why; the graph path then
  // stays off for this trainer).
  bool run(const Tensor& input, const Tensor& labels, const std::function<void()>& step);
  const std::string& failure() const { return failure_; }
  int captures() const { return graph_.captures(); }
  int64_t replays() const { return replays_; }  // steps performed as a replay

 private:
  bool matches(const Tensor& input, const Tensor& labels) const;
  bool capture(const Tensor& input, const Tensor& labels, const std::function<void()>& step);
  void replay();

  Generator& dropout_;
  optim::Optimizer& optimizer_;
  CapturedStep graph_;
  bool warmed_up_ = false;  // an eager step ran in this process: buffers and caches are in place
  bool disabled_ = false;
  std::string failure_;
  int captures_in_a_row_ = 0;  // steps that each needed a new capture, up to this one
  int64_t replays_ = 0;
  // What the capture read from, and where the dropout generator stood.
  const float* input_data_ = nullptr;
  const float* labels_data_ = nullptr;
  Shape input_shape_, labels_shape_;
  uint64_t captured_offset_ = 0;
  uint64_t dropout_per_step_ = 0;
};

}  // namespace keel::train
