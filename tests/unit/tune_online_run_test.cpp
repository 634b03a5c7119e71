// The online method's driver (src/tune/online.hpp, run_online) with fake dependencies: the fake
// machine of the runner's tests (caps in memory, energy counters that advance only when told), a
// real cap journal in a temporary folder, and a scripted workload whose units take a time and an
// energy that depend on the cap in force. Checks the order of the cap writes, the restores, the
// guard, the stop flag and the errors, without a process, a GPU or a signal.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "runner_fakes.hpp"
#include "tune/online.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Prints "step i" after each unit; a unit at cap C takes unit_ms(C) and adds joules(C) to GPU 0.
class ScriptedWorkload final : public tune::OnlineWorkload {
public:
    ScriptedWorkload(FakeMachine& machine, int units, std::function<double(double)> unit_ms,
                     std::function<double(double)> joules, std::string word = "step")
        : m_machine(machine),
          m_units(units),
          m_unit_ms(std::move(unit_ms)),
          m_joules(std::move(joules)),
          m_word(std::move(word)) {
        m_next = Clock::now() + duration(cap());
    }

    std::vector<std::string> read_lines(Clock::time_point deadline) override {
        std::vector<std::string> lines;
        if (m_done >= m_units || m_terminated || (end_at_cap && cap() == *end_at_cap)) {
            m_closed = true;
            return lines;
        }
        if (deadline < m_next) {
            std::this_thread::sleep_until(deadline);
            return lines;
        }
        std::this_thread::sleep_until(m_next);
        m_machine.add_energy(FakeMachine::gpu_key(0), m_joules(cap()));
        lines.push_back(fmt::format("{} {}", m_word, m_done));
        if (const auto it = after.find(m_done); it != after.end()) {
            lines.insert(lines.end(), it->second.begin(), it->second.end());
        }
        ++m_done;
        m_next = Clock::now() + duration(cap());
        return lines;
    }
    [[nodiscard]] bool output_closed() const override { return m_closed; }
    void terminate(std::chrono::milliseconds) noexcept override {
        m_terminated = true;
        if (terminated_flag != nullptr) *terminated_flag = true;
    }
    int wait(std::optional<int>& signal) override {
        if (m_terminated) {
            signal = 15;
            return 143;
        }
        return 0;
    }
    [[nodiscard]] bool terminated() const { return m_terminated; }
    /// Ends (closes its output) once this cap is in force.
    std::optional<double> end_at_cap;
    /// Lines printed right after unit N's line (marks).
    std::map<int, std::vector<std::string>> after;
    /// Set by terminate(): read by the test after run_online has destroyed the workload.
    bool* terminated_flag = nullptr;

private:
    [[nodiscard]] double cap() const { return m_machine.limit(FakeMachine::gpu_key(0)); }
    [[nodiscard]] Clock::duration duration(double cap) const {
        return std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double, std::milli>(m_unit_ms(cap)));
    }

    FakeMachine& m_machine;
    int m_units;
    std::function<double(double)> m_unit_ms;
    std::function<double(double)> m_joules;
    std::string m_word;
    Clock::time_point m_next;
    int m_done = 0;
    bool m_closed = false;
    bool m_terminated = false;
};

class TuneOnlineRun : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-tune-online"};
    std::atomic<bool> m_stop{false};
    std::atomic<int> m_guard_done{0};
    std::atomic<int> m_guards{0};
    FakeMachine m_machine{1};
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> m_null{std::fopen("/dev/null", "w"),
                                                           &std::fclose};
    /// Whether a workload was started (run_online destroys it before it returns).
    bool m_started = false;
    bool m_terminated = false;  ///< the workload was terminated
    // 200 W is the fastest and cheapest: 2 ms per unit at 200 W, 4 ms elsewhere; 1 J per ms.
    std::function<double(double)> m_unit_ms = [](double cap) { return cap == 200 ? 2.0 : 4.0; };
    int m_units = 400;
    std::string m_word = "step";
    std::optional<double> m_end_at_cap;
    std::map<int, std::vector<std::string>> m_after;

    tune::OnlineDependencies deps() {
        tune::OnlineDependencies d;
        d.machine.cappers = std::make_shared<FakeCappers>(m_machine);
        d.machine.sensors = std::make_shared<FakeSensors>(m_machine);
        const fs::path journal = m_dir.path() / "caps";
        d.machine.journal = [journal] { return capping::CapJournal(journal); };
        d.machine.guard = [this](bool) -> std::unique_ptr<runner::CapGuard> {
            ++m_guards;
            return std::make_unique<FakeGuard>(m_guard_done);
        };
        d.machine.stop = &m_stop;
        d.machine.progress = m_null.get();
        d.output = m_null.get();
        d.start = [this](const std::vector<std::string>&,
                         const std::vector<std::pair<std::string, std::string>>&) {
            auto w = std::make_unique<ScriptedWorkload>(m_machine, m_units, m_unit_ms, m_unit_ms,
                                                        m_word);
            w->end_at_cap = m_end_at_cap;
            w->after = m_after;
            w->terminated_flag = &m_terminated;
            m_started = true;
            return std::unique_ptr<tune::OnlineWorkload>(std::move(w));
        };
        return d;
    }

    static tune::OnlineOptions options() {
        tune::OnlineOptions o;
        o.command = {"workload"};
        o.caps_w = {100, 200, 300};
        o.progress_regex = "^step [0-9]+$";
        o.settle = std::chrono::milliseconds(5);
        o.segment = std::chrono::milliseconds(30);
        o.progress_timeout = std::chrono::milliseconds(300);
        o.interval = std::chrono::milliseconds(5);
        o.metric = tune::Metric::kEnergy;
        return o;
    }

    // The values written, in order ("set GPU-fake-0 W" events).
    std::vector<double> writes() const {
        std::vector<double> out;
        for (const auto& e : m_machine.log.only({"set "})) {
            out.push_back(std::stod(e.substr(e.rfind(' ') + 1)));
        }
        return out;
    }
};

TEST_F(TuneOnlineRun, ProfilesUpThenDownSetsTheBestAndRestoresEachCapBeforeTheNext) {
    auto d = deps();
    const tune::OnlineOutcome out = tune::run_online(options(), d);
    ASSERT_TRUE(out.result.best_cap_w.has_value());
    EXPECT_DOUBLE_EQ(*out.result.best_cap_w, 200.0);
    EXPECT_EQ(out.final_cap_w, 200.0);
    EXPECT_EQ(out.result.runs_used, 1U);
    std::vector<double> order;
    for (const auto& s : out.segments) order.push_back(s.cap_w);
    EXPECT_THAT(order, ElementsAre(100, 200, 300, 300, 200, 100));
    for (const auto& s : out.segments) {
        // Whole units only: 1 J per ms of unit, so energy per unit = ms per unit.
        EXPECT_NEAR(s.energy_per_unit_j(), m_unit_ms(s.cap_w), 1e-9) << s.cap_w;
    }
    // Every change restores the previous cap first (400 W is the original).
    EXPECT_THAT(writes(), ElementsAre(100, 400, 200, 400, 300, 400, 200, 400, 100, 400, 200, 400));
    EXPECT_EQ(m_machine.limit(FakeMachine::gpu_key(0)), 400.0);
    EXPECT_EQ(m_guards.load(), 1);
    EXPECT_EQ(m_guard_done.load(), 1);
    EXPECT_EQ(out.exit_code, 0);
    EXPECT_EQ(out.units, 400U);
    EXPECT_GT(out.energy_j, 0.0);
    EXPECT_TRUE(capping::CapJournal(m_dir.path() / "caps").list().empty());
}

TEST_F(TuneOnlineRun, ABestCapThatWasProfiledLastStaysWithoutAnotherWrite) {
    m_unit_ms = [](double cap) { return cap == 100 ? 2.0 : 4.0; };
    auto d = deps();
    const tune::OnlineOutcome out = tune::run_online(options(), d);
    ASSERT_TRUE(out.final_cap_w.has_value());
    EXPECT_DOUBLE_EQ(*out.final_cap_w, 100.0);
    EXPECT_THAT(writes(), ElementsAre(100, 400, 200, 400, 300, 400, 200, 400, 100, 400));
}

TEST_F(TuneOnlineRun, NoMatchWithinTheTimeoutStopsTheCommandRestoresAndThrows) {
    m_word = "epoch";
    auto d = deps();
    try {
        (void)tune::run_online(options(), d);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_THAT(e.what(), HasSubstr("--progress-regex '^step [0-9]+$' matched no line"));
        EXPECT_THAT(e.what(), HasSubstr("the last: 'epoch "));
    }
    ASSERT_TRUE(m_started);
    EXPECT_TRUE(m_terminated);
    EXPECT_EQ(m_machine.limit(FakeMachine::gpu_key(0)), 400.0);
    EXPECT_THAT(writes(), ElementsAre(100, 400));
    EXPECT_EQ(m_guard_done.load(), 1);
}

TEST_F(TuneOnlineRun, TheStopFlagEndsTheCommandAndRestoresTheCaps) {
    m_stop = true;
    auto d = deps();
    const tune::OnlineOutcome out = tune::run_online(options(), d);
    EXPECT_EQ(out.stopped_by, 15);
    EXPECT_EQ(out.exit_code, 143);
    EXPECT_TRUE(m_terminated);
    EXPECT_EQ(m_machine.limit(FakeMachine::gpu_key(0)), 400.0);
    EXPECT_EQ(m_guard_done.load(), 1);
}

TEST_F(TuneOnlineRun, ACommandThatEndsMidProfileGivesWhatWasProfiledWithAWarning) {
    m_end_at_cap = 300.0;  // ends as soon as the third cap is set
    auto d = deps();
    const tune::OnlineOutcome out = tune::run_online(options(), d);
    EXPECT_EQ(out.result.evaluated.size(), 2U);
    EXPECT_EQ(out.segments.size(), 2U);
    EXPECT_FALSE(out.final_cap_w.has_value());
    EXPECT_FALSE(out.result.confident);
    ASSERT_FALSE(out.warnings.empty());
    EXPECT_THAT(out.warnings.front(), HasSubstr("the profile is incomplete"));
    EXPECT_EQ(m_machine.limit(FakeMachine::gpu_key(0)), 400.0);
}

// README "Markers": the command's marks split its run into phases with the tuned GPUs' energy,
// read when the mark is read (after unit 0 to after unit 3: units 1-3, 4 J each at 100 W, the
// first cap, which holds for 30 ms of units after the settle time).
TEST_F(TuneOnlineRun, MarkedPhasesGetTimeAndTheTunedGpusEnergy) {
    m_after = {{0, {"JOULEBENCH_MARK begin warmup"}},
               {3, {"JOULEBENCH_MARK end warmup", "JOULEBENCH_MARK begin rest"}},
               {4, {"JOULEBENCH_MARK end nothing"}}};
    auto d = deps();
    const tune::OnlineOutcome out = tune::run_online(options(), d);
    ASSERT_EQ(out.phases.size(), 2U);
    EXPECT_EQ(out.phases[0].name, "warmup");
    ASSERT_TRUE(out.phases[0].energy_j.has_value());
    EXPECT_NEAR(*out.phases[0].energy_j, 12.0, 1e-9);
    EXPECT_GT(out.phases[0].wall_s, 0.0);
    EXPECT_FALSE(out.phases[0].ended_by_run);
    ASSERT_EQ(out.phases[0].domains.size(), 1U);
    EXPECT_NEAR(*out.phases[0].domains[0].energy_j, 12.0, 1e-9);
    // A phase never ended ends with the run, with a warning; so does an end without a begin.
    EXPECT_EQ(out.phases[1].name, "rest");
    EXPECT_TRUE(out.phases[1].ended_by_run);
    EXPECT_NEAR(*out.phases[1].energy_j, out.energy_j - 16.0, 1e-6);
    EXPECT_THAT(out.warnings, testing::Contains(HasSubstr("'end nothing' without a 'begin nothing'")));
    EXPECT_THAT(out.warnings, testing::Contains(HasSubstr("'rest'")));
}

// docs/live.md: the run "online" in the live state, its GPU's energy ending at the run's, each
// segment a message.
TEST_F(TuneOnlineRun, TheLiveStateSeesTheRunItsEnergyAndEverySegment) {
    auto d = deps();
    d.live = std::make_shared<live::LiveState>("node", "tune-online");
    const tune::OnlineOutcome out = tune::run_online(options(), d);
    const live::LiveSnapshot s = d.live->snapshot();
    EXPECT_TRUE(s.running.empty());
    ASSERT_EQ(s.finished.size(), 1U);
    const live::RunNow& run = s.finished.front();
    EXPECT_EQ(run.labels.run_id, "online");
    EXPECT_EQ(run.labels.workload, "workload");
    EXPECT_EQ(run.status, RunStatus::kDone);
    ASSERT_TRUE(run.energy_j.has_value());
    EXPECT_NEAR(*run.energy_j, out.energy_j, 1e-9);
    ASSERT_EQ(run.domains.size(), 1U);
    EXPECT_NEAR(run.domains[0].energy_j, out.energy_j, 1e-9);
    ASSERT_TRUE(s.plan.has_value());
    EXPECT_EQ(s.plan->done, 1U);
    EXPECT_EQ(s.runs_by_status.at("done"), 1U);
    EXPECT_THAT(s.messages, testing::Contains(HasSubstr("tune: 100 W (pass 1): ")));
    EXPECT_THAT(s.messages, testing::Contains(HasSubstr("tune: profile done; 200 W set")));
    EXPECT_GT(s.monitoring.sampler_ticks, 0U);
}

TEST_F(TuneOnlineRun, CapsOutsideTheRangeAndMissingGpusAreRefusedBeforeAnyWrite) {
    auto o = options();
    o.caps_w = {50, 200};
    auto d = deps();
    try {
        (void)tune::run_online(o, d);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_THAT(e.what(), HasSubstr("tune: --caps 50:"));
        EXPECT_THAT(e.what(), HasSubstr("outside the allowed range 100 W to 400 W"));
    }
    o = options();
    o.gpus = "3";
    try {
        (void)tune::run_online(o, d);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_THAT(e.what(), HasSubstr("tune: no GPU to tune: GPU 3 does not exist"));
    }
    EXPECT_TRUE(writes().empty());
    EXPECT_EQ(m_guards.load(), 0);
    EXPECT_FALSE(m_started);
}

}  // namespace
}  // namespace joulebench::test
