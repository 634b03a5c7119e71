#include "environments/container_environment.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/random_hex.hpp"
#include "common/unique_fd.hpp"
#include "environments/container_cgroup.hpp"
#include "environments/container_engine.hpp"
#include "environments/container_owner.hpp"
#include "environments/hold_channel.hpp"
#include "environments/instance_stop.hpp"
#include "images/command_output.hpp"
#include "images/image_inspect.hpp"
#include "joulebench/error.hpp"
#include "joulebench/units.hpp"
#include "measure/process.hpp"

namespace joulebench::environments {

namespace fs = std::filesystem;

namespace {

// How long the container has, after `start` returned, to run joulebench-hold up to its
// "ready" (an image on a slow disk, a busy machine); the state is checked every second.
constexpr auto kReadyTimeout = std::chrono::seconds(60);
// Limit for engine commands outside the measured run (create, start, rm, inspect).
constexpr auto kEngineTimeout = std::chrono::seconds(120);

images::CommandOptions engine_options() {
    images::CommandOptions options;
    options.timeout = kEngineTimeout;
    return options;
}

}  // namespace

struct ContainerEnvironment::Instance {
    std::string name;
    fs::path run_dir;
    HoldChannel hold;
    pid_t pid = -1;  // joulebench-hold, as this machine's pid namespace sees it
    std::optional<CgroupCpuFiles> cgroup;
    std::optional<CgroupCpu> cpu_before;
    std::optional<CgroupCpu> cpu_last;  // the last reading before the container may be gone
    bool create_attempted = false;
    bool created = false;
};

ContainerEnvironment::ContainerEnvironment(EnvironmentSpec spec)
    : m_spec(std::move(spec)),
      m_binary(container_engine_binary(m_spec.type)),
      m_hold(container_hold_path()) {
    if (m_spec.type != EnvironmentType::kDocker && m_spec.type != EnvironmentType::kPodman) {
        throw Error(ErrorCategory::kInternal,
                    fmt::format("run: environment '{}': not a container type", m_spec.name));
    }
}

ContainerEnvironment::~ContainerEnvironment() {
    tear_down();
}

std::string ContainerEnvironment::engine_name() const {
    return m_spec.type == EnvironmentType::kPodman ? "podman" : "docker";
}

std::string ContainerEnvironment::where() const {
    return fmt::format("{}environment '{}'", to_string(m_spec.where), m_spec.name);
}

void ContainerEnvironment::validate(const WorkloadSpec& workload) const {
    (void)workload;  // the command is resolved inside the image, at run time (exit 127)
    const std::string engine = engine_name();
    try {
        process::resolve_command(m_binary);
    } catch (const Error& e) {
        throw Error(e.category(),
                    fmt::format("run: {}: {} ({}) is not installed or not executable", where(),
                                engine, m_binary),
                    engine == "docker" ? "install it (apt-get install docker.io) or set "
                                         "JOULEBENCH_DOCKER to the docker client"
                                       : "install it (apt-get install podman) or set "
                                         "JOULEBENCH_PODMAN to the podman executable");
    }
    std::error_code ec;
    if (!fs::is_regular_file(m_hold, ec) || ::access(m_hold.c_str(), X_OK) != 0) {
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("run: {}: the container entrypoint {} is missing", where(),
                                m_hold.string()),
                    "joulebench-hold is built and installed with joulebench (cmake --build DIR "
                    "--target joulebench-hold); or set JOULEBENCH_HOLD to it");
    }
    // The image is the environment's, whatever the workload: one `image inspect` answers for
    // every workload validated.
    const std::lock_guard lock(m_validate_mutex);
    if (m_image_validated) return;
    const images::CommandOptions options = engine_options();
    const auto image = images::run_command({m_binary, "image", "inspect", m_spec.image}, options);
    if (image.exit_code == 0) {
        m_image_validated = true;
        return;
    }
    // Missing image, or an engine that does not answer? `version` tells them apart without
    // parsing the engines' wording.
    const auto version = images::run_command({m_binary, "version"}, options);
    if (version.exit_code != 0) {
        throw Error(ErrorCategory::kIo,
                    fmt::format("run: {}: {} does not answer: {}", where(), engine,
                                engine_message(version)),
                    engine == "docker" ? "start the docker daemon, or point DOCKER_HOST at it"
                                       : "check `podman info`");
    }
    throw Error(ErrorCategory::kNotFound,
                fmt::format("run: {}: image '{}' is not in {}'s local store: {}", where(),
                            m_spec.image, engine, engine_message(image)),
                fmt::format("joulebench never pulls inside a run (a pull would be measured or "
                            "delay the runs): pull or build it first, e.g. `{} pull {}`",
                            engine, m_spec.image));
}

void ContainerEnvironment::prepare() {
    const std::string engine = engine_name();
    const images::CommandOptions options = engine_options();
    const auto version =
        images::run_command({m_binary, "version", "--format",
                             engine == "docker" ? "{{.Server.Version}}" : "{{.Client.Version}}"},
                            options);
    if (version.exit_code != 0) {
        throw Error(ErrorCategory::kIo, fmt::format("run: {}: {} version: {}", where(), engine,
                                                    engine_message(version)));
    }
    m_version = trim_answer(version.out);

    const auto image = images::run_command({m_binary, "image", "inspect", m_spec.image}, options);
    if (image.exit_code != 0) {
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("run: {}: image '{}' is not in {}'s local store: {}", where(),
                                m_spec.image, engine, engine_message(image)),
                    "pull or build it first");
    }
    record_image(image.out);

    // The image audit (`joulebench image inspect`: layers, variables, Python/PyTorch/CUDA
    // inside), stored with the session so that every run of this environment has it. Its probe
    // container runs here, before any measurement; an audit that fails is noted, not fatal. It
    // is given the engine's answers above rather than asking the same again.
    m_audit_json.clear();
    m_audit_error.clear();
    try {
        images::InspectOptions audit;
        audit.inspected = image;
        audit.engine_version = images::last_line(version.out);
        m_audit_json = images::to_json(images::inspect_image(engine, m_spec.image, audit)).dump();
    } catch (const std::exception& e) {
        m_audit_error = e.what();
    }

    // Containers of a joulebench of this machine that is no longer running: a crash (SIGKILL,
    // power loss) skipped their removal. The helper in them already ended their workload when
    // the crashed joulebench's socket closed; only the containers themselves are left.
    m_removed_leftovers = remove_leftover_containers(m_binary, kEngineTimeout);
    make_session_dir();
}

void ContainerEnvironment::record_image(const std::string& inspect_output) {
    try {
        const auto doc = nlohmann::json::parse(inspect_output);
        const auto& info = doc.is_array() ? doc.at(0) : doc;
        m_image_id = info.value("Id", std::string{});
        if (info.contains("Size") && info["Size"].is_number_unsigned())
            m_image_size = info["Size"].get<std::uint64_t>();
        m_entrypoint.clear();
        if (info.contains("Config") && info["Config"].is_object()) {
            const auto& config = info["Config"];
            if (config.contains("Entrypoint") && config["Entrypoint"].is_array()) {
                for (const auto& e : config["Entrypoint"])
                    m_entrypoint.push_back(e.get<std::string>());
            }
        }
    } catch (const std::exception& e) {
        throw Error(ErrorCategory::kIo,
                    fmt::format("run: {}: {} image inspect {}: unreadable output: {}", where(),
                                engine_name(), m_spec.image, e.what()));
    }
}

// The session folder for the per-run folders (sockets). Folders of crashed joulebench runs are
// removed here too.
void ContainerEnvironment::make_session_dir() {
    const std::string prefix = "joulebench-" + engine_name() + "-";
    const fs::path tmp = fs::temp_directory_path();
    remove_leftover_folders(tmp, prefix);
    std::string tmpl = (tmp / (prefix + "XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
        throw system_error(fmt::format("run: {}: create a folder in {}", where(), tmp.string()),
                           errno);
    }
    m_session_dir = tmpl;
    std::ofstream(m_session_dir / "owner") << container_owner_label() << '\n';
    // Containers running as another user must reach the per-run sockets through the bind mount
    // only; the session folder itself stays private.
    ::chmod(m_session_dir.c_str(), 0700);
}

std::string ContainerEnvironment::describe() const {
    try {
        nlohmann::json j;
        j["engine"] = engine_name();
        j["binary"] = m_binary;
        j["version"] = m_version;
        j["image"] = m_spec.image;
        j["image_id"] = m_image_id;
        j["image_size_bytes"] = m_image_size;
        j["entrypoint"] = m_entrypoint;
        j["run_args"] = m_spec.run_args;
        j["removed_leftovers"] = m_removed_leftovers;
        if (!m_audit_json.empty()) {
            j["audit"] = nlohmann::json::parse(m_audit_json);
        } else if (!m_audit_error.empty()) {
            j["audit_error"] = m_audit_error;
        }
        if (m_removed_leftovers > 0) {
            j["warning"] = fmt::format(
                "removed {} container(s) left by a joulebench that crashed on this machine",
                m_removed_leftovers);
        }
        return j.dump();
    } catch (...) {
        return "{}";
    }
}

std::shared_ptr<ContainerEnvironment::Instance> ContainerEnvironment::find(
    const std::string& run_id) {
    const std::lock_guard lock(m_mutex);
    const auto it = m_instances.find(run_id);
    return it == m_instances.end() ? nullptr : it->second;
}

void ContainerEnvironment::begin_instance(const WorkloadInstance& instance, PhaseRecorder& phases) {
    if (m_session_dir.empty()) {
        throw Error(ErrorCategory::kInternal,
                    fmt::format("run: {}: begin_instance before prepare", where()));
    }
    auto inst = std::make_shared<Instance>();
    {
        const std::lock_guard lock(m_mutex);
        m_instances[instance.key()] = inst;
    }
    inst->name = fmt::format("joulebench-{}-{}", instance.key(), random_hex(4));

    // The run folder and the socket joulebench-hold connects to.
    std::string tmpl = (m_session_dir / (instance.key() + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr)
        throw system_error(fmt::format("run: {}: create a run folder", where()), errno);
    inst->run_dir = tmpl;
    ::chmod(inst->run_dir.c_str(), 0755);  // any user of the container reaches the socket
    inst->hold.listen(inst->run_dir / kSocketName, "run: " + where());

    ContainerCreateRequest request;
    request.engine = m_spec.type;
    request.binary = m_binary;
    request.name = inst->name;
    request.run_id = instance.run_id;
    request.environment = m_spec.name;
    request.owner = container_owner_label();
    request.image = m_spec.image;
    request.run_args = m_spec.run_args;
    request.entrypoint = m_entrypoint;
    request.command = instance.command;
    request.env = instance.env;
    request.gpu = instance.gpu;
    request.gpu_device = instance.gpu_device;
    request.hold = m_hold;
    request.run_dir = inst->run_dir;
    request.marks = instance.marks_file;
    const std::vector<std::string> create = container_create_argv(request);

    phases.phase("container-create", [&] {
        inst->create_attempted = true;
        const auto out = images::run_command(create, engine_options());
        if (out.exit_code != 0) {
            throw Error(ErrorCategory::kIo,
                        fmt::format("run: {}: {} create {}: {}", where(), engine_name(),
                                    m_spec.image, engine_message(out)));
        }
        inst->created = true;
    });
    phases.phase("container-start", [&] { start_container(*inst); });

    inst->pid = inst->hold.peer_pid();
    if (inst->pid > 0) inst->cgroup = find_cgroup_cpu(inst->pid);
}

void ContainerEnvironment::start_container(Instance& inst) {
    const images::CommandOptions options = engine_options();
    const auto out = images::run_command({m_binary, "start", inst.name}, options);
    if (out.exit_code != 0) {
        throw Error(ErrorCategory::kIo, fmt::format("run: {}: {} start {}: {}", where(),
                                                    engine_name(), inst.name, engine_message(out)));
    }
    // Started means: joulebench-hold runs in the container and said "ready".
    const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
    while (!inst.hold.connected()) {
        if (inst.hold.wait_connection(std::chrono::seconds(1))) continue;
        const auto state = images::run_command(
            {m_binary, "inspect", "--format", "{{.State.Status}}", inst.name}, options);
        const std::string status = trim_answer(state.out);
        // docker: created, running, exited, dead; podman also configured, initialized,
        // stopped. Anything that will not become "ready" ends the wait.
        if (state.exit_code != 0 || status == "exited" || status == "dead" || status == "stopped" ||
            status == "removing") {
            const auto logs = images::run_command({m_binary, "logs", inst.name}, options);
            throw Error(ErrorCategory::kIo,
                        fmt::format("run: {}: container {} ended before its workload "
                                    "started ({}): {}",
                                    where(), inst.name, status.empty() ? "gone" : status,
                                    images::last_line(logs.err + logs.out)));
        }
        if (std::chrono::steady_clock::now() > deadline) {
            throw Error(ErrorCategory::kIo,
                        fmt::format("run: {}: container {} did not start joulebench-hold "
                                    "within {} s",
                                    where(), inst.name, kReadyTimeout.count()));
        }
    }
    if (!inst.hold.wait_ready(kReadyTimeout)) {
        throw Error(ErrorCategory::kIo,
                    fmt::format("run: {}: container {}: joulebench-hold did not say ready", where(),
                                inst.name));
    }
}

InstanceResult ContainerEnvironment::execute(const WorkloadInstance& instance,
                                             InstanceObserver* observer) {
    InstanceResult result;
    const std::shared_ptr<Instance> inst = find(instance.key());
    const auto not_started = [&](std::string why) {
        result.end = InstanceResult::End::kNotStarted;
        result.start_error = std::move(why);
        result.exit_code = hold::kExitSetupFailed;
        result.start_time = result.end_time = Clock::now();
        result.started_at = unix_now();
        return result;
    };
    if (!inst || !inst->hold.connected()) {
        return not_started(fmt::format("run: {}: the container was not started", where()));
    }
    const UniqueFd out(
        ::open(instance.stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    const UniqueFd err(
        ::open(instance.stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (out.get() < 0 || err.get() < 0) {
        return not_started(fmt::format("run: open {} / {}: {}", instance.stdout_file.string(),
                                       instance.stderr_file.string(), std::strerror(errno)));
    }
    if (inst->cgroup) inst->cpu_before = read_cgroup_cpu(*inst->cgroup);
    inst->cpu_last = inst->cpu_before;

    result.start_time = Clock::now();
    result.started_at = unix_now();
    if (!inst->hold.send_go(out.get(), err.get())) {
        return not_started(fmt::format("run: {}: container {}: start the workload: {}", where(),
                                       inst->name, std::strerror(errno)));
    }
    if (observer != nullptr && inst->pid > 0) observer->started(inst->pid);

    bool killed = false;
    const std::optional<std::string> message = wait_for_report(*inst, instance, result, killed);
    std::optional<CgroupCpu> cpu_after;
    if (const auto report = message ? parse_hold_report(*message) : std::nullopt) {
        if (inst->cgroup) cpu_after = read_cgroup_cpu(*inst->cgroup);
        inst->hold.release();
        if (WIFEXITED(report->wait_status)) {
            result.exit_code = WEXITSTATUS(report->wait_status);
        } else if (WIFSIGNALED(report->wait_status)) {
            result.signal = WTERMSIG(report->wait_status);
            result.exit_code = 128 + WTERMSIG(report->wait_status);
        }
        result.left_processes = report->left_processes;
        if (report->exec_errno != 0 && result.end == InstanceResult::End::kExited) {
            result.end = InstanceResult::End::kNotStarted;
            result.start_error =
                fmt::format("run: {}: container {}: start '{}': {}", where(), inst->name,
                            instance.command.empty() ? "" : instance.command.front(),
                            std::strerror(report->exec_errno));
        }
    } else {
        cpu_after = inst->cpu_last;
        end_without_report(*inst, killed, result);
    }
    inst->hold.disconnect();  // joulebench-hold exits (it waited for "release" or this close)
    if (inst->cpu_before && cpu_after) {
        result.cpu_user_s = std::max(0.0, cpu_after->user_s - inst->cpu_before->user_s);
        result.cpu_system_s = std::max(0.0, cpu_after->system_s - inst->cpu_before->system_s);
    } else {
        result.warnings.push_back(make_warning(
            warning_code::kContainer,
            fmt::format(
                "container {}: its cgroup's CPU time could not be read (joulebench and the engine "
                "must share this machine's pid namespace and cgroup mounts)",
                inst->name)));
    }
    if (observer != nullptr && inst->pid > 0)
        observer->reaped(inst->pid, result.cpu_user_s + result.cpu_system_s);
    return result;
}

std::optional<std::string> ContainerEnvironment::wait_for_report(Instance& inst,
                                                                 const WorkloadInstance& instance,
                                                                 InstanceResult& result,
                                                                 bool& killed) {
    const auto engine_kill = [&](const char* signal) {
        const auto r =
            images::run_command({m_binary, "kill", "-s", signal, inst.name}, engine_options());
        if (r.exit_code != 0) {
            result.warnings.push_back(make_warning(
                warning_code::kContainer, fmt::format("{} kill -s {} {}: {}", engine_name(), signal,
                                                      inst.name, engine_message(r))));
        }
    };
    InstanceStop stop(instance, result.start_time);
    for (;;) {
        if (inst.hold.wait_message(std::chrono::milliseconds(50))) {
            std::optional<std::string> report = inst.hold.receive();
            result.end_time = Clock::now();
            killed = stop.killed();
            return report;  // the report, or the end of the stream (the helper is gone)
        }
        stop.check(
            Clock::now(),
            [&](InstanceResult::End why) {
                result.end = why;
                engine_kill("TERM");  // joulebench-hold forwards it to the workload's group
            },
            [&] {
                // SIGKILL ends joulebench-hold and so the container and its cgroup: its CPU
                // time is what it was just before.
                if (inst.cgroup) {
                    if (auto c = read_cgroup_cpu(*inst.cgroup)) inst.cpu_last = c;
                }
                engine_kill("KILL");
            });
    }
}

void ContainerEnvironment::end_without_report(const Instance& inst, bool killed,
                                              InstanceResult& result) {
    // joulebench-hold ended without its report: killed (our SIGKILL, the OOM killer, a
    // `docker kill` from outside) or crashed. The engine knows the container's status.
    const std::string engine = engine_name();
    if (!killed) {
        result.warnings.push_back(make_warning(
            warning_code::kContainer,
            fmt::format("container {} ended without joulebench-hold's report; exit status from "
                        "`{} wait`, CPU time as of the start of the run",
                        inst.name, engine)));
    }
    const auto waited = images::run_command({m_binary, "wait", inst.name}, engine_options());
    int code = 0;
    if (waited.exit_code == 0 && std::sscanf(trim_answer(waited.out).c_str(), "%d", &code) == 1) {
        result.exit_code = code;
        if (code > 128 && code < 128 + NSIG) result.signal = code - 128;
    } else {
        result.exit_code = 137;
        result.signal = SIGKILL;
        result.warnings.push_back(
            make_warning(warning_code::kContainer,
                         fmt::format("{} wait {}: {}", engine, inst.name, engine_message(waited))));
    }
}

void ContainerEnvironment::end_instance(const WorkloadInstance& instance, PhaseRecorder& phases,
                                        std::vector<Warning>& warnings) noexcept {
    std::shared_ptr<Instance> inst;
    try {
        const std::lock_guard lock(m_mutex);
        const auto it = m_instances.find(instance.key());
        if (it == m_instances.end()) return;
        inst = it->second;
        m_instances.erase(it);
    } catch (...) {
        return;
    }
    inst->hold.close();  // a helper still waiting for "go" exits without running anything
    if (inst->create_attempted) {
        try {
            const auto remove = [&] {
                const auto out =
                    images::run_command({m_binary, "rm", "-f", inst->name}, engine_options());
                if (out.exit_code != 0 && inst->created) {
                    warnings.push_back(make_warning(warning_code::kContainer,
                                                    fmt::format("{} rm -f {}: {}", engine_name(),
                                                                inst->name, engine_message(out))));
                }
            };
            if (inst->created) {
                phases.phase("container-remove", remove);
            } else {
                remove();  // a failed create may still have left a container of that name
            }
        } catch (const std::exception& e) {
            try {
                warnings.push_back(
                    make_warning(warning_code::kContainer,
                                 fmt::format("remove container {}: {}", inst->name, e.what())));
            } catch (...) {
            }
        }
    }
    std::error_code ec;
    if (!inst->run_dir.empty()) fs::remove_all(inst->run_dir, ec);
}

void ContainerEnvironment::tear_down() noexcept {
    if (m_session_dir.empty()) return;
    std::error_code ec;
    fs::remove_all(m_session_dir, ec);
    m_session_dir.clear();
}

}  // namespace joulebench::environments
