#pragma once
// Helpers shared by the tests: temporary folders, scoped environment variables, and real child
// processes (the joulebench binary, shells, workloads) with their output captured.

#include <sys/types.h>

#include <chrono>
#include <thread>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace joulebench::test {

/// A fresh folder under the system temporary directory, removed with everything in it at scope exit.
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "joulebench-test");
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();
    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

private:
    std::filesystem::path m_path;
};

/// Sets (or, with nullopt, unsets) an environment variable for the scope; restores it after.
class ScopedEnv {
public:
    ScopedEnv(std::string name, const std::optional<std::string>& value);
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;
    ~ScopedEnv();

private:
    std::string m_name;
    std::optional<std::string> m_old;
};

struct ProcessResult {
    int exit_code = -1;           ///< exit status, or 128+N for signal N
    std::optional<int> signal;    ///< the signal that ended it
    std::string out;              ///< standard output
    std::string err;              ///< standard error
};

struct ProcessOptions {
    /// Variables set in the child (on top of the test's environment); a nullopt value unsets.
    std::vector<std::pair<std::string, std::optional<std::string>>> env;
    std::filesystem::path cwd;
    /// Run as this uid/gid (the test runs as root); nullopt keeps the test's identity.
    std::optional<std::pair<uid_t, gid_t>> user;
    /// Kill the child (SIGKILL) after this long; the test then fails on its exit status.
    std::chrono::seconds timeout{120};
};

/// A child process whose standard output and error go to files, so it never blocks on a pipe.
class ChildProcess {
public:
    ChildProcess(const std::vector<std::string>& argv, const ProcessOptions& options = {});
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();
    [[nodiscard]] pid_t pid() const { return m_pid; }
    void send(int signal) const;
    /// Waits (up to the timeout) and collects the output.
    ProcessResult wait();
    /// Standard error so far (for waiting until the child reached some point).
    [[nodiscard]] std::string err_so_far() const;

private:
    TempDir m_dir{"joulebench-child"};
    pid_t m_pid = -1;
    std::chrono::seconds m_timeout;
    bool m_waited = false;
};

/// Runs a command to completion.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

/// Runs the joulebench binary built with the tests.
ProcessResult run_joulebench(const std::vector<std::string>& args, const ProcessOptions& options = {});

/// The path of the built joulebench binary.
std::string joulebench_binary();

/// Reads a whole file; throws std::runtime_error when it cannot.
std::string read_file(const std::filesystem::path& path);
/// Writes a whole file; throws std::runtime_error when it cannot.
void write_file(const std::filesystem::path& path, const std::string& content);

/// Processes whose parent is `pid` (from /proc).
std::vector<pid_t> children_of(pid_t pid);

/// True when every folder above `path` lets other users through (o+x) and the file is o+rx.
bool reachable_by_others(const std::filesystem::path& path);

/// A joulebench binary another user (nobody) can run: the built one when reachable_by_others,
/// else a copy in `dir` (made 0755, with the copy 0755). A clone in a private folder (mode 0700,
/// as /root or mktemp -d) needs the copy. Throws std::runtime_error when `dir` itself cannot be
/// reached by others either.
std::filesystem::path joulebench_binary_for_others(const std::filesystem::path& dir);

/// ../shared/datasets beside the source tree, or nullopt when absent (tests then skip).
std::optional<std::filesystem::path> shared_datasets();

/// Asks `done` every `poll` until it answers true or `timeout` has passed; its last answer. For
/// waiting on another process (never to judge how fast something was). A `done` that costs
/// something (a scan of /proc, a store opened) polls less often, not to slow what it waits for.
template <class F>
bool eventually(F&& done, std::chrono::seconds timeout = std::chrono::seconds(60),
                std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(poll);
    }
    return done();
}

}  // namespace joulebench::test
