#include "environments/container_owner.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <sstream>
#include <vector>

#include "common/sysfs.hpp"
#include "environments/container_engine.hpp"
#include "images/command_output.hpp"

namespace joulebench::environments {

namespace fs = std::filesystem;

namespace {

std::string read_proc_file(const fs::path& path) {
    return sysfs::read_text(path).value_or("");
}

// The start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat), or empty.
std::string start_ticks(pid_t pid) {
    const std::string stat = read_proc_file(fmt::format("/proc/{}/stat", pid));
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
    return trim_answer(read_proc_file("/proc/sys/kernel/random/boot_id"));
}

std::string host_name() {
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0) return "unknown";
    return name.data();
}

// The parts of an owner label; a trailing '/' adds no empty part (unlike joulebench::split).
std::vector<std::string> label_parts(const std::string& s) {
    std::vector<std::string> out;
    std::string part;
    std::istringstream in(s);
    while (std::getline(in, part, '/')) out.push_back(part);
    return out;
}

}  // namespace

std::string container_owner_label() {
    return fmt::format("{}/{}/{}/{}", host_name(), boot_id(), ::getpid(), start_ticks(::getpid()));
}

bool container_owner_is_stale(const std::string& owner) {
    const auto parts = label_parts(owner);
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

std::size_t remove_leftover_containers(const std::string& binary,
                                       std::chrono::milliseconds timeout) {
    images::CommandOptions options;
    options.timeout = timeout;
    const auto listed = images::run_command(
        {binary, "ps", "-a", "-q", "--no-trunc", "--filter", "label=joulebench.owner"}, options);
    if (listed.exit_code != 0) return 0;
    std::vector<std::string> ids;
    std::istringstream in(listed.out);
    for (std::string id; in >> id;) ids.push_back(id);
    if (ids.empty()) return 0;
    std::vector<std::string> argv{binary, "inspect", "--format",
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
    if (stale.empty()) return 0;
    std::vector<std::string> rm{binary, "rm", "-f"};
    rm.insert(rm.end(), stale.begin(), stale.end());
    return images::run_command(rm, options).exit_code == 0 ? stale.size() : 0;
}

void remove_leftover_folders(const fs::path& dir, const std::string& prefix) {
    try {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(dir, ec)) {
            const std::string name = e.path().filename().string();
            if (name.rfind(prefix, 0) != 0) continue;
            const std::string owner = trim_answer(read_proc_file(e.path() / "owner"));
            if (!owner.empty() && container_owner_is_stale(owner)) {
                std::error_code rm_ec;
                fs::remove_all(e.path(), rm_ec);
            }
        }
    } catch (const fs::filesystem_error&) {
        // A folder that cannot be listed only keeps old run folders; nothing depends on it.
    }
}

}  // namespace joulebench::environments
