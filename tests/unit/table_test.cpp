// The one table model (joulebench/table.hpp): every format, alignment, escaping, empty tables,
// notes, headings and the cell formatters. Expected outputs are written out in full, so any
// change of layout shows here first.

#include "joulebench/table.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "joulebench/error.hpp"

namespace joulebench {
namespace {

Table sample() {
    return Table{.title = "Caps (GPU)",
                 .headers = {"environment", "cap (W)", "T %", "kind"},
                 .rows = {{"bare", "150", "+1.50", "x"}, {"docker", "200", "n/a", "longer"}}};
}

TEST(TableText, NamesLeftNumbersRightTwoSpacesApartNoTrailingSpaces) {
    EXPECT_EQ(render_table(sample(), TableFormat::kText),
              "Caps (GPU)\n"
              "environment  cap (W)    T %  kind\n"
              "-----------------------------------\n"
              "bare             150  +1.50  x\n"
              "docker           200    n/a  longer\n");
}

TEST(TableText, PadsByCodePointsNotBytes) {
    const Table t{.headers = {"name", "temperature"}, .rows = {{"°C", "40"}, {"ab", "5"}}};
    EXPECT_EQ(render_table(t, TableFormat::kText),
              "name  temperature\n"
              "-----------------\n"
              "°C" +
                  std::string(13, ' ') +
                  "40\n"
                  "ab" +
                  std::string(14, ' ') + "5\n");
}

TEST(TableText, EmptyTableSaysNoneAndTheNoteFollows) {
    const Table t{.title = "Idle", .headers = {"a", "b"}, .note = "Nothing was measured."};
    EXPECT_EQ(render_table(t, TableFormat::kText), "Idle\n(none)\nNothing was measured.\n");
}

TEST(TableMarkdown, AlignmentRowFollowsTheColumnsAndTitleFollowsTheStyle) {
    EXPECT_EQ(render_table(sample(), TableFormat::kMarkdown),
              "### Caps (GPU)\n\n"
              "| environment | cap (W) | T % | kind |\n"
              "| :--- | ---: | ---: | :--- |\n"
              "| bare | 150 | +1.50 | x |\n"
              "| docker | 200 | n/a | longer |\n");
    const std::string bold =
        render_table(sample(), TableFormat::kMarkdown, TableStyle{MarkdownTitle::kBold});
    EXPECT_TRUE(bold.starts_with("**Caps (GPU)**\n\n| environment |")) << bold;
}

TEST(TableMarkdown, EscapesMarkupAndWritesNoteAndNone) {
    const Table t{
        .title = "w_1 | x", .headers = {"a|b", "c"}, .rows = {{"x*y", "<1>"}}, .note = "see #3"};
    EXPECT_EQ(render_table(t, TableFormat::kMarkdown),
              "### w\\_1 \\| x\n\n"
              "| a\\|b | c |\n"
              "| :--- | :--- |\n"
              "| x\\*y | \\<1\\> |\n"
              "\nsee \\#3\n");
    const Table empty{.headers = {"a"}, .note = "n"};
    EXPECT_EQ(render_table(empty, TableFormat::kMarkdown), "(none)\n\nn\n");
}

TEST(TableLatex, BooktabsWithColumnTypesFromTheAlignment) {
    Table t = sample();
    t.align = {Align::kAuto, Align::kAuto, Align::kAuto, Align::kWrap};
    EXPECT_EQ(render_table(t, TableFormat::kLatex),
              "% Caps (GPU)\n"
              "\\begin{tabular}{lrrp{0.6\\linewidth}}\n"
              "\\toprule\n"
              "environment & cap (W) & T \\% & kind \\\\\n"
              "\\midrule\n"
              "bare & 150 & +1.50 & x \\\\\n"
              "docker & 200 & n/a & longer \\\\\n"
              "\\bottomrule\n"
              "\\end{tabular}\n");
}

TEST(TableLatex, EscapesSpecialsAnglesAndLineBreaksButNotComments) {
    const Table t{.title = "50% of a_b\nsecond line",
                  .headers = {"name"},
                  .rows = {{"a_b & <c> ~ #1\nx"}},
                  .note = "note with 100%"};
    EXPECT_EQ(render_table(t, TableFormat::kLatex),
              "% 50% of a_b second line\n"
              "\\begin{tabular}{l}\n"
              "\\toprule\n"
              "name \\\\\n"
              "\\midrule\n"
              "a\\_b \\& \\textless{}c\\textgreater{} \\textasciitilde{} \\#1 x \\\\\n"
              "\\bottomrule\n"
              "\\end{tabular}\n"
              "% note with 100%\n");
    const Table empty{.title = "Idle", .headers = {"a"}};
    EXPECT_EQ(render_table(empty, TableFormat::kLatex), "% Idle\n% (none)\n");
}

TEST(TableCsv, FirstColumnNamesTheTableAndFieldsAreQuoted) {
    const Table t{.title = "Pairs, adjusted",
                  .headers = {"a", "say"},
                  .rows = {{"x,y", "\"hi\""}},
                  .note = "not written"};
    EXPECT_EQ(render_table(t, TableFormat::kCsv),
              "table,a,say\n"
              "\"Pairs, adjusted\",\"x,y\",\"\"\"hi\"\"\"\n");
    Table named = t;
    named.csv_name = "caps_gpu";
    EXPECT_EQ(render_table(named, TableFormat::kCsv),
              "table,a,say\ncaps_gpu,\"x,y\",\"\"\"hi\"\"\"\n");
    const Table empty{.title = "E", .headers = {"a", "b"}};
    EXPECT_EQ(render_table(empty, TableFormat::kCsv), "table,a,b\n");
}

TEST(TableAlignment, AutoResolvesPerColumnAndExplicitWins) {
    Table t{.headers = {"n", "name", "interval", "size", "blank"},
            .rows = {{"1", "bare", "[1, 2]", "117.7 MiB", ""}, {"2", "3", "[3, 4]", "-", "n/a"}}};
    EXPECT_EQ(column_alignment(t), (std::vector<Align>{Align::kLeft, Align::kLeft, Align::kRight,
                                                       Align::kLeft, Align::kRight}));
    t.align = {Align::kRight, Align::kAuto, Align::kLeft};
    EXPECT_EQ(column_alignment(t), (std::vector<Align>{Align::kRight, Align::kLeft, Align::kLeft,
                                                       Align::kLeft, Align::kRight}));
    EXPECT_TRUE(number_like("-inf"));
    EXPECT_TRUE(number_like("inf"));
    EXPECT_TRUE(number_like(".5"));
    EXPECT_TRUE(number_like("1.5e-05"));
    EXPECT_FALSE(number_like("1, 10"));
    EXPECT_FALSE(number_like("yes"));
}

TEST(TableChecks, RowsMustMatchTheHeaders) {
    const Table no_columns{.title = "t"};
    EXPECT_THROW((void)render_table(no_columns, TableFormat::kText), Error);
    const Table ragged{.headers = {"a", "b"}, .rows = {{"1"}}};
    try {
        (void)render_table(ragged, TableFormat::kCsv);
        FAIL() << "a ragged row was written";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInternal);
        EXPECT_NE(std::string(e.what()).find("a row has 1 cells for 2 columns"), std::string::npos);
    }
}

TEST(TableDocument, HeadingsAndParagraphsPerFormat) {
    EXPECT_EQ(render_heading("Block: a_b", 3, TableFormat::kText), "== Block: a_b ==\n\n");
    EXPECT_EQ(render_heading("Block: a_b", 3, TableFormat::kMarkdown), "### Block: a\\_b\n\n");
    EXPECT_EQ(render_heading("Block: a_b", 2, TableFormat::kLatex), "% == Block: a_b\n");
    EXPECT_EQ(render_heading("Block", 1, TableFormat::kCsv), "");
    EXPECT_THROW((void)render_heading("x", 0, TableFormat::kText), Error);
    EXPECT_EQ(render_paragraph("50% <x>", TableFormat::kText), "50% <x>\n\n");
    EXPECT_EQ(render_paragraph("50% <x>", TableFormat::kMarkdown), "50% \\<x\\>\n\n");
    EXPECT_EQ(render_paragraph("two\nlines", TableFormat::kLatex), "% two lines\n");
    EXPECT_EQ(render_paragraph("x", TableFormat::kCsv), "");
}

TEST(TableCells, NumbersAndPercentages) {
    EXPECT_EQ(number_cell(1234567.0), "1.23457e+06");
    EXPECT_EQ(number_cell(0.5), "0.5");
    EXPECT_EQ(number_cell(std::nan("")), "n/a");
    EXPECT_EQ(number_cell(std::numeric_limits<double>::infinity()), "inf");
    EXPECT_EQ(number_cell(-std::numeric_limits<double>::infinity()), "-inf");
    EXPECT_EQ(percent_cell(2.345), "+2.35");
    EXPECT_EQ(percent_cell(-1.0), "-1.00");
    EXPECT_EQ(percent_cell(std::numeric_limits<double>::infinity()), "n/a");
}

}  // namespace
}  // namespace joulebench
