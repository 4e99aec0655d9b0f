// Implementation of the program-running test helpers (see cli_util.h).
#include "cli_util.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/test_util.h"

namespace keel::testing {

std::string source_dir() { return env_or("KEEL_SOURCE_DIR", KEEL_TEST_SOURCE_DIR); }

std::string program_path(const std::string& program) {
  return env_or("KEEL_BIN_DIR", KEEL_TEST_BIN_DIR) + "/" + program;
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CliResult run_program(const std::string& program, const std::string& args) {
  // Passive OpenMP waiting: the program shares a small machine with other tests (see CMakeLists).
  const std::string command = "cd " + quote(source_dir()) + " && OMP_WAIT_POLICY=passive " +
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

std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "keel-cli-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool exists(const std::string& path) { return std::filesystem::exists(path); }

bool has_temporaries(const std::string& dir) {
  if (!std::filesystem::exists(dir)) return false;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) return true;
  }
  return false;
}

void ScratchRunTest::SetUp() {
  work_ = make_temp_dir();
  out_ = work_ + "/out";
  write_text(out_ + "/submission.csv", kEarlierSubmission);
  data_ = work_ + "/data";
  std::filesystem::create_directories(data_);
  std::filesystem::copy_file(data_dir() + "/train.csv", data_ + "/train.csv");
  std::filesystem::copy_file(data_dir() + "/test.csv", data_ + "/test.csv");
}

void ScratchRunTest::TearDown() { std::filesystem::remove_all(work_); }

}  // namespace keel::testing
