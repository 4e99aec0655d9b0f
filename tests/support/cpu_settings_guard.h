// Restores the CPU kernel path and the thread count that a test changes, however it ends.
#pragma once

#include "keel/runtime.h"

namespace keel::testing {

class CpuSettingsGuard {
 public:
  CpuSettingsGuard() : isa_(cpu_isa()), threads_(num_threads()) {}
  ~CpuSettingsGuard() {
    set_cpu_isa(isa_);
    set_num_threads(threads_);
  }
  CpuSettingsGuard(const CpuSettingsGuard&) = delete;
  CpuSettingsGuard& operator=(const CpuSettingsGuard&) = delete;

 private:
  CpuIsa isa_;
  int threads_;
};

}  // namespace keel::testing
