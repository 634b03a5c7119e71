// `joulebench sweep` end to end: the real binary, a real `sleep 0.05` workload, the fake NVML
// (1 GPU, limits 100..400 W, original limit 400 W) loaded through the production dlopen path, an
// empty powercap root and a private state folder. No real device is ever written.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/store.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;


class SweepCli : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-sweep-cli"};
    FakeNvmlState m_state{m_dir.path() / "nvml.json", 1};
    fs::path m_tmp = m_dir.path() / "tmp";

    void SetUp() override { fs::create_directories(m_tmp); }

    ProcessOptions options() const {
        ProcessOptions o;
        o.env = {{"JOULEBENCH_NVML_LIBRARY", FakeNvmlEnvironment::library_path()},
                 {"JOULEBENCH_FAKE_NVML_STATE", m_state.path().string()},
                 {"JOULEBENCH_POWERCAP_ROOT", (m_dir.path() / "no-powercap").string()},
                 {"JOULEBENCH_STATE_DIR", (m_dir.path() / "state").string()},
                 // The temporary store goes here, so the test sees that it is removed.
                 {"TMPDIR", m_tmp.string()}};
        o.timeout = std::chrono::seconds(60);
        return o;
    }
    ProcessResult sweep(const std::vector<std::string>& args) const {
        std::vector<std::string> argv{"sweep", "--interval", "20"};
        argv.insert(argv.end(), args.begin(), args.end());
        for (const char* a : {"--", "sleep", "0.05"}) argv.emplace_back(a);
        return run_joulebench(argv, options());
    }
    std::size_t setter_calls() const {
        std::size_t n = 0;
        for (const auto& c : m_state.calls()) n += c.function == kNvmlSetter ? 1U : 0U;
        return n;
    }
};

// The table line of `cap` ("     150    2  ..."), or "" when none.
std::string table_line(const std::string& table, const std::string& cap) {
    std::istringstream in(table);
    for (std::string line; std::getline(in, line);) {
        const auto first = line.find_first_not_of(' ');
        if (first != std::string::npos && line.compare(first, cap.size() + 1, cap + " ") == 0) {
            return line;
        }
    }
    return {};
}

// The whitespace-separated cells of a table line.
std::vector<std::string> cells(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    for (std::string c; in >> c;) out.push_back(c);
    return out;
}

// The cap whose `key` median is smallest (the lowest cap on a tie), from the JSON itself.
double argmin(const nlohmann::json& caps, const std::string& key) {
    double best_cap = 0.0;
    double best = std::numeric_limits<double>::infinity();
    for (const auto& c : caps) {
        if (c[key].is_null()) continue;
        const double v = c[key].get<double>();
        if (v < best) {
            best = v;
            best_cap = c["power_cap_w"].get<double>();
        }
    }
    return best_cap;
}

TEST_F(SweepCli, EveryCapTimesRepetitionRunsOnceAndTheJsonNamesTheArgminCaps) {
    const fs::path db = m_dir.path() / "sweep.db";
    const fs::path json = m_dir.path() / "sweep.json";
    const auto r = sweep({"--caps", "300,150,250", "--repetitions", "2", "--db", db.string(),
                          "--json", json.string(), "--seed", "5"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

    // Every cap x repetition exactly once, bare, done, with the cap written and the original back.
    const auto runs = Store(db, Store::Mode::kReadOnly).runs();
    ASSERT_EQ(runs.size(), 6U);
    std::set<std::pair<double, unsigned>> factors;
    for (const auto& run : runs) {
        EXPECT_EQ(run.status, RunStatus::kDone) << run.run_id;
        EXPECT_EQ(run.environment, "bare");
        EXPECT_EQ(run.attempt, 1U);
        ASSERT_TRUE(run.gpu_cap_w.has_value());
        factors.emplace(*run.gpu_cap_w, run.repetition);
    }
    const std::set<std::pair<double, unsigned>> expected{{150, 1}, {150, 2}, {250, 1},
                                                         {250, 2}, {300, 1}, {300, 2}};
    EXPECT_EQ(factors, expected);
    std::multiset<std::uint64_t> sets;
    for (const auto& c : m_state.calls()) {
        if (c.function == kNvmlSetter && c.value != 400000) sets.insert(c.value);
    }
    EXPECT_EQ(sets.count(150000), 2U);
    EXPECT_EQ(sets.count(250000), 2U);
    EXPECT_EQ(sets.count(300000), 2U);
    EXPECT_EQ(sets.size(), 6U);
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);

    // The JSON: one entry per cap, ascending, n = repetitions, medians present and positive.
    const auto j = nlohmann::json::parse(read_file(json));
    EXPECT_EQ(j["command"], nlohmann::json({"sleep", "0.05"}));
    ASSERT_EQ(j["caps"].size(), 3U);
    const std::vector<double> caps{150, 250, 300};
    for (std::size_t i = 0; i < caps.size(); ++i) {
        const auto& c = j["caps"][i];
        EXPECT_DOUBLE_EQ(c["power_cap_w"].get<double>(), caps[i]);
        EXPECT_EQ(c["n"], 2);
        EXPECT_EQ(c["failed"], 0);
        for (const char* key : {"wall_s", "energy_j", "edp_js", "ed2p_js2"}) {
            ASSERT_TRUE(c[key].is_number()) << key << " " << c.dump();
            EXPECT_GT(c[key].get<double>(), 0.0) << key;
        }
        // Medians of the store's runs of this cap (two runs: the mean of the two).
        std::vector<double> t;
        for (const auto& run : runs) {
            if (*run.gpu_cap_w == caps[i]) t.push_back(*run.wall_s);
        }
        ASSERT_EQ(t.size(), 2U);
        EXPECT_NEAR(c["wall_s"].get<double>(), (t[0] + t[1]) / 2.0, 1e-9);
    }
    // The best caps exist and are the argmin of the reported medians.
    const auto& best = j["best"];
    EXPECT_DOUBLE_EQ(best["energy_j"].get<double>(), argmin(j["caps"], "energy_j"));
    EXPECT_DOUBLE_EQ(best["edp_js"].get<double>(), argmin(j["caps"], "edp_js"));
    EXPECT_DOUBLE_EQ(best["ed2p_js2"].get<double>(), argmin(j["caps"], "ed2p_js2"));

    // The table names the same caps.
    EXPECT_THAT(r.out, HasSubstr("cap W"));
    EXPECT_THAT(r.out, HasSubstr(fmt::format("best cap: E {} W, EDP {} W, ED2P {} W",
                                             best["energy_j"].get<double>(),
                                             best["edp_js"].get<double>(),
                                             best["ed2p_js2"].get<double>())));
}

TEST_F(SweepCli, RangeWithJsonOnStdoutAndATemporaryStoreThatIsRemoved) {
    const auto r = sweep({"--caps", "150:260:50", "--repetitions", "1", "--json", "-"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto j = nlohmann::json::parse(r.out);  // standard output is the JSON alone
    ASSERT_EQ(j["caps"].size(), 3U);              // 150, 200, 250: 260 is not reached
    EXPECT_DOUBLE_EQ(j["caps"][0]["power_cap_w"].get<double>(), 150.0);
    EXPECT_DOUBLE_EQ(j["caps"][1]["power_cap_w"].get<double>(), 200.0);
    EXPECT_DOUBLE_EQ(j["caps"][2]["power_cap_w"].get<double>(), 250.0);
    for (const auto& c : j["caps"]) EXPECT_EQ(c["n"], 1);
    EXPECT_THAT(r.err, HasSubstr("best cap: E "));  // the table went to stderr
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    EXPECT_TRUE(fs::is_empty(m_tmp)) << "the temporary store was not removed";
}

TEST_F(SweepCli, FractionalRangeStepsCountFromFromAndReachTo) {
    const auto r = sweep({"--caps", "100:100.3:0.1", "--repetitions", "1", "--json", "-"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    std::vector<double> caps;
    for (const auto& c : j["caps"]) caps.push_back(c["power_cap_w"].get<double>());
    EXPECT_EQ(caps, (std::vector<double>{100.0, 100.1, 100.2, 100.3}));
    std::set<std::uint64_t> sets;
    for (const auto& c : m_state.calls()) {
        if (c.function == kNvmlSetter && c.value != 400000) sets.insert(c.value);
    }
    EXPECT_EQ(sets, (std::set<std::uint64_t>{100000, 100100, 100200, 100300}));
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
}

TEST_F(SweepCli, BadCapsExitTwoWithTheProblemAndRunNothing) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"150:450", "a range is FROM:TO:STEP (three values)"},
        {"300:150:50", "FROM 300 is above TO 150"},
        {"150:450:0", "0 is not a positive power"},
        {"150:450:-5", "-5 is not a positive power"},
        {"0,150", "0 is not a positive power"},
        {"150,abc", "'abc' is not a number"},
        {"150,,200", "'' is not a number"},
        {"150,150", "150 W is listed twice"},
        {"150,150.0001", "150 W is listed twice (caps are set in whole milliwatts)"},
        {"1:1000:1", "1000 caps, at most 200 allowed"},
    };
    for (const auto& [caps, message] : cases) {
        const auto r = sweep({"--caps", caps});
        EXPECT_EQ(r.exit_code, 2) << caps << ": " << r.err;
        EXPECT_THAT(r.err, HasSubstr("error: sweep: parse --caps '" + caps + "': " + message))
            << caps;
        EXPECT_THAT(r.err, HasSubstr("hint: "));
    }
    const auto none = run_joulebench({"sweep", "--caps", "150"}, options());
    EXPECT_EQ(none.exit_code, 2);
    EXPECT_THAT(none.err, HasSubstr("sweep: no command given"));
    EXPECT_EQ(setter_calls(), 0U);
    EXPECT_TRUE(fs::is_empty(m_tmp));
}

TEST_F(SweepCli, CapOutsideTheGpuRangeExitsTwoNamingTheRangeBeforeAnyWrite) {
    const auto r = sweep({"--caps", "150,450"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("error: sweep: "));
    EXPECT_THAT(r.err, HasSubstr("450"));
    EXPECT_THAT(r.err, HasSubstr("outside the allowed range 100 W to 400 W"));
    EXPECT_THAT(r.err, Not(HasSubstr("sweep.toml")));  // the generated file is not the user's
    EXPECT_EQ(setter_calls(), 0U);
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    EXPECT_TRUE(fs::is_empty(m_tmp));
}

TEST_F(SweepCli, FailingRunsAreCountedAndTheTemporaryStoreIsKept) {
    const auto r = run_joulebench({"sweep", "--caps", "150,200", "--repetitions", "1",
                                   "--interval", "20", "--json", "-", "--", "false"},
                                  options());
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["caps"].size(), 2U);
    for (const auto& c : j["caps"]) {
        EXPECT_EQ(c["n"], 0);
        EXPECT_EQ(c["failed"], 1);
        EXPECT_TRUE(c["energy_j"].is_null());
    }
    EXPECT_TRUE(j["best"]["energy_j"].is_null());
    EXPECT_THAT(r.err, HasSubstr("the runs are kept in " + m_tmp.string()));
    EXPECT_FALSE(fs::is_empty(m_tmp));
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
}

TEST_F(SweepCli, RowsWhoseEnergyIncludesTheCpuEstimateAreMarkedWithAFootnote) {
    // No powercap tree: the CPU energy in every run's total is the CPU-time estimate.
    const fs::path db = m_dir.path() / "estimated.db";
    const fs::path json = m_dir.path() / "estimated.json";
    const auto r = sweep(
        {"--caps", "150,200", "--repetitions", "1", "--db", db.string(), "--json", json.string()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    for (const auto& run : Store(db, Store::Mode::kReadOnly).runs()) {
        ASSERT_TRUE(nlohmann::json::parse(run.measure_json)["total_includes_estimate"].get<bool>())
            << run.measure_json;
    }
    for (const std::string cap : {"150", "200"}) {
        const auto row = cells(table_line(r.out, cap));
        ASSERT_EQ(row.size(), 7U) << r.out;
        // cap, n, T, E (marked), EDP, ED2P, failed
        EXPECT_EQ(row[3].back(), '*') << r.out;
        EXPECT_NE(row[2].back(), '*');
        EXPECT_NE(row[4].back(), '*');
    }
    EXPECT_THAT(r.out, HasSubstr("\n* CPU estimated: the energy of runs of the marked caps "
                                 "includes the CPU-time estimate"));
    EXPECT_THAT(r.out, Not(HasSubstr("CPU attributed")));
    const auto j = nlohmann::json::parse(read_file(json));
    for (const auto& c : j["caps"]) {
        EXPECT_TRUE(c["cpu_estimated"].get<bool>()) << c.dump();
        EXPECT_FALSE(c["cpu_attributed"].get<bool>()) << c.dump();
    }
}

TEST_F(SweepCli, MeasuredCpuEnergyIsNotMarked) {
    FakePowercapTree tree(m_dir.path() / "powercap");
    tree.add_typical_socket(0, 40.0, 20.0, 4.0);
    tree.start();
    ProcessOptions o = options();
    for (auto& [name, value] : o.env) {
        if (name == "JOULEBENCH_POWERCAP_ROOT") value = tree.root().string();
    }
    const fs::path json = m_dir.path() / "measured.json";
    const auto r =
        run_joulebench({"sweep", "--interval", "20", "--caps", "150,200", "--repetitions", "1",
                        "--json", json.string(), "--", "sleep", "0.05"},
                       o);
    tree.stop();
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    for (const std::string cap : {"150", "200"}) {
        const auto row = cells(table_line(r.out, cap));
        ASSERT_EQ(row.size(), 7U) << r.out;
        EXPECT_NE(row[3].back(), '*') << r.out;
        EXPECT_NE(row[3].back(), '+') << r.out;
    }
    EXPECT_THAT(r.out, Not(HasSubstr("CPU estimated")));
    EXPECT_THAT(r.out, Not(HasSubstr("CPU attributed")));
    const auto j = nlohmann::json::parse(read_file(json));
    for (const auto& c : j["caps"]) {
        EXPECT_FALSE(c["cpu_estimated"].get<bool>()) << c.dump();
        EXPECT_FALSE(c["cpu_attributed"].get<bool>()) << c.dump();
    }
}

TEST_F(SweepCli, RowsWithAttributedCpuEnergyAreMarkedWithAFootnote) {
    // Two GPU slots and a measured CPU package: each run waits until the other slot's run has
    // started, so both overlap for certain, then keeps a CPU busy for 0.3 s, so that the
    // machine's busy CPU time over the runs is not zero and their package energy is attributed.
    m_state.add_gpu();
    FakePowercapTree tree(m_dir.path() / "powercap");
    tree.add_typical_socket(0, 40.0, 20.0, 4.0);
    tree.start();
    ProcessOptions o = options();
    for (auto& [name, value] : o.env) {
        if (name == "JOULEBENCH_POWERCAP_ROOT") value = tree.root().string();
    }
    const fs::path marks = m_dir.path() / "marks";
    fs::create_directories(marks);
    const fs::path db = m_dir.path() / "attributed.db";
    const auto r = run_joulebench(
        {"sweep", "--interval", "20", "--caps", "150,200", "--repetitions", "1", "--gpus", "0,1",
         "--db", db.string(), "--", "/bin/sh", "-c",
         fmt::format("touch {0}/$CUDA_VISIBLE_DEVICES; i=0; while [ ! -e {0}/0 ] || "
                     "[ ! -e {0}/1 ]; do sleep 0.01; i=$((i+1)); [ $i -lt 3000 ] || exit 9; "
                     "done; e=$(($(date +%s%N) + 300000000)); while [ $(date +%s%N) -lt $e ]; "
                     "do :; done",
                     marks.string())},
        o);
    tree.stop();
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    bool attributed = false;
    std::string warnings;
    for (const auto& run : Store(db, Store::Mode::kReadOnly).runs()) {
        attributed = attributed || run.measure_json.find(": attributed: ") != std::string::npos;
        warnings += run.warnings_json + "\n";
    }
    // (Without a usable share of the machine's busy CPU time the runner would say "shared";
    // /proc/stat is readable and the machine was busy over the runs.)
    ASSERT_TRUE(attributed) << r.out << r.err << warnings;
    for (const std::string cap : {"150", "200"}) {
        const auto row = cells(table_line(r.out, cap));
        ASSERT_EQ(row.size(), 7U) << r.out;
        EXPECT_EQ(row[3].back(), '+') << r.out;
    }
    EXPECT_THAT(r.out, HasSubstr("\n+ CPU attributed: the energy of runs of the marked caps "
                                 "includes CPU energy attributed"));
    EXPECT_THAT(r.out, Not(HasSubstr("CPU estimated")));
}

}  // namespace
}  // namespace joulebench::test
