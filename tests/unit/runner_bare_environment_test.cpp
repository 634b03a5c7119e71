// The bare environment with real processes: output captured to files, exit statuses, a timeout
// that ends the whole process group, an interruption, and a command that cannot start.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "environments/bare_environment.hpp"

namespace joulebench::environments {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class BareEnvironmentTest : public ::testing::Test {
protected:
    test::TempDir m_dir{"joulebench-bare-env"};
    BareEnvironment m_env{
        EnvironmentSpec{"bare", EnvironmentType::kBare, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}}};

    WorkloadInstance instance(std::vector<std::string> command) const {
        WorkloadInstance i;
        i.run_id = "r";
        i.command = std::move(command);
        i.stdout_file = m_dir.path() / "out";
        i.stderr_file = m_dir.path() / "err";
        i.kill_grace = std::chrono::milliseconds(500);
        return i;
    }
};

TEST_F(BareEnvironmentTest, CapturesOutputExitStatusAndEnvironment) {
    auto i = instance({"sh", "-c", "echo \"out $FOO\"; echo err >&2; exit 4"});
    i.env = {{"FOO", "bar"}};
    const auto r = m_env.execute(i, nullptr);
    EXPECT_EQ(r.end, InstanceResult::End::kExited);
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_FALSE(r.signal.has_value());
    EXPECT_EQ(test::read_file(i.stdout_file), "out bar\n");
    EXPECT_EQ(test::read_file(i.stderr_file), "err\n");
    EXPECT_GE(r.end_time, r.start_time);
}

TEST_F(BareEnvironmentTest, TimeoutEndsTheWholeProcessGroup) {
    const fs::path pid_file = m_dir.path() / "grandchild";
    auto i = instance({"sh", "-c", "sleep 30 & echo $! > " + pid_file.string() + "; wait"});
    i.timeout = std::chrono::milliseconds(300);
    const auto r = m_env.execute(i, nullptr);
    EXPECT_EQ(r.end, InstanceResult::End::kTimedOut);
    EXPECT_EQ(r.signal, SIGTERM);
    const pid_t grandchild = std::stoi(test::read_file(pid_file));
    // The background sleep was in the group: it got SIGTERM too (it may still be a zombie of init).
    bool gone = false;
    for (int i2 = 0; i2 < 200 && !gone; ++i2) {
        std::string stat;
        try {
            stat = test::read_file("/proc/" + std::to_string(grandchild) + "/stat");
        } catch (const std::exception&) {
            gone = true;
            break;
        }
        const char state = stat.at(stat.rfind(')') + 2);
        gone = state == 'Z' || state == 'X';
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(gone);
}

TEST_F(BareEnvironmentTest, AWorkloadIgnoringSigtermIsKilledAfterTheGrace) {
    auto i = instance({"sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"});
    i.timeout = std::chrono::milliseconds(200);
    const auto r = m_env.execute(i, nullptr);
    EXPECT_EQ(r.end, InstanceResult::End::kTimedOut);
    EXPECT_EQ(r.signal, SIGKILL);
}

TEST_F(BareEnvironmentTest, StopFlagInterrupts) {
    std::atomic<bool> stop{false};
    auto i = instance({"sleep", "30"});
    i.stop = &stop;
    std::thread setter([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        stop.store(true);
    });
    const auto r = m_env.execute(i, nullptr);
    setter.join();
    EXPECT_EQ(r.end, InstanceResult::End::kInterrupted);
    EXPECT_EQ(r.signal, SIGTERM);
}

TEST_F(BareEnvironmentTest, ACommandThatCannotStartIsAResultAndValidateNamesFileAndLine) {
    const auto r = m_env.execute(instance({"/nonexistent/joulebench-workload"}), nullptr);
    EXPECT_EQ(r.end, InstanceResult::End::kNotStarted);
    EXPECT_EQ(r.exit_code, 127);
    EXPECT_THAT(r.start_error, HasSubstr("/nonexistent/joulebench-workload"));

    WorkloadSpec w;
    w.name = "w";
    w.command = {"no-such-command-joulebench"};
    w.where = SourceLocation{"exp.toml", 7, 1};
    try {
        m_env.validate(w);
        FAIL() << "validate accepted a missing command";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("exp.toml:7"));
        EXPECT_THAT(e.what(), HasSubstr("no-such-command-joulebench"));
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
    }
    w.command = {"sh"};
    EXPECT_NO_THROW(m_env.validate(w));
}

}  // namespace
}  // namespace joulebench::environments
