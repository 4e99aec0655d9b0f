// SHA-256 against the FIPS 180-4 example vectors, across block boundaries, and of a file.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/io/sha256.h"

namespace keel {
namespace {

TEST(Sha256, FipsExamples) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the padding needs a second block.
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, FileMatchesBytes) {
  const auto path = std::filesystem::temp_directory_path() / "keel_sha256_test.bin";
  const std::string bytes(3 << 20, 'x');  // over the reader's 1 MiB buffer
  { std::ofstream(path, std::ios::binary) << bytes; }
  EXPECT_EQ(sha256_file(path.string()), sha256_hex(bytes));
  std::filesystem::remove(path);
  EXPECT_THROW(sha256_file(path.string()), Error);
}

}  // namespace
}  // namespace keel
