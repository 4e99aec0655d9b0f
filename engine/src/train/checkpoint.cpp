// Checkpoint serialisation: a flat record format with magic, version and checksum, so that a
// truncated or corrupt file is detected before any state is restored from it.
#include "keel/train/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>

#include "keel/error.h"
#include "keel/train/atomic_file.h"
#include "train/checkpoint_checksum.h"

namespace keel::train {

namespace {

constexpr char kMagic[8] = {'K', 'E', 'E', 'L', 'C', 'K', 'P', 'T'};
enum Kind : uint8_t { kInt = 0, kReal = 1, kTensor = 2, kText = 3 };

// Version 1's checksum: byte-serial FNV-1a, about 3 cycles a byte.
uint64_t fnv1a(const char* data, size_t size) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) {
    hash ^= static_cast<uint8_t>(data[i]);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

uint64_t rotate_left(uint64_t x, int bits) { return (x << bits) | (x >> (64 - bits)); }

// Version 2's checksum: four independent multiply lanes over 8-byte words (one multiply per 8
// bytes, four in flight, against FNV-1a's dependent multiply per byte); checkpoints are written
// after every epoch, where the byte-serial hash took a visible share of a small model's run. Each
// lane step is a bijection of the word for a fixed lane and of the lane for a fixed word, so a
// change confined to one 8-byte word of the 32-byte blocks always changes the result; the last
// < 32 bytes go through FNV-1a, where any one changed byte does.
uint64_t lanes_checksum(const char* data, size_t size) {
  constexpr uint64_t kPrime = 0x9e3779b97f4a7c15ull;
  uint64_t lane[4] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull, 0x100000001b3ull, size};
  size_t i = 0;
  for (; i + 32 <= size; i += 32) {
    for (int l = 0; l < 4; ++l) {
      uint64_t word;
      std::memcpy(&word, data + i + 8 * l, sizeof(word));
      lane[l] = rotate_left((lane[l] ^ word) * kPrime, 29);
    }
  }
  uint64_t hash = fnv1a(data + i, size - i);  // the last < 32 bytes
  for (uint64_t l : lane) hash = rotate_left((hash ^ l) * kPrime, 29);
  return hash;
}


template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

void put_name(std::string& out, const std::string& name, Kind kind) {
  put<uint32_t>(out, static_cast<uint32_t>(name.size()));
  out += name;
  put<uint8_t>(out, kind);
}

// An upper bound of the encoded size, so the file is built in one allocation.
size_t encoded_size_bound(const Checkpoint& c) {
  constexpr size_t kRecordOverhead = sizeof(uint32_t) + sizeof(uint8_t) + 8 * sizeof(int64_t) + 16;
  size_t bytes = 64;
  for (const auto& [name, v] : c.ints) bytes += name.size() + kRecordOverhead;
  for (const auto& [name, v] : c.reals) bytes += name.size() + kRecordOverhead;
  for (const auto& [name, t] : c.tensors) bytes += name.size() + kRecordOverhead + t.numel() * sizeof(float);
  for (const auto& [name, text] : c.texts) bytes += name.size() + kRecordOverhead + text.size();
  return bytes;
}

void encode_payload(const Checkpoint& c, std::string& out) {
  put<uint32_t>(out, static_cast<uint32_t>(c.ints.size() + c.reals.size() + c.tensors.size() +
                                           c.texts.size()));
  for (const auto& [name, v] : c.ints) put_name(out, name, kInt), put<int64_t>(out, v);
  for (const auto& [name, v] : c.reals) put_name(out, name, kReal), put<double>(out, v);
  for (const auto& [name, t] : c.tensors) {
    put_name(out, name, kTensor);
    put<uint32_t>(out, static_cast<uint32_t>(t.ndim()));
    for (int64_t d : t.shape().dims()) put<int64_t>(out, d);
    const size_t bytes = static_cast<size_t>(t.numel()) * sizeof(float);
    if (bytes == 0) continue;
    if (t.is_cuda()) {
      const std::vector<float> values = t.to_vector();
      out.append(reinterpret_cast<const char*>(values.data()), bytes);
    } else {
      out.append(reinterpret_cast<const char*>(t.data()), bytes);  // every tensor is contiguous
    }
  }
  for (const auto& [name, text] : c.texts) {
    put_name(out, name, kText);
    put<uint64_t>(out, text.size());
    out += text;
  }
}

// Bounds-checked reader: running past the end means the file was truncated.
class Reader {
 public:
  Reader(const std::string& bytes, size_t begin, size_t end, const std::string& path)
      : bytes_(bytes), pos_(begin), end_(end), path_(path) {}

  template <typename T>
  T get() {
    T value;
    std::memcpy(&value, take(sizeof(T)), sizeof(T));
    return value;
  }
  std::string get_string(size_t size) { return std::string(take(size), size); }
  size_t remaining() const { return end_ - pos_; }
  const char* take(size_t size) {
    if (size > end_ - pos_) fail("it ends in the middle of a record");
    const char* p = bytes_.data() + pos_;
    pos_ += size;
    return p;
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorKind::checkpoint,
                fmt::format("checkpoint {} is corrupt: {}; delete it and train again, or resume "
                            "from another checkpoint (e.g. a copy of an earlier last.ckpt)",
                            path_, why));
  }

 private:
  const std::string& bytes_;
  size_t pos_, end_;
  const std::string& path_;
};

void decode_payload(Reader& r, Checkpoint& c) {
  const uint32_t count = r.get<uint32_t>();
  for (uint32_t i = 0; i < count; ++i) {
    const std::string name = r.get_string(r.get<uint32_t>());
    switch (r.get<uint8_t>()) {
      case kInt: c.ints[name] = r.get<int64_t>(); break;
      case kReal: c.reals[name] = r.get<double>(); break;
      case kTensor: {
        const uint32_t ndim = r.get<uint32_t>();
        if (ndim > 8) r.fail(fmt::format("tensor `{}` has {} dimensions", name, ndim));
        std::vector<int64_t> dims(ndim);
        int64_t numel = 1;
        for (auto& d : dims) {
          d = r.get<int64_t>();
          if (d < 0 || d > (int64_t{1} << 40)) r.fail(fmt::format("tensor `{}` has a bad shape", name));
          // Checked before multiplying, so that eight large sizes cannot overflow the product.
          if (d > 0 && numel > static_cast<int64_t>(r.remaining() / sizeof(float)) / d) {
            r.fail(fmt::format("tensor `{}` claims more values than the file holds", name));
          }
          numel *= d;
        }
        const char* data = r.take(static_cast<size_t>(numel) * sizeof(float));
        Tensor t{Shape(dims)};
        if (numel > 0) std::memcpy(t.data(), data, static_cast<size_t>(numel) * sizeof(float));
        c.tensors[name] = t;
        break;
      }
      case kText: c.texts[name] = r.get_string(static_cast<size_t>(r.get<uint64_t>())); break;
      default: r.fail(fmt::format("record `{}` has an unknown kind", name));
    }
  }
}

[[noreturn]] void missing_key(const Checkpoint& c, const std::string& key) {
  throw Error(ErrorKind::checkpoint,
              fmt::format("checkpoint {} has no entry `{}`: it was written for another model or "
                          "configuration; resume with the config it was trained with",
                          c.source, key));
}

}  // namespace

uint64_t detail::payload_checksum(uint32_t version, const char* data, size_t size) {
  return version == 1 ? fnv1a(data, size) : lanes_checksum(data, size);
}

int64_t Checkpoint::int_at(const std::string& key) const {
  auto it = ints.find(key);
  if (it == ints.end()) missing_key(*this, key);
  return it->second;
}
double Checkpoint::real_at(const std::string& key) const {
  auto it = reals.find(key);
  if (it == reals.end()) missing_key(*this, key);
  return it->second;
}
const Tensor& Checkpoint::tensor_at(const std::string& key) const {
  auto it = tensors.find(key);
  if (it == tensors.end()) missing_key(*this, key);
  return it->second;
}
const std::string& Checkpoint::text_at(const std::string& key) const {
  auto it = texts.find(key);
  if (it == texts.end()) missing_key(*this, key);
  return it->second;
}

std::string encode_checkpoint(const Checkpoint& checkpoint) {
  std::string bytes;
  bytes.reserve(encoded_size_bound(checkpoint));
  encode_payload(checkpoint, bytes);
  return bytes;
}

Checkpoint decode_checkpoint(const std::string& bytes, const std::string& source) {
  Checkpoint checkpoint;
  checkpoint.source = source;
  Reader body(bytes, 0, bytes.size(), source);
  decode_payload(body, checkpoint);
  return checkpoint;
}

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint, Durability durability) {
  std::string file;
  file.reserve(encoded_size_bound(checkpoint));
  file.append(kMagic, sizeof(kMagic));
  put<uint32_t>(file, kCheckpointVersion);
  const size_t size_at = file.size();
  put<uint64_t>(file, 0);  // the payload size, filled in below
  const size_t payload_begin = file.size();
  encode_payload(checkpoint, file);
  const uint64_t payload_size = file.size() - payload_begin;
  std::memcpy(file.data() + size_at, &payload_size, sizeof(payload_size));
  put<uint64_t>(file, detail::payload_checksum(kCheckpointVersion, file.data() + payload_begin,
                                               payload_size));
  write_file_atomically(path, file, durability);
}

Checkpoint load_checkpoint(const std::string& path) {
  std::error_code ec;
  // A folder or a device (`/dev/zero` would be read until memory runs out) is no checkpoint.
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec)) {
    throw Error(ErrorKind::checkpoint,
                fmt::format("checkpoint {} is a folder or a device, not a file: pass "
                            "--resume/--predict with a checkpoint file such as "
                            "out/checkpoints/last.ckpt",
                            path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorKind::checkpoint,
                fmt::format("checkpoint {} not found: pass --resume/--predict with an existing file "
                            "such as out/checkpoints/last.ckpt",
                            path));
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Reader header(bytes, 0, bytes.size(), path);
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    header.fail("it does not start with keel's checkpoint magic (not a keel checkpoint?)");
  }
  header.take(sizeof(kMagic));
  const uint32_t version = header.get<uint32_t>();
  if (version < 1 || version > kCheckpointVersion) {
    throw Error(ErrorKind::checkpoint,
                fmt::format("checkpoint {} has format version {}, this keel reads versions 1 to {}: "
                            "use the keel version that wrote it, or train again",
                            path, version, kCheckpointVersion));
  }
  const uint64_t payload_size = header.get<uint64_t>();
  const size_t payload_begin = sizeof(kMagic) + sizeof(uint32_t) + sizeof(uint64_t);
  // Compared as what is left after the header, so that a huge stored size cannot wrap the sum.
  const size_t after_header = bytes.size() - std::min(bytes.size(), payload_begin);
  if (after_header < sizeof(uint64_t) || payload_size > after_header - sizeof(uint64_t)) {
    header.fail(fmt::format("it is truncated or its size field is damaged ({} bytes, a payload "
                            "of {} bytes announced)",
                            bytes.size(), payload_size));
  }
  uint64_t stored_hash;
  std::memcpy(&stored_hash, bytes.data() + payload_begin + payload_size, sizeof(stored_hash));
  if (stored_hash !=
      detail::payload_checksum(version, bytes.data() + payload_begin, payload_size)) {
    header.fail("its checksum does not match its contents");
  }
  Checkpoint checkpoint;
  checkpoint.source = path;
  Reader body(bytes, payload_begin, payload_begin + payload_size, path);
  decode_payload(body, checkpoint);
  return checkpoint;
}

void restore_tensor(const Checkpoint& c, const std::string& key, Tensor& target) {
  const Tensor& saved = c.tensor_at(key);
  if (saved.shape() != target.shape()) {
    throw Error(ErrorKind::checkpoint,
                fmt::format("checkpoint {}: `{}` has shape {} but {} is needed: the checkpoint "
                            "belongs to another model or data; use the config it was trained with",
                            c.source, key, saved.shape().str(), target.shape().str()));
  }
  target.copy_from(saved);
}

void save_model_weights(Checkpoint& c, const std::string& prefix, nn::Module& model) {
  model.visit_parameters("", [&](const std::string& name, nn::Parameter& p) {
    c.tensors[prefix + "param." + name] = p.value.to(Device::cpu).clone();
  });
  model.visit_buffers("", [&](const std::string& name, Tensor& b) {
    c.tensors[prefix + "buffer." + name] = b.to(Device::cpu).clone();
  });
}

void load_model_weights(const Checkpoint& c, const std::string& prefix, nn::Module& model) {
  model.visit_parameters("", [&](const std::string& name, nn::Parameter& p) {
    restore_tensor(c, prefix + "param." + name, p.value);
  });
  model.visit_buffers("", [&](const std::string& name, Tensor& b) {
    restore_tensor(c, prefix + "buffer." + name, b);
  });
}

std::string encode_numbers(const std::vector<double>& values) {
  std::string out;
  for (double v : values) out += fmt::format("{:.17g}\n", v);
  return out;
}

std::vector<double> decode_numbers(const std::string& text) {
  std::vector<double> values;
  std::istringstream in(text);
  std::string token;
  while (in >> token) values.push_back(std::strtod(token.c_str(), nullptr));
  return values;
}

namespace {
constexpr size_t kRecordFields = 8;
}  // namespace

std::string encode_records(const std::vector<EpochRecord>& records) {
  std::vector<double> flat;
  for (const EpochRecord& r : records) {
    flat.insert(flat.end(), {static_cast<double>(r.epoch), static_cast<double>(r.fold), r.train_loss,
                             r.val_loss, r.val_accuracy, r.lr, r.beta1, r.seconds});
  }
  return encode_numbers(flat);
}

std::vector<EpochRecord> decode_records(const std::string& text) {
  const std::vector<double> flat = decode_numbers(text);
  std::vector<EpochRecord> records;
  for (size_t i = 0; i + kRecordFields <= flat.size(); i += kRecordFields) {
    records.push_back({static_cast<int>(flat[i]), static_cast<int>(flat[i + 1]), flat[i + 2],
                       flat[i + 3], flat[i + 4], flat[i + 5], flat[i + 6], flat[i + 7]});
  }
  return records;
}

}  // namespace keel::train
