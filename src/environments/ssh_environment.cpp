#include "environments/ssh_environment.hpp"

#include <fcntl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/shell_words.hpp"
#include "common/strings.hpp"
#include "common/unique_fd.hpp"
#include "environments/ssh_remote.hpp"
#include "environments/ssh_run.hpp"
#include "images/command_output.hpp"
#include "joulebench/error.hpp"
#include "joulebench/units.hpp"
#include "measure/process.hpp"

namespace joulebench::environments {

namespace {

using std::chrono::milliseconds;

// How long the output of a check's ssh is still read after it ended (only something it
// started, e.g. a ProxyCommand, could hold it).
constexpr milliseconds kDrainAfterExit{2000};
constexpr std::size_t kCaptureLimit = 8U << 20U;

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
    std::vector<std::string> check{"ssh", "-o", "BatchMode=yes"};
    if (m_spec.port) check.insert(check.end(), {"-p", std::to_string(*m_spec.port)});
    if (!m_spec.identity_file.empty()) check.insert(check.end(), {"-i", m_spec.identity_file});
    if (!m_spec.user.empty()) check.insert(check.end(), {"-l", m_spec.user});
    check.insert(check.end(), {m_spec.host, "true"});
    // Quoted where needed: the hint is meant to be pasted into a shell.
    const std::string check_hint = fmt::format(
        "`{}` must work without any prompt (key in an agent or identity_file, host key known); "
        "check host, user, port, identity_file and ssh_options",
        shell_line(check));
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
    ssh::SshProcess client;
    try {
        ssh::start_ssh(argv, err_file.get(), client);
    } catch (const Error& e) {
        result.started_at = client.started_at;  // set when the spawn itself failed
        return not_started(e.what(), e.exit_code());
    }
    result.start_time = client.start_time;
    result.started_at = client.started_at;
    err_file.reset();

    ssh::RemoteOutput output(run.nonce, out_file.get(), instance.trace);
    const ssh::SessionEnd end = ssh::follow_session(client, output, instance, result.start_time,
                                                    instance.kill_grace + kRemoteMargin);
    result.end_time = end.end_time;
    out_file.reset();
    ssh::read_result(output, end, instance, remote_target(m_spec), result);
    return result;
}

}  // namespace joulebench::environments
