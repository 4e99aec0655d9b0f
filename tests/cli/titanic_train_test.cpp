// titanic_train end to end on the real Kaggle data: the flagship's every output file, exact resume
// (straight = stopped + resumed, and Ctrl-C + resumed), --predict, --features-only, --help.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "keel/train/checkpoint.h"
#include "support/test_util.h"
#include "titanic/config.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::set<std::string> test_passenger_ids() {
  std::set<std::string> ids;
  const std::vector<std::string> lines = lines_of(read_text(data_dir() + "/test.csv"));
  for (size_t i = 1; i < lines.size(); ++i) ids.insert(lines[i].substr(0, lines[i].find(',')));
  return ids;
}

// metrics.csv without its last column (the epoch's wall time, which no two runs share).
std::string without_last_column(const std::string& csv) {
  std::string out;
  for (const std::string& line : lines_of(csv)) out += line.substr(0, line.rfind(',')) + "\n";
  return out;
}

// Every tensor of the finished models, compared bit for bit.
void expect_same_models(const std::string& a_path, const std::string& b_path) {
  const train::Checkpoint a = train::load_checkpoint(a_path), b = train::load_checkpoint(b_path);
  int compared = 0;
  for (const auto& [key, tensor] : a.tensors) {
    if (key.rfind("model", 0) != 0) continue;
    ASSERT_TRUE(b.tensors.count(key)) << key;
    EXPECT_EQ(tensor.to_vector(), b.tensors.at(key).to_vector()) << key;
    ++compared;
  }
  EXPECT_GT(compared, 10);
}

// The run's last line of phase timings: "time: data … s, waiting for the device … s, models … s
// (training steps … s, checkpoints … s), outputs … s".
struct PhaseLine {
  double data = NAN, device_wait = NAN, models = NAN, steps = NAN, checkpoints = NAN, outputs = NAN;
};

PhaseLine phase_line(const std::string& output) {
  static const std::regex line(R"(time: data ([0-9.]+) s, waiting for the device ([0-9.]+) s, )"
                               R"(models ([0-9.]+) s \(training steps ([0-9.]+) s, )"
                               R"(checkpoints ([0-9.]+) s\), outputs ([0-9.]+) s)");
  std::smatch m;
  PhaseLine p;
  EXPECT_TRUE(std::regex_search(output, m, line)) << output;
  if (m.empty()) return p;
  p = {std::stod(m[1]), std::stod(m[2]), std::stod(m[3]), std::stod(m[4]), std::stod(m[5]), std::stod(m[6])};
  return p;
}

// Steps and checkpoints are disjoint parts of this run's models phase; each of the three is
// printed rounded to 0.01 s, so the printed sum may exceed the printed total by up to 0.015 s.
void expect_consistent(const PhaseLine& p) {
  EXPECT_GE(p.models + 0.016, p.steps + p.checkpoints)
      << "models " << p.models << " s, steps " << p.steps << " s, checkpoints " << p.checkpoints << " s";
}

class TitanicTrain : public ::testing::Test {
 protected:
  void SetUp() override { work_ = make_temp_dir(); }
  void TearDown() override { fs::remove_all(work_); }
  std::string args(const std::string& config, const std::string& out) const {
    return "--config " + config + " --data " + quote(data_dir()) + " --out " + quote(out);
  }
  std::string work_;
};

TEST_F(TitanicTrain, FlagshipWritesEveryOutput) {
  const std::string out = work_ + "/flagship";
  const CliResult r = run_titanic_train(args("configs/cnn.yaml", out) + " --set train.epochs=2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resolved config"), std::string::npos);
  const PhaseLine phases = phase_line(r.output);
  EXPECT_GT(phases.models, phases.device_wait) << "training is where the time goes";
  expect_consistent(phases);

  const std::vector<std::string> submission = lines_of(read_text(out + "/submission.csv"));
  ASSERT_EQ(submission.size(), 419u);
  EXPECT_EQ(submission[0], "PassengerId,Survived");
  std::set<std::string> ids;
  for (size_t i = 1; i < submission.size(); ++i) {
    const std::string& line = submission[i];
    ids.insert(line.substr(0, line.find(',')));
    const std::string label = line.substr(line.find(',') + 1);
    EXPECT_TRUE(label == "0" || label == "1") << line;
  }
  EXPECT_EQ(ids, test_passenger_ids());

  const std::vector<std::string> probabilities = lines_of(read_text(out + "/probabilities.csv"));
  ASSERT_EQ(probabilities.size(), 419u);
  for (size_t i = 1; i < probabilities.size(); ++i) {
    const double p = std::stod(probabilities[i].substr(probabilities[i].find(',') + 1));
    EXPECT_GE(p, 0.0);
    EXPECT_LE(p, 1.0);
  }

  const auto summary = nlohmann::json::parse(read_text(out + "/summary.json"));
  for (const char* key : {"device", "epochs", "steps", "train_seconds", "ms_per_step", "val_accuracy",
                          "keel_version", "git_commit"}) {
    EXPECT_TRUE(summary.contains(key)) << key;
  }
  EXPECT_EQ(summary["device"], "cpu");
  EXPECT_GT(summary["steps"].get<int>(), 0);
  EXPECT_GT(summary["val_accuracy"].get<double>(), 0.5);
  const Config resolved = load_config(out + "/config.resolved.yaml");
  EXPECT_EQ(resolved.train.epochs, 2);
  if (resolved.train.folds > 1) {
    EXPECT_TRUE(summary.contains("cv_mean") && summary.contains("cv_std"));
  }

  const std::vector<std::string> metrics = lines_of(read_text(out + "/metrics.csv"));
  EXPECT_EQ(metrics[0].rfind("epoch,fold,train_loss,val_loss,val_accuracy", 0), 0u) << metrics[0];
  EXPECT_EQ(static_cast<int>(metrics.size()) - 1, 2 * summary["ensemble_members"].get<int>());

  const std::string report = read_text(out + "/report.html");
  EXPECT_NE(report.find("<svg"), std::string::npos);
  EXPECT_NE(report.find("data:image/png;base64,"), std::string::npos);
  EXPECT_TRUE(exists(out + "/checkpoints/last.ckpt"));
  EXPECT_FALSE(has_temporaries(out));
}

TEST_F(TitanicTrain, StoppedAndResumedEqualsStraight) {
  const std::string common = " --set train.epochs=10 --set threads=2 --quiet";
  const std::string straight = work_ + "/straight", split = work_ + "/split";
  ASSERT_EQ(run_titanic_train(args("configs/small_cnn.yaml", straight) + common).exit_code, 0);

  const CliResult first = run_titanic_train(args("configs/small_cnn.yaml", split) + common +
                                            " --set train.stop_after_epochs=5");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_FALSE(exists(split + "/submission.csv")) << "a stopped run must not write a submission";
  const CliResult second = run_titanic_train(args("configs/small_cnn.yaml", split) + common +
                                             " --resume " + quote(split + "/checkpoints/last.ckpt"));
  ASSERT_EQ(second.exit_code, 0) << second.output;

  expect_same_models(straight + "/checkpoints/last.ckpt", split + "/checkpoints/last.ckpt");
  EXPECT_EQ(read_text(straight + "/probabilities.csv"), read_text(split + "/probabilities.csv"));
  EXPECT_EQ(read_text(straight + "/submission.csv"), read_text(split + "/submission.csv"));
}

// A resumed run times its own session: the steps of the stopped session are not in its line.
TEST_F(TitanicTrain, ResumedRunTimesOnlyItsOwnSteps) {
  const std::string out = work_ + "/resumed", common = " --set train.epochs=6 --set threads=1";
  ASSERT_EQ(run_titanic_train(args("configs/small_cnn.yaml", out) + common +
                              " --set train.stop_after_epochs=5 --quiet")
                .exit_code,
            0);
  const CliResult resumed = run_titanic_train(args("configs/small_cnn.yaml", out) + common + " --resume " +
                                              quote(out + "/checkpoints/last.ckpt"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  expect_consistent(phase_line(resumed.output));
}

TEST_F(TitanicTrain, KFoldEnsembleStoppedAndResumedEqualsStraight) {
  // The flagship's k-fold ensemble: finished fold models, their records and the summed predictions
  // travel in the checkpoint along with the unfinished model's state.
  const std::string common = " --set train.epochs=3 --set threads=1 --quiet";
  const std::string straight = work_ + "/straight", split = work_ + "/split";
  ASSERT_EQ(run_titanic_train(args("configs/cnn.yaml", straight) + common).exit_code, 0);
  ASSERT_EQ(run_titanic_train(args("configs/cnn.yaml", split) + common + " --set train.stop_after_epochs=2").exit_code, 0);
  const CliResult resumed = run_titanic_train(args("configs/cnn.yaml", split) + common + " --resume " +
                                              quote(split + "/checkpoints/last.ckpt"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  expect_same_models(straight + "/checkpoints/last.ckpt", split + "/checkpoints/last.ckpt");
  EXPECT_EQ(read_text(straight + "/probabilities.csv"), read_text(split + "/probabilities.csv"));
  EXPECT_EQ(without_last_column(read_text(straight + "/metrics.csv")),
            without_last_column(read_text(split + "/metrics.csv")))
      << "every metric but the epoch's seconds is the same";
  const auto a = nlohmann::json::parse(read_text(straight + "/summary.json"));
  const auto b = nlohmann::json::parse(read_text(split + "/summary.json"));
  EXPECT_EQ(a["cv_mean"], b["cv_mean"]);
  EXPECT_EQ(a["fold_accuracies"], b["fold_accuracies"]);
}

TEST_F(TitanicTrain, CtrlCSavesACheckpointAndResumesExactly) {
  const std::string common = " --set train.epochs=60 --set threads=1 --quiet";
  const std::string straight = work_ + "/straight", stopped = work_ + "/stopped";
  ASSERT_EQ(run_titanic_train(args("configs/small_cnn.yaml", straight) + common).exit_code, 0);

  const std::string log = work_ + "/interrupted.log";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string command = "cd " + quote(source_dir()) + " && OMP_WAIT_POLICY=passive exec " +
                                quote(program_path("titanic_train")) + " " +
                                args("configs/small_cnn.yaml", stopped) + common + " > " + quote(log) + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Interrupt once the first epoch's checkpoint exists: training is then well under way.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!exists(stopped + "/checkpoints/last.ckpt") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 130) << read_text(log);
  EXPECT_NE(read_text(log).find("--resume"), std::string::npos) << read_text(log);
  EXPECT_FALSE(exists(stopped + "/submission.csv"));
  EXPECT_FALSE(has_temporaries(stopped));

  const CliResult resumed = run_titanic_train(args("configs/small_cnn.yaml", stopped) + common +
                                              " --resume " + quote(stopped + "/checkpoints/last.ckpt"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  expect_same_models(straight + "/checkpoints/last.ckpt", stopped + "/checkpoints/last.ckpt");
  EXPECT_EQ(read_text(straight + "/submission.csv"), read_text(stopped + "/submission.csv"));
}

TEST_F(TitanicTrain, PredictReproducesTheSubmission) {
  const std::string out = work_ + "/run", again = work_ + "/predicted";
  const std::string common = " --set train.epochs=3 --quiet";
  ASSERT_EQ(run_titanic_train(args("configs/small_cnn.yaml", out) + common).exit_code, 0);
  const CliResult r = run_titanic_train(args("configs/small_cnn.yaml", again) + common + " --predict " +
                                        quote(out + "/checkpoints/last.ckpt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_text(out + "/submission.csv"), read_text(again + "/submission.csv"));
  EXPECT_FALSE(exists(again + "/checkpoints")) << "inference only: no training state written";
}

TEST_F(TitanicTrain, FeaturesOnlyWritesTablesAndImages) {
  const std::string out = work_ + "/features";
  const CliResult r = run_titanic_train(args("configs/small_cnn.yaml", out) + " --features-only");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The reference's columns, then the group survival columns (features_only_test.cpp checks them).
  for (const char* split : {"train", "test"}) {
    const std::vector<std::string> ours =
        lines_of(read_text(out + "/titanic_" + split + "_wrangled.csv"));
    const std::vector<std::string> reference =
        lines_of(read_text(data_dir() + "/reference/titanic_" + split + "_wrangled.csv"));
    ASSERT_EQ(ours.size(), reference.size()) << split;
    for (size_t i = 0; i < ours.size(); ++i)
      ASSERT_EQ(ours[i].rfind(reference[i] + ",", 0), 0u) << split << " line " << i;
  }
  int train_images = 0, test_images = 0;
  for (const auto& e : fs::directory_iterator(out + "/images/train")) train_images += e.path().extension() == ".png";
  for (const auto& e : fs::directory_iterator(out + "/images/test")) test_images += e.path().extension() == ".png";
  EXPECT_EQ(train_images, 891);
  EXPECT_EQ(test_images, 418);
  EXPECT_FALSE(exists(out + "/submission.csv"));
}

TEST_F(TitanicTrain, RankingChoosesAmongTheListedFeatures) {
  const std::string out = work_ + "/ranked";
  const CliResult r = run_titanic_train(args("configs/small_cnn.yaml", out) +
                                        " --set 'data.features=[sex_female,pclass_1,title_mr,pclass_3]'"
                                        " --set data.rank_top_k=2 --set train.epochs=1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const size_t table = r.output.find("feature ranking");
  ASSERT_NE(table, std::string::npos) << r.output;
  const std::string ranking = r.output.substr(table, r.output.find("data:", table) - table);
  for (const char* listed : {"sex_female", "pclass_1", "title_mr", "pclass_3"}) {
    EXPECT_NE(ranking.find(listed), std::string::npos) << listed << " in " << ranking;
  }
  EXPECT_EQ(ranking.find("title_master"), std::string::npos) << "ranked a column outside the list: " << ranking;
  int dropped = 0;
  for (size_t at = ranking.find("(dropped)"); at != std::string::npos; at = ranking.find("(dropped)", at + 1)) {
    ++dropped;
  }
  EXPECT_EQ(dropped, 2) << "top 2 of the 4 listed features are kept: " << ranking;
}

TEST_F(TitanicTrain, CheckpointsOffWritesNoCheckpoint) {
  const std::string out = work_ + "/nockpt";
  const CliResult r = run_titanic_train(args("configs/small_cnn.yaml", out) +
                                        " --set train.epochs=2 --set output.checkpoints=false --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(exists(out + "/submission.csv"));
  EXPECT_FALSE(exists(out + "/checkpoints/last.ckpt"));
  EXPECT_FALSE(exists(out + "/checkpoints/best.ckpt"));
  EXPECT_FALSE(exists(out + "/checkpoints"));
}

TEST_F(TitanicTrain, HelpAndVersion) {
  const CliResult help = run_titanic_train("--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--config", "--data", "--out", "--device", "--seed", "--resume", "--predict",
                           "--features-only", "--set", "--quiet", "--version", "130"}) {
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
  }
  const CliResult version = run_titanic_train("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.output.find("keel"), std::string::npos);
}

}  // namespace
}  // namespace keel::testing
