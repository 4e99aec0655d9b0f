// safetensors: round trips, dtype conversion, the strict name and shape checks of model loading
// and their options, and a refusal with a clear message for every kind of malformed file.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "keel/error.h"
#include "keel/io/safetensors.h"
#include "keel/nn/activation.h"
#include "keel/nn/batch_norm.h"
#include "keel/nn/conv.h"
#include "keel/nn/linear.h"
#include "keel/nn/pooling.h"
#include "keel/nn/sequential.h"

namespace keel {
namespace {

namespace fs = std::filesystem;

// Conv - BN - ReLU - pool - flatten - linear: "0.weight", "0.bias", "1.weight", "1.bias",
// "1.running_mean", "1.running_var", "5.weight", "5.bias", as in the PyTorch nn.Sequential.
std::unique_ptr<nn::Sequential> small_model(uint64_t seed, int64_t classes = 3) {
  Generator gen(seed);
  auto model = std::make_unique<nn::Sequential>();
  model->emplace<nn::Conv2d>(gen, 2, 4, 3, 1, 1);
  model->emplace<nn::BatchNorm2d>(4);
  model->emplace<nn::ReLU>();
  model->emplace<nn::AdaptiveAvgPool2d>(1);
  model->emplace<nn::Flatten>();
  model->emplace<nn::Linear>(gen, 4, classes);
  return model;
}

std::map<std::string, std::vector<float>> values_of(nn::Module& model) {
  std::map<std::string, std::vector<float>> out;
  model.visit_parameters(
      "", [&](const std::string& n, nn::Parameter& p) { out[n] = p.value.to_vector(); });
  model.visit_buffers("", [&](const std::string& n, Tensor& b) { out[n] = b.to_vector(); });
  return out;
}

// A file from a header text and raw data bytes.
std::string file_bytes(const std::string& header, const std::string& data) {
  const uint64_t n = header.size();
  std::string bytes(reinterpret_cast<const char*>(&n), 8);
  return bytes + header + data;
}

template <class T>
std::string raw(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) out.append(reinterpret_cast<const char*>(&v), sizeof(T));
  return out;
}

// The message of the keel::Error that parsing `bytes` throws (fails the test when none is thrown).
std::string refusal(const std::string& bytes) {
  try {
    parse_safetensors(bytes, "bad.safetensors");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::data);
    return e.what();
  }
  ADD_FAILURE() << "accepted a malformed file";
  return "";
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("keel_safetensors_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

TEST_F(SafetensorsTest, RoundTripRestoresEveryParameterAndBuffer) {
  auto source = small_model(1);
  source->visit_buffers("", [](const std::string&, Tensor& b) { b.fill_(0.25f); });
  save_safetensors(*source, path("m.safetensors"), {{"arch", "small"}});
  auto target = small_model(2);
  ASSERT_NE(values_of(*source), values_of(*target));
  const WeightLoadReport report = load_safetensors(*target, path("m.safetensors"));
  EXPECT_EQ(values_of(*source), values_of(*target));
  EXPECT_EQ(report.loaded.size(), 8u);
  EXPECT_TRUE(report.kept.empty());
  EXPECT_EQ(read_safetensors(path("m.safetensors")).metadata.at("arch"), "small");
}

TEST_F(SafetensorsTest, WritesPyTorchNamesAsF32WithAnAlignedHeader) {
  auto model = small_model(1);
  save_safetensors(*model, path("m.safetensors"));
  std::ifstream in(path("m.safetensors"), std::ios::binary);
  uint64_t header = 0;
  in.read(reinterpret_cast<char*>(&header), 8);
  EXPECT_EQ(header % 8, 0u);
  const SafetensorsFile file = read_safetensors(path("m.safetensors"));
  for (const char* name : {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                           "1.running_var", "5.weight", "5.bias"}) {
    ASSERT_TRUE(file.tensors.count(name)) << name;
    EXPECT_EQ(file.dtypes.at(name), "F32");
  }
  EXPECT_EQ(file.shapes.at("0.weight"), (std::vector<int64_t>{4, 2, 3, 3}));
  // Nothing but the file itself is left in the folder (the temporary was renamed).
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(SafetensorsTest, ConvertsHalfBfloatDoubleAndIntegersToFloat) {
  // F16: 1, -2, 65504 (largest), 2^-24 (smallest subnormal), +inf. BF16: 1.5, -3. F64: 0.1.
  const std::string f16 = raw<uint16_t>({0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00});
  const std::string bf16 = raw<uint16_t>({0x3fc0, 0xc040});
  const std::string f64 = raw<double>({0.1});
  const std::string i64 = raw<int64_t>({-7, 123456});
  const std::string header = R"({"a":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},)"
                             R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[10,14]},)"
                             R"("c":{"dtype":"F64","shape":[],"data_offsets":[14,22]},)"
                             R"("d":{"dtype":"I64","shape":[2,1],"data_offsets":[22,38]}})";
  const SafetensorsFile file = parse_safetensors(file_bytes(header, f16 + bf16 + f64 + i64), "x");
  const std::vector<float> a = file.tensors.at("a").to_vector();
  EXPECT_EQ(a[0], 1.0f);
  EXPECT_EQ(a[1], -2.0f);
  EXPECT_EQ(a[2], 65504.0f);
  EXPECT_EQ(a[3], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(a[4]));
  EXPECT_EQ(file.tensors.at("b").to_vector(), (std::vector<float>{1.5f, -3.0f}));
  EXPECT_EQ(file.tensors.at("c").to_vector(), (std::vector<float>{0.1f}));
  EXPECT_EQ(file.tensors.at("d").to_vector(), (std::vector<float>{-7.0f, 123456.0f}));
  EXPECT_EQ(file.tensors.at("d").shape(), (Shape{2, 1}));
  EXPECT_EQ(file.dtypes.at("a"), "F16");
}

TEST_F(SafetensorsTest, EveryHalfBitPatternMatchesTheHardwareConversion) {
  // Each of the 65536 patterns against its value computed from the definition of binary16.
  std::string data;
  for (uint32_t bits = 0; bits < 65536; ++bits)
    data += raw<uint16_t>({static_cast<uint16_t>(bits)});
  const std::string header = R"({"h":{"dtype":"F16","shape":[65536],"data_offsets":[0,131072]}})";
  const std::vector<float> got =
      parse_safetensors(file_bytes(header, data), "x").tensors.at("h").to_vector();
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const uint32_t exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff, negative = bits >> 15;
    double expected = exponent == 0 ? std::ldexp(mantissa, -24)
                                    : std::ldexp(1024 + mantissa, static_cast<int>(exponent) - 25);
    if (negative) expected = -expected;
    if (exponent == 0x1f) {
      EXPECT_EQ(std::isnan(got[bits]), mantissa != 0) << bits;
      if (mantissa == 0) {
        EXPECT_EQ(got[bits], negative ? -INFINITY : INFINITY) << bits;
      }
    } else {
      ASSERT_EQ(got[bits], static_cast<float>(expected)) << bits;
      EXPECT_EQ(std::signbit(got[bits]), negative != 0) << bits;
    }
  }
}

TEST_F(SafetensorsTest, MissingTensorIsAnErrorNamingItAndChangesNothing) {
  auto source = small_model(1);
  save_safetensors(*source, path("m.safetensors"));
  SafetensorsFile file = read_safetensors(path("m.safetensors"));
  file.tensors.erase("1.running_var");
  auto target = small_model(2);
  const auto before = values_of(*target);
  try {
    load_safetensors(*target, file);
    FAIL() << "loaded a file without 1.running_var";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("`1.running_var`"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("allow_missing"), std::string::npos) << e.what();
  }
  EXPECT_EQ(values_of(*target), before);
  WeightLoadOptions options;
  options.allow_missing = true;
  const WeightLoadReport report = load_safetensors(*target, file, options);
  EXPECT_EQ(report.kept, std::vector<std::string>{"1.running_var"});
  EXPECT_EQ(target->parameters()[0]->value.to_vector(), source->parameters()[0]->value.to_vector());
}

TEST_F(SafetensorsTest, UnexpectedTensorIsAnErrorUnlessIgnored) {
  auto source = small_model(1);
  save_safetensors(*source, path("m.safetensors"));
  SafetensorsFile file = read_safetensors(path("m.safetensors"));
  file.tensors["fc.weight"] = Tensor::zeros(Shape{2, 2});
  auto target = small_model(2);
  try {
    load_safetensors(*target, file);
    FAIL() << "loaded a file with an extra tensor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("`fc.weight`"), std::string::npos) << e.what();
  }
  WeightLoadOptions options;
  options.ignore_unexpected = true;
  EXPECT_EQ(load_safetensors(*target, file, options).unexpected,
            std::vector<std::string>{"fc.weight"});
  EXPECT_EQ(values_of(*target), values_of(*source));
}

TEST_F(SafetensorsTest, WrongShapeNamesTheKeyAndBothShapes) {
  auto source = small_model(1, 3);
  save_safetensors(*source, path("m.safetensors"));
  auto target = small_model(2, 2);
  const auto before = values_of(*target);
  try {
    load_safetensors(*target, path("m.safetensors"));
    FAIL() << "loaded a 3-class head into a 2-class model";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("`5.bias`"), std::string::npos) << message;
    EXPECT_NE(message.find("(3)"), std::string::npos) << message;
    EXPECT_NE(message.find("(2)"), std::string::npos) << message;
  }
  EXPECT_EQ(values_of(*target), before);
  // Even allow_missing does not load a wrongly shaped tensor: only optional prefixes skip one.
  WeightLoadOptions lenient;
  lenient.allow_missing = true;
  EXPECT_THROW(load_safetensors(*target, path("m.safetensors"), lenient), Error);
  WeightLoadOptions head_optional;
  head_optional.optional_prefixes = {"5."};
  const WeightLoadReport report = load_safetensors(*target, path("m.safetensors"), head_optional);
  EXPECT_EQ(report.kept, (std::vector<std::string>{"5.bias", "5.weight"}));
  EXPECT_EQ(report.loaded.size(), 6u);
}

TEST_F(SafetensorsTest, RenamesMapFilePrefixesAndBatchCountsAreAccepted) {
  auto source = small_model(1);
  std::map<std::string, Tensor> tensors;
  source->visit_parameters(
      "", [&](const std::string& n, nn::Parameter& p) { tensors["body." + n] = p.value; });
  source->visit_buffers("", [&](const std::string& n, Tensor& b) { tensors["body." + n] = b; });
  tensors["body.1.num_batches_tracked"] = Tensor::zeros(Shape{});
  write_safetensors(path("renamed.safetensors"), tensors);
  auto target = small_model(2);
  EXPECT_THROW(load_safetensors(*target, path("renamed.safetensors")), Error);
  WeightLoadOptions options;
  options.renames = {{"body.", ""}};
  const WeightLoadReport report = load_safetensors(*target, path("renamed.safetensors"), options);
  EXPECT_TRUE(report.unexpected.empty());
  EXPECT_EQ(values_of(*target), values_of(*source));
}

TEST_F(SafetensorsTest, WriteReplacesAnEarlierFileWhole) {
  auto model = small_model(1);
  { std::ofstream(path("m.safetensors")) << "old contents"; }
  save_safetensors(*model, path("m.safetensors"));
  EXPECT_EQ(read_safetensors(path("m.safetensors")).tensors.size(), 8u);
}

TEST_F(SafetensorsTest, UnreadableFileNamesThePath) {
  try {
    read_safetensors(path("absent.safetensors"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.safetensors"), std::string::npos);
  }
}

// --- malformed files --------------------------------------------------------------------------

const std::string kOneFloat = raw<float>({1.0f});

TEST(SafetensorsRefusal, FileShorterThanTheLengthField) {
  EXPECT_NE(refusal("abc").find("fewer than the 8"), std::string::npos);
}

TEST(SafetensorsRefusal, HeaderLengthBeyondTheFile) {
  std::string bytes =
      file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", kOneFloat);
  const uint64_t huge = 1ull << 62;
  std::memcpy(bytes.data(), &huge, 8);
  EXPECT_NE(refusal(bytes).find("header length"), std::string::npos);
  const uint64_t zero = 0;
  std::memcpy(bytes.data(), &zero, 8);
  EXPECT_NE(refusal(bytes).find("header length 0"), std::string::npos);
}

TEST(SafetensorsRefusal, HeaderThatIsNotJson) {
  EXPECT_NE(refusal(file_bytes(R"({"a": {"dtype": )", "")).find("not valid JSON"),
            std::string::npos);
  EXPECT_NE(refusal(file_bytes("[1, 2]", "")).find("not an object"), std::string::npos);
}

TEST(SafetensorsRefusal, UnknownAndUnsupportedDtypes) {
  const std::string bad =
      refusal(file_bytes(R"({"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", kOneFloat));
  EXPECT_NE(bad.find("tensor `w` has unknown dtype \"F33\""), std::string::npos) << bad;
  const std::string f8 = refusal(
      file_bytes(R"({"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})", kOneFloat));
  EXPECT_NE(f8.find("does not read"), std::string::npos) << f8;
}

TEST(SafetensorsRefusal, EntryWithoutItsFields) {
  EXPECT_NE(
      refusal(file_bytes(R"({"w":{"dtype":"F32","shape":[1]}})", kOneFloat)).find("data_offsets"),
      std::string::npos);
  EXPECT_NE(
      refusal(file_bytes(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", kOneFloat))
          .find("shape entry"),
      std::string::npos);
  EXPECT_NE(
      refusal(file_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", kOneFloat))
          .find("[begin, end]"),
      std::string::npos);
}

TEST(SafetensorsRefusal, OffsetsOutsideTheFile) {
  const std::string m =
      refusal(file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", kOneFloat));
  EXPECT_NE(m.find("lie outside the 4 data bytes"), std::string::npos) << m;
  EXPECT_NE(
      refusal(file_bytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", kOneFloat))
          .find("outside"),
      std::string::npos);
}

TEST(SafetensorsRefusal, SizeThatDoesNotMatchTheShape) {
  const std::string m =
      refusal(file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", kOneFloat));
  EXPECT_NE(m.find("8 bytes expected"), std::string::npos) << m;
  const std::string big = refusal(file_bytes(
      R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", kOneFloat));
  EXPECT_NE(big.find("2^40"), std::string::npos) << big;
}

TEST(SafetensorsRefusal, OverlappingTensors) {
  const std::string m =
      refusal(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                         raw<float>({1.0f, 2.0f})));
  EXPECT_NE(m.find("`a` (bytes 0-8) and `b` (bytes 4-8) overlap"), std::string::npos) << m;
}

TEST(SafetensorsRefusal, BytesThatNoTensorCovers) {
  const std::string gap = refusal(file_bytes(
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", raw<float>({1.0f, 2.0f})));
  EXPECT_NE(gap.find("bytes 0-4 belong to no tensor"), std::string::npos) << gap;
  const std::string tail = refusal(file_bytes(
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", raw<float>({1.0f, 2.0f})));
  EXPECT_NE(tail.find("at the end belong to no tensor"), std::string::npos) << tail;
}

TEST(SafetensorsRefusal, MetadataThatIsNotStrings) {
  EXPECT_NE(
      refusal(file_bytes(R"({"__metadata__":{"epochs":3}})", "")).find("`epochs` is not a string"),
      std::string::npos);
}

TEST(SafetensorsRefusal, MessagesNameTheFileAndWhatToDo) {
  const std::string m = refusal("abc");
  EXPECT_EQ(m.rfind("bad.safetensors: not a valid safetensors file", 0), 0u) << m;
  EXPECT_NE(m.find("Write it again"), std::string::npos) << m;
}

TEST(SafetensorsParse, EmptyFileOfMetadataOnlyIsValid) {
  const SafetensorsFile f =
      parse_safetensors(file_bytes(R"({"__metadata__":{"k":"v"}}  )", ""), "x");
  EXPECT_TRUE(f.tensors.empty());
  EXPECT_EQ(f.metadata.at("k"), "v");
}

}  // namespace
}  // namespace keel
