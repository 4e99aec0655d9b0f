// titanic_train: the flagship job. Parses flags, loads the config, calls keel::train::run_titanic
// and maps errors to exit codes: 0 success, 2 usage/config/data error, 3 runtime error, 130
// interrupted.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "keel/dist.h"
#include "keel/error.h"
#include "keel/runtime.h"
#include "keel/version.h"
#include "titanic/config.h"
#include "titanic/evaluate.h"
#include "titanic/lr_find_run.h"
#include "titanic/run.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

struct Flags {
  std::string config_path = "configs/cnn.yaml";
  std::string data_dir;
  std::string out_dir;
  std::string device;
  std::string resume;
  std::string predict;
  std::string export_onnx;
  std::vector<std::string> overrides;
  long long seed = -1;
  bool features_only = false;
  bool evaluate = false;
  bool lr_find = false;
  bool quiet = false;
};

void on_sigint(int) {
  // First Ctrl-C: stop after the current step and save a checkpoint. Second: leave at once.
  if (keel::train::interrupt_requested()) std::_Exit(kExitInterrupted);
  keel::train::request_interrupt();
}

// The CPU kernels' path for --version: the one KEEL_CPU_ISA names, else the best this CPU runs.
std::string cpu_kernels() {
  try {
    return fmt::format("{} (best on this CPU: {})", keel::cpu_isa_name(keel::cpu_isa()),
                       keel::cpu_isa_name(keel::best_cpu_isa()));
  } catch (const keel::Error& e) {
    return e.what();
  }
}

void add_flags(CLI::App& app, Flags& f) {
  app.add_option("--config", f.config_path, "YAML config (keys: configs/README.md)")
      ->capture_default_str();
  app.add_option("--data", f.data_dir,
                 "folder with train.csv and test.csv (default: $KEEL_DATA_DIR, else data/titanic)");
  app.add_option("--out", f.out_dir, "output folder (default: output.dir of the config, out/)");
  app.add_option("--device", f.device, "auto | cpu | cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app.add_option("--seed", f.seed, "random seed (overrides `seed`)")->check(CLI::NonNegativeNumber);
  app.add_option("--resume", f.resume,
                 "continue training from a checkpoint (out/checkpoints/last.ckpt)");
  app.add_option("--predict", f.predict, "inference only: write submission.csv from a checkpoint");
  app.add_option("--export-onnx", f.export_onnx,
                 "also write the trained model as ONNX to this file, e.g. out/model.onnx (an "
                 "ensemble as one graph averaging its models' probabilities)");
  app.add_flag("--features-only", f.features_only,
               "write the wrangled CSVs and the PNG images into --out, then exit");
  app.add_flag("--evaluate", f.evaluate,
               "nested cross-validation of the whole recipe (keys evaluate.*): an honest estimate "
               "in --out/summary.json and report.html; no submission");
  app.add_flag("--lr-find", f.lr_find,
               "learning-rate range test: a fresh model, lr growing exponentially over 200 steps; "
               "writes --out/lr_find.csv and report.html and prints the suggested lr");
  app.add_option("--set", f.overrides,
                 "override a config key, e.g. --set train.epochs=5 (repeatable)");
  app.add_flag("--quiet", f.quiet, "print only errors and the final result");
  app.set_version_flag("--version",
                       fmt::format("titanic_train (keel {}, commit {}, CPU kernels {})",
                                   keel::version(), keel::git_commit(), cpu_kernels()));
  app.footer(
      "Exit codes: 0 success, 2 usage/config/data error, 3 runtime error, 130 interrupted (Ctrl-C "
      "saves out/checkpoints/last.ckpt; resume with --resume).");
}

keel::Config resolve_config(const Flags& f) {
  keel::Config config = keel::load_config(f.config_path);
  keel::apply_overrides(config, f.overrides);
  const char* env_data = std::getenv("KEEL_DATA_DIR");
  if (!f.data_dir.empty()) {
    config.data.dir = f.data_dir;
  } else if (env_data && *env_data) {
    config.data.dir = env_data;
  }
  if (!f.out_dir.empty()) config.output.dir = f.out_dir;
  if (!f.device.empty()) config.device = f.device;
  if (f.seed >= 0) config.seed = static_cast<uint64_t>(f.seed);
  return config;
}

int run(const Flags& f) {
  if (!f.resume.empty() && !f.predict.empty()) {
    throw keel::Error(keel::ErrorKind::usage,
                      "--resume and --predict cannot be combined: pick one");
  }
  if ((f.evaluate || f.lr_find) && (!f.resume.empty() || !f.predict.empty() || f.features_only)) {
    throw keel::Error(
        keel::ErrorKind::usage,
        "--evaluate and --lr-find train their own models from scratch: drop --resume, "
        "--predict and --features-only");
  }
  if (f.evaluate && f.lr_find) {
    throw keel::Error(keel::ErrorKind::usage,
                      "--evaluate and --lr-find are separate runs: pick one");
  }
  if ((f.evaluate || f.lr_find) && keel::dist::world_size() > 1) {
    throw keel::Error(keel::ErrorKind::usage,
                      fmt::format("--evaluate and --lr-find run in one process, not {} under "
                                  "mpirun: start them without mpirun",
                                  keel::dist::world_size()));
  }
  const keel::Config config = resolve_config(f);
  keel::train::RunOptions options;
  options.out_dir = config.output.dir;
  options.resume_path = f.resume;
  options.predict_path = f.predict;
  options.export_onnx_path = f.export_onnx;
  options.features_only = f.features_only;
  options.quiet = f.quiet;
  options.progress_bar = !f.quiet && isatty(STDOUT_FILENO);
  options.log = [&](const std::string& line) {
    if (!f.quiet) std::cout << line << std::endl;
  };
  // Redraw the bar at most ten times a second: a small CNN's steps take a millisecond.
  auto last_draw = std::chrono::steady_clock::time_point{};
  options.progress = [&](const std::string& bar) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_draw < std::chrono::milliseconds(100)) return;
    last_draw = now;
    std::cout << bar << std::flush;
  };
  std::signal(SIGINT, on_sigint);
  if (f.lr_find) {
    const keel::train::LrFindResult r = keel::train::lr_find_titanic(config, options);
    if (f.quiet) std::cout << fmt::format("suggested_lr {:.2e}\n", r.suggested_lr);
    return 0;
  }
  if (f.evaluate) {
    const keel::train::NestedEvaluation e = keel::train::evaluate_titanic(config, options);
    if (f.quiet) {
      std::cout << fmt::format(
          "nested_accuracy {:.4f} +- {:.4f}  95% [{:.4f}, {:.4f}]  "
          "{}/summary.json\n",
          e.nested.mean, e.nested.std, e.nested.low, e.nested.high, options.out_dir);
    }
    return 0;
  }
  const keel::train::RunResult result = keel::train::run_titanic(config, options);
  if (f.quiet && !f.features_only && keel::dist::is_root()) {
    std::cout << fmt::format("val_accuracy {:.4f}  submission {}/submission.csv\n",
                             result.val_accuracy, options.out_dir);
  }
  return 0;
}

// "titanic_train" or, in an mpirun job, "titanic_train (rank 1 of 4)": which process speaks.
std::string who() {
  if (keel::dist::world_size() == 1) return "titanic_train";
  return fmt::format("titanic_train (rank {} of {})", keel::dist::rank(), keel::dist::world_size());
}

int parse_and_run(int argc, char** argv, bool& state_saved) {
  CLI::App app{"titanic_train: Kaggle Titanic as square images, trained with a CNN by keel"};
  Flags flags;
  add_flags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  try {
    return run(flags);
  } catch (const keel::train::Interrupted& stop) {
    if (stop.checkpoint_path.empty()) {
      std::cerr << who() << ": interrupted; nothing was written\n";
      return kExitInterrupted;
    }
    state_saved = true;
    std::cerr << who() << ": interrupted; training state saved to " << stop.checkpoint_path
              << " (continue with --resume " << stop.checkpoint_path << ")\n";
    return kExitInterrupted;
  } catch (const keel::Error& e) {
    std::cerr << who() << ": error: " << e.what() << "\n";
    return keel::exit_code_for(e.kind());
  } catch (const std::exception& e) {
    std::cerr << who() << ": internal error: " << e.what() << "\n";
    return 3;
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    keel::dist::init(&argc, &argv);
  } catch (const keel::Error& e) {
    std::cerr << "titanic_train: error: " << e.what() << "\n";
    return keel::exit_code_for(e.kind());
  }
  bool state_saved = false;
  const int code = parse_and_run(argc, argv, state_saved);
  // A failed rank of an mpirun job ends them all, so none waits for it in a collective. A Ctrl-C
  // of a data-parallel job stops every rank at the same step: they meet once more, so that rank 0
  // has its checkpoint on disk before the job ends.
  if (code != 0 && keel::dist::world_size() > 1) {
    if (!state_saved) keel::dist::abort(code);
    keel::dist::barrier();
  }
  keel::dist::finalize();
  return code;
}
