#include "environments/container_environment.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include <set>
#include <sstream>
#include <thread>

#include "common/random_hex.hpp"
#include "common/unique_fd.hpp"
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

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    const auto first = s.find_first_not_of(" \t\r\n");
    return first == std::string::npos ? std::string{} : s.substr(first);
}

std::string read_small_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or empty.
std::string start_ticks(pid_t pid) {
    const std::string stat = read_small_file(fmt::format("/proc/{}/stat", pid));
    const auto close = stat.rfind(')');  // comm may contain spaces and parentheses
    if (close == std::string::npos) return {};
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 22 && fields >> field; ++i) {
        if (i == 22) return field;
    }
    return {};
}

std::string boot_id() {
    return trim(read_small_file("/proc/sys/kernel/random/boot_id"));
}

std::string host_name() {
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0) return "unknown";
    return name.data();
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_path(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            const std::string oct = s.substr(i + 1, 3);
            if (oct.size() == 3 && oct.find_first_not_of("01234567") == std::string::npos) {
                out.push_back(static_cast<char>(std::stoi(oct, nullptr, 8)));
                i += 3;
                continue;
            }
        }
        out.push_back(s[i]);
    }
    return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string part;
    std::istringstream in(s);
    while (std::getline(in, part, sep)) out.push_back(part);
    return out;
}

struct CgroupMount {
    fs::path root;   // the mount's root within the hierarchy
    fs::path point;  // where it is mounted
};

// The mount of the v1 hierarchy holding `controller`, or of the v2 unified hierarchy when
// `controller` is empty.
std::optional<CgroupMount> find_cgroup_mount(const fs::path& mountinfo,
                                             const std::string& controller) {
    std::ifstream in(mountinfo);
    for (std::string line; std::getline(in, line);) {
        const auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        std::istringstream pre(line.substr(0, dash));
        std::string id, parent, dev, root, point;
        if (!(pre >> id >> parent >> dev >> root >> point)) continue;
        std::istringstream post(line.substr(dash + 3));
        std::string type, source, options;
        if (!(post >> type >> source >> options)) continue;
        if (controller.empty()) {
            if (type != "cgroup2") continue;
        } else {
            if (type != "cgroup") continue;
            const auto opts = split(options, ',');
            if (std::find(opts.begin(), opts.end(), controller) == opts.end()) continue;
        }
        return CgroupMount{unescape_mount_path(root), unescape_mount_path(point)};
    }
    return std::nullopt;
}

fs::path cgroup_dir(const CgroupMount& mount, const std::string& cgroup_path) {
    std::string rel = cgroup_path;
    const std::string root = mount.root.string();
    if (root != "/" && rel.rfind(root, 0) == 0) rel = rel.substr(root.size());
    while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
    return rel.empty() ? mount.point : mount.point / rel;
}

std::optional<std::uint64_t> read_u64(const fs::path& path) {
    const std::string text = trim(read_small_file(path));
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    try {
        return std::stoull(text);
    } catch (...) {
        return std::nullopt;
    }
}

// "key value" lines (cpu.stat, cpuacct.stat).
std::optional<std::uint64_t> keyed_value(const std::string& text, const std::string& key) {
    std::istringstream in(text);
    std::string k;
    std::string v;
    while (in >> k >> v) {
        if (k != key) continue;
        try {
            return std::stoull(v);
        } catch (...) {
            return std::nullopt;
        }
    }
    return std::nullopt;
}

std::string random_suffix() { return random_hex(4); }

bool send_message(int fd, const std::string& text, const std::vector<int>& fds = {}) {
    iovec iov{const_cast<char*>(text.data()), text.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control;
    if (!fds.empty()) {
        control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    for (;;) {
        if (::sendmsg(fd, &msg, MSG_NOSIGNAL) >= 0) return true;
        if (errno != EINTR) return false;
    }
}

// One message; nullopt at end of stream or on error.
std::optional<std::string> receive_message(int fd) {
    std::array<char, 256> buf{};
    for (;;) {
        const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n > 0) return std::string(buf.data(), static_cast<std::size_t>(n));
        if (n < 0 && errno == EINTR) continue;
        return std::nullopt;
    }
}

// Waits up to `timeout` for `fd` to become readable (or hung up). True when it did.
bool wait_readable(int fd, std::chrono::milliseconds timeout) {
    pollfd p{fd, POLLIN, 0};
    for (;;) {
        const int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
        if (rc < 0 && errno == EINTR) continue;
        return rc > 0;
    }
}

std::string engine_message(const images::CommandOutput& out) {
    if (out.timed_out) return "timed out";
    std::string text = images::last_line(out.err);
    if (text.empty()) text = images::last_line(out.out);
    if (text.empty()) text = fmt::format("exit status {}", out.exit_code);
    return text;
}

}  // namespace

// ---- cgroups ---------------------------------------------------------------------------------

std::optional<CgroupCpuFiles> find_cgroup_cpu(pid_t pid, const fs::path& proc_root,
                                              const fs::path& mountinfo) {
    std::ifstream in(proc_root / std::to_string(pid) / "cgroup");
    if (!in) return std::nullopt;
    std::optional<std::string> v1_path;
    std::optional<std::string> v2_path;
    for (std::string line; std::getline(in, line);) {
        // "ID:CONTROLLERS:PATH"; the path may itself contain ':'.
        const auto first = line.find(':');
        const auto second = first == std::string::npos ? first : line.find(':', first + 1);
        if (second == std::string::npos) continue;
        const std::string id = line.substr(0, first);
        const std::string controllers = line.substr(first + 1, second - first - 1);
        const std::string path = line.substr(second + 1);
        if (id == "0" && controllers.empty()) {
            v2_path = path;
            continue;
        }
        const auto list = split(controllers, ',');
        if (std::find(list.begin(), list.end(), "cpuacct") != list.end()) v1_path = path;
    }
    std::error_code ec;
    if (v1_path) {
        if (const auto mount = find_cgroup_mount(mountinfo, "cpuacct")) {
            const fs::path dir = cgroup_dir(*mount, *v1_path);
            if (fs::exists(dir / "cpuacct.usage_user", ec) &&
                fs::exists(dir / "cpuacct.usage_sys", ec))
                return CgroupCpuFiles{CgroupCpuFiles::Kind::kV1Usage, dir};
            if (fs::exists(dir / "cpuacct.stat", ec))
                return CgroupCpuFiles{CgroupCpuFiles::Kind::kV1Stat, dir};
        }
    }
    if (v2_path) {
        if (const auto mount = find_cgroup_mount(mountinfo, "")) {
            const fs::path dir = cgroup_dir(*mount, *v2_path);
            if (fs::exists(dir / "cpu.stat", ec))
                return CgroupCpuFiles{CgroupCpuFiles::Kind::kV2, dir};
        }
    }
    return std::nullopt;
}

std::optional<CgroupCpu> read_cgroup_cpu(const CgroupCpuFiles& files) {
    switch (files.kind) {
        case CgroupCpuFiles::Kind::kV1Usage: {
            const auto user = read_u64(files.dir / "cpuacct.usage_user");
            const auto sys = read_u64(files.dir / "cpuacct.usage_sys");
            if (!user || !sys) return std::nullopt;
            CgroupCpu cpu{static_cast<double>(*user) * 1e-9, static_cast<double>(*sys) * 1e-9};
            // usage_user/usage_sys come from tick sampling (4 ms steps at HZ=250); cpuacct.usage
            // is the scheduler's exact total. Split the exact total in the sampled proportion,
            // as the kernel does for cgroup v2's cpu.stat (cputime_adjust).
            if (const auto total = read_u64(files.dir / "cpuacct.usage")) {
                const double exact = static_cast<double>(*total) * 1e-9;
                const double sampled = cpu.user_s + cpu.system_s;
                if (sampled > 0.0) {
                    cpu.user_s = exact * cpu.user_s / sampled;
                    cpu.system_s = exact - cpu.user_s;
                } else {
                    cpu.user_s = exact;
                }
            }
            return cpu;
        }
        case CgroupCpuFiles::Kind::kV1Stat: {
            const std::string text = read_small_file(files.dir / "cpuacct.stat");
            const auto user = keyed_value(text, "user");
            const auto sys = keyed_value(text, "system");
            const long hz = ::sysconf(_SC_CLK_TCK);
            if (!user || !sys || hz <= 0) return std::nullopt;
            return CgroupCpu{static_cast<double>(*user) / static_cast<double>(hz),
                             static_cast<double>(*sys) / static_cast<double>(hz)};
        }
        case CgroupCpuFiles::Kind::kV2: {
            const std::string text = read_small_file(files.dir / "cpu.stat");
            const auto user = keyed_value(text, "user_usec");
            const auto sys = keyed_value(text, "system_usec");
            if (!user || !sys) return std::nullopt;
            return CgroupCpu{static_cast<double>(*user) * 1e-6, static_cast<double>(*sys) * 1e-6};
        }
    }
    return std::nullopt;
}

// ---- argv --------------------------------------------------------------------------------

std::vector<std::string> container_create_argv(const ContainerCreateRequest& r) {
    for (const fs::path& p : {r.hold, r.run_dir}) {
        if (p.string().find_first_of(":,") != std::string::npos) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("run: mount {} into a container: the path contains ':' or ','",
                                    p.string()),
                        "move joulebench (and joulebench-hold) or TMPDIR to a path without them");
        }
    }
    std::vector<std::string> argv{r.binary,       "create",
                                  "--name",       r.name,
                                  "--label",      "joulebench.run_id=" + r.run_id,
                                  "--label",      "joulebench.environment=" + r.environment,
                                  "--label",      "joulebench.owner=" + r.owner,
                                  "--entrypoint", kHoldInContainer,
                                  "-v",           r.hold.string() + ":" + kHoldInContainer + ":ro",
                                  "-v",           r.run_dir.string() + ":" + kRunDirInContainer};
    if (r.gpu) {
        if (r.engine == EnvironmentType::kPodman) {
            argv.insert(argv.end(), {"--device", fmt::format("nvidia.com/gpu={}", *r.gpu)});
        } else {
            argv.insert(argv.end(), {"--gpus", fmt::format("device={}", *r.gpu)});
        }
    }
    // Later entries win (the runner appends its own after the workload's); first position kept.
    std::vector<std::pair<std::string, std::string>> env;
    for (const auto& [k, v] : r.env) {
        if (k.empty() || k.find('=') != std::string::npos) {
            throw Error(
                ErrorCategory::kInvalidArgument,
                fmt::format("run: container environment variable '{}': not a valid name", k));
        }
        auto it = std::find_if(env.begin(), env.end(), [&](const auto& e) { return e.first == k; });
        if (it != env.end()) {
            it->second = v;
        } else {
            env.emplace_back(k, v);
        }
    }
    if (r.gpu) {
        // The container sees only the slot's GPU, as its device 0: the host index the runner
        // puts in CUDA_VISIBLE_DEVICES would name a device that does not exist inside.
        auto it = std::find_if(env.begin(), env.end(),
                               [](const auto& e) { return e.first == "CUDA_VISIBLE_DEVICES"; });
        if (it != env.end()) {
            it->second = "0";
        } else {
            env.emplace_back("CUDA_VISIBLE_DEVICES", "0");
        }
    }
    for (const auto& [k, v] : env) argv.insert(argv.end(), {"-e", k + "=" + v});
    argv.insert(argv.end(), r.run_args.begin(), r.run_args.end());
    argv.push_back(r.image);
    argv.push_back(std::string(kRunDirInContainer) + "/" + kSocketName);
    argv.insert(argv.end(), r.entrypoint.begin(), r.entrypoint.end());
    argv.insert(argv.end(), r.command.begin(), r.command.end());
    return argv;
}

std::string container_engine_binary(EnvironmentType engine) {
    return images::engine_binary(engine == EnvironmentType::kPodman ? "podman" : "docker");
}

fs::path container_hold_path() {
    if (const char* v = std::getenv("JOULEBENCH_HOLD"); v != nullptr && *v != '\0') return v;
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    return (ec ? fs::path(".") : self.parent_path()) / "joulebench-hold";
}

std::string container_owner_label() {
    return fmt::format("{}/{}/{}/{}", host_name(), boot_id(), ::getpid(), start_ticks(::getpid()));
}

bool container_owner_is_stale(const std::string& owner) {
    const auto parts = split(owner, '/');
    if (parts.size() != 4) return false;  // not ours to judge
    if (parts[0] != host_name()) return false;
    if (parts[1] != boot_id()) return true;  // this machine rebooted since: the owner is gone
    pid_t pid = 0;
    try {
        pid = static_cast<pid_t>(std::stol(parts[2]));
    } catch (...) {
        return false;
    }
    if (pid == ::getpid()) return false;
    const std::string ticks = start_ticks(pid);
    return ticks.empty() || ticks != parts[3];  // gone, or the pid now belongs to another process
}

// ---- the environment -----------------------------------------------------------------------

struct ContainerEnvironment::Instance {
    std::string name;
    fs::path run_dir;
    UniqueFd listen;
    UniqueFd conn;
    pid_t pid = -1;  // joulebench-hold, as this machine's pid namespace sees it
    std::optional<CgroupCpuFiles> cgroup;
    std::optional<CgroupCpu> cpu_before;
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
    images::CommandOptions options;
    options.timeout = kEngineTimeout;
    const auto image = images::run_command({m_binary, "image", "inspect", m_spec.image}, options);
    if (image.exit_code == 0) return;
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
    images::CommandOptions options;
    options.timeout = kEngineTimeout;
    const auto version =
        images::run_command({m_binary, "version", "--format",
                             engine == "docker" ? "{{.Server.Version}}" : "{{.Client.Version}}"},
                            options);
    if (version.exit_code != 0) {
        throw Error(ErrorCategory::kIo, fmt::format("run: {}: {} version: {}", where(), engine,
                                                    engine_message(version)));
    }
    m_version = trim(version.out);

    const auto image = images::run_command({m_binary, "image", "inspect", m_spec.image}, options);
    if (image.exit_code != 0) {
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("run: {}: image '{}' is not in {}'s local store: {}", where(),
                                m_spec.image, engine, engine_message(image)),
                    "pull or build it first");
    }
    try {
        const auto doc = nlohmann::json::parse(image.out);
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
                                engine, m_spec.image, e.what()));
    }

    // The image audit (`joulebench image inspect`: layers, variables, Python/PyTorch/CUDA
    // inside), stored with the session so that every run of this environment has it. Its probe
    // container runs here, before any measurement; an audit that fails is noted, not fatal.
    m_audit_json.clear();
    m_audit_error.clear();
    try {
        m_audit_json = images::to_json(images::inspect_image(engine, m_spec.image)).dump();
    } catch (const std::exception& e) {
        m_audit_error = e.what();
    }

    // Containers of a joulebench of this machine that is no longer running: a crash (SIGKILL,
    // power loss) skipped their removal. The helper in them already ended their workload when
    // the crashed joulebench's socket closed; only the containers themselves are left.
    m_removed_leftovers = 0;
    const auto listed = images::run_command(
        {m_binary, "ps", "-a", "-q", "--no-trunc", "--filter", "label=joulebench.owner"}, options);
    if (listed.exit_code == 0) {
        std::vector<std::string> ids;
        std::istringstream in(listed.out);
        for (std::string id; in >> id;) ids.push_back(id);
        if (!ids.empty()) {
            std::vector<std::string> argv{m_binary, "inspect", "--format",
                                          "{{.Id}} {{index .Config.Labels \"joulebench.owner\"}}"};
            argv.insert(argv.end(), ids.begin(), ids.end());
            const auto owners = images::run_command(argv, options);
            std::istringstream lines(owners.out);
            std::vector<std::string> stale;
            for (std::string line; std::getline(lines, line);) {
                std::istringstream f(line);
                std::string id;
                std::string owner;
                if (f >> id >> owner && container_owner_is_stale(owner)) stale.push_back(id);
            }
            if (!stale.empty()) {
                std::vector<std::string> rm{m_binary, "rm", "-f"};
                rm.insert(rm.end(), stale.begin(), stale.end());
                if (images::run_command(rm, options).exit_code == 0)
                    m_removed_leftovers = stale.size();
            }
        }
    }

    // The session folder for the per-run folders (sockets). Folders of crashed joulebench runs
    // are removed here too.
    const fs::path tmp = fs::temp_directory_path();
    try {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(tmp, ec)) {
            const std::string name = e.path().filename().string();
            if (name.rfind("joulebench-" + engine + "-", 0) != 0) continue;
            const std::string owner = trim(read_small_file(e.path() / "owner"));
            if (!owner.empty() && container_owner_is_stale(owner)) {
                std::error_code rm_ec;
                fs::remove_all(e.path(), rm_ec);
            }
        }
    } catch (const fs::filesystem_error&) {
        // A folder that cannot be listed only keeps old run folders; nothing depends on it.
    }
    std::string tmpl = (tmp / ("joulebench-" + engine + "-XXXXXX")).string();
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
        m_instances[instance.run_id] = inst;
    }
    const std::string engine = engine_name();
    inst->name = fmt::format("joulebench-{}-{}", instance.run_id, random_suffix());

    // The run folder and the socket joulebench-hold connects to.
    std::string tmpl = (m_session_dir / (instance.run_id + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr)
        throw system_error(fmt::format("run: {}: create a run folder", where()), errno);
    inst->run_dir = tmpl;
    ::chmod(inst->run_dir.c_str(), 0755);  // any user of the container reaches the socket
    const fs::path socket_path = inst->run_dir / kSocketName;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.string().size() >= sizeof addr.sun_path) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("run: {}: socket path {} is too long for a unix socket", where(),
                                socket_path.string()),
                    "set TMPDIR to a shorter folder");
    }
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.string().size() + 1);
    inst->listen.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (inst->listen.get() < 0 ||
        ::bind(inst->listen.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(inst->listen.get(), 1) != 0) {
        throw system_error(fmt::format("run: {}: listen on {}", where(), socket_path.string()),
                           errno);
    }
    ::chmod(socket_path.c_str(), 0666);

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
    request.hold = m_hold;
    request.run_dir = inst->run_dir;
    const std::vector<std::string> create = container_create_argv(request);

    images::CommandOptions options;
    options.timeout = kEngineTimeout;
    phases.phase("container-create", [&] {
        inst->create_attempted = true;
        const auto out = images::run_command(create, options);
        if (out.exit_code != 0) {
            throw Error(ErrorCategory::kIo, fmt::format("run: {}: {} create {}: {}", where(),
                                                        engine, m_spec.image, engine_message(out)));
        }
        inst->created = true;
    });

    phases.phase("container-start", [&] {
        const auto out = images::run_command({m_binary, "start", inst->name}, options);
        if (out.exit_code != 0) {
            throw Error(ErrorCategory::kIo, fmt::format("run: {}: {} start {}: {}", where(), engine,
                                                        inst->name, engine_message(out)));
        }
        // Started means: joulebench-hold runs in the container and said "ready".
        const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
        while (inst->conn.get() < 0) {
            if (wait_readable(inst->listen.get(), std::chrono::seconds(1))) {
                const int fd = ::accept4(inst->listen.get(), nullptr, nullptr, SOCK_CLOEXEC);
                if (fd >= 0) inst->conn.reset(fd);
                continue;
            }
            const auto state = images::run_command(
                {m_binary, "inspect", "--format", "{{.State.Status}}", inst->name}, options);
            const std::string status = trim(state.out);
            // docker: created, running, exited, dead; podman also configured, initialized,
            // stopped. Anything that will not become "ready" ends the wait.
            if (state.exit_code != 0 || status == "exited" || status == "dead" ||
                status == "stopped" || status == "removing") {
                const auto logs = images::run_command({m_binary, "logs", inst->name}, options);
                throw Error(ErrorCategory::kIo,
                            fmt::format("run: {}: container {} ended before its workload "
                                        "started ({}): {}",
                                        where(), inst->name, status.empty() ? "gone" : status,
                                        images::last_line(logs.err + logs.out)));
            }
            if (std::chrono::steady_clock::now() > deadline) {
                throw Error(ErrorCategory::kIo,
                            fmt::format("run: {}: container {} did not start joulebench-hold "
                                        "within {} s",
                                        where(), inst->name, kReadyTimeout.count()));
            }
        }
        if (!wait_readable(inst->conn.get(),
                           std::chrono::duration_cast<std::chrono::milliseconds>(kReadyTimeout)) ||
            receive_message(inst->conn.get()).value_or("") != hold::kReady) {
            throw Error(ErrorCategory::kIo,
                        fmt::format("run: {}: container {}: joulebench-hold did not say ready",
                                    where(), inst->name));
        }
    });

    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(inst->conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
        inst->pid = cred.pid;
    if (inst->pid > 0) inst->cgroup = find_cgroup_cpu(inst->pid);
}

InstanceResult ContainerEnvironment::execute(const WorkloadInstance& instance,
                                             InstanceObserver* observer) {
    InstanceResult result;
    const std::shared_ptr<Instance> inst = find(instance.run_id);
    const auto not_started = [&](std::string why, int code) {
        result.end = InstanceResult::End::kNotStarted;
        result.start_error = std::move(why);
        result.exit_code = code;
        result.start_time = result.end_time = Clock::now();
        result.started_at = unix_now();
        return result;
    };
    if (!inst || inst->conn.get() < 0) {
        return not_started(fmt::format("run: {}: the container was not started", where()), hold::kExitSetupFailed);
    }
    const std::string engine = engine_name();
    const UniqueFd out(
        ::open(instance.stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    const UniqueFd err(
        ::open(instance.stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (out.get() < 0 || err.get() < 0) {
        return not_started(fmt::format("run: open {} / {}: {}", instance.stdout_file.string(),
                                       instance.stderr_file.string(), std::strerror(errno)),
                           hold::kExitSetupFailed);
    }
    if (inst->cgroup) inst->cpu_before = read_cgroup_cpu(*inst->cgroup);
    std::optional<CgroupCpu> cpu_last = inst->cpu_before;

    result.start_time = Clock::now();
    result.started_at = unix_now();
    if (!send_message(inst->conn.get(), hold::kGo, {out.get(), err.get()})) {
        return not_started(fmt::format("run: {}: container {}: start the workload: {}", where(),
                                       inst->name, std::strerror(errno)),
                           hold::kExitSetupFailed);
    }
    if (observer != nullptr && inst->pid > 0) observer->started(inst->pid);

    InstanceStop stop(instance, result.start_time);
    std::optional<std::string> report;
    images::CommandOptions options;
    options.timeout = kEngineTimeout;
    const auto engine_kill = [&](const char* signal) {
        const auto r = images::run_command({m_binary, "kill", "-s", signal, inst->name}, options);
        if (r.exit_code != 0) {
            result.warnings.push_back(
                fmt::format("{} kill -s {} {}: {}", engine, signal, inst->name, engine_message(r)));
        }
    };
    for (;;) {
        if (wait_readable(inst->conn.get(), std::chrono::milliseconds(50))) {
            report = receive_message(inst->conn.get());
            result.end_time = Clock::now();
            break;  // the report, or the end of the stream (the helper is gone)
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
                if (inst->cgroup) {
                    if (auto c = read_cgroup_cpu(*inst->cgroup)) cpu_last = c;
                }
                engine_kill("KILL");
            });
    }

    std::optional<CgroupCpu> cpu_after;
    int status = 0;
    int left = 0;
    int exec_errno = 0;
    if (report && std::sscanf(report->c_str(), hold::kExitFormat, &status, &left, &exec_errno) == 3) {
        if (inst->cgroup) cpu_after = read_cgroup_cpu(*inst->cgroup);
        send_message(inst->conn.get(), hold::kRelease);
        if (WIFEXITED(status)) {
            result.exit_code = WEXITSTATUS(status);
        } else if (WIFSIGNALED(status)) {
            result.signal = WTERMSIG(status);
            result.exit_code = 128 + WTERMSIG(status);
        }
        result.left_processes = left != 0;
        if (exec_errno != 0 && result.end == InstanceResult::End::kExited) {
            result.end = InstanceResult::End::kNotStarted;
            result.start_error =
                fmt::format("run: {}: container {}: start '{}': {}", where(), inst->name,
                            instance.command.empty() ? "" : instance.command.front(),
                            std::strerror(exec_errno));
        }
    } else {
        // joulebench-hold ended without its report: killed (our SIGKILL, the OOM killer, a
        // `docker kill` from outside) or crashed. The engine knows the container's status.
        cpu_after = cpu_last;
        if (!stop.killed()) {
            result.warnings.push_back(
                fmt::format("container {} ended without joulebench-hold's report; exit status from "
                            "`{} wait`, CPU time as of the start of the run",
                            inst->name, engine));
        }
        const auto waited = images::run_command({m_binary, "wait", inst->name}, options);
        int code = 0;
        if (waited.exit_code == 0 && std::sscanf(trim(waited.out).c_str(), "%d", &code) == 1) {
            result.exit_code = code;
            if (code > 128 && code < 128 + NSIG) result.signal = code - 128;
        } else {
            result.exit_code = 137;
            result.signal = SIGKILL;
            result.warnings.push_back(
                fmt::format("{} wait {}: {}", engine, inst->name, engine_message(waited)));
        }
    }
    inst->conn.reset();  // joulebench-hold exits (it waited for "release" or this close)
    if (inst->cpu_before && cpu_after) {
        result.cpu_user_s = std::max(0.0, cpu_after->user_s - inst->cpu_before->user_s);
        result.cpu_system_s = std::max(0.0, cpu_after->system_s - inst->cpu_before->system_s);
    } else {
        result.warnings.push_back(fmt::format(
            "container {}: its cgroup's CPU time could not be read (joulebench and the engine "
            "must share this machine's pid namespace and cgroup mounts)",
            inst->name));
    }
    if (observer != nullptr && inst->pid > 0)
        observer->reaped(inst->pid, result.cpu_user_s + result.cpu_system_s);
    return result;
}

void ContainerEnvironment::end_instance(const WorkloadInstance& instance, PhaseRecorder& phases,
                                        std::vector<std::string>& warnings) noexcept {
    std::shared_ptr<Instance> inst;
    try {
        const std::lock_guard lock(m_mutex);
        const auto it = m_instances.find(instance.run_id);
        if (it == m_instances.end()) return;
        inst = it->second;
        m_instances.erase(it);
    } catch (...) {
        return;
    }
    inst->conn.reset();  // a helper still waiting for "go" exits without running anything
    inst->listen.reset();
    if (inst->create_attempted) {
        try {
            images::CommandOptions options;
            options.timeout = kEngineTimeout;
            const auto remove = [&] {
                const auto out = images::run_command({m_binary, "rm", "-f", inst->name}, options);
                if (out.exit_code != 0 && inst->created) {
                    warnings.push_back(fmt::format("{} rm -f {}: {}", engine_name(), inst->name,
                                                   engine_message(out)));
                }
            };
            if (inst->created) {
                phases.phase("container-remove", remove);
            } else {
                remove();  // a failed create may still have left a container of that name
            }
        } catch (const std::exception& e) {
            try {
                warnings.push_back(fmt::format("remove container {}: {}", inst->name, e.what()));
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
