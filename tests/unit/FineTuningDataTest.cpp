//===- FineTuningDataTest.cpp - Labelled texts and instruction records ----===//
//
// The readers and datasets of the book's chapter 6 and 7 pipelines: the
// shipped files give the book's counts and prompts, tables are read as
// pandas reads them, and every malformed input is refused naming its line
// or record. The collate itself is checked against the book's code in
// FineTuningTest.cpp.
//
//===----------------------------------------------------------------------===//

#include "gptc/Runtime/ClassificationData.h"
#include "gptc/Runtime/InstructionData.h"
#include "gptc/Support/Error.h"

#include <gtest/gtest.h>

#include <numeric>

using namespace gptc;

namespace {

const std::string kData = std::string(GPTC_SOURCE_DIR) + "/data/";

/// The message `f` throws as a RuntimeError ("" if it does not throw).
template <typename F> std::string errorOf(F f) {
  try {
    f();
  } catch (const RuntimeError &e) {
    return e.what();
  }
  return "";
}

std::vector<int64_t> labelsOf(const std::vector<LabelledText> &rows) {
  std::vector<int64_t> n;
  for (const LabelledText &r : rows) {
    if (static_cast<size_t>(r.label) >= n.size())
      n.resize(r.label + 1);
    ++n[r.label];
  }
  return n;
}

// Chapter 6: 4,825 ham and 747 spam; balanced to 747 each; random_split's
// sizes 1045 / 149 / 300.
TEST(LabelledTable, SmsSpamGivesTheBooksCounts) {
  LabelledTable t =
      readLabelledTable(kData + "SMSSpamCollection", {"ham", "spam"});
  EXPECT_EQ(t.classes, (std::vector<std::string>{"ham", "spam"}));
  EXPECT_EQ(labelsOf(t.rows), (std::vector<int64_t>{4825, 747}));
  std::vector<LabelledText> balanced = balanceClasses(t, 123);
  EXPECT_EQ(labelsOf(balanced), (std::vector<int64_t>{747, 747}));
  // File order kept; the undersampling depends on the seed alone.
  for (size_t i = 1; i < balanced.size(); ++i)
    EXPECT_LT(balanced[i - 1].line, balanced[i].line);
  std::vector<LabelledText> again = balanceClasses(t, 123),
                            other = balanceClasses(t, 7);
  auto lines = [](const std::vector<LabelledText> &rows) {
    std::vector<int64_t> l;
    for (const LabelledText &r : rows)
      l.push_back(r.line);
    return l;
  };
  EXPECT_EQ(lines(balanced), lines(again));
  EXPECT_NE(lines(balanced), lines(other));
  EXPECT_EQ(splitSizes(1494, {0.7, 0.1, 0.2}),
            (std::vector<int64_t>{1045, 149, 300}));
}

TEST(LabelledTable, ReadsAsPandasDoes) {
  // Tab-separated, CRLF, a blank line, classes sorted when not given.
  LabelledTable t =
      parseLabelledTable("spam\tWin!\r\n\nham\tHi there\n", "a.tsv", {});
  EXPECT_EQ(t.classes, (std::vector<std::string>{"ham", "spam"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].text, "Win!");
  EXPECT_EQ(t.rows[0].label, 1);
  EXPECT_EQ(t.rows[1].line, 3);
  // CSV with a header naming the columns in another order; quotes hold
  // commas, newlines and "" escapes, and text after the closing quote
  // stays in the field.
  t = parseLabelledTable("text,label\n\"a, \"\"b\"\"\nc\",1\n\"x\"y,0\n",
                         "b.csv", {});
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].text, "a, \"b\"\nc");
  EXPECT_EQ(t.rows[0].label, 1);
  EXPECT_EQ(t.rows[1].text, "xy");
  EXPECT_EQ(t.rows[1].line, 4);
  EXPECT_EQ(t.classes, (std::vector<std::string>{"0", "1"}));
  // Given classes fix the ids.
  t = parseLabelledTable("ham\tx\nspam\ty\n", "c.tsv", {"spam", "ham"});
  EXPECT_EQ(t.rows[0].label, 1);
}

TEST(LabelledTable, BadTablesNameTheLine) {
  EXPECT_EQ(errorOf([] { parseLabelledTable("ham\tok\nspam\n", "t.tsv", {}); }),
            "t.tsv:2: expected 2 tab-separated fields (label, text), found 1");
  EXPECT_EQ(errorOf([] { parseLabelledTable("a\tb\tc\n", "t.tsv", {}); }),
            "t.tsv:1: expected 2 tab-separated fields (label, text), found 3");
  EXPECT_EQ(errorOf([] {
              parseLabelledTable("label,text,id\n1,x,3\n0,y\n", "t.csv", {});
            }),
            "t.csv:3: expected the header's 3 comma-separated fields (with "
            "label and text columns), found 2");
  EXPECT_EQ(
      errorOf([] {
        parseLabelledTable("ham\tok\nspma\tno\n", "t.tsv", {"ham", "spam"});
      }),
      "t.tsv:2: label 'spma' is not one of the classes (ham, spam, the "
      "training key `classes`)");
  EXPECT_EQ(errorOf([] {
              parseLabelledTable("ham\tok\nspam\t\"open\nrest\n", "t.tsv", {});
            }),
            "t.tsv:2: a quoted field is not closed");
  EXPECT_EQ(errorOf([] {
              parseLabelledTable("ham\tok\nspam\tcaf\xe9\n", "t.tsv", {});
            }),
            "t.tsv:2: not UTF-8 (invalid byte at offset 15)");
  EXPECT_EQ(errorOf([] { parseLabelledTable("\n\n", "t.tsv", {}); }),
            "t.tsv: no labelled texts (expected rows of label tab text)");
}

TEST(ClassificationDataset, PadsAndTruncatesToOneLength) {
  ClassificationDataset data({{1, 2}, {3, 4, 5, 6, 7}, {}}, {0, 1, 1}, 4, 9);
  Batch b = data.collate({1, 0, 2});
  EXPECT_TRUE(b.classTargets);
  EXPECT_EQ(b.rows, 3);
  EXPECT_EQ(b.length, 4);
  EXPECT_EQ(b.tokens,
            (std::vector<int32_t>{3, 4, 5, 6, 1, 2, 9, 9, 9, 9, 9, 9}));
  EXPECT_EQ(b.targets, (std::vector<int32_t>{1, 0, 1}));
  EXPECT_THROW(ClassificationDataset({{1}}, {0}, 0, 9), RuntimeError);
}

// Chapter 7: 1,100 records, split 935 / 55 / 110 (gptc orders the parts
// train, validation, test); format_input on the book's examples.
TEST(Instructions, ShippedDataGivesTheBooksPrompts) {
  std::vector<InstructionRecord> r =
      readInstructions(kData + "instruction-data.json");
  ASSERT_EQ(r.size(), 1100u);
  EXPECT_EQ(splitSizes(1100, {0.85, 0.05, 0.1}),
            (std::vector<int64_t>{935, 55, 110}));
  const char *preamble = "Below is an instruction that describes a task. "
                         "Write a response that appropriately completes the "
                         "request.\n\n### Instruction:\n";
  EXPECT_EQ(alpacaPrompt(r[50]),
            std::string(preamble) +
                "Identify the correct spelling of the following word."
                "\n\n### Input:\nOcassion");
  EXPECT_EQ(alpacaResponse(r[50]),
            "\n\n### Response:\nThe correct spelling is 'Occasion.'");
  EXPECT_EQ(alpacaPrompt(r[999]),
            std::string(preamble) + "What is an antonym of 'complicated'?");
  // Records keep what was read, for the responses file.
  EXPECT_EQ(r[50].json["input"], "Ocassion");
}

TEST(Instructions, BadRecordsAreNamed) {
  auto parse = [](const std::string &text) {
    return errorOf([&] { parseInstructions(text, "d.json"); });
  };
  // "input" may be absent or null; other keys are kept.
  std::vector<InstructionRecord> r = parseInstructions(
      R"([{"instruction": "a", "output": "b", "id": 7},
          {"instruction": "c", "input": null, "output": "d"}])",
      "d.json");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].input, "");
  EXPECT_EQ(r[0].json["id"], 7);
  const std::string array = "d.json: expected a JSON array of instruction "
                            "records {\"instruction\", \"input\", \"output\"}";
  EXPECT_EQ(parse(R"({"instruction": "a"})"), array);
  EXPECT_EQ(parse("[]"), array);
  EXPECT_EQ(parse(R"([{"instruction": "a", "output": "b"}, 3])"),
            "d.json: record 1 is not an object {\"instruction\", \"input\", "
            "\"output\"}");
  EXPECT_EQ(parse(R"([{"instruction": "a"}])"),
            "d.json: record 0 has no \"output\"");
  EXPECT_EQ(parse(R"([{"instruction": "a", "input": 5, "output": "b"}])"),
            "d.json: record 0 has \"input\": number, expected a string");
  EXPECT_EQ(parse("[{\"instruction\": \"a\",\n \"output\": }]"),
            "d.json: invalid JSON: parse error at line 2, column 12: "
            "syntax error while parsing value - unexpected '}'; expected '[', "
            "'{', or a literal");
  EXPECT_THROW(InstructionDataset({{1}}, {1}, 0, 0, false), RuntimeError);
}

} // namespace
