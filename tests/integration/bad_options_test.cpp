// Bad option values are bad usage (exit 2) for every command, never silently used: NaN,
// infinities, empty and negative numbers, and empty values (issue 13, defect 5: `--cpu-power-cap
// nan` and `run --rest-timeout nan` were accepted and stored a duration of -9.2e15 s).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes/test_support.hpp"

namespace joulebench {
namespace {

using ::testing::HasSubstr;

TEST(BadOptions, NumbersThatMeanNothingAreBadUsage) {
    test::TempDir dir;
    const std::string file = (dir.path() / "e.toml").string();
    test::write_file(file,
                     "[experiment]\nname = \"e\"\nrepetitions = 1\n"
                     "[[workload]]\nname = \"w\"\ncommand = [\"true\"]\n"
                     "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n");
    const std::string db = (dir.path() / "r.db").string();
    const std::vector<std::vector<std::string>> cases = {
        {"measure", "--cpu-power-cap", "nan", "--", "true"},
        {"measure", "--cpu-tdp", "nan", "--", "true"},
        {"measure", "--idle-baseline", "nan", "--", "true"},
        {"measure", "--idle-baseline", "inf", "--", "true"},
        {"measure", "--idle-baseline", "-1", "--", "true"},
        {"measure", "--power-cap", "", "--", "true"},
        {"measure", "--interval", "", "--", "true"},
        {"run", file, "--db", db, "--idle-baseline", "nan"},
        {"run", file, "--db", db, "--rest-timeout", "nan"},
        {"run", file, "--db", db, "--rest-timeout", "-5"},
        {"analyze", db, "--alpha", "nan"},
        {"burn", "--seconds", "inf"},
        {"sensors", "--cpu-tdp", "-inf"},
    };
    for (const auto& args : cases) {
        const auto r = test::run_joulebench(args);
        std::string shown;
        for (const auto& a : args) shown += "'" + a + "' ";
        EXPECT_EQ(r.exit_code, 2) << shown << "\n" << r.out << r.err;
        // Named by the option's own range where it has one, else by the common check.
        EXPECT_THAT(r.err, ::testing::AnyOf(HasSubstr("finite"), HasSubstr("negative"),
                                             HasSubstr("empty"), HasSubstr("is outside")))
            << shown << "\n" << r.err;
    }
    // Nothing was run or written.
    EXPECT_FALSE(std::filesystem::exists(db));
    // The same options with sound values still work, and an empty argument of the measured
    // command is the command's own.
    const auto ok = test::run_joulebench({"measure", "-q", "--idle-baseline", "0", "--cpu-tdp", "100",
                                          "--", "sh", "-c", "test -z \"$1\"", "sh", ""});
    EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
}

// Range errors read as people write numbers: no 309-digit maximum, no "%f" bounds, and a value
// that is no number says so (issue 13, defect 10; issue 22, item 8).
TEST(BadOptions, RangeErrorsArePrintedReadably) {
    test::TempDir dir;
    const std::string csv = (dir.path() / "e.csv").string();
    test::write_file(csv, "Time,PACKAGE_ENERGY (J)\n0,1\n");
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"measure", "--cpu-power-cap", "abc", "--", "true"}, "--cpu-power-cap: 'abc' is not a number"},
        {{"measure", "--cpu-power-cap", "0", "--", "true"}, "--cpu-power-cap: 0 is not above 0"},
        {{"measure", "--cpu-tdp", "0.5", "--", "true"}, "--cpu-tdp: 0.5 is outside 1 to 5000"},
        {{"measure", "--interval", "2.5", "--", "true"}, "--interval: '2.5' is not a whole number"},
        {{"analyze", csv, "--alpha", "0.7"}, "--alpha: 0.7 is outside 1e-09 to 0.5"},
        {{"import", "energibridge", csv, "--wrap-j", "0"}, "--wrap-j: 0 is not above 0"},
    };
    for (const auto& [args, message] : cases) {
        const auto r = test::run_joulebench(args);
        EXPECT_EQ(r.exit_code, 2) << args[1] << "\n" << r.err;
        EXPECT_THAT(r.err, HasSubstr(message)) << r.err;
        EXPECT_THAT(r.err, ::testing::Not(::testing::ContainsRegex("[0-9]{20}"))) << r.err;
    }
}

// A mistyped sub-command is named with the nearest one (issue 22, item 8), exit 2.
TEST(BadOptions, AMistypedCommandSuggestsTheNearestOne) {
    const auto r = test::run_joulebench({"mesure", "--", "true"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_THAT(r.err, HasSubstr("error: 'mesure' is not a joulebench command"));
    EXPECT_THAT(r.err, HasSubstr("did you mean 'measure'?"));
    const auto far = test::run_joulebench({"xyzzy"});
    EXPECT_EQ(far.exit_code, 2);
    EXPECT_THAT(far.err, HasSubstr("the commands are "));
    EXPECT_THAT(far.err, HasSubstr("measure"));
    EXPECT_THAT(far.err, ::testing::Not(HasSubstr("did you mean")));
}

}  // namespace
}  // namespace joulebench
