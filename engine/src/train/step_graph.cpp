// StepGraph (see step_graph.h): host bookkeeping around keel::CapturedStep. A capture runs nothing,
// so the host state the step advanced while being recorded (the dropout generator's offset and the
// optimizer's step count) is put back; each replay then advances it as the eager step would.
#include "keel/train/step_graph.h"

#include <fmt/format.h>

namespace keel::train {

namespace {
constexpr int kMaxCapturesInARow = 3;
}  // namespace

bool StepGraph::run(const Tensor& input, const Tensor& labels, const std::function<void()>& step) {
  if (disabled_ || !warmed_up_ || optimizer_.steps() == 0) {
    warmed_up_ = true;
    return false;
  }
  if (graph_.current() && matches(input, labels)) {
    captures_in_a_row_ = 0;
  } else {
    if (++captures_in_a_row_ > kMaxCapturesInARow) {
      disabled_ = true;
      failure_ = fmt::format("the step needed a new capture at each of {} steps in a row (its device "
                             "buffers move between steps), so replaying it cannot save time",
                             kMaxCapturesInARow);
      return false;
    }
    if (!capture(input, labels, step)) return false;
  }
  replay();
  return true;
}

bool StepGraph::matches(const Tensor& input, const Tensor& labels) const {
  return input.data() == input_data_ && input.shape() == input_shape_ &&
         labels.data() == labels_data_ && labels.shape() == labels_shape_;
}

bool StepGraph::capture(const Tensor& input, const Tensor& labels, const std::function<void()>& step) {
  if (optimizer_.num_groups() > kMaxLiveGroups) {
    disabled_ = true;
    failure_ = fmt::format("the optimizer has {} parameter groups; a captured step handles at most {}",
                           optimizer_.num_groups(), kMaxLiveGroups);
    return false;
  }
  const uint64_t offset = dropout_.offset();
  const int64_t steps = optimizer_.steps();
  const bool ok = graph_.capture(step);
  const uint64_t reserved = dropout_.offset() - offset;
  dropout_.set_state(dropout_.seed(), offset);
  optimizer_.set_steps(steps);
  if (!ok) {
    disabled_ = true;
    failure_ = graph_.failure();
    return false;
  }
  input_data_ = input.data();
  labels_data_ = labels.data();
  input_shape_ = input.shape();
  labels_shape_ = labels.shape();
  captured_offset_ = offset;
  dropout_per_step_ = reserved;
  return true;
}

void StepGraph::replay() {
  LiveStepValues values;
  values.dropout_shift = dropout_.offset() - captured_offset_;
  values.groups = optimizer_.live_groups();
  graph_.replay(values);
  dropout_.reserve(dropout_per_step_);
  optimizer_.set_steps(optimizer_.steps() + 1);
  ++replays_;
}

}  // namespace keel::train
