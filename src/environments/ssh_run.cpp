#include "environments/ssh_run.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/strings.hpp"
#include "joulebench/error.hpp"
#include "measure/process.hpp"
#include "model/measure_json.hpp"

extern char** environ;

namespace joulebench::environments::ssh {

namespace {

using std::chrono::milliseconds;

// How long a local ssh gets between SIGTERM and SIGKILL, and how long its standard output is
// still read after it ended (only something it started, e.g. a ProxyCommand, could hold it).
constexpr milliseconds kTermToKill{2000};
constexpr milliseconds kSshDrainAfterExit{2000};
constexpr std::size_t kMaxJsonBytes = 64U << 20U;

// A pipe whose both ends are close-on-exec: concurrent runs (GPU slots) each spawn an ssh, and
// one ssh inheriting another run's stdin write end would keep that run's stdin from ever
// reaching end of file.
bool make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
    std::array<int, 2> fds{-1, -1};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) return false;
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
    return true;
}

Error start_error(const std::string& message, int exit_code) {
    Error e(ErrorCategory::kIo, message);
    e.set_exit_code(exit_code);
    return e;
}

// Reads what is there without blocking; false at end of file (or an error other than EAGAIN).
bool read_available(int fd, const std::function<void(std::string_view)>& sink) {
    std::array<char, 65536> buffer{};
    for (;;) {
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n > 0) {
            sink(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
            continue;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
}

void decode(int status, SessionEnd& end) {
    if (WIFEXITED(status)) {
        end.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        end.signal = WTERMSIG(status);
        end.exit_code = 128 + WTERMSIG(status);
    }
}

// The last line of the file that starts with "error:" (joulebench's own messages), else its
// last non-empty line; reads at most the last 64 KiB.
std::string last_error_line(const std::filesystem::path& file) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.open()) return {};
    const off_t size = ::lseek(fd.get(), 0, SEEK_END);
    const off_t from = size > 65536 ? size - 65536 : 0;
    std::string text(static_cast<std::size_t>(size - from), '\0');
    const ssize_t n = ::pread(fd.get(), text.data(), text.size(), from);
    text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    std::string found;
    for (const std::string_view line : split(text, '\n')) {
        // last_line of a single line: the line without the blanks around it ("" when blank).
        std::string trimmed = last_line(line);
        if (trimmed.rfind("error:", 0) == 0) found = std::move(trimmed);
    }
    return found.empty() ? last_line(text) : found;
}

void append_line(const std::filesystem::path& file, const std::string& line) {
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd.open()) return;
    const std::string text = line + "\n";
    // Best effort: a note for the stderr tail; the same text is in the run's warnings.
    (void)!::write(fd.get(), text.data(), text.size());
}

// What is wrong with the trace of a run whose measurement came back, if anything: never a
// failure of the run (docs/ssh.md).
std::optional<std::string> trace_warning(const OutputDemux& demux, const TraceCsvParser* trace,
                                         std::uint64_t samples, const std::string& target) {
    if (demux.trace_length() == 0) {
        return fmt::format(
            "ssh: no trace came back from {} (the remote measure wrote no --samples file): the "
            "run has no trace",
            target);
    }
    const std::uint64_t rows = trace != nullptr ? trace->rows() : 0;
    if (demux.trace_received() < demux.trace_length()) {
        return fmt::format(
            "ssh: the trace from {} was cut off ({} of {} bytes arrived): the {} rows before the "
            "cut are kept",
            target, demux.trace_received(), demux.trace_length(), rows);
    }
    if (trace == nullptr) {
        return fmt::format("ssh: the trace from {} was not read (its measurement was not)", target);
    }
    if (!trace->error().empty()) {
        return fmt::format(
            "ssh: the trace from {} is malformed: {}; the {} rows before it are kept", target,
            trace->error(), rows);
    }
    if (rows != samples) {
        return fmt::format(
            "ssh: the trace from {} has {} rows, but its measurement counted {} samples", target,
            rows, samples);
    }
    return std::nullopt;
}

// A note on the run: a warning, also appended to the stderr file (it explains a failure there).
void note(const WorkloadInstance& instance, InstanceResult& result, std::string_view code,
          const std::string& text) {
    result.warnings.push_back(make_warning(code, text));
    append_line(instance.stderr_file, "joulebench: " + text);
}

// The remote command never started (ssh could not connect, the login failed): why, from ssh's
// own message in the stderr file.
void read_not_started(const SessionEnd& end, const WorkloadInstance& instance,
                      const std::string& target, InstanceResult& result) {
    const std::string message = last_line(last_error_line(instance.stderr_file));
    const std::string why =
        fmt::format("ssh: {} on {}: {} (ssh exit status {})",
                    end.exit_code == 255 ? "connection failed" : "the remote command did not start",
                    target, message.empty() ? "no message" : message, end.exit_code);
    if (end.ended_by) {
        result.end = *end.ended_by;
        result.exit_code = end.exit_code;
        note(instance, result, warning_code::kSsh,
             why + "; the run was ended before the remote command started");
        return;
    }
    note(instance, result, warning_code::kSsh,
         why + "; the workload did not run (not a workload failure)");
    result.end = InstanceResult::End::kNotStarted;
    result.start_error = why;
    result.exit_code = end.exit_code;
}

// The script reached its end line: the run's result is the remote measurement, when it came.
void read_measured(RemoteOutput& output, const SessionEnd& end, const WorkloadInstance& instance,
                   const std::string& target, InstanceResult& result) {
    const OutputDemux& demux = output.demux();
    const int remote_status = *demux.remote_status();
    if (!demux.error().empty()) note(instance, result, warning_code::kSsh, "ssh: " + demux.error());
    if (demux.trailing_bytes() > 0) {
        result.warnings.push_back(make_warning(
            warning_code::kSsh,
            fmt::format("ssh: {} bytes of output came after the measurement (from processes the "
                        "workload left behind); they were added to the end of the stdout file",
                        demux.trailing_bytes())));
    }
    if (demux.json_complete() && demux.json_length() > 0) {
        std::optional<MeasureResult>& measured = output.measurement();
        if (measured) {
            result.exit_code = measured->exit_code;
            result.signal = measured->signal;
            result.started_at = measured->started_at;
            result.cpu_user_s = measured->cpu_user_s;
            result.cpu_system_s = measured->cpu_system_s;
            for (const auto& cap : measured->power_caps) {
                if (!cap.restored) {
                    note(instance, result, warning_code::kCapNotRestored,
                         fmt::format("ssh: the cap of {} on {} was NOT restored: {}; run "
                                     "`joulebench caps restore` there",
                                     cap.label, target, cap.restore_error));
                }
            }
            if (remote_status != measured->exit_code && !end.ended_by) {
                result.warnings.push_back(make_warning(
                    warning_code::kSsh,
                    fmt::format("ssh: the remote joulebench measure exited with status {} (the "
                                "workload's was {}); see the stderr file",
                                remote_status, measured->exit_code)));
            }
            if (instance.trace != nullptr) {
                if (auto w = trace_warning(demux, output.trace(), measured->samples, target)) {
                    result.warnings.push_back(make_warning(warning_code::kTrace, std::move(*w)));
                }
            }
            result.measured = std::move(measured);
        } else {
            note(instance, result, warning_code::kSsh,
                 fmt::format("ssh: the measurement from {} could not be read: {}", target,
                             output.measurement_error()));
            result.exit_code = remote_status;
        }
    } else if (demux.json_length() > 0) {
        note(instance, result, warning_code::kSsh,
             fmt::format("ssh: the measurement from {} was cut off ({} of {} bytes arrived)",
                         target, demux.json().size(), demux.json_length()));
        result.exit_code = remote_status;
    } else {
        // measure ended without writing a result: it failed before the workload ran (command
        // not found, a cap that could not be set, no sensors), or was ended before it.
        const std::string message = last_error_line(instance.stderr_file);
        const std::string why = fmt::format(
            "ssh: the remote joulebench measure on {} exited with status {} without a "
            "measurement: {}",
            target, remote_status, message.empty() ? "no message" : message);
        if (!end.ended_by) {
            result.end = InstanceResult::End::kNotStarted;
            result.start_error = why;
            result.exit_code = remote_status;
            return;
        }
        result.warnings.push_back(make_warning(warning_code::kSsh, why));
        result.exit_code = remote_status;
    }
    if (end.ended_by) result.end = *end.ended_by;
}

}  // namespace

void start_ssh(const std::vector<std::string>& argv, int stderr_fd, SshProcess& client) {
    UniqueFd stdin_read;
    UniqueFd stdout_write;
    if (!make_pipe(stdin_read, client.stdin_write) ||
        !make_pipe(client.stdout_read, stdout_write)) {
        throw start_error(fmt::format("run: create a pipe: {}", std::strerror(errno)), 126);
    }
    client.start_time = Clock::now();
    client.started_at = unix_now();
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, stdin_read.get(), 0);
    posix_spawn_file_actions_adddup2(&actions, stdout_write.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
    const process::ChildSpawnAttributes attr(/*own_group=*/true);
    const int error =
        ::posix_spawnp(&client.pid, args[0], &actions, attr.get(), args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
        throw start_error(fmt::format("run: start ssh: {}", std::strerror(error)),
                          error == ENOENT ? 127 : 126);
    }
    ::fcntl(client.stdout_read.get(), F_SETFL, O_NONBLOCK);
}

RemoteOutput::RemoteOutput(std::string_view nonce, int stdout_fd, TraceSink* trace)
    : m_stdout_fd(stdout_fd),
      m_trace_sink(trace),
      m_demux(
          nonce, [this](std::string_view data) { write_body(data); }, kMaxJsonBytes,
          [this](std::string_view data) { trace_bytes(data); }) {}

RemoteOutput::~RemoteOutput() = default;

void RemoteOutput::write_body(std::string_view data) {
    while (!data.empty() && m_write_errno == 0) {
        const ssize_t n = ::write(m_stdout_fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            m_write_errno = errno;  // keep reading: ssh must never block on a full pipe
            break;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

void RemoteOutput::trace_bytes(std::string_view data) {
    if (m_trace_sink == nullptr) return;
    if (!m_trace) {
        // The trace comes right after the JSON: the measurement is all here.
        if (!measurement()) return;
        std::vector<SensorInfo> domains;
        for (const auto& d : m_measured->domains) domains.push_back(d.info);
        m_trace = std::make_unique<TraceCsvParser>(*m_trace_sink, std::move(domains));
    }
    m_trace->feed(data);
}

std::optional<MeasureResult>& RemoteOutput::measurement() {
    if (!m_measured_read) {
        m_measured_read = true;
        try {
            m_measured = measure_from_json(nlohmann::ordered_json::parse(m_demux.json()));
        } catch (const std::exception& e) {
            m_measured_error = e.what();
        }
    }
    return m_measured;
}

void RemoteOutput::finish() {
    m_demux.finish();
    if (m_trace) m_trace->finish();  // the sink's last rows are written
}

SessionEnd follow_session(SshProcess& client, RemoteOutput& output,
                          const WorkloadInstance& instance, Clock::time_point start,
                          milliseconds grace) {
    SessionEnd end;
    const OutputDemux& demux = output.demux();
    std::optional<Clock::time_point> deadline;
    if (instance.timeout) deadline = start + *instance.timeout;
    std::optional<Clock::time_point> term_at;  // SIGTERM to the local ssh due
    std::optional<Clock::time_point> kill_at;  // then SIGKILL
    bool killed = false;
    bool exited = false;
    std::optional<Clock::time_point> drain_until;
    for (;;) {
        if (client.stdout_read.open()) {
            pollfd p{client.stdout_read.get(), POLLIN, 0};
            ::poll(&p, 1, 50);
            if (!read_available(client.stdout_read.get(),
                                [&](std::string_view d) { output.feed(d); })) {
                client.stdout_read.reset();
            }
        } else {
            ::usleep(20'000);
        }
        const auto now = Clock::now();
        // The whole result is here: closing stdin lets the remote session end at once (the
        // watcher holds the session open until then, docs/ssh.md).
        if (demux.complete() && client.stdin_write.open()) {
            client.stdin_write.reset();
            if (!term_at) term_at = now + grace;
        }
        if (!exited) {
            int status = 0;
            const pid_t done = ::waitpid(client.pid, &status, WNOHANG);
            if (done == client.pid) {
                exited = true;
                decode(status, end);
                drain_until = now + kSshDrainAfterExit;
            }
        }
        if (exited && (!client.stdout_read.open() || now >= *drain_until)) break;
        if (!end.ended_by && !demux.json_complete()) {
            const bool stop = instance.stop != nullptr && instance.stop->load();
            const bool late = deadline && now >= *deadline;
            if (stop || late) {
                end.ended_by =
                    stop ? InstanceResult::End::kInterrupted : InstanceResult::End::kTimedOut;
                client.stdin_write.reset();  // the remote watcher ends the workload
                term_at = now + grace;
            }
        } else if (!end.ended_by && !demux.complete() && client.stdin_write.open() &&
                   instance.stop != nullptr && instance.stop->load()) {
            // The measurement is here and only the trace is still coming: the run is not
            // interrupted, but the experiment stops now (the trace is cut off, with a warning).
            client.stdin_write.reset();
            if (!term_at) term_at = now + grace;
        }
        if (!exited && term_at && !kill_at && now >= *term_at) {
            ::kill(-client.pid, SIGTERM);
            kill_at = now + kTermToKill;
        } else if (!exited && kill_at && !killed && now >= *kill_at) {
            ::kill(-client.pid, SIGKILL);
            killed = true;
        }
    }
    output.finish();
    end.end_time = Clock::now();
    // Whatever ssh left in its group (a ProxyCommand) does not outlive the run.
    if (::kill(-client.pid, 0) == 0) ::kill(-client.pid, SIGKILL);
    return end;
}

void read_result(RemoteOutput& output, const SessionEnd& end, const WorkloadInstance& instance,
                 const std::string& target, InstanceResult& result) {
    const OutputDemux& demux = output.demux();
    if (output.write_errno() != 0) {
        result.warnings.push_back(make_warning(
            warning_code::kSsh,
            fmt::format("ssh: write the workload's output to {}: {}", instance.stdout_file.string(),
                        std::strerror(output.write_errno()))));
    }
    if (demux.preamble_bytes() > 0) {
        result.warnings.push_back(make_warning(
            warning_code::kSsh,
            fmt::format("ssh: the remote login shell printed {} bytes before the command started "
                        "(not part of the workload's output): '{}'; remove such output from the "
                        "remote shell's start-up files",
                        demux.preamble_bytes(), last_line(demux.preamble_text()))));
    }
    if (!demux.started()) {
        read_not_started(end, instance, target, result);
        return;
    }
    if (!demux.ended()) {
        // The script never reached its end line: the connection broke, or something killed the
        // remote shell. The remote watcher ends the workload when sshd closes the session.
        result.end = end.ended_by.value_or(InstanceResult::End::kExited);
        result.exit_code = end.exit_code == 0 ? 255 : end.exit_code;
        result.signal = std::nullopt;
        note(instance, result, warning_code::kSsh,
             fmt::format("ssh: the connection to {} ended before the remote measurement came "
                         "back (ssh exit status {}{}): no measurement; the remote side ends the "
                         "workload when it sees the session close",
                         target, end.exit_code,
                         end.signal ? fmt::format(", signal {}", *end.signal) : std::string()));
        return;
    }
    read_measured(output, end, instance, target, result);
}

}  // namespace joulebench::environments::ssh
