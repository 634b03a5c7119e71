// The terminal dashboard (docs/live.md, "Terminal dashboard") on a real terminal: tmux runs
// `joulebench run` and `joulebench top` in a pane of a fixed size, and the test reads the screen
// as a user sees it (tmux capture-pane). The GPUs are the fake NVML (100 W each).

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/store.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

/// A tmux server of its own (private socket) with one pane of 140 x 40 running `command`.
class Tmux {
public:
    Tmux(const fs::path& dir, const std::string& command,
         const std::vector<std::pair<std::string, std::string>>& env)
        : m_socket((dir / "tmux.sock").string()) {
        std::vector<std::string> argv{"tmux", "-S", m_socket, "-f", "/dev/null", "new-session", "-d",
                                      "-s", "t", "-x", "140", "-y", "40"};
        for (const auto& [k, v] : env) argv.insert(argv.end(), {"-e", k + "=" + v});
        // The pane stays after the command ends, so that its last screen can be read.
        argv.push_back(command + "; echo PANE-DONE; sleep 600");
        const ProcessResult r = run_process(argv);
        m_ok = r.exit_code == 0;
        m_error = r.err;
    }
    ~Tmux() { run_process({"tmux", "-S", m_socket, "kill-server"}); }
    [[nodiscard]] bool ok() const { return m_ok; }
    [[nodiscard]] const std::string& error() const { return m_error; }
    /// The screen as shown (no escape sequences), trailing blank lines dropped.
    [[nodiscard]] std::string screen() const {
        return run_process({"tmux", "-S", m_socket, "capture-pane", "-p", "-t", "t"}).out;
    }

private:
    std::string m_socket;
    bool m_ok = false;
    std::string m_error;
};

class Dashboard : public ::testing::Test {
protected:
    void SetUp() override {
        if (run_process({"sh", "-c", "command -v tmux"}).exit_code != 0) {
            GTEST_SKIP() << "tmux is not installed (apt-get install tmux)";
        }
    }
    TempDir m_dir{"joulebench-dashboard"};
    FakeNvmlState m_nvml{m_dir.path() / "nvml.json", 2};
    fs::path m_db = m_dir.path() / "results.db";
    fs::path m_file = m_dir.path() / "experiment.toml";

    std::vector<std::pair<std::string, std::string>> env() const {
        return {{"JOULEBENCH_NVML_LIBRARY", FakeNvmlEnvironment::library_path()},
                {"JOULEBENCH_FAKE_NVML_STATE", m_nvml.path().string()},
                {"JOULEBENCH_POWERCAP_ROOT", (m_dir.path() / "no-powercap").string()},
                {"JOULEBENCH_STATE_DIR", (m_dir.path() / "state").string()}};
    }
    ProcessOptions options() const {
        ProcessOptions o;
        for (const auto& [k, v] : env()) o.env.emplace_back(k, v);
        o.timeout = std::chrono::seconds(120);
        return o;
    }
    /// A sleeper (`seconds`) and a workload that fails, `repetitions` each, on GPU slot 0 only.
    void write_experiment(const std::string& seconds, unsigned repetitions) const {
        write_file(m_file, fmt::format("[experiment]\nname = \"dash\"\nrepetitions = {}\nseed = 1\n"
                                       "order = \"interleaved\"\n\n"
                                       "[[workload]]\nname = \"sleeper\"\ncommand = [\"sleep\", \"{}\"]\n\n"
                                       "[[workload]]\nname = \"broken\"\n"
                                       "command = [\"sh\", \"-c\", \"echo no model here >&2; exit 3\"]\n\n"
                                       "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n\n"
                                       "[power_caps]\ngpu_w = [150]\n\n[gpus]\ndevices = [0]\n",
                                       repetitions, seconds));
    }
    std::string run_command(const std::string& extra = "") const {
        return fmt::format("{} run {} --db {} --interval 50{}", joulebench_binary(), m_file.string(), m_db.string(),
                           extra);
    }
};

TEST_F(Dashboard, RunOnATerminalShowsProgressRunsInFlightAndFailuresThenClearsItself) {
    write_experiment("3", 2);
    Tmux tmux(m_dir.path(), run_command(), env());
    ASSERT_TRUE(tmux.ok()) << tmux.error();
    // While the sleeper runs: the title, the bar with done/failed, the run on GPU 0 with its
    // power (the fake draws 100 W), and the failed run kept on a line of its own with its reason.
    std::string screen;
    const bool seen = eventually(
        [&] {
            screen = tmux.screen();
            return screen.find("joulebench run: dash  [") != std::string::npos &&
                   screen.find("GPU 0  sleeper/bare/150 W/#") != std::string::npos &&
                   screen.find("failed      broken/bare/150 W/#1") != std::string::npos &&
                   screen.find(" W  ") != std::string::npos;
        },
        std::chrono::seconds(60));
    ASSERT_TRUE(seen) << screen;
    EXPECT_THAT(screen, HasSubstr("no model here"));  // the failure's last stderr line
    EXPECT_THAT(screen, ::testing::ContainsRegex(R"(\[#*\.*\] [0-9]/4  [0-9] failed)"));
    // At the end the dashboard is gone; the failures and the summary stay.
    ASSERT_TRUE(eventually([&] { return (screen = tmux.screen()).find("PANE-DONE") != std::string::npos; },
                           std::chrono::seconds(90)))
        << screen;
    EXPECT_THAT(screen, HasSubstr("2 done, 2 failed"));
    EXPECT_THAT(screen, Not(HasSubstr("joulebench run: dash  [")));
    EXPECT_THAT(screen, Not(HasSubstr("GPU 0  sleeper")));
    EXPECT_THAT(screen, HasSubstr("broken/bare/150 W/#2"));
}

TEST_F(Dashboard, PlainOnATerminalPrintsOneLinePerRun) {
    write_experiment("0.2", 1);
    Tmux tmux(m_dir.path(), run_command(" --plain"), env());
    ASSERT_TRUE(tmux.ok()) << tmux.error();
    std::string screen;
    ASSERT_TRUE(eventually([&] { return (screen = tmux.screen()).find("PANE-DONE") != std::string::npos; },
                           std::chrono::seconds(90)))
        << screen;
    EXPECT_THAT(screen, ::testing::ContainsRegex(R"(\[[12]/2\] done +sleeper/bare/150 W/#1)"));
    EXPECT_THAT(screen, ::testing::ContainsRegex(R"(\[[12]/2\] failed +broken/bare/150 W/#1)"));
    EXPECT_THAT(screen, Not(HasSubstr("joulebench run: dash  [")));
}

TEST_F(Dashboard, TopShowsAnExperimentRunningElsewhereFromItsStoreAndEndsWithIt) {
    write_experiment("4", 2);
    // The run elsewhere: not on a terminal (its output is a file), so it prints plain lines.
    ChildProcess run({joulebench_binary(), "run", m_file.string(), "--db", m_db.string(), "--interval", "50"},
                     options());
    ASSERT_TRUE(eventually(
        [&] {
            if (!fs::exists(m_db)) return false;
            try {
                return !Store(m_db, Store::Mode::kReadOnly).runs({RunStatus::kRunning}).empty();
            } catch (const Error&) {
                return false;  // not created yet
            }
        },
        std::chrono::seconds(60)))
        << run.err_so_far();
    // --once (or not on a terminal): printed once.
    const ProcessResult once = run_process({joulebench_binary(), "top", m_db.string(), "--once"});
    EXPECT_EQ(once.exit_code, 0) << once.err;
    EXPECT_THAT(once.out, HasSubstr("joulebench top: dash  ["));
    EXPECT_THAT(once.out, ::testing::ContainsRegex(R"(GPU 0  (sleeper|broken)/bare/150 W/#)"));
    EXPECT_THAT(once.out, HasSubstr("/4"));
    // On a terminal it follows the run and ends with it.
    Tmux tmux(m_dir.path(), fmt::format("{} top {} --interval 0.2", joulebench_binary(), m_db.string()), {});
    ASSERT_TRUE(tmux.ok()) << tmux.error();
    std::string screen;
    ASSERT_TRUE(eventually([&] { return (screen = tmux.screen()).find("PANE-DONE") != std::string::npos; },
                           std::chrono::seconds(90)))
        << screen;
    EXPECT_EQ(run.wait().exit_code, 1);  // the broken runs failed
    EXPECT_THAT(screen, HasSubstr("joulebench top: dash  [" + std::string(20, '#') + "] 4/4  2 failed"));
    EXPECT_THAT(screen, HasSubstr("failed broken/bare/150 W/#"));
    EXPECT_THAT(screen, HasSubstr("no model here"));  // a failure's last stderr line
    const ProcessResult missing = run_process({joulebench_binary(), "top", (m_dir.path() / "none.db").string()});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_THAT(missing.err, HasSubstr("no such store"));
}

}  // namespace
}  // namespace joulebench::test
