#include "environments/ssh_environment.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/strings.hpp"
#include "common/unique_fd.hpp"
#include "environments/ssh_remote.hpp"
#include "images/command_output.hpp"
#include "joulebench/error.hpp"
#include "joulebench/units.hpp"
#include "measure/process.hpp"
#include "model/measure_json.hpp"

extern char** environ;

namespace joulebench::environments {

namespace {

using std::chrono::milliseconds;

// How long a local ssh gets between SIGTERM and SIGKILL, and how long its standard output is
// still read after it ended (only something it started, e.g. a ProxyCommand, could hold it).
constexpr milliseconds kTermToKill{2000};
constexpr milliseconds kDrainAfterExit{2000};
constexpr std::size_t kCaptureLimit = 8U << 20U;
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

// Starts argv (found on PATH) with the given standard descriptors, in its own process group
// (so that it can be ended with everything it started, and the terminal's Ctrl-C reaches only
// joulebench), with default signal dispositions and an empty mask. Returns -1 and sets `error`
// (an errno value) when it cannot start.
pid_t spawn_process(const std::vector<std::string>& argv, int in, int out, int err, int& error) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in, 0);
    posix_spawn_file_actions_adddup2(&actions, out, 1);
    posix_spawn_file_actions_adddup2(&actions, err, 2);
    const process::ChildSpawnAttributes attr(/*own_group=*/true);
    pid_t pid = -1;
    error = ::posix_spawnp(&pid, args[0], &actions, attr.get(), args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    return error == 0 ? pid : -1;
}

struct WaitStatus {
    int exit_code = 0;
    std::optional<int> signal;
};

WaitStatus decode(int status) {
    WaitStatus w;
    if (WIFEXITED(status)) {
        w.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        w.signal = WTERMSIG(status);
        w.exit_code = 128 + WTERMSIG(status);
    }
    return w;
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

// A one-off command of validate() and prepare(), its output captured.
struct Captured {
    std::string start_error;  // why the command could not be started ("" when it was)
    images::CommandOutput output;
};

// Runs a check's ssh: killed with everything it started at the timeout, its output read for at
// most kDrainAfterExit once it ended.
Captured run_captured(const std::vector<std::string>& argv, milliseconds timeout) {
    images::CommandOptions options;
    options.timeout = timeout;
    options.max_output = kCaptureLimit;
    options.kill_group = true;
    options.drain_after_exit = kDrainAfterExit;
    Captured c;
    try {
        c.output = images::run_command(argv, options);
    } catch (const Error& e) {
        // Said as the errno of the spawn would say it: ssh not on PATH (127), not executable
        // (126), or the system's own error after run_command's "image: run ssh: ".
        const std::string what = e.what();
        const auto colon = what.rfind(": ");
        c.start_error = e.exit_code() == 127         ? std::strerror(ENOENT)
                        : e.exit_code() == 126       ? std::strerror(EACCES)
                        : colon == std::string::npos ? what
                                                     : what.substr(colon + 2);
    }
    return c;
}

// `text` without the spaces, tabs and line ends around it (joulebench::trim keeps line ends).
std::string trim_output(std::string_view text) {
    const auto b = text.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    const auto e = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(b, e - b + 1));
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
std::optional<std::string> trace_warning(const ssh::OutputDemux& demux,
                                         const ssh::TraceCsvParser* trace, std::uint64_t samples,
                                         const std::string& target) {
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

std::string remote_target(const EnvironmentSpec& spec) {
    std::string out = spec.user.empty() ? spec.host : spec.user + "@" + spec.host;
    if (spec.port) out += fmt::format(":{}", *spec.port);
    return out;
}

}  // namespace

std::string SshEnvironment::where() const {
    return fmt::format("run: {}environment '{}'", to_string(m_spec.where), m_spec.name);
}

std::vector<std::string> SshEnvironment::ssh_argv(const std::string& remote_command) const {
    std::vector<std::string> argv{"ssh", "-o", "BatchMode=yes"};
    for (const auto& option : m_spec.ssh_options) {
        argv.emplace_back("-o");
        argv.push_back(option);
    }
    for (const char* option : {"ServerAliveInterval=15", "ServerAliveCountMax=4",
                               "ConnectTimeout=30", "LogLevel=ERROR"}) {
        argv.emplace_back("-o");
        argv.emplace_back(option);
    }
    argv.emplace_back("-T");
    if (m_spec.port) {
        argv.emplace_back("-p");
        argv.push_back(std::to_string(*m_spec.port));
    }
    if (!m_spec.identity_file.empty()) {
        argv.emplace_back("-i");
        argv.push_back(m_spec.identity_file);
    }
    if (!m_spec.user.empty()) {
        argv.emplace_back("-l");
        argv.push_back(m_spec.user);
    }
    argv.push_back(m_spec.host);
    argv.emplace_back("--");
    argv.push_back(remote_command);
    return argv;
}

void SshEnvironment::validate(const WorkloadSpec& workload) const {
    const std::string target = remote_target(m_spec);
    if (m_spec.host.empty() || m_spec.host[0] == '-') {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("{}: host '{}' is not a host name", where(), m_spec.host));
    }
    if (m_spec.remote_joulebench.find('=') != std::string::npos) {
        // The remote command is `env K=V... REMOTE_JOULEBENCH ...`: env would take it for a
        // variable.
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("{}: remote_joulebench '{}' must not contain '='", where(),
                                m_spec.remote_joulebench),
                    "install joulebench in a folder whose path has no '=' in it");
    }
    try {
        process::resolve_command("ssh");
    } catch (const Error& e) {
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("{}: the ssh client is not installed here: {}", where(), e.what()),
                    "install OpenSSH's client (Debian: apt install openssh-client)");
    }
    const std::string check_hint = fmt::format(
        "`ssh -o BatchMode=yes{}{}{} {} true` must work without any prompt (key in an agent or "
        "identity_file, host key known); check host, user, port, identity_file and ssh_options",
        m_spec.port ? fmt::format(" -p {}", *m_spec.port) : "",
        m_spec.identity_file.empty() ? "" : " -i " + m_spec.identity_file,
        m_spec.user.empty() ? "" : " -l " + m_spec.user, m_spec.host);
    auto failure = [&](const Captured& c, const std::string& what) {
        if (!c.start_error.empty()) {
            return Error(ErrorCategory::kIo,
                         fmt::format("{}: start ssh: {}", where(), c.start_error));
        }
        if (c.output.timed_out) {
            return Error(ErrorCategory::kIo,
                         fmt::format("{}: ssh to {}: no answer within {} s", where(), target,
                                     kCheckTimeout.count()),
                         "check that the host is up (a VM may still be booting); " + check_hint);
        }
        if (c.output.exit_code == 255) {
            const std::string message = last_line(c.output.err);
            return Error(ErrorCategory::kIo,
                         fmt::format("{}: ssh to {} failed: {}", where(), target,
                                     message.empty() ? "ssh exited with status 255" : message),
                         check_hint);
        }
        return Error(ErrorCategory::kIo,
                     fmt::format("{}: {} on {} failed with status {}: {}", where(), what, target,
                                 c.output.exit_code, last_line(c.output.err)));
    };

    {
        std::lock_guard lock(m_mutex);
        if (!m_remote_version) {
            const Captured c = run_captured(
                ssh_argv(ssh::shell_quote(m_spec.remote_joulebench) + " --version"), kCheckTimeout);
            if (c.start_error.empty() && !c.output.timed_out &&
                (c.output.exit_code == 127 || c.output.exit_code == 126)) {
                throw Error(ErrorCategory::kNotFound,
                            fmt::format("{}: remote joulebench '{}' not found on {}: {}", where(),
                                        m_spec.remote_joulebench, target, last_line(c.output.err)),
                            "install joulebench on the remote host, or set remote_joulebench to "
                            "its full path there");
            }
            if (!c.start_error.empty() || c.output.timed_out || c.output.exit_code != 0) {
                throw failure(c, fmt::format("`{} --version`", m_spec.remote_joulebench));
            }
            const std::string version = trim_output(c.output.out);
            if (version.rfind("joulebench ", 0) != 0) {
                throw Error(
                    ErrorCategory::kInvalidArgument,
                    fmt::format("{}: remote_joulebench '{}' on {} is not joulebench: "
                                "`--version` printed '{}'",
                                where(), m_spec.remote_joulebench, target, last_line(version)));
            }
            m_remote_version = version;
        }
    }

    // The workload's command must resolve on the remote PATH (with the workload's own variables,
    // which may set PATH), as the remote measure will resolve it.
    static constexpr std::string_view kResolve =
        "set -f\n"
        "c=$1\n"
        "case $c in */*) [ -f \"$c\" ] || exit 3; [ -x \"$c\" ] || exit 4; exit 0 ;; esac\n"
        "found=\n"
        "IFS=:\n"
        "for d in $PATH; do\n"
        "  [ -f \"${d:-.}/$c\" ] || continue\n"
        "  [ -x \"${d:-.}/$c\" ] && exit 0\n"
        "  found=1\n"
        "done\n"
        "[ -n \"$found\" ] && exit 4\n"
        "exit 3\n";
    std::vector<std::string> words{"env"};
    for (const auto& [k, v] : workload.env) words.push_back(k + "=" + v);
    words.emplace_back("sh");
    words.emplace_back("-c");
    words.emplace_back(kResolve);
    words.emplace_back("joulebench-check");
    words.push_back(workload.command.at(0));
    const Captured c = run_captured(ssh_argv("exec " + ssh::shell_join(words)), kCheckTimeout);
    if (c.start_error.empty() && !c.output.timed_out && c.output.exit_code == 3) {
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("run: {}workload '{}': command '{}' not found on {} "
                                "(environment '{}')",
                                to_string(workload.where), workload.name, workload.command.at(0),
                                target, m_spec.name),
                    "install it on the remote host, or give its full path there");
    }
    if (c.start_error.empty() && !c.output.timed_out && c.output.exit_code == 4) {
        throw Error(ErrorCategory::kNoPermission,
                    fmt::format("run: {}workload '{}': command '{}' on {} is not an executable "
                                "file (environment '{}')",
                                to_string(workload.where), workload.name, workload.command.at(0),
                                target, m_spec.name),
                    "make it executable (chmod +x) or run it through its interpreter");
    }
    if (!c.start_error.empty() || c.output.timed_out || c.output.exit_code != 0) {
        throw failure(c, fmt::format("looking up command '{}'", workload.command.at(0)));
    }
}

void SshEnvironment::prepare() {
    const std::string nonce = ssh::make_nonce();
    const std::string separator = "@joulebench-ssh:" + nonce + ":next";
    const std::string jb = ssh::shell_quote(m_spec.remote_joulebench);
    const std::string sep = "printf '\\n%s\\n' " + ssh::shell_quote(separator);
    const std::string script = jb + " --version 2>&1; " + sep + "; uname -a 2>&1; " + sep + "; " +
                               jb + " sensors --json 2>/dev/null";
    const Captured c = run_captured(ssh_argv(script), kCheckTimeout);
    const std::string target = remote_target(m_spec);
    if (!c.start_error.empty() || c.output.timed_out || c.output.exit_code == 255) {
        std::string message = !c.start_error.empty() ? c.start_error
                              : c.output.timed_out
                                  ? fmt::format("no answer within {} s", kCheckTimeout.count())
                                  : last_line(c.output.err);
        throw Error(ErrorCategory::kIo,
                    fmt::format("{}: ssh to {} failed: {}", where(), target, message),
                    "the host answered when the experiment was validated; check that it is "
                    "still up");
    }
    nlohmann::ordered_json d;
    d["type"] = "ssh";
    d["host"] = m_spec.host;
    d["user"] =
        m_spec.user.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(m_spec.user);
    d["port"] =
        m_spec.port ? nlohmann::ordered_json(*m_spec.port) : nlohmann::ordered_json(nullptr);
    d["remote_joulebench"] = m_spec.remote_joulebench;
    std::vector<std::string> parts;
    std::size_t start = 0;
    const std::string marker = "\n" + separator + "\n";
    for (;;) {
        const auto at = c.output.out.find(marker, start);
        if (at == std::string::npos) {
            parts.push_back(c.output.out.substr(start));
            break;
        }
        parts.push_back(c.output.out.substr(start, at - start));
        start = at + marker.size();
    }
    d["remote_version"] = parts.size() > 0 ? trim_output(parts[0]) : std::string();
    d["remote_uname"] = parts.size() > 1 ? trim_output(parts[1]) : std::string();
    nlohmann::ordered_json sensors = nlohmann::ordered_json::array();
    if (parts.size() > 2) {
        const auto doc = nlohmann::json::parse(parts[2], nullptr, false);
        if (!doc.is_discarded() && doc.is_object() && doc.contains("sensors") &&
            doc["sensors"].is_array()) {
            m_remote_sensors = doc.dump();
            for (const auto& s : doc["sensors"]) {
                nlohmann::ordered_json o;
                for (const char* key : {"id", "kind", "method", "backend", "name", "pci_bus_id"}) {
                    o[key] = s.contains(key) ? s[key] : nlohmann::json(nullptr);
                }
                sensors.push_back(std::move(o));
            }
        } else {
            d["remote_sensors_error"] = "`joulebench sensors --json` gave no readable document";
        }
    }
    d["remote_sensors"] = std::move(sensors);
    m_description = d.dump();
}

void SshEnvironment::check_caps(const std::vector<double>& gpu_caps_w,
                               const std::vector<double>& cpu_caps_w,
                               const std::vector<int>& gpus) const {
    const std::string target = remote_target(m_spec);
    const auto doc = nlohmann::json::parse(m_remote_sensors.empty() ? "{}" : m_remote_sensors,
                                           nullptr, false);
    if (doc.is_discarded() || !doc.contains("sensors")) {
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("{}: check the caps on {}: its `joulebench sensors --json` gave "
                                "no readable document",
                                where(), target));
    }
    // The first limit of a device with a range (NVML: "power limit"; RAPL: "long_term").
    const auto range = [](const nlohmann::json& sensor) {
        std::optional<std::pair<double, double>> r;
        if (!sensor.contains("limits") || !sensor["limits"].is_array()) return r;
        for (const auto& l : sensor["limits"]) {
            const bool has_min = l.contains("min_w") && l["min_w"].is_number();
            const bool has_max = l.contains("max_w") && l["max_w"].is_number();
            if (has_max) {
                r = {has_min ? l["min_w"].get<double>() : 0.0, l["max_w"].get<double>()};
                return r;
            }
        }
        return r;
    };
    const auto check = [&](const std::string& kind, const std::vector<double>& caps,
                           const std::string& what) {
        if (caps.empty()) return;
        bool any = false;
        for (const auto& s : doc["sensors"]) {
            if (s.value("kind", std::string()) != kind) continue;
            const int index = s.value("index", -1);
            if (kind == "gpu" && !gpus.empty() &&
                std::find(gpus.begin(), gpus.end(), index) == gpus.end()) {
                continue;
            }
            any = true;
            const auto r = range(s);
            if (!r) continue;  // no range known: the remote measure checks when it sets it
            for (const double w : caps) {
                if (w < r->first || w > r->second) {
                    throw Error(ErrorCategory::kInvalidArgument,
                                fmt::format("{}: {} cap {} W is outside the range of {} on {}: "
                                            "[{} W, {} W]",
                                            where(), what, format_watts(w),
                                            s.value("id", std::string("?")), target,
                                            format_watts(r->first), format_watts(r->second)),
                                "choose caps within every device's range");
                }
            }
        }
        if (!any) {
            throw Error(ErrorCategory::kNotSupported,
                        fmt::format("{}: {} caps asked for, but {} has no {} that joulebench "
                                    "can read",
                                    where(), what, target, kind == "gpu" ? "GPU" : "CPU package"));
        }
    };
    check("gpu", gpu_caps_w, "GPU");
    check("package", cpu_caps_w, "CPU");
}

std::string SshEnvironment::describe() const {
    if (!m_description.empty()) return m_description;
    nlohmann::ordered_json d;
    d["type"] = "ssh";
    d["host"] = m_spec.host;
    return d.dump();
}

InstanceResult SshEnvironment::execute(const WorkloadInstance& instance,
                                       InstanceObserver* observer) {
    (void)observer;  // nothing of the workload runs here
    InstanceResult result;
    const std::string target = remote_target(m_spec);
    auto not_started = [&](std::string why, int code) {
        result.end = InstanceResult::End::kNotStarted;
        result.start_error = std::move(why);
        result.exit_code = code;
        if (result.started_at == 0.0) result.started_at = unix_now();
        result.start_time = result.end_time = Clock::now();
        return result;
    };

    ssh::RemoteRun run;
    run.nonce = ssh::make_nonce();
    run.remote_joulebench = m_spec.remote_joulebench;
    run.env = instance.env;
    run.command = instance.command;
    run.gpu = instance.gpu;
    run.gpu_cap_w = instance.gpu_cap_w;
    run.cpu_cap_w = instance.cpu_cap_w;
    run.kill_grace = instance.kill_grace;
    run.interval = instance.interval;
    std::vector<std::string> argv;
    try {
        argv = ssh_argv(ssh::remote_command(run));
    } catch (const Error& e) {
        return not_started(e.what(), 2);
    }

    UniqueFd out_file(
        ::open(instance.stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    UniqueFd err_file(
        ::open(instance.stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out_file.open() || !err_file.open()) {
        return not_started(
            fmt::format("run: open {}: {}",
                        (out_file.open() ? instance.stderr_file : instance.stdout_file).string(),
                        std::strerror(errno)),
            126);
    }
    UniqueFd in_r;
    UniqueFd in_w;
    UniqueFd out_r;
    UniqueFd out_w;
    if (!make_pipe(in_r, in_w) || !make_pipe(out_r, out_w)) {
        return not_started(fmt::format("run: create a pipe: {}", std::strerror(errno)), 126);
    }
    int spawn_errno = 0;
    result.start_time = Clock::now();
    result.started_at = unix_now();
    const pid_t pid = spawn_process(argv, in_r.get(), out_w.get(), err_file.get(), spawn_errno);
    if (pid < 0) {
        return not_started(fmt::format("run: start ssh: {}", std::strerror(spawn_errno)),
                           spawn_errno == ENOENT ? 127 : 126);
    }
    in_r.reset();
    out_w.reset();
    err_file.reset();
    ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);

    int write_errno = 0;
    // The remote measurement, read once all of its JSON is here: at the trace's first bytes,
    // which come right after it, or after the session ended.
    const std::string* json_text = nullptr;
    std::optional<MeasureResult> measured;
    std::string measured_error;
    bool measured_read = false;
    auto read_measurement = [&] {
        if (measured_read) return;
        measured_read = true;
        try {
            measured = measure_from_json(nlohmann::ordered_json::parse(*json_text));
        } catch (const std::exception& e) {
            measured_error = e.what();
        }
    };
    // The trace goes row by row into the instance's sink (the store) as it arrives; it is checked
    // against the measurement's domains, so it is read only when the measurement could be.
    std::unique_ptr<ssh::TraceCsvParser> trace;
    auto on_trace = [&](std::string_view data) {
        if (instance.trace == nullptr) return;
        if (!trace) {
            read_measurement();
            if (!measured) return;
            std::vector<SensorInfo> domains;
            for (const auto& d : measured->domains) domains.push_back(d.info);
            trace = std::make_unique<ssh::TraceCsvParser>(*instance.trace, std::move(domains));
        }
        trace->feed(data);
    };
    ssh::OutputDemux demux(
        run.nonce,
        [&](std::string_view data) {
            while (!data.empty() && write_errno == 0) {
                const ssize_t n = ::write(out_file.get(), data.data(), data.size());
                if (n < 0) {
                    if (errno == EINTR) continue;
                    write_errno = errno;  // keep reading: ssh must never block on a full pipe
                    break;
                }
                data.remove_prefix(static_cast<std::size_t>(n));
            }
        },
        kMaxJsonBytes, on_trace);
    json_text = &demux.json();

    std::optional<Clock::time_point> deadline;
    if (instance.timeout) deadline = result.start_time + *instance.timeout;
    const milliseconds grace = instance.kill_grace + kRemoteMargin;
    std::optional<InstanceResult::End> ended_by;  // timeout or stop
    std::optional<Clock::time_point> term_at;     // SIGTERM to the local ssh due
    std::optional<Clock::time_point> kill_at;     // then SIGKILL
    bool killed = false;
    std::optional<WaitStatus> ssh_status;
    std::optional<Clock::time_point> drain_until;
    for (;;) {
        if (out_r.open()) {
            pollfd p{out_r.get(), POLLIN, 0};
            ::poll(&p, 1, 50);
            if (!read_available(out_r.get(), [&](std::string_view d) { demux.feed(d); })) {
                out_r.reset();
            }
        } else {
            ::usleep(20'000);
        }
        const auto now = Clock::now();
        // The whole result is here: closing stdin lets the remote session end at once (the
        // watcher holds the session open until then, docs/ssh.md).
        if (demux.complete() && in_w.open()) {
            in_w.reset();
            if (!term_at) term_at = now + grace;
        }
        if (!ssh_status) {
            int status = 0;
            const pid_t done = ::waitpid(pid, &status, WNOHANG);
            if (done == pid) {
                ssh_status = decode(status);
                drain_until = now + kDrainAfterExit;
            }
        }
        if (ssh_status && (!out_r.open() || now >= *drain_until)) break;
        if (!ended_by && !demux.json_complete()) {
            const bool stop = instance.stop != nullptr && instance.stop->load();
            const bool late = deadline && now >= *deadline;
            if (stop || late) {
                ended_by =
                    stop ? InstanceResult::End::kInterrupted : InstanceResult::End::kTimedOut;
                in_w.reset();  // the remote watcher ends the workload
                term_at = now + grace;
            }
        } else if (!ended_by && !demux.complete() && in_w.open() && instance.stop != nullptr &&
                   instance.stop->load()) {
            // The measurement is here and only the trace is still coming: the run is not
            // interrupted, but the experiment stops now (the trace is cut off, with a warning).
            in_w.reset();
            if (!term_at) term_at = now + grace;
        }
        if (!ssh_status && term_at && !kill_at && now >= *term_at) {
            ::kill(-pid, SIGTERM);
            kill_at = now + kTermToKill;
        } else if (!ssh_status && kill_at && !killed && now >= *kill_at) {
            ::kill(-pid, SIGKILL);
            killed = true;
        }
    }
    demux.finish();
    if (trace) trace->finish();  // the sink's last rows are written
    result.end_time = Clock::now();
    // Whatever ssh left in its group (a ProxyCommand) does not outlive the run.
    if (::kill(-pid, 0) == 0) ::kill(-pid, SIGKILL);
    out_file.reset();

    const WaitStatus ssh_end = *ssh_status;
    auto note = [&](const std::string& text) {
        result.warnings.push_back(text);
        append_line(instance.stderr_file, "joulebench: " + text);
    };
    if (write_errno != 0) {
        result.warnings.push_back(fmt::format("ssh: write the workload's output to {}: {}",
                                              instance.stdout_file.string(),
                                              std::strerror(write_errno)));
    }
    if (demux.preamble_bytes() > 0) {
        result.warnings.push_back(fmt::format(
            "ssh: the remote login shell printed {} bytes before the command started (not part "
            "of the workload's output): '{}'; remove such output from the remote shell's start-up "
            "files",
            demux.preamble_bytes(), last_line(demux.preamble_text())));
    }

    if (!demux.started()) {
        const std::string message =
            last_line(std::string_view(last_error_line(instance.stderr_file)));
        const std::string why = fmt::format(
            "ssh: {} on {}: {} (ssh exit status {})",
            ssh_end.exit_code == 255 ? "connection failed" : "the remote command did not start",
            target, message.empty() ? "no message" : message, ssh_end.exit_code);
        if (ended_by) {
            result.end = *ended_by;
            result.exit_code = ssh_end.exit_code;
            note(why + "; the run was ended before the remote command started");
            return result;
        }
        note(why + "; the workload did not run (not a workload failure)");
        result.end = InstanceResult::End::kNotStarted;
        result.start_error = why;
        result.exit_code = ssh_end.exit_code;
        return result;
    }

    if (!demux.ended()) {
        // The script never reached its end line: the connection broke, or something killed the
        // remote shell. The remote watcher ends the workload when sshd closes the session.
        result.end = ended_by.value_or(InstanceResult::End::kExited);
        result.exit_code = ssh_end.exit_code == 0 ? 255 : ssh_end.exit_code;
        result.signal = std::nullopt;
        note(fmt::format(
            "ssh: the connection to {} ended before the remote measurement came back (ssh exit "
            "status {}{}): no measurement; the remote side ends the workload when it sees the "
            "session close",
            target, ssh_end.exit_code,
            ssh_end.signal ? fmt::format(", signal {}", *ssh_end.signal) : std::string()));
        return result;
    }

    const int remote_status = *demux.remote_status();
    if (!demux.error().empty()) note("ssh: " + demux.error());
    if (demux.trailing_bytes() > 0) {
        result.warnings.push_back(fmt::format(
            "ssh: {} bytes of output came after the measurement (from processes the workload "
            "left behind); they were added to the end of the stdout file",
            demux.trailing_bytes()));
    }
    if (demux.json_complete() && demux.json_length() > 0) {
        read_measurement();
        if (measured) {
            result.exit_code = measured->exit_code;
            result.signal = measured->signal;
            result.started_at = measured->started_at;
            result.cpu_user_s = measured->cpu_user_s;
            result.cpu_system_s = measured->cpu_system_s;
            for (const auto& cap : measured->power_caps) {
                if (!cap.restored) {
                    note(
                        fmt::format("ssh: the cap of {} on {} was NOT restored: {}; run "
                                    "`joulebench caps restore` there",
                                    cap.label, target, cap.restore_error));
                }
            }
            if (remote_status != measured->exit_code && !ended_by) {
                result.warnings.push_back(fmt::format(
                    "ssh: the remote joulebench measure exited with status {} (the workload's "
                    "was {}); see the stderr file",
                    remote_status, measured->exit_code));
            }
            if (instance.trace != nullptr) {
                if (auto w = trace_warning(demux, trace.get(), measured->samples, target)) {
                    result.warnings.push_back(std::move(*w));
                }
            }
            result.measured = std::move(measured);
        } else {
            note(fmt::format("ssh: the measurement from {} could not be read: {}", target,
                             measured_error));
            result.exit_code = remote_status;
        }
    } else if (demux.json_length() > 0) {
        note(fmt::format("ssh: the measurement from {} was cut off ({} of {} bytes arrived)",
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
        if (!ended_by) {
            result.end = InstanceResult::End::kNotStarted;
            result.start_error = why;
            result.exit_code = remote_status;
            return result;
        }
        result.warnings.push_back(why);
        result.exit_code = remote_status;
    }
    if (ended_by) result.end = *ended_by;
    return result;
}

}  // namespace joulebench::environments
