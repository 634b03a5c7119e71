// The shared CSV quoting, Markdown and LaTeX escaping (analyze, cap tables, export, report).

#include "common/text_escape.hpp"

#include <gtest/gtest.h>

namespace joulebench {
namespace {

TEST(TextEscape, CsvFieldsAreQuotedOnlyWhenRfc4180NeedsIt) {
    EXPECT_EQ(csv_field("plain 1.5"), "plain 1.5");
    EXPECT_EQ(csv_field(""), "");
    EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
    EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
    EXPECT_EQ(csv_field("cr\r"), "\"cr\r\"");
}

TEST(TextEscape, MarkdownMarkupAndCellBreaksBecomeLiteral) {
    EXPECT_EQ(md_escape("resnet50_infer"), "resnet50\\_infer");
    EXPECT_EQ(md_escape("a|b"), "a\\|b");  // would end the table cell
    EXPECT_EQ(md_escape("*x* `y` [z](u) <b> #1 \\"), "\\*x\\* \\`y\\` \\[z\\](u) \\<b\\> \\#1 \\\\");
    EXPECT_EQ(md_escape("two\nlines\r"), "two lines ");  // a break would end the row
    EXPECT_EQ(md_escape("plain 1.5 (95%)"), "plain 1.5 (95%)");
}

TEST(TextEscape, LatexSpecialCharactersBecomeLiteral) {
    EXPECT_EQ(tex_escape("a_b & 50% $x$ #1 {y}"), "a\\_b \\& 50\\% \\$x\\$ \\#1 \\{y\\}");
    EXPECT_EQ(tex_escape("\\"), "\\textbackslash{}");
    EXPECT_EQ(tex_escape("~^"), "\\textasciitilde{}\\textasciicircum{}");
    EXPECT_EQ(tex_escape("plain <text>"), "plain <text>");  // table cells add < > (table.cpp)
}

}  // namespace
}  // namespace joulebench
