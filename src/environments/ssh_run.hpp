#pragma once
// The local side of one run of the `ssh` environment (docs/ssh.md), apart from the environment's
// lifecycle (ssh_environment.cpp) and from the remote script and its protocol (ssh_remote.hpp):
// starting the local ssh, following its session (what comes back on its standard output; the
// end of the run at its timeout or stop) and turning what came back into the run's result.
// SshEnvironment::execute() is these steps in order.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.hpp"
#include "environments/environment.hpp"
#include "environments/ssh_remote.hpp"
#include "joulebench/measure_result.hpp"
#include "joulebench/units.hpp"

namespace joulebench::environments::ssh {

/// The local ssh of one run.
struct SshProcess {
    pid_t pid = -1;
    UniqueFd stdin_write;  ///< closed to tell the remote side that the run is over
    UniqueFd stdout_read;  ///< non-blocking
    /// Taken once the pipes exist, before the spawn: the run's start (also set when the spawn
    /// itself fails).
    Clock::time_point start_time{};
    double started_at = 0.0;  ///< Unix seconds
};

/// Starts `argv` (found on PATH) in its own process group (so that it ends with everything it
/// started, and the terminal's Ctrl-C reaches only joulebench), with default signal
/// dispositions and an empty mask, its standard input and output on pipes and its standard error
/// on `stderr_fd`, into `client`. Throws Error "run: create a pipe: ..." or "run: start ssh: ..."
/// whose exit_code() is the run's (127 when ssh is not found, else 126).
void start_ssh(const std::vector<std::string>& argv, int stderr_fd, SshProcess& client);

/// What comes back on ssh's standard output, taken apart as it arrives (OutputDemux): the
/// workload's output is written to `stdout_fd`; the measurement's JSON is kept and read once it
/// is complete; the trace goes row by row into `trace` (may be null: no trace kept), checked
/// against the measurement's domains, so only when the measurement could be read.
class RemoteOutput {
public:
    RemoteOutput(std::string_view nonce, int stdout_fd, TraceSink* trace);
    ~RemoteOutput();
    RemoteOutput(const RemoteOutput&) = delete;
    RemoteOutput& operator=(const RemoteOutput&) = delete;

    void feed(std::string_view data) { m_demux.feed(data); }
    /// The end of ssh's output: what the demux held back goes to the workload's output, and the
    /// trace's last rows to its sink.
    void finish();

    [[nodiscard]] const OutputDemux& demux() const { return m_demux; }
    /// The remote measurement, read from the JSON the first time it is asked for (once
    /// demux().json_complete()); nullopt when it cannot be read (measurement_error() says why).
    std::optional<MeasureResult>& measurement();
    [[nodiscard]] const std::string& measurement_error() const { return m_measured_error; }
    /// The trace as read so far; null when none was read.
    [[nodiscard]] const TraceCsvParser* trace() const { return m_trace.get(); }
    /// errno of the write of the workload's output that failed (0: none did); the rest of the
    /// output is then read and dropped, so that ssh never blocks on a full pipe.
    [[nodiscard]] int write_errno() const { return m_write_errno; }

private:
    void write_body(std::string_view data);
    void trace_bytes(std::string_view data);

    int m_stdout_fd;
    TraceSink* m_trace_sink;
    int m_write_errno = 0;
    bool m_measured_read = false;
    std::optional<MeasureResult> m_measured;
    std::string m_measured_error;
    std::unique_ptr<TraceCsvParser> m_trace;
    OutputDemux m_demux;  // last: its sinks use the members above
};

/// How the session of a run ended.
struct SessionEnd {
    int exit_code = 0;          ///< ssh's exit status, or 128+N when signal N ended it
    std::optional<int> signal;  ///< the signal that ended ssh
    /// kTimedOut or kInterrupted when joulebench ended the run; unset when it ended by itself.
    std::optional<InstanceResult::End> ended_by;
    Clock::time_point end_time{};  ///< when all of ssh's output was read
};

/// Reads ssh's output into `output` until ssh has ended and its output was read (or, if
/// something ssh started holds it open, for at most 2 s more); then `output` is finished and
/// what is left of ssh's process group is killed. ssh's stdin is closed as soon as the whole
/// result is here (the remote session then ends at once), and when the run must end before its
/// measurement is here (the instance's timeout from `start`, or its stop flag: the remote side
/// then ends the workload) or when the experiment stops while only the trace is still coming.
/// ssh gets SIGTERM `grace` after its stdin was closed, and SIGKILL 2 s after that, if it has
/// not ended by itself.
[[nodiscard]] SessionEnd follow_session(SshProcess& client, RemoteOutput& output,
                                        const WorkloadInstance& instance, Clock::time_point start,
                                        std::chrono::milliseconds grace);

/// The run's result from what came back (InstanceResult's end, exit status, signal, CPU times,
/// measurement and warnings; `result`'s start times are kept unless the measurement has its
/// own). A run whose remote command never started, or that failed before its measurement, is
/// kNotStarted; the notes that explain a failure are also appended to the instance's stderr
/// file, as "joulebench: NOTE". `target` names the host in messages (USER@HOST:PORT).
void read_result(RemoteOutput& output, const SessionEnd& end, const WorkloadInstance& instance,
                 const std::string& target, InstanceResult& result);

}  // namespace joulebench::environments::ssh
