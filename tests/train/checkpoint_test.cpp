// Checkpoint files: a round trip of every record kind, the checksum catching any single flipped
// bit, files of the previous format version (FNV-1a checksum) still loading, and the background
// writer (GPU runs, and CPU runs with a spare core).
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/train/checkpoint.h"
#include "train/checkpoint_writer.h"

namespace keel::train {
namespace {

namespace fs = std::filesystem;

class CheckpointFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("keel_checkpoint_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }

  static Checkpoint sample() {
    Checkpoint c;
    c.ints["member0.epochs_done"] = 7;
    c.ints["negative"] = -123456789012;
    c.reals["loss"] = 0.123456789012345;
    c.tensors["w"] = Tensor::from_data({2, 3}, std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f});
    c.tensors["empty"] = Tensor::zeros({0, 4});
    c.texts["history"] = std::string("epoch,loss\n1,0.5\n\0binary", 25);
    return c;
  }

  static std::string bytes_of(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static void write_bytes(const std::string& file, const std::string& bytes) {
    std::ofstream(file, std::ios::binary) << bytes;
  }

  fs::path dir_;
};

void expect_equal(const Checkpoint& a, const Checkpoint& b) {
  EXPECT_EQ(a.ints, b.ints);
  EXPECT_EQ(a.reals, b.reals);
  EXPECT_EQ(a.texts, b.texts);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    ASSERT_TRUE(b.tensors.count(name)) << name;
    EXPECT_EQ(t.shape(), b.tensors.at(name).shape()) << name;
    EXPECT_EQ(t.to_vector(), b.tensors.at(name).to_vector()) << name;
  }
}

TEST_F(CheckpointFile, RoundTripsEveryRecordKind) {
  save_checkpoint(path("a.ckpt"), sample(), Durability::rename_only);
  expect_equal(sample(), load_checkpoint(path("a.ckpt")));
}

TEST_F(CheckpointFile, AnyFlippedBitIsCaught) {
  save_checkpoint(path("a.ckpt"), sample(), Durability::rename_only);
  const std::string good = bytes_of(path("a.ckpt"));
  // Every bit after the header (magic, version, size), the checksum itself included.
  const size_t header = 8 + 4 + 8;
  int caught = 0, flips = 0;
  for (size_t i = header; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit, ++flips) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      write_bytes(path("bad.ckpt"), bad);
      try {
        (void)load_checkpoint(path("bad.ckpt"));
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::checkpoint);
        ++caught;
      }
    }
  }
  EXPECT_GT(flips, 8 * 100);
  EXPECT_EQ(caught, flips);
}

// A version-1 file, as earlier keel releases wrote it: the same payload, an FNV-1a checksum.
TEST_F(CheckpointFile, ReadsFormatVersionOne) {
  save_checkpoint(path("v2.ckpt"), sample(), Durability::rename_only);
  std::string bytes = bytes_of(path("v2.ckpt"));
  const size_t payload_begin = 8 + 4 + 8;
  uint64_t payload_size;
  std::memcpy(&payload_size, bytes.data() + 12, sizeof(payload_size));
  uint64_t fnv = 0xcbf29ce484222325ull;
  for (size_t i = payload_begin; i < payload_begin + payload_size; ++i) {
    fnv ^= static_cast<uint8_t>(bytes[i]);
    fnv *= 0x100000001b3ull;
  }
  const uint32_t version = 1;
  std::memcpy(bytes.data() + 8, &version, sizeof(version));
  std::memcpy(bytes.data() + payload_begin + payload_size, &fnv, sizeof(fnv));
  write_bytes(path("v1.ckpt"), bytes);
  expect_equal(sample(), load_checkpoint(path("v1.ckpt")));
}

// The background writer: the files are the same as written in place, one write is in
// flight at a time (the next write and wait() come after it), and a failed write reports its error.
TEST_F(CheckpointFile, BackgroundWriterWritesTheSameFiles) {
  CheckpointWriter writer(true);
  for (int epoch = 1; epoch <= 5; ++epoch) {
    Checkpoint c = sample();
    c.ints["member0.epochs_done"] = epoch;
    writer.write(path("last.ckpt"), std::move(c), Durability::rename_only);
  }
  writer.wait();
  Checkpoint expected = sample();
  expected.ints["member0.epochs_done"] = 5;
  expect_equal(expected, load_checkpoint(path("last.ckpt")));
  save_checkpoint(path("direct.ckpt"), expected, Durability::rename_only);
  EXPECT_EQ(bytes_of(path("last.ckpt")), bytes_of(path("direct.ckpt")));

  writer.write(path("missing-folder/last.ckpt"), sample(), Durability::rename_only);
  EXPECT_THROW(writer.wait(), Error);
  writer.wait();  // the error was reported once; nothing is in flight now
}

// A stop's durable save still happens after a failed background write, and then reports it.
TEST_F(CheckpointFile, DurableSaveFollowsAFailedBackgroundWrite) {
  CheckpointWriter writer(true);
  writer.write(path("missing-folder/last.ckpt"), sample(), Durability::rename_only);
  EXPECT_THROW(writer.write(path("stop.ckpt"), sample(), Durability::fsync), Error);
  expect_equal(sample(), load_checkpoint(path("stop.ckpt")));
}

}  // namespace
}  // namespace keel::train
