// Hostile and broken input to titanic_train (issue 13, item 6): alias bombs, deep nesting, huge
// fields and files, endless streams, binary junk, and checkpoints that claim impossible sizes. Each
// must end within seconds with exit 2 and one paragraph naming the file (and line or key) and what
// to do; no crash, no out-of-memory kill, no half-written file, and the earlier submission.csv kept.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "cli/cli_util.h"
#include "keel/train/checkpoint.h"
#include "train/checkpoint_checksum.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;

const char* kSmallRun = "--set train.epochs=1 --set threads=1 --quiet";
constexpr auto kWithinSeconds = std::chrono::seconds(20);  // generous for sanitizer builds

class HostileInput : public ScratchRunTest {
 protected:
  CliResult run(const std::string& extra, const std::string& config = "configs/small_cnn.yaml") {
    const auto start = std::chrono::steady_clock::now();
    CliResult r = run_titanic_train("--config " + quote(config) + " --data " + quote(data_) +
                                    " --out " + quote(out_) + " " + extra);
    EXPECT_LT(std::chrono::steady_clock::now() - start, kWithinSeconds) << "took too long";
    return r;
  }
  void expect_refused(const CliResult& r, const std::vector<std::string>& phrases) {
    EXPECT_EQ(r.exit_code, 2) << r.output;
    for (const std::string& p : phrases) {
      EXPECT_NE(r.output.find(p), std::string::npos) << "missing `" << p << "` in: " << r.output;
    }
    EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
    EXPECT_LT(r.output.size(), 2000u) << "the message is not one paragraph: " << r.output;
    EXPECT_FALSE(has_temporaries(work_)) << "a half-written file was left behind";
    EXPECT_EQ(read_text(out_ + "/submission.csv"), kEarlierSubmission)
        << "the earlier submission was lost";
    EXPECT_FALSE(exists(out_ + "/probabilities.csv")) << "partial output";
  }
  std::string write_config(const std::string& yaml) {
    const std::string path = work_ + "/hostile.yaml";
    write_text(path, yaml);
    return path;
  }
  // A file of `bytes` bytes without a line end: `fill` repeated, streamed in blocks.
  static void write_one_line(const std::string& path, const std::string& prefix, uint64_t bytes,
                             char fill) {
    std::ofstream out(path, std::ios::binary);
    out << prefix;
    const std::string block(1 << 20, fill);
    for (uint64_t left = bytes - prefix.size(); left > 0;) {
      const uint64_t n = std::min<uint64_t>(left, block.size());
      out.write(block.data(), static_cast<std::streamsize>(n));
      left -= n;
    }
  }
  // A file of `bytes` NUL bytes, one line, allocated sparsely (no disk space used).
  static void write_sparse(const std::string& path, uint64_t bytes) {
    std::ofstream(path, std::ios::binary).close();
    fs::resize_file(path, bytes);
  }
  void replace_in_train(const std::string& from, const std::string& to) {
    std::string text = read_text(data_ + "/train.csv");
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    write_text(data_ + "/train.csv", text);
  }
  // A checkpoint with a valid header and checksum around `payload`.
  std::string write_checkpoint(const std::string& payload) {
    std::string file = "KEELCKPT";
    const uint32_t version = train::kCheckpointVersion;
    const uint64_t size = payload.size();
    const uint64_t sum = train::detail::payload_checksum(version, payload.data(), payload.size());
    file.append(reinterpret_cast<const char*>(&version), 4);
    file.append(reinterpret_cast<const char*>(&size), 8);
    file += payload;
    file.append(reinterpret_cast<const char*>(&sum), 8);
    const std::string path = work_ + "/hostile.ckpt";
    write_text(path, file);
    return path;
  }
  template <typename T>
  static void put(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
};

// ---- YAML ---------------------------------------------------------------------------------------

TEST_F(HostileInput, BillionLaughsAliasBomb) {
  std::string yaml = "seed: 0\nlol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 9; ++i) {
    yaml += "lol" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) yaml += (j ? ", *a" : "*a") + std::to_string(i - 1);
    yaml += "]\n";
  }
  expect_refused(run(kSmallRun, write_config(yaml)),
                 {"hostile.yaml", "more than 100000 values", "aliases", "Write the values out"});
}

TEST_F(HostileInput, AliasBombInsideAKnownKey) {
  std::string yaml = "data:\n  features: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    yaml += "z" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) yaml += (j ? ", *a" : "*a") + std::to_string(i - 1);
    yaml += "]\n";
  }
  expect_refused(run(kSmallRun, write_config(yaml)), {"hostile.yaml", "aliases"});
}

TEST_F(HostileInput, HundredThousandNestedBrackets) {
  const std::string yaml = "seed: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  expect_refused(run(kSmallRun, write_config(yaml)),
                 {"hostile.yaml:1", "nested more than 64 deep", "Flatten"});
}

TEST_F(HostileInput, UnclosedNestedBracesOnALaterLine) {
  const std::string yaml = "seed: 0\ntrain:\n  epochs: 1\ndata: " + std::string(100000, '{');
  expect_refused(run(kSmallRun, write_config(yaml)), {"hostile.yaml:4", "nested more than 64"});
}

TEST_F(HostileInput, DeepBracketsInASetValue) {
  // 60,000 brackets: a command-line argument holds at most 128 KiB.
  const std::string value = std::string(60000, '[') + std::string(60000, ']');
  expect_refused(run(kSmallRun + std::string(" --set data.features=") + value),
                 {"--set data.features=", "nested more than 64"});
}

TEST_F(HostileInput, DeepBlockNesting) {
  // "- - - - x": block lists inside each other, which the bracket scan does not see; yaml-cpp's
  // own depth limit refuses them.
  std::string yaml = "seed: 0\ntrain:\n  epochs:\n    ";
  for (int i = 0; i < 5000; ++i) yaml += "- ";
  yaml += "1\n";
  expect_refused(run(kSmallRun, write_config(yaml)), {"hostile.yaml:", "levels deep"});
}

TEST_F(HostileInput, EightMegabyteScalarInConfig) {
  const std::string yaml = "seed: 0\ndata:\n  dir: \"" + std::string(8 << 20, 'x') + "\"\n";
  expect_refused(run(kSmallRun, write_config(yaml)),
                 {"hostile.yaml", "larger than 1 MiB", "--config"});
}

TEST_F(HostileInput, GigabyteOneLineConfig) {
  const std::string path = work_ + "/huge.yaml";
  write_sparse(path, uint64_t{1} << 30);
  expect_refused(run(kSmallRun, path), {"huge.yaml", "larger than 1 MiB"});
  fs::remove(path);
}

TEST_F(HostileInput, EndlessConfigStream) {
  expect_refused(run(kSmallRun, "/dev/zero"), {"/dev/zero", "larger than 1 MiB"});
}

TEST_F(HostileInput, BinaryJunkConfig) {
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 7919 + 13) % 256);
  expect_refused(run(kSmallRun, write_config(junk)), {"hostile.yaml"});
}

TEST_F(HostileInput, StrayCommaThatHungTheParser) {
  // yaml-cpp 0.7 reports an empty document at a top-level `,` forever (found by fuzz_config).
  expect_refused(run(kSmallRun, write_config(",")), {"hostile.yaml:1:1", "YAML syntax error"});
}

TEST_F(HostileInput, AliasToAMissingAnchor) {
  expect_refused(run(kSmallRun, write_config("seed: *nowhere\n")), {"hostile.yaml:1"});
}

TEST_F(HostileInput, MapKeyThatIsAList) {
  expect_refused(run(kSmallRun, write_config("? [a, b]\n: 1\n")),
                 {"hostile.yaml:1", "a key must be a plain name"});
}

TEST_F(HostileInput, ThousandsOfDocuments) {
  std::string yaml;
  for (int i = 0; i < 20000; ++i) yaml += "---\nseed: 1\n";
  expect_refused(run(kSmallRun, write_config(yaml)), {"hostile.yaml", "20000 YAML documents"});
}

TEST_F(HostileInput, LongKeyIsQuotedShortly) {
  // YAML keys end at 1024 characters (yaml-cpp refuses longer ones as a syntax error).
  const std::string yaml = "seed: 0\n" + std::string(1000, 'k') + ": 1\n";
  expect_refused(run(kSmallRun, write_config(yaml)),
                 {"hostile.yaml:2", "unknown key", "(1000 characters in all)"});
}

TEST_F(HostileInput, HalfMegabyteValueIsQuotedShortly) {
  const std::string yaml = "seed: " + std::string(500000, '7') + "x\n";
  expect_refused(run(kSmallRun, write_config(yaml)),
                 {"hostile.yaml:1", "`seed`", "(500001 characters in all)"});
}

// ---- CSV ----------------------------------------------------------------------------------------

TEST_F(HostileInput, EightMegabyteFieldInTrainCsv) {
  replace_in_train("\"Braund, Mr. Owen Harris\"",
                   "\"Braund, Mr. Owen " + std::string(8 << 20, 'H') + "\"");
  expect_refused(run(kSmallRun), {"train.csv, line 2", "longer than 1 MiB", "Kaggle train.csv"});
}

TEST_F(HostileInput, GigabyteOneLineTestCsv) {
  write_sparse(data_ + "/test.csv", uint64_t{1} << 30);
  expect_refused(run(kSmallRun), {"test.csv", "1073741824 bytes", "64 MiB", "Kaggle test.csv"});
}

TEST_F(HostileInput, SixtyMegabyteOneLineTrainCsv) {
  write_one_line(data_ + "/train.csv", "PassengerId,", uint64_t{60} << 20, 'x');
  expect_refused(run(kSmallRun), {"train.csv, line 1", "longer than 1 MiB"});
}

TEST_F(HostileInput, LongLineAfterGoodRows) {
  std::string text = read_text(data_ + "/train.csv");
  text += "892,1,3,\"" + std::string(2 << 20, 'a') + "\",male,22,0,0,1,7.25,,S\n";
  write_text(data_ + "/train.csv", text);
  expect_refused(run(kSmallRun), {"train.csv, line 893", "longer than 1 MiB"});
}

TEST_F(HostileInput, MoreRowsThanKeelReads) {
  std::string text = read_text(data_ + "/train.csv");
  for (int id = 892; id <= 100892; ++id) {
    text += std::to_string(id) + ",0,3,\"Doe, Mr. John\",male,30,0,0,A " + std::to_string(id) +
            ",7.25,,S\n";
  }
  write_text(data_ + "/train.csv", text);
  expect_refused(run(kSmallRun), {"train.csv, line 100002", "more than 100000 passenger rows"});
}

TEST_F(HostileInput, NulBytesInTrainCsv) {
  replace_in_train("Braund", std::string("Bra\0\0nd", 7));
  expect_refused(run(kSmallRun), {"train.csv, line 2"});
}

TEST_F(HostileInput, BinaryJunkTrainCsv) {
  std::string junk;
  for (int i = 0; i < 65536; ++i) junk += static_cast<char>((i * 2654435761u) >> 24);
  write_text(data_ + "/train.csv", junk);
  expect_refused(run(kSmallRun), {"train.csv"});
}

TEST_F(HostileInput, QuoteOpenedOnTheLastLine) {
  std::string text = read_text(data_ + "/train.csv");
  text += "892,1,3,\"Never, Mrs. Closed,female,22,0,0,1,7.25,,S";
  write_text(data_ + "/train.csv", text);
  expect_refused(run(kSmallRun), {"train.csv, line 893", "not closed"});
}

TEST_F(HostileInput, AgeThatOverflowsADouble) {
  replace_in_train("male,22,", "male,1e400,");
  expect_refused(run(kSmallRun), {"train.csv, line 2", "Age", "1e400"});
}

TEST_F(HostileInput, PassengerIdBeyondInt64) {
  replace_in_train("\n1,0,3,", "\n99999999999999999999,0,3,");
  expect_refused(run(kSmallRun), {"train.csv, line 2", "PassengerId", "99999999999999999999"});
}

TEST_F(HostileInput, HalfMegabyteAgeIsQuotedShortly) {
  replace_in_train("male,22,", "male," + std::string(500000, '9') + "x,");
  expect_refused(run(kSmallRun), {"train.csv, line 2", "Age", "(500001 characters in all)"});
}

TEST_F(HostileInput, TrainCsvIsAFolder) {
  fs::remove(data_ + "/train.csv");
  fs::create_directory(data_ + "/train.csv");
  expect_refused(run(kSmallRun), {"train.csv", "not found"});
}

// ---- checkpoints --------------------------------------------------------------------------------

TEST_F(HostileInput, CheckpointClaimingAnEnormousTensor) {
  std::string payload;
  put<uint32_t>(payload, 1);
  const std::string name = "member0.param.0.weight";
  put<uint32_t>(payload, static_cast<uint32_t>(name.size()));
  payload += name;
  put<uint8_t>(payload, 2);
  put<uint32_t>(payload, 8);
  for (int d = 0; d < 8; ++d) put<int64_t>(payload, int64_t{1} << 40);
  expect_refused(run("--resume " + quote(write_checkpoint(payload)) + " " + kSmallRun),
                 {"hostile.ckpt", "corrupt", "member0.param.0.weight"});
}

TEST_F(HostileInput, CheckpointClaimingAnEnormousText) {
  std::string payload;
  put<uint32_t>(payload, 1);
  put<uint32_t>(payload, 1);
  payload += "t";
  put<uint8_t>(payload, 3);
  put<uint64_t>(payload, ~uint64_t{0});
  expect_refused(run("--resume " + quote(write_checkpoint(payload)) + " " + kSmallRun),
                 {"hostile.ckpt", "corrupt"});
}

TEST_F(HostileInput, CheckpointClaimingBillionsOfRecords) {
  std::string payload;
  put<uint32_t>(payload, 4000000000u);
  expect_refused(run("--resume " + quote(write_checkpoint(payload)) + " " + kSmallRun),
                 {"hostile.ckpt", "corrupt"});
}

TEST_F(HostileInput, EmptyCheckpoint) {
  write_text(work_ + "/empty.ckpt", "");
  expect_refused(run("--resume " + quote(work_ + "/empty.ckpt") + " " + kSmallRun),
                 {"empty.ckpt", "not a keel checkpoint"});
}

TEST_F(HostileInput, CheckpointIsAFolder) {
  fs::create_directory(work_ + "/folder.ckpt");
  expect_refused(run("--resume " + quote(work_ + "/folder.ckpt") + " " + kSmallRun),
                 {"folder.ckpt", "not a file"});
}

TEST_F(HostileInput, EndlessCheckpointStream) {
  expect_refused(run("--resume /dev/zero " + std::string(kSmallRun)), {"/dev/zero", "not a file"});
}

}  // namespace
}  // namespace keel::testing
