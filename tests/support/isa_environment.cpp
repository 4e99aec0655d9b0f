// Linked into every test program: when KEEL_CPU_ISA forces a CPU kernel path this machine lacks
// (CTest runs the op, layer and optimizer tests once per path), every test skips and says why,
// instead of failing on the first op.
#include <cstdlib>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/runtime.h"

namespace {

class CpuIsaEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* forced = std::getenv("KEEL_CPU_ISA");
    if (!forced || !*forced) return;
    const keel::CpuIsa isa = keel::parse_cpu_isa(forced);  // a typo fails loudly, not as a skip
    if (!keel::cpu_isa_supported(isa)) {
      GTEST_SKIP() << "KEEL_CPU_ISA=" << forced << ": this CPU lacks that path (best here: "
                   << keel::cpu_isa_name(keel::best_cpu_isa()) << ")";
    }
  }
};

const auto* const registered = ::testing::AddGlobalTestEnvironment(new CpuIsaEnvironment);

}  // namespace
