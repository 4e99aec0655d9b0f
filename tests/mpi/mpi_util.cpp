// mpirun launches for the MPI tests (see mpi_util.h).
#include "mpi_util.h"

#include "support/test_util.h"

#include <cstdio>
#include <stdexcept>

#include <sys/wait.h>

namespace keel::testing {

std::string mpi_skip_reason() {
#if defined(KEEL_TEST_MPIEXEC)
  return "";
#else
  return "keel was built without MPI (KEEL_MPI=OFF, or libopenmpi-dev and openmpi-bin are not "
         "installed: run scripts/install-deps.sh and configure again)";
#endif
}

std::string mpirun_prefix(int ranks) {
#if defined(KEEL_TEST_MPIEXEC)
  // --oversubscribe: more ranks than cores; --bind-to none: ranks share the cores with other
  // tests. Running as root (containers, CI) needs OpenMPI's explicit consent.
  return std::string(
             "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
             "OMP_WAIT_POLICY=passive ") +
         KEEL_TEST_MPIEXEC + " -np " + std::to_string(ranks) + " --oversubscribe --bind-to none ";
#else
  (void)ranks;
  throw std::runtime_error("this keel was built without MPI");
#endif
}

CliResult run_mpi(int ranks, const std::string& program, const std::string& args, int timeout_s) {
  // The ranks inherit KEEL_DATA_DIR: they read the Kaggle CSVs the other tests read.
  const std::string command =
      "cd " + quote(source_dir()) + " && timeout -k 10 " + std::to_string(timeout_s) +
      " env KEEL_DATA_DIR=" + quote(data_dir()) + " " + mpirun_prefix(ranks) +
      quote(program_path(program)) + " " + args + " 2>&1";
  CliResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace keel::testing
