//===- SafetensorsTest.cpp - Unit tests of safetensors I/O ----------------===//

#include "gptc/Runtime/Safetensors.h"

#include <gtest/gtest.h>

#include <fstream>

#include <cmath>
#include <cstring>

using namespace gptc;

namespace {

/// A file from a raw JSON header and data section.
std::string rawFile(const std::string &header, const std::string &data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

TEST(Safetensors, RoundTripsEveryDType) {
  SafetensorsFile f;
  f.metadata["format"] = "pt";
  std::vector<double> vals = {0.0, 1.5, -2.25, 1024.0, 3.0e-5, -7.0};
  for (DType t : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                  DType::I32, DType::I16, DType::I8})
    f.tensors[dtypeName(t)] = TensorData::fromDoubles(t, {2, 3}, vals);
  f.tensors["empty"] = TensorData::fromDoubles(DType::F32, {0, 4}, {});
  f.tensors["scalar"] = TensorData::fromDoubles(DType::F32, {}, {4.0});
  SafetensorsFile g = parseSafetensors(serializeSafetensors(f), "mem");
  EXPECT_EQ(g.metadata.at("format"), "pt");
  ASSERT_EQ(g.tensors.size(), f.tensors.size());
  for (auto &[name, t] : f.tensors) {
    const TensorData *u = g.find(name);
    ASSERT_NE(u, nullptr) << name;
    EXPECT_EQ(u->dtype, t.dtype);
    EXPECT_EQ(u->shape, t.shape);
    EXPECT_EQ(u->bytes, t.bytes) << name;
  }
  // Exactly representable values survive every float format.
  EXPECT_EQ(g.find("F16")->toDoubles()[2], -2.25);
  EXPECT_EQ(g.find("BF16")->toDoubles()[3], 1024.0);
  EXPECT_NEAR(g.find("F16")->toDoubles()[4], 3.0e-5, 1e-7); // subnormal
  EXPECT_EQ(g.find("I8")->toDoubles()[5], -7.0);
  EXPECT_EQ(g.find("scalar")->toDoubles(), std::vector<double>{4.0});
}

TEST(Safetensors, HalfPrecisionRounding) {
  auto roundTrip = [](DType t, double v) {
    return TensorData::fromDoubles(t, {1}, {v}).toDoubles()[0];
  };
  EXPECT_EQ(roundTrip(DType::F16, 65504.0), 65504.0);
  EXPECT_TRUE(std::isinf(roundTrip(DType::F16, 70000.0)));
  EXPECT_EQ(roundTrip(DType::F16, 1.0 + 1.0 / 4096), 1.0); // ties to even
  EXPECT_TRUE(std::isnan(roundTrip(DType::BF16, NAN)));
  EXPECT_EQ(roundTrip(DType::BF16, 1.00390625), 1.0); // ties to even
}

struct BadFile {
  std::string bytes;
  std::string message;
};

class SafetensorsErrors : public testing::TestWithParam<BadFile> {};

TEST_P(SafetensorsErrors, NameTheProblem) {
  try {
    parseSafetensors(GetParam().bytes, "bad.safetensors");
    FAIL() << "expected an error: " << GetParam().message;
  } catch (const RuntimeError &e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().message), std::string::npos)
        << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("bad.safetensors: ", 0), 0u);
  }
}

const char *tensorA =
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

INSTANTIATE_TEST_SUITE_P(
    All, SafetensorsErrors,
    testing::Values(
        BadFile{"abc", "shorter than the 8-byte header length"},
        BadFile{std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8),
                "exceeds the"},
        BadFile{rawFile(tensorA, "").substr(0, 20), "truncated"},
        BadFile{rawFile(tensorA, "1234"), "outside the 4-byte data section"},
        BadFile{rawFile("[1, 2]", ""), "expected a JSON object"},
        BadFile{rawFile("{\"a\":", ""), "unexpected end"},
        BadFile{rawFile("{\"a\":1.5}", ""), "expected an integer"},
        BadFile{
            rawFile(
                R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{}})",
                "12345678"),
            "duplicate key"},
        BadFile{
            rawFile(R"({"a":{"dtype":"Q8","shape":[2],"data_offsets":[0,2]}})",
                    "12"),
            "unsupported dtype 'Q8'"},
        BadFile{
            rawFile(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                    "12345678"),
            "has 8 bytes but F32[3] needs 12"},
        BadFile{
            rawFile(
                R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})",
                "12345678"),
            "non-negative"},
        BadFile{
            rawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    "12345678"),
            "overlap"},
        BadFile{
            rawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})",
                    "12345678"),
            "outside the"},
        BadFile{
            rawFile(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],)"
                    R"("data_offsets":[0,8]}})",
                    "12345678"),
            "overflows"},
        BadFile{rawFile(R"({"a":{"dtype":"F32","shape":[2]}})", ""),
                "'data_offsets' must be [begin, end]"},
        BadFile{
            rawFile(
                R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})",
                "12345678"),
            "unknown field 'x'"},
        // Bytes that belong to no tensor: a gap, and a tail.
        BadFile{
            rawFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                    "123456789abc"),
            "bytes 4 to 8 of the data section belong to no tensor"},
        BadFile{rawFile(tensorA, "12345678tail"),
                "bytes 8 to 12 of the data section belong to no tensor"},
        BadFile{rawFile(R"({"__metadata__":{"k":1}})", ""), "must be a string"},
        BadFile{rawFile("{\"a\":\"\\q\"}", ""), "unknown escape"}));

// An empty tensor takes no bytes, so its offsets may point anywhere in the
// data section (it was reported as overlapping its neighbour).
TEST(Safetensors, EmptyTensorsOverlapNothing) {
  SafetensorsFile f = parseSafetensors(
      rawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
              R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}})",
              "12345678"),
      "empty.safetensors");
  ASSERT_NE(f.find("e"), nullptr);
  EXPECT_EQ(f.find("e")->numel(), 0);
  EXPECT_EQ(f.find("a")->bytes.size(), 8u);
}

// A checkpoint's metadata (a classifier's class names) without its tensors.
TEST(Safetensors, MetadataAloneReadsTheHeader) {
  SafetensorsFile f;
  f.metadata["gptc.classes"] = "[\"ham\",\"spam\"]";
  f.tensors["w"] = TensorData::fromDoubles(DType::F32, {2}, {1.0, 2.0});
  std::string path = testing::TempDir() + "/meta.safetensors";
  writeSafetensors(path, f);
  EXPECT_EQ(readSafetensorsMetadata(path), f.metadata);
  std::ofstream(path, std::ios::binary) << std::string("\x10\0\0\0", 4);
  EXPECT_THROW(readSafetensorsMetadata(path), RuntimeError);
  EXPECT_THROW(readSafetensorsMetadata(path + ".none"), RuntimeError);
}

TEST(Safetensors, MissingFileIsAClearError) {
  try {
    readSafetensors("/no/such/file.safetensors");
    FAIL();
  } catch (const RuntimeError &e) {
    EXPECT_NE(std::string(e.what()).find("cannot open '/no/such/file"),
              std::string::npos);
  }
}

} // namespace
