// The protocol buffers wire encoding, writing side only: enough to emit an ONNX model without a
// protobuf dependency (fields are written in order; nothing is ever read back by keel).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace keel::io::detail {

class ProtoWriter {
 public:
  // Wire types: 0 varint, 2 length-delimited, 5 32-bit.
  void int_field(int field, int64_t value) {
    tag(field, 0);
    varint(static_cast<uint64_t>(value));  // negative int64 as ten bytes, as protobuf does
  }
  void float_field(int field, float value) {
    tag(field, 5);
    char bytes[4];
    std::memcpy(bytes, &value, 4);  // little endian, as the wire format is
    out_.append(bytes, 4);
  }
  void bytes_field(int field, std::string_view bytes) {
    tag(field, 2);
    varint(bytes.size());
    out_.append(bytes);
  }
  void message_field(int field, const ProtoWriter& message) { bytes_field(field, message.out_); }
  // Unpacked, as proto2 (which onnx.proto uses) writes repeated scalars; readers accept both.
  void int_fields(int field, const std::vector<int64_t>& values) {
    for (int64_t v : values) int_field(field, v);
  }

  const std::string& bytes() const { return out_; }

 private:
  void tag(int field, int wire_type) {
    varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
  }
  void varint(uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<char>(value));
  }

  std::string out_;
};

}  // namespace keel::io::detail
