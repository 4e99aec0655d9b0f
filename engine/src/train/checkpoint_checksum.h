// The checksum a checkpoint stores after its payload (see keel/train/checkpoint.h for the layout),
// shared with the checkpoint fuzz target, which wraps its inputs in valid headers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::train::detail {

// Version 1: FNV-1a over the bytes; version 2 and later: the four-lane hash of checkpoint.cpp.
uint64_t payload_checksum(uint32_t version, const char* data, size_t size);

}  // namespace keel::train::detail
