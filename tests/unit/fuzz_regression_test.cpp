// Inputs the fuzz targets of fuzz/ found (docs/fuzzing.md), each fed to the code it broke: every
// one is now refused with a joulebench::Error, or read, as the parser's contract says.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "capping/cap_journal.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"
#include "joulebench/store.hpp"
#include "store/checksum.hpp"
#include "unit/store_test_util.hpp"

namespace joulebench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// U+FFFD, what a byte that is not UTF-8 becomes in a JSON document.
const std::string kReplacement = "\xEF\xBF\xBD";

// fuzz_experiment: toml++ 3.3.0 asserted (and without assertions reached undefined behaviour) on
// a table header that cannot start with a key and on a non-ASCII character outside strings.
TEST(FuzzRegression, ExperimentHeadersAndCharactersTomlCannotReadAreRefused) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"[\x02", "e.toml:1: TOML syntax: a table header must start with a key"},
        {"[\\", "e.toml:1: TOML syntax: a table header must start with a key"},
        {"[experiment]\nname = \"n\"\n[[ =]]\n", "e.toml:3: TOML syntax: a table header"},
        {"[\xc3\xa9]", "e.toml:1: TOML syntax: a table header must start with a key"},
        {"[\xe2\x80\xa8]", "e.toml:1: TOML syntax: a table header must start with a key"},
        {"a = \x02", "e.toml:1: TOML syntax: control character U+0002 is not allowed (column 5)"},
        {"[a]\nb = 1 \xc3\xa9", "e.toml:2: TOML syntax: a non-ASCII character outside a string"},
        {"[a]\nb\xe2\x80\xa8= 1", "e.toml:2: TOML syntax: a non-ASCII character outside a string"},
        {"a = 1\r2", "e.toml:1: TOML syntax: control character U+000D"},
        {"# a comment with a \x7f\n", "e.toml:1: TOML syntax: control character U+007F"},
        {"\tgncd=0xt:im'''a\xef\xbb\x8b\"\"@ ", "e.toml:1: TOML syntax: a quote inside a bare"},
        {"d=1979-05-27T:", "e.toml:1: TOML syntax: a date and 'T' must be followed by a time"},
        {"d = [1979-05-27t]", "e.toml:1: TOML syntax: a date and 'T' must be followed by a time"},
        {"d=[}", "e.toml:1: TOML syntax: '}' inside an array (column 4)"},
        {"d = [\n  [1, {a = 1}],\n  [2, }]]", "e.toml:3: TOML syntax: '}' inside an array"},
    };
    for (const auto& [text, expected] : cases) {
        try {
            (void)parse_experiment_text(text, "e.toml");
            ADD_FAILURE() << "accepted: " << text;
        } catch (const Error& e) {
            EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
            EXPECT_THAT(e.what(), HasSubstr(expected));
        }
    }
}

// ... while what TOML allows still parses: non-ASCII in strings and comments, quotes and
// brackets inside strings, arrays of arrays starting a line, CRLF line ends, a byte order mark.
TEST(FuzzRegression, ExperimentCheckKeepsValidToml) {
    const std::string text =
        "\xEF\xBB\xBF# caf\xc3\xa9 [\\ \xe2\x80\xa8\r\n"
        "[experiment]\r\nname = \"caf\xc3\xa9 \\\" [\\\\\" # not a comment\r\n"
        "repetitions = 1\n"
        "[[workload]]\nname = '''w\xc3\xa9 '[x''''\n"
        "command = [\"echo\", \"\"\"[\xc3\xa9\n\"\"\"\"\"]\n"
        "env = { A = \"[\" }\n"
        "[ \"environment\" ]\n";
    try {
        (void)parse_experiment_text(text, "e.toml");
    } catch (const Error& e) {
        // Refused, if at all, for what it means ([environment] is not an array of tables), not
        // by the check.
        EXPECT_THAT(e.what(), Not(HasSubstr("a non-ASCII character")));
        EXPECT_THAT(e.what(), Not(HasSubstr("control character")));
        EXPECT_THAT(e.what(), Not(HasSubstr("a table header must start")));
    }
    const std::string valid =
        "# caf\xc3\xa9\n[experiment]\nname = \"caf\xc3\xa9\"\nrepetitions = 1\n"
        "[[workload]]\nname = \"w\"\ncommand = [\"echo\", '\xc3\xa9', \"\"\"a\n\"b\"\"\"\"]\n"
        "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n"
        "[power_caps]\ngpu_w = [\n  100, # \xc3\xa9 [\n  200,\n]\n";
    const ExperimentSpec spec = parse_experiment_text(valid, "e.toml");
    EXPECT_EQ(spec.name, "caf\xc3\xa9");
    ASSERT_EQ(spec.workloads.size(), 1u);
    EXPECT_EQ(spec.workloads[0].command.back(), "a\n\"b\"");
    EXPECT_EQ(spec.power_caps.gpu_w.size(), 2u);
    for (const auto& file : std::filesystem::directory_iterator(
             std::filesystem::path(JOULEBENCH_SOURCE_DIR) / "examples")) {
        if (file.path().extension() != ".toml") continue;
        EXPECT_NO_THROW((void)parse_experiment_file(file.path())) << file.path();
    }
}

// fuzz_cap_journal: a number beyond a double made nlohmann throw out_of_range, which escaped
// entry_from_json (and CapJournal::list's problems) instead of an Error.
TEST(FuzzRegression, JournalEntryWithAnOverflowingNumberIsAnError) {
    try {
        (void)capping::entry_from_json(
            "{\"format\": \"joulebench-power-cap-journal\", \"created_unix\": -1e608}", "j.json");
        ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kIo);
        EXPECT_THAT(e.what(), HasSubstr("caps: read journal j.json: not JSON"));
        EXPECT_THAT(e.what(), HasSubstr("number overflow"));
    }
    // A format that is not a string made value("format", "") throw nlohmann's type_error.
    for (const std::string text : {"{\"format\": 1}", "[1]", "\"x\"", "{\"format\": null}"}) {
        try {
            (void)capping::entry_from_json(text, "j.json");
            ADD_FAILURE() << text << " accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.category(), ErrorCategory::kIo);
            EXPECT_THAT(e.what(), HasSubstr("not a joulebench power-cap journal"));
        }
    }
}

// fuzz_cap_journal: an integer beyond int wrapped (pid 4294967297 was read as pid 1); now it is a
// damaged entry, as the file holds no pid this machine can have.
TEST(FuzzRegression, JournalEntryIntegersOutOfRangeAreErrors) {
    CapDeviceInfo device;
    device.index = 0;
    device.id = "gpu0";
    device.key = "GPU-1";
    device.backend = "nvml";
    device.label = "GPU 0";
    const auto entry = capping::new_journal_entry(device, Watts(250.0), std::nullopt, Watts(150.0));
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"pid", "4294967297"}, {"index", "-2147483649"}, {"index", "9223372036854775808"}}) {
        auto doc = nlohmann::json::parse(capping::entry_to_json(entry));
        doc[key] = nlohmann::json::parse(value);
        try {
            (void)capping::entry_from_json(doc.dump(), "j.json");
            ADD_FAILURE() << key << " = " << value << " accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.category(), ErrorCategory::kIo);
            EXPECT_THAT(e.what(), HasSubstr("field '" + key + "': out of range"));
        }
    }
    EXPECT_EQ(capping::entry_from_json(capping::entry_to_json(entry), "j.json").owner.pid,
              entry.owner.pid);
}

void exec(sqlite3* db, const std::string& sql) {
    char* message = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message), SQLITE_OK)
        << (message != nullptr ? message : "") << ": " << sql;
}

// fuzz_store: `export --format json` of a damaged store threw nlohmann's parse_error (a JSON
// column that is not JSON) or std::stoll's exceptions, and text that is not UTF-8 (a workload's
// stderr can be anything) made the dump throw.
TEST(FuzzRegression, ExportOfADamagedStoreIsAnErrorAndBadUtf8IsReplaced) {
    test::TempDir dir;
    const auto path = dir.path() / "damaged.db";
    const auto spec = test::store_example_spec();
    const auto plan = make_plan(spec);
    {
        Store store(path);
        store.record_experiment(experiment_record(spec));
        store.add_planned_runs(plan.runs);
        store.mark_running(plan.runs[0].run_id, std::nullopt, std::nullopt, 1000.0);
        auto outcome =
            test::outcome(plan.runs[0].run_id, RunStatus::kDone, test::example_measure(1000.0));
        outcome.stderr_tail = "bad \xff byte";
        store.finish_run(outcome);
        exec(store.handle(), "UPDATE runs SET workload = CAST(X'77FF' AS TEXT) WHERE run_id = '" +
                                 plan.runs[1].run_id + "'");
        // Damage that the checksums do not see (rewritten with it), so that the export itself
        // meets it: as a store written by something else would hold it.
        store_detail::RunHasher(store.handle()).write_all();
    }
    {
        const Store store(path, Store::Mode::kReadOnly);
        const std::string json = export_json(store);
        EXPECT_THAT(json, HasSubstr("\"w" + kReplacement + "\""));
    }
    {
        Store store(path);
        exec(store.handle(), "UPDATE runs SET metrics_json = '{\"x\": ' WHERE run_id = '" +
                                 plan.runs[0].run_id + "'");
        store_detail::RunHasher(store.handle()).write_all();
    }
    const Store store(path, Store::Mode::kReadOnly);
    try {
        (void)export_json(store);
        ADD_FAILURE() << "exported a damaged store";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kIo);
        EXPECT_THAT(e.what(), HasSubstr("run " + plan.runs[0].run_id +
                                        ": column metrics holds '{\"x\": ', not JSON"));
    }
}

// fuzz_store: a seed that is not a number made Store::experiment() throw std::stoull's exception.
TEST(FuzzRegression, AStoreWhoseSeedIsNotANumberIsAnError) {
    test::TempDir dir;
    const auto path = dir.path() / "seed.db";
    {
        Store store(path);
        store.record_experiment(experiment_record(test::store_example_spec()));
        exec(store.handle(), "UPDATE experiment SET seed = 'x3'");
    }
    const Store store(path, Store::Mode::kReadOnly);
    try {
        (void)store.experiment();
        ADD_FAILURE() << "read";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kIo);
        EXPECT_THAT(e.what(), HasSubstr("the experiment's seed 'x3' is not a number"));
    }
}

// fuzz_energibridge and fuzz_analyze_csv: names read from a CSV that is not UTF-8 (a Latin-1
// header or group) made the JSON output throw nlohmann's type_error 316 (the commands failed).
TEST(FuzzRegression, JsonOfCsvNamesThatAreNotUtf8IsWritten) {
    test::TempDir dir;
    const auto trace = dir.path() / "trace.csv";
    // A column written twice is a warning that names it.
    test::write_file(trace,
                     "Delta,Time,GPU0_POWER (mWatts),GPU\xd7"
                     "1_USAGE,GPU\xd7"
                     "1_USAGE\n"
                     "0,1000,5000,1,1\n10,1010,6000,2,2\n");
    const auto imported =
        test::run_joulebench({"import", "energibridge", trace.string(), "--json", "-"});
    EXPECT_EQ(imported.exit_code, 0) << imported.err;
    EXPECT_THAT(imported.out, HasSubstr("GPU" + kReplacement + "1_USAGE"));

    const auto table = dir.path() / "tidy.csv";
    test::write_file(table,
                     "group,value\nbare,10.5\nbare,11\nbare,12\ndock\xf2r,1.5\ndock\xf2r,2\n"
                     "dock\xf2r,2.5\n");
    const auto out = dir.path() / "analysis.json";
    const auto analysed =
        test::run_joulebench({"analyze", "--csv", table.string(), "--group", "group", "--value",
                              "value", "--json", out.string()});
    EXPECT_EQ(analysed.exit_code, 0) << analysed.err;
    EXPECT_THAT(test::read_file(out), HasSubstr("dock" + kReplacement + "r"));
    EXPECT_FALSE(std::filesystem::exists(out.string() + ".tmp"));
}

// Found reading the code after the findings above (docs/fuzzing.md): a workload's argv and
// output need not be UTF-8, and a strict dump of the measurement lost it (`measure --json`) or
// left the run unrecorded (Store::finish_run).
TEST(FuzzRegression, MeasurementsOfArgvThatIsNotUtf8AreKept) {
    const auto measured =
        test::run_joulebench({"measure", "-q", "--json", "-", "--", "true", "\xff"});
    EXPECT_EQ(measured.exit_code, 0) << measured.err;
    EXPECT_THAT(measured.out, HasSubstr("\"" + kReplacement + "\""));

    test::TempDir dir;
    const auto spec = test::store_example_spec();
    const auto plan = make_plan(spec);
    Store store(dir.path() / "s.db");
    store.record_experiment(experiment_record(spec));
    store.add_planned_runs(plan.runs);
    store.mark_running(plan.runs[0].run_id, std::nullopt, std::nullopt, 1000.0);
    auto measure = test::example_measure(1000.0);
    measure.command = {"printf", "\xff"};
    auto outcome = test::outcome(plan.runs[0].run_id, RunStatus::kDone, measure);
    outcome.warnings = {make_warning(warning_code::kOther, "the workload said \xfe")};
    store.finish_run(outcome);
    const auto run = store.run(plan.runs[0].run_id);
    ASSERT_TRUE(run.has_value());
    EXPECT_EQ(run->status, RunStatus::kDone);
    EXPECT_THAT(run->warnings_json, HasSubstr("said " + kReplacement));
}

}  // namespace
}  // namespace joulebench
