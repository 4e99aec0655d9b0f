// The safetensors container (see keel/io/safetensors.h): header checks, dtype conversion to
// float32, and the writer. Every refusal names the file and, where there is one, the tensor.
#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "keel/error.h"
#include "keel/half.h"
#include "keel/io/safetensors.h"
#include "keel/train/atomic_file.h"

namespace keel {

// Tensor bytes are copied as they lie: the format is little endian, as are x86-64 and aarch64.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little endian");

namespace {

using nlohmann::json;

// The safetensors reference implementation refuses headers above 100 MB; so does keel, which
// keeps a hostile length from asking for a huge allocation before anything is checked.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr uint64_t kMaxElements = uint64_t{1} << 40;

enum class DtypeKind { f64, f32, f16, bf16, signed_int, unsigned_int, boolean, unsupported };

struct Dtype {
  const char* name;
  uint64_t size;
  DtypeKind kind;
};

constexpr Dtype kDtypes[] = {
    {"F64", 8, DtypeKind::f64},
    {"F32", 4, DtypeKind::f32},
    {"F16", 2, DtypeKind::f16},
    {"BF16", 2, DtypeKind::bf16},
    {"I64", 8, DtypeKind::signed_int},
    {"I32", 4, DtypeKind::signed_int},
    {"I16", 2, DtypeKind::signed_int},
    {"I8", 1, DtypeKind::signed_int},
    {"U64", 8, DtypeKind::unsigned_int},
    {"U32", 4, DtypeKind::unsigned_int},
    {"U16", 2, DtypeKind::unsigned_int},
    {"U8", 1, DtypeKind::unsigned_int},
    {"BOOL", 1, DtypeKind::boolean},
    {"F8_E4M3", 1, DtypeKind::unsupported},
    {"F8_E5M2", 1, DtypeKind::unsupported},
};

std::optional<Dtype> find_dtype(const std::string& name) {
  for (const Dtype& d : kDtypes) {
    if (name == d.name) return d;
  }
  return std::nullopt;
}

[[noreturn]] void refuse(const std::string& source, const std::string& problem) {
  throw Error(ErrorKind::data,
              fmt::format("{}: not a valid safetensors file: {}. Write it again with keel "
                          "(keel::save_safetensors) or PyTorch (safetensors.torch.save_file, "
                          "scripts/export_torchvision.py)",
                          source, problem));
}

// One tensor's entry in the header, checked against the data size.
struct Entry {
  std::string name;
  Dtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

uint64_t unsigned_field(const json& value, const std::string& source, const std::string& what) {
  if (!value.is_number_unsigned())
    refuse(source, fmt::format("{} is {}, not a whole number >= 0", what, value.dump()));
  return value.get<uint64_t>();
}

std::vector<int64_t> parse_shape(const json& shape, const std::string& source,
                                 const std::string& name, uint64_t& elements) {
  if (!shape.is_array()) refuse(source, fmt::format("tensor `{}`: \"shape\" is not a list", name));
  std::vector<int64_t> dims;
  elements = 1;
  for (const json& d : shape) {
    const uint64_t dim = unsigned_field(d, source, fmt::format("tensor `{}`: a shape entry", name));
    if (dim > kMaxElements || (dim != 0 && elements > kMaxElements / dim)) {
      refuse(source,
             fmt::format("tensor `{}`: shape {} has more than 2^40 elements", name, shape.dump()));
    }
    elements *= dim;
    dims.push_back(static_cast<int64_t>(dim));
  }
  return dims;
}

Entry parse_entry(const std::string& name, const json& spec, uint64_t data_size,
                  const std::string& source) {
  if (!spec.is_object() || !spec.contains("dtype") || !spec.contains("shape") ||
      !spec.contains("data_offsets")) {
    refuse(source,
           fmt::format("tensor `{}` needs \"dtype\", \"shape\" and \"data_offsets\", got {}", name,
                       spec.dump().substr(0, 200)));
  }
  const json& dtype = spec["dtype"];
  const std::optional<Dtype> d =
      dtype.is_string() ? find_dtype(dtype.get<std::string>()) : std::nullopt;
  if (!d) {
    refuse(source, fmt::format("tensor `{}` has unknown dtype {} (known: F64, F32, F16, BF16, "
                               "I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2)",
                               name, dtype.dump()));
  }
  Entry e{name, *d, {}, 0, 0};
  uint64_t elements = 0;
  e.shape = parse_shape(spec["shape"], source, name, elements);
  const json& offsets = spec["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    refuse(source, fmt::format("tensor `{}`: \"data_offsets\" must be [begin, end], got {}", name,
                               offsets.dump()));
  }
  e.begin = unsigned_field(offsets[0], source, fmt::format("tensor `{}`: data begin", name));
  e.end = unsigned_field(offsets[1], source, fmt::format("tensor `{}`: data end", name));
  if (e.begin > e.end || e.end > data_size) {
    refuse(source, fmt::format("tensor `{}`: data_offsets [{}, {}] lie outside the {} data bytes "
                               "(the file is truncated or its header is wrong)",
                               name, e.begin, e.end, data_size));
  }
  if (e.end - e.begin != elements * d->size) {
    refuse(source, fmt::format("tensor `{}`: {} bytes for shape {} of {} ({} bytes expected)", name,
                               e.end - e.begin, spec["shape"].dump(), d->name, elements * d->size));
  }
  if (d->kind == DtypeKind::unsupported) {
    refuse(source, fmt::format("tensor `{}` is {}, which keel does not read (convert the file to "
                               "F32, F16 or BF16)",
                               name, d->name));
  }
  return e;
}

// The spec asks that the tensors tile the data exactly, which also rules out files whose tensors
// share bytes or that hide other content between them.
void check_tiling(std::vector<Entry>& entries, uint64_t data_size, const std::string& source) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < covered) {
      refuse(source,
             fmt::format("tensors `{}` (bytes {}-{}) and `{}` (bytes {}-{}) overlap",
                         previous->name, previous->begin, previous->end, e.name, e.begin, e.end));
    }
    if (e.begin > covered) {
      refuse(source, fmt::format("data bytes {}-{} belong to no tensor (before `{}`)", covered,
                                 e.begin, e.name));
    }
    covered = e.end;
    previous = &e;
  }
  if (covered != data_size) {
    refuse(source,
           fmt::format("data bytes {}-{} at the end belong to no tensor", covered, data_size));
  }
}

template <class T>
void convert_as(const char* bytes, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, bytes + i * sizeof(T), sizeof(T));
    out[i] = static_cast<float>(v);
  }
}

void convert_halves(const char* bytes, float* out, size_t n, bool bfloat) {
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, bytes + 2 * i, 2);
    out[i] = bfloat ? bfloat16_to_float(h) : half_to_float(h);
  }
}

void convert_integers(const char* bytes, float* out, size_t n, const Dtype& d) {
  const bool is_signed = d.kind == DtypeKind::signed_int;
  switch (d.size) {
    case 8:
      return is_signed ? convert_as<int64_t>(bytes, out, n) : convert_as<uint64_t>(bytes, out, n);
    case 4:
      return is_signed ? convert_as<int32_t>(bytes, out, n) : convert_as<uint32_t>(bytes, out, n);
    case 2:
      return is_signed ? convert_as<int16_t>(bytes, out, n) : convert_as<uint16_t>(bytes, out, n);
    default:
      return is_signed ? convert_as<int8_t>(bytes, out, n) : convert_as<uint8_t>(bytes, out, n);
  }
}

Tensor to_float_tensor(const Entry& e, const char* data) {
  Tensor t{Shape(e.shape)};
  const auto n = static_cast<size_t>(t.numel());
  const char* bytes = data + e.begin;
  switch (e.dtype.kind) {
    case DtypeKind::f32:
      if (n) std::memcpy(t.data(), bytes, 4 * n);
      break;
    case DtypeKind::f64:
      convert_as<double>(bytes, t.data(), n);
      break;
    case DtypeKind::f16:
      convert_halves(bytes, t.data(), n, false);
      break;
    case DtypeKind::bf16:
      convert_halves(bytes, t.data(), n, true);
      break;
    case DtypeKind::boolean:
      convert_as<uint8_t>(bytes, t.data(), n);
      break;
    default:
      convert_integers(bytes, t.data(), n, e.dtype);
      break;
  }
  return t;
}

json parse_header_json(std::string_view text, const std::string& source) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    refuse(source, fmt::format("its header is not valid JSON ({})", e.what()));
  }
}

void read_metadata(const json& metadata, SafetensorsFile& file) {
  if (!metadata.is_object()) refuse(file.source, "\"__metadata__\" is not an object of strings");
  for (const auto& [key, value] : metadata.items()) {
    if (!value.is_string())
      refuse(file.source, fmt::format("\"__metadata__\" entry `{}` is not a string", key));
    file.metadata[key] = value.get<std::string>();
  }
}

}  // namespace

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source) {
  if (bytes.size() < 8) {
    refuse(source,
           fmt::format("it has {} bytes, fewer than the 8 of the header length", bytes.size()));
  }
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  if (header_size == 0 || header_size > bytes.size() - 8 || header_size > kMaxHeaderBytes) {
    refuse(source, fmt::format("the header length {} does not fit a file of {} bytes", header_size,
                               bytes.size()));
  }
  const json header = parse_header_json(bytes.substr(8, header_size), source);
  if (!header.is_object()) refuse(source, "its header is JSON but not an object");
  SafetensorsFile file;
  file.source = source;
  const uint64_t data_size = bytes.size() - 8 - header_size;
  std::vector<Entry> entries;
  for (const auto& [name, spec] : header.items()) {
    if (name == "__metadata__") {
      read_metadata(spec, file);
    } else {
      entries.push_back(parse_entry(name, spec, data_size, source));
    }
  }
  check_tiling(entries, data_size, source);
  const char* data = bytes.data() + 8 + header_size;
  for (const Entry& e : entries) {
    file.tensors.emplace(e.name, to_float_tensor(e, data));
    file.shapes.emplace(e.name, e.shape);
    file.dtypes.emplace(e.name, e.dtype.name);
  }
  return file;
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorKind::data, fmt::format("{}: cannot open the weight file: check the path "
                                             "(a .safetensors file)",
                                             path));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) throw Error(ErrorKind::data, fmt::format("{}: read error", path));
  return parse_safetensors(contents.str(), path);
}

void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string data;
  for (const auto& [name, tensor] : tensors) {
    const std::vector<float> values = tensor.to_vector();
    const uint64_t begin = data.size();
    data.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
    header[name] = {{"dtype", "F32"},
                    {"shape", tensor.shape().dims()},
                    {"data_offsets", {begin, static_cast<uint64_t>(data.size())}}};
  }
  std::string text = header.dump();
  // Spaces up to a multiple of 8, as the reference writer pads, so the data starts aligned.
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  const uint64_t length = text.size();
  std::string bytes(reinterpret_cast<const char*>(&length), 8);
  bytes += text;
  bytes += data;
  train::write_file_atomically(path, bytes);
}

}  // namespace keel
