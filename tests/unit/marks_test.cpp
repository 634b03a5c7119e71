// The marker line parser (README "Markers"): what is a mark, what is a malformed one, and what is
// not a mark at all.

#include <gtest/gtest.h>

#include <string>

#include "measure/marks.hpp"

namespace joulebench {
namespace {

TEST(MarkLine, BeginAndEndWithTheirName) {
    const auto b = parse_mark_line("JOULEBENCH_MARK begin warmup", true);
    ASSERT_TRUE(b.is_mark && b.mark);
    EXPECT_EQ(b.mark->kind, Mark::Kind::kBegin);
    EXPECT_EQ(b.mark->name, "warmup");
    const auto e = parse_mark_line("JOULEBENCH_MARK\tend  epoch-3/step:7@gpu0+x_y.z \r", true);
    ASSERT_TRUE(e.is_mark && e.mark) << e.error;
    EXPECT_EQ(e.mark->kind, Mark::Kind::kEnd);
    EXPECT_EQ(e.mark->name, "epoch-3/step:7@gpu0+x_y.z");
}

TEST(MarkLine, OrdinaryOutputIsNotAMark) {
    for (const char* line : {"", "hello", "  JOULEBENCH_MARK begin x", "JOULEBENCH_MARKS=/tmp/m",
                             "JOULEBENCH_MARKbegin x", "begin warmup", "joulebench_mark begin x"}) {
        const auto p = parse_mark_line(line, true);
        EXPECT_FALSE(p.is_mark) << line;
        EXPECT_FALSE(p.mark) << line;
    }
}

TEST(MarkLine, MalformedMarksSayWhy) {
    const auto none = parse_mark_line("JOULEBENCH_MARK", true);
    EXPECT_TRUE(none.is_mark && !none.mark);
    EXPECT_NE(none.error.find("expected 'begin NAME' or 'end NAME'"), std::string::npos);
    const auto verb = parse_mark_line("JOULEBENCH_MARK start x", true);
    EXPECT_TRUE(verb.is_mark && !verb.mark);
    EXPECT_NE(verb.error.find("expected 'begin NAME'"), std::string::npos);
    const auto nameless = parse_mark_line("JOULEBENCH_MARK end", true);
    EXPECT_NE(nameless.error.find("'end' without a phase name"), std::string::npos);
    const auto spaces = parse_mark_line("JOULEBENCH_MARK begin two words", true);
    EXPECT_TRUE(spaces.is_mark && !spaces.mark);
    EXPECT_NE(spaces.error.find("no blanks"), std::string::npos);
    const auto chars = parse_mark_line("JOULEBENCH_MARK begin caf\xc3\xa9", true);
    EXPECT_TRUE(chars.is_mark && !chars.mark);
    EXPECT_NE(chars.error.find("A-Z a-z 0-9"), std::string::npos);
    const auto garbage = parse_mark_line(std::string("JOULEBENCH_MARK \x01\x02\xff"), true);
    EXPECT_TRUE(garbage.is_mark && !garbage.mark);
}

TEST(MarkLine, NamesUpTo64Characters) {
    const std::string ok(kMaxPhaseNameLength, 'a');
    const auto p = parse_mark_line("JOULEBENCH_MARK begin " + ok, true);
    ASSERT_TRUE(p.mark) << p.error;
    EXPECT_EQ(p.mark->name, ok);
    const auto longer = parse_mark_line("JOULEBENCH_MARK begin " + ok + "b", true);
    EXPECT_TRUE(longer.is_mark && !longer.mark);
    EXPECT_NE(longer.error.find("65 characters, more than 64"), std::string::npos) << longer.error;
}

TEST(MarkLine, InTheMarksFileThePrefixIsOptionalAndBlankLinesAreNothing) {
    const auto bare = parse_mark_line("begin measured", false);
    ASSERT_TRUE(bare.mark);
    EXPECT_EQ(bare.mark->name, "measured");
    const auto prefixed = parse_mark_line("JOULEBENCH_MARK end measured", false);
    ASSERT_TRUE(prefixed.mark);
    EXPECT_EQ(prefixed.mark->kind, Mark::Kind::kEnd);
    EXPECT_FALSE(parse_mark_line("   \r", false).is_mark);
    const auto other = parse_mark_line("hello", false);
    EXPECT_TRUE(other.is_mark && !other.mark);  // every line of the file is meant as a mark
}

}  // namespace
}  // namespace joulebench
