// Versioned binary checkpoints: named tensors and scalars in one file with a magic, a format
// version and a checksum, written atomically, so a resumed run continues bit-identically.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "keel/nn/module.h"
#include "keel/tensor.h"
#include "keel/train/atomic_file.h"
#include "keel/train/epoch_record.h"

namespace keel::train {

// File layout (little endian):
//   "KEELCKPT" | u32 version | u64 payload bytes | payload | u64 checksum of the payload
// (version 1: FNV-1a; version 2: a four-lane multiply hash, see checkpoint.cpp)
// payload: u32 count, then per record: u32 name length, name, u8 kind (0 int, 1 float64, 2 tensor,
//   3 text), then i64 | f64 | (u32 ndim, i64 dims..., f32 values...) | (u64 length, bytes).
inline constexpr uint32_t kCheckpointVersion = 2;  // 2: a faster checksum; 1 is still read

struct Checkpoint {
  std::map<std::string, int64_t> ints;
  std::map<std::string, double> reals;
  std::map<std::string, Tensor> tensors;  // always CPU tensors
  std::map<std::string, std::string> texts;

  int64_t int_at(const std::string& key) const;
  double real_at(const std::string& key) const;
  const Tensor& tensor_at(const std::string& key) const;
  const std::string& text_at(const std::string& key) const;

  std::string source;  // the file it was read from, for error messages
};

// Writes to a temporary name in the same folder, then renames over `path`.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint,
                     Durability durability = Durability::fsync);
// Throws keel::Error(ErrorKind::checkpoint) naming the file for a missing, truncated, corrupt or
// wrong-version checkpoint, with what to do next.
Checkpoint load_checkpoint(const std::string& path);

// The payload alone, in memory (no file, header or checksum): how the ranks of a job send each
// other checkpoint-shaped data (keel/dist.h). `source` names the data in error messages.
std::string encode_checkpoint(const Checkpoint& checkpoint);
Checkpoint decode_checkpoint(const std::string& bytes, const std::string& source);

// A model's parameters and buffers as "<prefix>param.<name>" / "<prefix>buffer.<name>" (CPU copies),
// and back; loading checks every shape and names the entry that does not fit.
void save_model_weights(Checkpoint& checkpoint, const std::string& prefix, nn::Module& model);
void load_model_weights(const Checkpoint& checkpoint, const std::string& prefix, nn::Module& model);
// Copies a saved tensor into `target` after checking its shape.
void restore_tensor(const Checkpoint& checkpoint, const std::string& key, Tensor& target);

// Numbers and epoch records as text entries, exactly (17 significant digits, one per line).
std::string encode_numbers(const std::vector<double>& values);
std::vector<double> decode_numbers(const std::string& text);
std::string encode_records(const std::vector<EpochRecord>& records);
std::vector<EpochRecord> decode_records(const std::string& text);

}  // namespace keel::train
