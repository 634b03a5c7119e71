// The local side of an ssh run without sshd (environments/ssh_run.hpp): the session loop with a
// shell standing in for ssh (the whole result, a timeout, a start that fails), and the run's
// result from what came back (nothing, a cut connection, a measure that failed before the
// workload, a measurement).

#include "environments/ssh_run.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "environments/ssh_remote.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "model/measure_json.hpp"

namespace joulebench::environments::ssh {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr char kNonce[] = "00112233445566778899aabbccddeeff";

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// What the remote script prints for a run whose measure exited with `status` and wrote `json`.
std::string remote_stream(const std::string& body, int status, const std::string& json) {
    return start_line(kNonce) + "\n" + body + "\n" + end_line_prefix(kNonce) +
           std::to_string(status) + ":" + std::to_string(json.size()) + "\n" + json;
}

class SshRunTest : public ::testing::Test {
protected:
    SshRunTest() {
        m_instance.stdout_file = m_dir.path() / "stdout";
        m_instance.stderr_file = m_dir.path() / "stderr";
        m_out.reset(::open(m_instance.stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
        m_err.reset(::open(m_instance.stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    }
    // The result of a run whose ssh printed `stream` and `stderr` and ended as `end` says.
    InstanceResult result_of(const std::string& stream, const std::string& stderr_text,
                             const SessionEnd& end) {
        test::write_file(m_instance.stderr_file, stderr_text);
        RemoteOutput output(kNonce, m_out.get(), nullptr);
        output.feed(stream);
        output.finish();
        InstanceResult result;
        read_result(output, end, m_instance, "user@host:2222", result);
        return result;
    }

    test::TempDir m_dir{"joulebench-ssh-run"};
    WorkloadInstance m_instance;
    UniqueFd m_out;
    UniqueFd m_err;
};

TEST_F(SshRunTest, NothingCameBackIsNotStartedWithSshsOwnMessage) {
    SessionEnd end;
    end.exit_code = 255;
    const InstanceResult r =
        result_of("", "ssh: connect to host host port 2222: Connection refused\r\n", end);
    EXPECT_EQ(r.end, InstanceResult::End::kNotStarted);
    EXPECT_EQ(r.exit_code, 255);
    EXPECT_EQ(r.start_error,
              "ssh: connection failed on user@host:2222: ssh: connect to host host port 2222: "
              "Connection refused (ssh exit status 255)");
    EXPECT_THAT(read_text(m_instance.stderr_file),
                HasSubstr("joulebench: " + r.start_error +
                          "; the workload did not run (not a workload failure)\n"));

    end.ended_by = InstanceResult::End::kTimedOut;
    const InstanceResult timed_out = result_of("", "", end);
    EXPECT_EQ(timed_out.end, InstanceResult::End::kTimedOut);
    ASSERT_EQ(timed_out.warnings.size(), 1U);
    EXPECT_THAT(timed_out.warnings[0].text,
                HasSubstr("no message (ssh exit status 255); the run was "
                          "ended before the remote command started"));
}

TEST_F(SshRunTest, AConnectionCutBeforeTheEndLineHasNoMeasurement) {
    SessionEnd end;  // ssh exited 0, yet the script never reached its end
    const InstanceResult r = result_of(start_line(kNonce) + "\nhello\n", "", end);
    EXPECT_EQ(r.end, InstanceResult::End::kExited);
    EXPECT_EQ(r.exit_code, 255);
    EXPECT_FALSE(r.measured.has_value());
    ASSERT_EQ(r.warnings.size(), 1U);
    EXPECT_THAT(r.warnings[0].text,
                HasSubstr("ended before the remote measurement came back (ssh exit "
                          "status 0): no measurement"));
    EXPECT_EQ(read_text(m_instance.stdout_file), "hello\n");
}

TEST_F(SshRunTest, AMeasureThatFailedBeforeTheWorkloadNamesItsErrorLine) {
    const InstanceResult r =
        result_of(remote_stream("", 2, ""),
                  "error: measure: run nope: command not found\nhint: check the spelling\n", {});
    EXPECT_EQ(r.end, InstanceResult::End::kNotStarted);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.start_error,
              "ssh: the remote joulebench measure on user@host:2222 exited with status 2 "
              "without a measurement: error: measure: run nope: command not found");
}

TEST_F(SshRunTest, TheMeasurementIsTheRunsResult) {
    MeasureResult m;
    m.command = {"work"};
    m.exit_code = 3;
    m.started_at = 1700000000.5;
    m.cpu_user_s = 1.5;
    m.cpu_system_s = 0.25;
    const std::string json = measure_to_json(m).dump();
    const InstanceResult r = result_of("motd\n" + remote_stream("out", 3, json), "", {});
    EXPECT_EQ(r.end, InstanceResult::End::kExited);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.started_at, 1700000000.5);
    EXPECT_EQ(r.cpu_user_s, 1.5);
    EXPECT_EQ(r.cpu_system_s, 0.25);
    ASSERT_TRUE(r.measured.has_value());
    EXPECT_EQ(r.measured->command, std::vector<std::string>{"work"});
    ASSERT_EQ(r.warnings.size(), 1U);  // only the login shell's output
    EXPECT_THAT(r.warnings[0].text, HasSubstr("printed 5 bytes before the command started"));
    EXPECT_EQ(read_text(m_instance.stdout_file), "out");
}

TEST_F(SshRunTest, TheSessionEndsAsSoonAsTheWholeResultIsHere) {
    // Stands in for ssh: prints a run's whole result, then waits for its stdin to close.
    const std::string script = "printf '%s' \"$1\"; cat >/dev/null; exit 0";
    SshProcess client;
    start_ssh({"sh", "-c", script, "ssh", remote_stream("body", 0, "{}")}, m_err.get(), client);
    RemoteOutput output(kNonce, m_out.get(), nullptr);
    const auto start = Clock::now();
    const SessionEnd end = follow_session(client, output, m_instance, start, 10s);
    EXPECT_LT(end.end_time - start, 5s);
    EXPECT_EQ(end.exit_code, 0);
    EXPECT_FALSE(end.ended_by.has_value());
    EXPECT_TRUE(output.demux().complete());
    EXPECT_EQ(read_text(m_instance.stdout_file), "body");
}

TEST_F(SshRunTest, TheTimeoutClosesStdinAndASessionThatIgnoresItIsKilled) {
    m_instance.timeout = 100ms;
    // The first ends when its stdin closes, as the remote watcher does; the second ignores it
    // and SIGTERM, and is killed 2 s after the grace.
    const std::vector<std::pair<std::string, int>> cases{
        {"cat >/dev/null; exit 7", 7}, {"trap '' TERM; exec 0<&-; sleep 30", 128 + 9}};
    for (const auto& [body, code] : cases) {
        const std::string script = "printf '%s\\n' \"$1\"; " + body;
        SshProcess client;
        start_ssh({"sh", "-c", script, "ssh", start_line(kNonce)}, m_err.get(), client);
        RemoteOutput output(kNonce, m_out.get(), nullptr);
        const auto start = Clock::now();
        const SessionEnd end = follow_session(client, output, m_instance, start, 100ms);
        EXPECT_LT(end.end_time - start, 10s) << body;
        EXPECT_EQ(end.ended_by, InstanceResult::End::kTimedOut) << body;
        EXPECT_EQ(end.exit_code, code) << body;
        EXPECT_TRUE(output.demux().started()) << body;
    }
}

TEST_F(SshRunTest, AnSshThatCannotStartSaysWhyWithTheShellsExitStatus) {
    SshProcess client;
    try {
        start_ssh({"joulebench-no-such-ssh"}, m_err.get(), client);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.exit_code(), 127);
        EXPECT_THAT(e.what(), HasSubstr("run: start ssh: No such file or directory"));
    }
}

}  // namespace
}  // namespace joulebench::environments::ssh
