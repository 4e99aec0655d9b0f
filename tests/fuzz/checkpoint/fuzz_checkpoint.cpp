// Fuzz target: the checkpoint reader. The first byte picks how the rest is used: even, as a whole
// file; odd, as a payload that gets a valid header and checksum, so that mutations reach the
// record decoder instead of stopping at the checksum. A checkpoint that loads is then used as a
// resume would use it: epoch records and numbers decoded, tensors restored after a shape check.
// keel::Error is the expected way to refuse an input; anything else is a finding.
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_util.h"
#include "keel/error.h"
#include "keel/train/checkpoint.h"
#include "train/checkpoint_checksum.h"

namespace {

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// "KEELCKPT" | u32 version | u64 payload size | payload | u64 checksum.
std::string with_valid_header(std::string_view payload) {
  std::string file = "KEELCKPT";
  put<uint32_t>(file, keel::train::kCheckpointVersion);
  put<uint64_t>(file, payload.size());
  file += payload;
  put<uint64_t>(file, keel::train::detail::payload_checksum(keel::train::kCheckpointVersion,
                                                            payload.data(), payload.size()));
  return file;
}

void use_like_a_resume(const keel::train::Checkpoint& c) {
  for (const auto& [name, text] : c.texts) {
    keel::train::decode_records(text);
    keel::train::decode_numbers(text);
  }
  // Restoring checks each saved shape against the model's; the tiny test model's first conv.
  keel::Tensor weight{keel::Shape({4, 1, 3, 3})};
  for (const auto& [name, tensor] : c.tensors) {
    if (tensor.numel() == weight.numel()) keel::train::restore_tensor(c, name, weight);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static keel::fuzz::ScratchDir dir;
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string path =
      dir.write("fuzz.ckpt", data[0] % 2 == 0 ? std::string(rest) : with_valid_header(rest));
  try {
    use_like_a_resume(keel::train::load_checkpoint(path));
  } catch (const keel::Error&) {
  }
  return 0;
}
