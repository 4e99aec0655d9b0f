// Helpers for the tests that start keel programs under mpirun: the launch command (loopback,
// oversubscribed: CI machines have fewer cores than ranks), a time limit, and the skip reason for
// builds without MPI.
#pragma once

#include <string>

#include "cli/cli_util.h"

namespace keel::testing {

// Empty when this build can run the MPI tests, else why not (for GTEST_SKIP).
std::string mpi_skip_reason();
// mpirun -np `ranks` <bin>/<program> args, stopped after `timeout_s` seconds (exit code 124).
CliResult run_mpi(int ranks, const std::string& program, const std::string& args,
                  int timeout_s = 300);
// The mpirun command line (without the program) for `ranks` processes.
std::string mpirun_prefix(int ranks);

}  // namespace keel::testing

#define KEEL_SKIP_WITHOUT_MPI()                                              \
  do {                                                                       \
    const std::string keel_mpi_reason_ = ::keel::testing::mpi_skip_reason(); \
    if (!keel_mpi_reason_.empty()) GTEST_SKIP() << keel_mpi_reason_;         \
  } while (0)
