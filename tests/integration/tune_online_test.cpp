// `joulebench tune --method online` end to end: the real binary, the fake NVML (1 GPU, limits
// 100..400 W, original limit 400 W, a constant 100 W draw) loaded through the production dlopen
// path, a private state folder, and a Python workload that prints `step N` after each unit of
// work and reads its GPU's cap from the fake's state file before each unit: a unit takes
// 20 ms x (1 + ((cap - 250 W) / 100 W)^2), so time and energy per unit are least at 250 W.
// Segments are short (settle 0.2 s, segment 0.5 s); nothing asserts a duration.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;


constexpr const char* kWorkload = R"(import json, os, sys, time
state, units = sys.argv[1], int(sys.argv[2])
marks = len(sys.argv) > 3 and sys.argv[3] == "marks"
def mark(text):
    with open(os.environ["JOULEBENCH_MARKS"], "w") as f:
        f.write(text + "\n")
def cap():
    for _ in range(50):
        try:
            with open(state) as f:
                return json.load(f)["gpus"][0]["limits"]["current_mw"] / 1000.0
        except (OSError, ValueError, KeyError):
            time.sleep(0.002)
    return 400.0
if marks:
    print("JOULEBENCH_MARK begin warmup", flush=True)
for i in range(units):
    if marks and i == 20:
        print("JOULEBENCH_MARK end warmup", flush=True)
        mark("begin measured")
    c = cap()
    time.sleep(0.02 * (1 + ((c - 250) / 100) ** 2))
    print("step %d" % i, flush=True)
if marks:
    mark("end measured")
)";

class TuneOnline : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-tune-online"};
    FakeNvmlState m_state{m_dir.path() / "nvml.json", 1};
    fs::path m_state_dir = m_dir.path() / "state";
    fs::path m_script = m_dir.path() / "workload.py";

    void SetUp() override { write_file(m_script, kWorkload); }

    ProcessOptions options() const {
        ProcessOptions o;
        o.env = {{"JOULEBENCH_NVML_LIBRARY", FakeNvmlEnvironment::library_path()},
                 {"JOULEBENCH_FAKE_NVML_STATE", m_state.path().string()},
                 {"JOULEBENCH_POWERCAP_ROOT", (m_dir.path() / "no-powercap").string()},
                 {"JOULEBENCH_STATE_DIR", m_state_dir.string()}};
        o.timeout = std::chrono::seconds(120);
        return o;
    }
    std::vector<std::string> args(const std::vector<std::string>& extra, int units = 300) const {
        std::vector<std::string> a{"tune",      "--method", "online",     "--settle", "0.2",
                                   "--segment", "0.5",      "--interval", "20"};
        a.insert(a.end(), extra.begin(), extra.end());
        for (const auto& w : {std::string("--"), std::string("/usr/bin/python3"), m_script.string(),
                              m_state.path().string(), std::to_string(units)}) {
            a.push_back(w);
        }
        return a;
    }
    std::vector<std::uint64_t> setter_values() const {
        std::vector<std::uint64_t> out;
        for (const auto& c : m_state.calls()) {
            if (c.function == kNvmlSetter) out.push_back(c.value);
        }
        return out;
    }
    std::size_t journal_entries() const {
        std::size_t n = 0;
        std::error_code ec;
        if (!fs::exists(m_state_dir / "caps", ec)) return 0;
        for (const auto& e : fs::directory_iterator(m_state_dir / "caps")) {
            n += e.path().extension() == ".json" ? 1U : 0U;
        }
        return n;
    }
};

TEST_F(TuneOnline, FindsTheBestCapOfAKnownCurveSetsItAndRestoresTheOriginal) {
    const fs::path json_file = m_dir.path() / "tune.json";
    const auto r =
        run_joulebench(args({"--caps", "150:350:100", "--metric", "energy", "--progress-regex",
                             "^step [0-9]+$", "--json", json_file.string()}),
                       options());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

    // Every line of the command reached joulebench's standard output, in order.
    std::istringstream out(r.out);
    int expected = 0;
    for (std::string line; std::getline(out, line);) {
        ASSERT_EQ(line, fmt::format("step {}", expected)) << r.err;
        ++expected;
    }
    EXPECT_EQ(expected, 300);

    const auto j = nlohmann::json::parse(read_file(json_file));
    EXPECT_EQ(j["method"], "online");
    EXPECT_EQ(j["runs_used"], 1);
    EXPECT_DOUBLE_EQ(j["best_cap_w"].get<double>(), 250.0) << j.dump(2);
    ASSERT_TRUE(j["ci"]["low"].is_number()) << j.dump(2);
    EXPECT_LT(j["ci"]["low"].get<double>(), j["ci"]["high"].get<double>());
    EXPECT_EQ(j["metric"], "energy");
    EXPECT_TRUE(j["confident"].get<bool>()) << j.dump(2);
    // Up then down: 150, 250, 350, 350, 250, 150 (350 twice in a row at the turn).
    std::vector<double> order;
    for (const auto& s : j["segments"]) {
        order.push_back(s["cap_w"].get<double>());
        EXPECT_GT(s["units"].get<int>(), 0);
        EXPECT_GT(s["energy_j"].get<double>(), 0.0);
    }
    EXPECT_EQ(order, (std::vector<double>{150, 250, 350, 350, 250, 150}));
    ASSERT_EQ(j["evaluated"].size(), 3U);
    for (const auto& c : j["evaluated"]) EXPECT_EQ(c["runs"], 2) << c.dump();  // segments
    EXPECT_EQ(j["units"], 300);
    EXPECT_EQ(j["exit_code"], 0);
    EXPECT_GT(j["energy_spent_j"].get<double>(), 0.0);
    EXPECT_GT(j["machine_time_s"].get<double>(), 0.0);

    // The caps were written in the profile's order, the best set after it, the original last.
    const auto values = setter_values();
    ASSERT_GE(values.size(), 2U);
    EXPECT_EQ(values.back(), 400000U);
    const std::vector<std::uint64_t> caps_written = [&] {
        std::vector<std::uint64_t> v;
        for (const auto x : values) {
            if (x != 400000U) v.push_back(x);
        }
        return v;
    }();
    EXPECT_EQ(caps_written,
              (std::vector<std::uint64_t>{150000, 250000, 350000, 250000, 150000, 250000}));
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    EXPECT_EQ(journal_entries(), 0U);
    EXPECT_THAT(r.err, HasSubstr("best cap: 250 W, energy "));
    EXPECT_THAT(r.err, HasSubstr("runs: 1 (the caps changed while it ran)"));
    EXPECT_THAT(r.err, HasSubstr("confident: yes"));
}

// The fake NVML's power model (tune-sim): joulebench-fake-gpu-load draws min(300 W, cap) and a
// unit takes 20 ms x (1 + max(0, 300/cap - 1)^8) (tests/fakes/cap_curves.hpp's model, a steep
// shape): per unit, 150 W: 40 ms, 6 J, EDP 0.24 J s; 200 W: 20.08 ms, 4.02 J, 0.081 J s; 350 W:
// 20 ms, 6 J, 0.12 J s. EDP is least at 200 W, by a margin (a third below 350 W) that the timing
// noise of a loaded machine cannot close; power per unit of time is the model's exactly.
TEST_F(TuneOnline, FindsTheBestEdpCapOfASimulatedCapBoundLoad) {
    const fs::path load = fs::path(joulebench_binary()).parent_path() / "joulebench-fake-gpu-load";
    ASSERT_TRUE(fs::exists(load)) << load;
    const fs::path json_file = m_dir.path() / "tune.json";
    const std::vector<std::string> argv{"tune",
                                        "--method",
                                        "online",
                                        "--settle",
                                        "0.2",
                                        "--segment",
                                        "0.5",
                                        "--interval",
                                        "20",
                                        "--caps",
                                        "150,200,350",
                                        "--metric",
                                        "edp",
                                        "--progress-regex",
                                        "^step [0-9]+$",
                                        "--json",
                                        json_file.string(),
                                        "--",
                                        load.string(),
                                        "--units",
                                        "250",
                                        "--unit-s",
                                        "0.02",
                                        "--demand",
                                        "300",
                                        "--a",
                                        "1",
                                        "--p",
                                        "8"};
    const auto r = run_joulebench(argv, options());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(read_file(json_file));
    EXPECT_DOUBLE_EQ(j["best_cap_w"].get<double>(), 200.0) << j.dump(2);
    EXPECT_EQ(j["units"], 250);
    // Each segment's energy over its time is the power the model draws at its cap.
    for (const auto& seg : j["segments"]) {
        const double cap = seg["cap_w"].get<double>();
        const double power = seg["energy_j"].get<double>() / seg["seconds"].get<double>();
        EXPECT_NEAR(power, std::min(300.0, cap), 0.05 * std::min(300.0, cap)) << seg.dump();
    }
    // The whole run's energy holds every segment's, and the load never draws more than 300 W.
    double segments_j = 0.0;
    for (const auto& seg : j["segments"]) segments_j += seg["energy_j"].get<double>();
    EXPECT_GE(j["energy_spent_j"].get<double>(), segments_j);
    EXPECT_LE(j["energy_spent_j"].get<double>(), 300.0 * j["machine_time_s"].get<double>() * 1.05);
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    EXPECT_EQ(setter_values().back(), 400000U);
    EXPECT_EQ(journal_entries(), 0U);
}

// README "Markers": the command marks its warm-up on standard output and the rest through
// $JOULEBENCH_MARKS; both phases come with time and the GPU's energy (the fake draws 100 W).
TEST_F(TuneOnline, MarkedPhasesAreReportedWithTimeAndTheGpusEnergy) {
    const fs::path json_file = m_dir.path() / "tune.json";
    auto a = args({"--caps", "150,250", "--passes", "1", "--progress-regex", "^step [0-9]+$",
                   "--json", json_file.string()},
                  120);
    a.push_back("marks");
    const auto r = run_joulebench(a, options());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Marker lines pass through like any other line.
    EXPECT_THAT(r.out, HasSubstr("JOULEBENCH_MARK begin warmup\nstep 0\n"));
    const auto j = nlohmann::json::parse(read_file(json_file));
    ASSERT_EQ(j["phases"].size(), 2U) << j.dump(2);
    for (const auto& p : j["phases"]) {
        const double wall = p["wall_s"].get<double>();
        EXPECT_GT(wall, 0.0) << p.dump();
        EXPECT_NEAR(p["energy_j"].get<double>(), 100.0 * wall, 0.05 * 100.0 * wall + 0.5)
            << p.dump();
        EXPECT_FALSE(p["ended_by_run"].get<bool>());
        ASSERT_EQ(p["domains"].size(), 1U);
        EXPECT_EQ(p["domains"][0]["id"], "gpu0");
    }
    EXPECT_EQ(j["phases"][0]["name"], "warmup");
    EXPECT_EQ(j["phases"][1]["name"], "measured");
    // The warm-up ends before the measured part does, and both within the run. (Not "before it
    // begins": stdout and the FIFO are two channels read by two threads, so marks the command
    // wrote in one order may be read microseconds apart in the other.)
    EXPECT_LT(j["phases"][0]["end_s"].get<double>(), j["phases"][1]["end_s"].get<double>());
    EXPECT_LE(j["phases"][1]["end_s"].get<double>(), j["machine_time_s"].get<double>());
    EXPECT_THAT(r.err, HasSubstr("  Phase warmup: "));
    EXPECT_THAT(r.err, HasSubstr("  Phase measured: "));
    EXPECT_THAT(r.err, ::testing::ContainsRegex("Phase measured: .* J \\(counter\\)"));
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
}

TEST_F(TuneOnline, ARegexThatNeverMatchesEndsWithAClearErrorAndTheCapsRestored) {
    const auto r = run_joulebench(
        args({"--caps", "150,250", "--progress-regex", "^epoch [0-9]+", "--progress-timeout", "1"}),
        options());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("error: tune: --progress-regex '^epoch [0-9]+' matched no line"));
    EXPECT_THAT(r.err, HasSubstr("within --progress-timeout 1 s"));
    EXPECT_THAT(r.err, HasSubstr("the last: 'step "));
    const auto values = setter_values();
    ASSERT_FALSE(values.empty());
    EXPECT_EQ(values.back(), 400000U);
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    EXPECT_EQ(journal_entries(), 0U);
}

TEST_F(TuneOnline, SigkillMidProfileLeavesTheRestoreToTheGuardian) {
    ChildProcess child(
        [&] {
            std::vector<std::string> argv{joulebench_binary()};
            for (auto& a : args({"--caps", "150:350:100", "--progress-regex", "^step"}, 100000)) {
                argv.push_back(std::move(a));
            }
            return argv;
        }(),
        options());
    // Killed once the second cap of the profile is in force.
    ASSERT_TRUE(eventually([&] { return m_state.limits(0).current_mw == 250000U; }))
        << child.err_so_far();
    child.send(SIGKILL);
    EXPECT_EQ(child.wait().signal, SIGKILL);
    EXPECT_TRUE(eventually([&] { return m_state.limits(0).current_mw == 400000U; }));
    EXPECT_TRUE(eventually([&] { return journal_entries() == 0U; }));
    EXPECT_EQ(setter_values().back(), 400000U);
}

TEST_F(TuneOnline, SigtermStopsTheCommandRestoresTheCapsAndExits143) {
    ChildProcess child(
        [&] {
            std::vector<std::string> argv{joulebench_binary()};
            for (auto& a : args({"--caps", "150:350:100", "--progress-regex", "^step"}, 100000)) {
                argv.push_back(std::move(a));
            }
            return argv;
        }(),
        options());
    ASSERT_TRUE(eventually([&] { return m_state.limits(0).current_mw == 250000U; }))
        << child.err_so_far();
    child.send(SIGTERM);
    const auto r = child.wait();
    EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    EXPECT_EQ(setter_values().back(), 400000U);
    EXPECT_EQ(journal_entries(), 0U);
}

TEST_F(TuneOnline, CapsOutsideTheGpuRangeAreRefusedNamingTheRangeBeforeAnythingRuns) {
    const fs::path marker = m_dir.path() / "ran";
    const auto r = run_joulebench({"tune", "--method", "online", "--caps", "50,250",
                                   "--progress-regex", "x", "--", "touch", marker.string()},
                                  options());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("error: tune: --caps 50: caps: set power limit of GPU 0"));
    EXPECT_THAT(r.err, HasSubstr("outside the allowed range 100 W to 400 W"));
    EXPECT_TRUE(setter_values().empty());
    EXPECT_FALSE(fs::exists(marker));
}

TEST_F(TuneOnline, NoGpuIsAClearError) {
    ProcessOptions o = options();
    o.env[0].second = (m_dir.path() / "no-such-libnvidia-ml.so.1").string();
    const fs::path marker = m_dir.path() / "ran";
    const auto r = run_joulebench({"tune", "--method", "online", "--caps", "150,250",
                                   "--progress-regex", "x", "--", "touch", marker.string()},
                                  o);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("error: tune: no GPU to tune"));
    EXPECT_FALSE(fs::exists(marker));
}

TEST_F(TuneOnline, BadOptionsAreUsageErrors) {
    const auto no_regex = run_joulebench(
        {"tune", "--method", "online", "--caps", "150,250", "--", "true"}, options());
    EXPECT_EQ(no_regex.exit_code, 2);
    EXPECT_THAT(no_regex.err, HasSubstr("--method online needs --progress-regex"));
    const auto bad_regex = run_joulebench(
        {"tune", "--method", "online", "--caps", "150,250", "--progress-regex", "(", "--", "true"},
        options());
    EXPECT_EQ(bad_regex.exit_code, 2);
    EXPECT_THAT(bad_regex.err, HasSubstr("not a valid regex"));
    const auto one_cap = run_joulebench(
        {"tune", "--method", "online", "--caps", "150", "--progress-regex", "x", "--", "true"},
        options());
    EXPECT_EQ(one_cap.exit_code, 2);
    EXPECT_THAT(one_cap.err, HasSubstr("at least 2 caps"));
    const auto with_db = run_joulebench({"tune", "--method", "online", "--caps", "150,250",
                                         "--progress-regex", "x", "--db", "x.db", "--", "true"},
                                        options());
    EXPECT_EQ(with_db.exit_code, 2);
    EXPECT_THAT(with_db.err, HasSubstr("--db and --budget apply to --method search only"));
    const auto regex_with_search = run_joulebench(
        {"tune", "--caps", "150,250", "--progress-regex", "x", "--", "true"}, options());
    EXPECT_EQ(regex_with_search.exit_code, 2);
    EXPECT_THAT(regex_with_search.err,
                HasSubstr("--progress-regex applies to --method online only"));
    const auto missing = run_joulebench({"tune", "--method", "online", "--caps", "150,250",
                                         "--progress-regex", "x", "--", "no-such-command-xyz"},
                                        options());
    EXPECT_EQ(missing.exit_code, 127);
    EXPECT_THAT(missing.err, HasSubstr("tune: run no-such-command-xyz: command not found"));
    EXPECT_TRUE(setter_values().empty());
}

TEST_F(TuneOnline, ACommandThatEndsBeforeTwoCapsAreProfiledIsAnErrorWithTheCapsRestored) {
    const auto r =
        run_joulebench(args({"--caps", "150,250", "--progress-regex", "^step"}, 5), options());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, HasSubstr("after profiling 0 cap(s)"));
    EXPECT_EQ(m_state.limits(0).current_mw, 400000U);
    EXPECT_EQ(journal_entries(), 0U);
}

}  // namespace
}  // namespace joulebench::test
