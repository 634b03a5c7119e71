// EnergiBridge import on small synthetic traces (tests/data/energibridge), one per edge case.
// Expected values are worked out by hand in the comments.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "joulebench/energibridge.hpp"
#include "joulebench/error.hpp"

namespace joulebench::energibridge {
namespace {

std::string data(const std::string& name) {
    return std::string(JOULEBENCH_TEST_DATA_DIR) + "/energibridge/" + name;
}

bool any_contains(const std::vector<std::string>& lines, const std::string& needle) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(needle) != std::string::npos; });
}

std::string error_of(const std::string& name, const ImportOptions& options = {}) {
    try {
        (void)import_trace(data(name), options);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

void expect_minimal(const TraceSummary& s) {
    // Time 1000, 2000, 4000 ms; DRAM 10 -> 16; package 100 -> 130; PP0 50 -> 65;
    // GPU0 20 W, 30 W, 30 W: (20+30)/2 x 1 s + 30 x 2 s = 85 J; usage 0, 50, 100 -> 50 %.
    EXPECT_EQ(s.rows, 3U);
    EXPECT_DOUBLE_EQ(s.duration.count(), 3.0);
    EXPECT_DOUBLE_EQ(s.max_interval.count(), 2.0);
    EXPECT_DOUBLE_EQ(s.start_time_ms, 1000.0);
    EXPECT_DOUBLE_EQ(s.end_time_ms, 4000.0);
    ASSERT_TRUE(s.package && s.dram && s.pp0);
    EXPECT_DOUBLE_EQ(s.package->energy.value(), 30.0);
    EXPECT_DOUBLE_EQ(s.package->naive.value(), 30.0);
    EXPECT_EQ(s.package->wraps, 0);
    EXPECT_DOUBLE_EQ(s.dram->energy.value(), 6.0);
    EXPECT_DOUBLE_EQ(s.pp0->energy.value(), 15.0);
    EXPECT_FALSE(s.pp1.has_value());
    ASSERT_TRUE(s.gpu_energy.has_value());
    EXPECT_DOUBLE_EQ(s.gpu_energy->value(), 85.0);
    ASSERT_TRUE(s.gpu_mean_utilisation.has_value());
    EXPECT_DOUBLE_EQ(*s.gpu_mean_utilisation, 50.0);
    ASSERT_EQ(s.gpus.size(), 1U);
    EXPECT_EQ(s.gpus[0].index, 0);
    EXPECT_TRUE(s.missing_columns.empty());
    EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
}

TEST(EnergibridgeImport, MinimalTrace) { expect_minimal(import_trace(data("minimal.csv"))); }

TEST(EnergibridgeImport, WindowsLineEndingsGiveTheSameResult) {
    expect_minimal(import_trace(data("crlf_line_endings.csv")));
}

TEST(EnergibridgeImport, Utf8ByteOrderMarkIsIgnored) {
    expect_minimal(import_trace(data("utf8_bom.csv")));
}

TEST(EnergibridgeImport, TwoWrapsAreBothUnwrapped) {
    // 262000 -> 100 (wrap, +244) -> 131000 (+130900) -> 262000 (+131000) -> 200 (wrap, +344).
    const auto s = import_trace(data("two_wraps.csv"));
    ASSERT_TRUE(s.package.has_value());
    EXPECT_EQ(s.package->wraps, 2);
    EXPECT_DOUBLE_EQ(s.package->energy.value(), 262488.0);
    EXPECT_DOUBLE_EQ(s.package->naive.value(), 200.0 - 262000.0);
    EXPECT_EQ(s.package->energy.value() - 2 * kDefaultWrapJ, s.package->naive.value());
    EXPECT_TRUE(any_contains(s.warnings, "wrapped 2 times"));
    EXPECT_TRUE(any_contains(s.warnings, "printed nothing"));
    EXPECT_EQ(s.dram->wraps, 0);
}

TEST(EnergibridgeImport, SmallDropIsNotAWrapAndIsWarnedAbout) {
    // 1000 -> 1010 (+10) -> 990 (drop of 20 J: counted as 0) -> 1000 (+10) = 20 J.
    const auto s = import_trace(data("counter_drop.csv"));
    ASSERT_TRUE(s.package.has_value());
    EXPECT_EQ(s.package->wraps, 0);
    EXPECT_EQ(s.package->drops, 1);
    EXPECT_DOUBLE_EQ(s.package->energy.value(), 20.0);
    EXPECT_DOUBLE_EQ(s.package->naive.value(), 0.0);
    EXPECT_TRUE(any_contains(s.warnings, "PACKAGE_ENERGY (J) drops by 20.000 J at line 4"));
}

TEST(EnergibridgeImport, TimeGoingBackwardsIsWarnedAndLeftOutOfIntegrals) {
    // Time 1000, 3000, 2000, 4000 ms at 1 W: 2 s + (left out) + 2 s = 4 J; duration 3 s.
    const auto s = import_trace(data("time_backwards.csv"));
    EXPECT_DOUBLE_EQ(s.duration.count(), 3.0);
    ASSERT_TRUE(s.gpu_energy.has_value());
    EXPECT_DOUBLE_EQ(s.gpu_energy->value(), 4.0);
    EXPECT_TRUE(any_contains(s.warnings, "Time goes backwards 1 time (first at line 4"));
}

TEST(EnergibridgeImport, MissingDramIsNullNotZero) {
    const auto s = import_trace(data("no_dram.csv"));
    EXPECT_FALSE(s.dram.has_value());
    EXPECT_EQ(s.missing_columns, (std::vector<std::string>{"DRAM_ENERGY (J)"}));
    const auto j = to_json({ImportResult{s.file, s, {}}});
    EXPECT_TRUE(j["files"][0]["dram_energy_j"].is_null());
    EXPECT_TRUE(j["files"][0]["dram_wraps"].is_null());
    EXPECT_DOUBLE_EQ(j["files"][0]["package_energy_j"].get<double>(), 10.0);
}

TEST(EnergibridgeImport, AmdCpuEnergyIsThePackageAndItsRangeIsAnOption) {
    // CPU_ENERGY 65000 -> 65400 -> 100. At the default 262144 J range the drop of 65300 J is not a
    // wrap (warned, counted as 0); at --wrap-j 65536 it is one: 400 + 236 = 636 J.
    const auto s = import_trace(data("amd_cpu_energy.csv"));
    ASSERT_TRUE(s.package.has_value());
    EXPECT_EQ(s.package->column, "CPU_ENERGY (J)");
    EXPECT_EQ(s.package->wraps, 0);
    EXPECT_EQ(s.package->drops, 1);
    EXPECT_DOUBLE_EQ(s.package->energy.value(), 400.0);
    EXPECT_TRUE(any_contains(s.warnings, "--wrap-j 65536"));
    EXPECT_EQ(s.missing_columns,
              (std::vector<std::string>{"DRAM_ENERGY (J)", "PP0_ENERGY (J)"}));
    EXPECT_TRUE(s.gpus.empty());
    EXPECT_FALSE(s.gpu_energy.has_value());

    ImportOptions amd;
    amd.wrap = Joules(65536.0);
    const auto t = import_trace(data("amd_cpu_energy.csv"), amd);
    EXPECT_EQ(t.package->wraps, 1);
    EXPECT_EQ(t.package->drops, 0);
    EXPECT_DOUBLE_EQ(t.package->energy.value(), 636.0);
}

TEST(EnergibridgeImport, MacPowerColumnsAreIntegrated) {
    // CPU_POWER 10 W for 2 s = 20 J; SYSTEM_POWER 15 -> 25 W over 2 s = 40 J.
    const auto s = import_trace(data("macos_power.csv"));
    EXPECT_FALSE(s.package.has_value());
    ASSERT_TRUE(s.cpu_power_energy && s.system_energy);
    EXPECT_DOUBLE_EQ(s.cpu_power_energy->value(), 20.0);
    EXPECT_DOUBLE_EQ(s.system_energy->value(), 40.0);
    EXPECT_EQ(s.missing_columns.size(), 3U);
    EXPECT_FALSE(any_contains(s.warnings, "no CPU energy column"));
}

TEST(EnergibridgeImport, EveryGpuIsCountedAndSummed) {
    // GPU0 1 W and GPU1 2 W for 2 s: 2 + 4 = 6 J; usage 10 % and 30 %; GPU2 has only a temperature.
    const auto s = import_trace(data("two_gpus.csv"));
    ASSERT_EQ(s.gpus.size(), 3U);
    EXPECT_DOUBLE_EQ(s.gpus[0].energy->value(), 2.0);
    EXPECT_DOUBLE_EQ(s.gpus[1].energy->value(), 4.0);
    EXPECT_FALSE(s.gpus[2].energy.has_value());
    EXPECT_DOUBLE_EQ(s.gpu_energy->value(), 6.0);
    EXPECT_DOUBLE_EQ(*s.gpu_mean_utilisation, 20.0);
    EXPECT_EQ(to_json({ImportResult{s.file, s, {}}})["files"][0]["gpu_count"], 3);
}

TEST(EnergibridgeImport, QuotedFieldsAndOtherSeparatorsAndMisspeltPackage) {
    const auto q = import_trace(data("quoted_fields.csv"));
    EXPECT_EQ(q.rows, 3U);
    EXPECT_DOUBLE_EQ(q.package->energy.value(), 75.0);
    const auto semi = import_trace(data("semicolon_separator.csv"));
    EXPECT_DOUBLE_EQ(semi.package->energy.value(), 60.0);
    EXPECT_DOUBLE_EQ(semi.dram->energy.value(), 1.0);
    const auto typo = import_trace(data("misspelt_package.csv"));
    EXPECT_EQ(typo.package->column, "PACAKGE_ENERGY (J)");
    EXPECT_DOUBLE_EQ(typo.package->energy.value(), 60.0);
}

TEST(EnergibridgeImport, IncompleteLastLineIsDroppedWithAWarning) {
    const auto s = import_trace(data("truncated_last_line.csv"));
    EXPECT_EQ(s.rows, 2U);
    EXPECT_DOUBLE_EQ(s.package->energy.value(), 10.0);
    EXPECT_TRUE(any_contains(s.warnings, "last line 4 is incomplete"));
}

TEST(EnergibridgeImport, OneRowIsWarned) {
    const auto s = import_trace(data("one_row.csv"));
    EXPECT_EQ(s.rows, 1U);
    EXPECT_DOUBLE_EQ(s.duration.count(), 0.0);
    EXPECT_DOUBLE_EQ(s.package->energy.value(), 0.0);
    EXPECT_TRUE(any_contains(s.warnings, "only one data row"));
}

TEST(EnergibridgeImport, ErrorsNameFileLineAndColumn) {
    const std::string empty = error_of("empty.csv");
    EXPECT_NE(empty.find("empty.csv: the file is empty"), std::string::npos) << empty;
    const std::string header = error_of("header_only.csv");
    EXPECT_NE(header.find("header_only.csv: the header has no data rows"), std::string::npos)
        << header;
    const std::string count = error_of("malformed_field_count.csv");
    EXPECT_NE(count.find("malformed_field_count.csv: line 3: 5 fields where the header has 7"),
              std::string::npos)
        << count;
    const std::string value = error_of("malformed_value.csv");
    EXPECT_NE(value.find("malformed_value.csv: line 4, column `PACKAGE_ENERGY (J)`: `abc`"),
              std::string::npos)
        << value;
    const std::string time = error_of("no_time_column.csv");
    EXPECT_NE(time.find("no `Time` column"), std::string::npos) << time;
    const std::string missing = error_of("does_not_exist.csv");
    EXPECT_NE(missing.find("does_not_exist.csv: No such file"), std::string::npos) << missing;
}

TEST(EnergibridgeImport, OneBadFileDoesNotLoseTheOthers) {
    const auto results = import_traces(
        {data("minimal.csv"), data("malformed_value.csv"), data("two_wraps.csv")});
    ASSERT_EQ(results.size(), 3U);
    EXPECT_TRUE(results[0].summary.has_value());
    EXPECT_FALSE(results[1].summary.has_value());
    EXPECT_NE(results[1].error.find("line 4"), std::string::npos);
    EXPECT_TRUE(results[2].summary.has_value());
    const Totals t = compute_totals(results);
    EXPECT_EQ(t.files, 3U);
    EXPECT_EQ(t.failed, 1U);
    EXPECT_EQ(t.package_wraps.value_or(-1), 2);
    EXPECT_DOUBLE_EQ(t.package_energy.value_or(Joules(0.0)).value(), 30.0 + 262488.0);

    const auto j = to_json(results);
    EXPECT_EQ(j["files"].size(), 3U);
    EXPECT_TRUE(j["files"][0]["error"].is_null());
    EXPECT_TRUE(j["files"][1]["error"].is_string());
    EXPECT_EQ(j["totals"]["failed"], 1);
    EXPECT_EQ(j["totals"]["imported"], 2);

    const std::string table = format_table(results);
    EXPECT_NE(table.find("FAILED"), std::string::npos);
    EXPECT_NE(table.find("total: 3 files (1 failed)"), std::string::npos) << table;
    EXPECT_NE(table.find("262.518"), std::string::npos) << table;  // package kJ of both
}

// A column no file has totals to null ("n/a"), never 0; one that some file has sums those files.
TEST(EnergibridgeImport, TotalsOfAColumnNoFileHasAreNull) {
    const auto results = import_traces({data("no_dram.csv"), data("macos_power.csv")});
    ASSERT_TRUE(results[0].summary && results[1].summary);
    const Totals t = compute_totals(results);
    EXPECT_FALSE(t.dram_energy.has_value());
    ASSERT_TRUE(t.package_energy.has_value());  // no_dram.csv has one
    EXPECT_DOUBLE_EQ(t.package_energy->value(), results[0].summary->package->energy.value());

    const auto j = to_json(results)["totals"];
    EXPECT_TRUE(j["dram_energy_j"].is_null()) << j.dump();
    EXPECT_TRUE(j["package_energy_j"].is_number()) << j.dump();
    const std::string table = format_table(results);
    EXPECT_NE(table.find(", DRAM n/a, "), std::string::npos) << table;
    EXPECT_EQ(table.find("DRAM 0.000 kJ"), std::string::npos) << table;

    // Only the macOS trace: no package counter anywhere either.
    const auto mac = import_traces({data("macos_power.csv")});
    const auto jm = to_json(mac)["totals"];
    for (const char* key : {"package_energy_j", "energibridge_package_energy_j", "package_wraps",
                            "dram_energy_j", "pp0_energy_j", "gpu_energy_j"}) {
        EXPECT_TRUE(jm[key].is_null()) << key << ": " << jm.dump();
    }
    const std::string mac_table = format_table(mac);
    EXPECT_NE(mac_table.find("s, package n/a, DRAM n/a, GPU n/a, "), std::string::npos)
        << mac_table;
}

TEST(EnergibridgeImport, EveryPrefixOfATraceImportsOrFailsCleanly) {
    // A run killed at any byte: the importer returns a summary or throws joulebench::Error, never
    // anything else, and a prefix that ends at a line break holds exactly the rows before it.
    for (const char* name : {"minimal.csv", "quoted_fields.csv", "crlf_line_endings.csv"}) {
        std::ifstream in(data(name), std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        ASSERT_FALSE(text.empty()) << name;
        std::size_t line_breaks = 0;
        for (std::size_t n = 0; n <= text.size(); ++n) {
            const std::string prefix = text.substr(0, n);
            try {
                const auto s = parse_trace(prefix, name);
                if (n > 0 && text[n - 1] == '\n' && std::string(name) != "quoted_fields.csv") {
                    EXPECT_EQ(s.rows, line_breaks - 1) << name << " prefix " << n;
                }
            } catch (const Error& e) {
                EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
            } catch (const std::exception& e) {
                ADD_FAILURE() << name << " prefix " << n << ": unexpected " << e.what();
            }
            if (n < text.size() && text[n] == '\n') ++line_breaks;
        }
    }
}

TEST(EnergibridgeImport, InvalidWrapRangeIsRejected) {
    ImportOptions bad;
    bad.wrap = Joules(0.0);
    EXPECT_THROW((void)import_traces({data("minimal.csv")}, bad), Error);
}

TEST(EnergibridgeImport, HeaderWithoutNewlineOrBlankTextIsEmpty) {
    EXPECT_THROW((void)parse_trace("  \n\r\n", "blank.csv"), Error);
    EXPECT_THROW((void)parse_trace("Delta,Time,PACKAGE_ENERGY (J)", "h.csv"), Error);
}

}  // namespace
}  // namespace joulebench::energibridge
