// The small CSV reader behind the EnergiBridge import: quoting, line endings, line numbers.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/csv_reader.hpp"
#include "joulebench/error.hpp"

namespace joulebench {
namespace {

std::vector<CsvRecord> read_all(std::string_view text, char sep = ',') {
    CsvReader reader(text, sep, "test.csv");
    std::vector<CsvRecord> records;
    CsvRecord r;
    while (reader.next(r)) records.push_back(r);
    return records;
}

TEST(EnergibridgeCsv, SplitsPlainFieldsAndCountsLines) {
    const auto records = read_all("a,b,c\n1,,3\n");
    ASSERT_EQ(records.size(), 2U);
    EXPECT_EQ(records[0].fields, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(records[1].fields, (std::vector<std::string>{"1", "", "3"}));
    EXPECT_EQ(records[1].line, 2U);
    EXPECT_TRUE(records[1].terminated);
}

TEST(EnergibridgeCsv, QuotedFieldsKeepSeparatorsQuotesAndLineBreaks) {
    const auto records = read_all("\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\"\nnext,1,2\n");
    ASSERT_EQ(records.size(), 2U);
    EXPECT_EQ(records[0].fields, (std::vector<std::string>{"x,y", "say \"hi\"", "two\nlines"}));
    EXPECT_EQ(records[1].line, 3U);  // the quoted line break counts as a line
    EXPECT_EQ(records[1].fields[0], "next");
}

TEST(EnergibridgeCsv, CrlfAndMissingFinalLineBreak) {
    const auto records = read_all("a,b\r\n1,2\r\n3,4");
    ASSERT_EQ(records.size(), 3U);
    EXPECT_EQ(records[1].fields, (std::vector<std::string>{"1", "2"}));
    EXPECT_TRUE(records[1].terminated);
    EXPECT_EQ(records[2].fields, (std::vector<std::string>{"3", "4"}));
    EXPECT_FALSE(records[2].terminated);
}

TEST(EnergibridgeCsv, SkipsBlankLinesButKeepsLineNumbers) {
    const auto records = read_all("a\n\n\r\nb\n\n");
    ASSERT_EQ(records.size(), 2U);
    EXPECT_EQ(records[1].fields[0], "b");
    EXPECT_EQ(records[1].line, 4U);
}

TEST(EnergibridgeCsv, OtherSeparator) {
    const auto records = read_all("a;b,c\n", ';');
    ASSERT_EQ(records.size(), 1U);
    EXPECT_EQ(records[0].fields, (std::vector<std::string>{"a", "b,c"}));
}

TEST(EnergibridgeCsv, UnclosedQuoteNamesSourceAndLine) {
    try {
        (void)read_all("a,b\n1,\"open\n2,3\n");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("test.csv line 2"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("never closed"), std::string::npos) << e.what();
    }
}

TEST(EnergibridgeCsv, TextAfterClosingQuoteIsAnError) {
    EXPECT_THROW((void)read_all("\"12\"3,4\n"), Error);
}

TEST(EnergibridgeCsv, StripsUtf8Bom) {
    EXPECT_EQ(strip_bom("\xEF\xBB\xBF" "Delta"), "Delta");
    EXPECT_EQ(strip_bom("Delta"), "Delta");
}

}  // namespace
}  // namespace joulebench
