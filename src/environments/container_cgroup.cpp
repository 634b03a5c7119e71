#include "environments/container_cgroup.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "common/strings.hpp"
#include "common/sysfs.hpp"

namespace joulebench::environments {

namespace fs = std::filesystem;

namespace {

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

// Whether the comma-separated `list` names `item`.
bool lists(const std::string& list, const std::string& item) {
    const auto items = split(list, ',');
    return std::find(items.begin(), items.end(), item) != items.end();
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
            if (!lists(options, controller)) continue;
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

// The text of a small kernel file ("" when it cannot be read).
std::string read_cgroup_file(const fs::path& path) {
    return sysfs::read_text(path).value_or("");
}

// A file holding one number: digits only, with blanks and line ends around them.
std::optional<std::uint64_t> read_u64(const fs::path& path) {
    std::string text = read_cgroup_file(path);  // trailing line ends and spaces already gone
    text.erase(0, std::min(text.find_first_not_of(" \t\r\n"), text.size()));
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

}  // namespace

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
        if (lists(controllers, "cpuacct")) v1_path = path;
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
            const std::string text = read_cgroup_file(files.dir / "cpuacct.stat");
            const auto user = keyed_value(text, "user");
            const auto sys = keyed_value(text, "system");
            const long hz = ::sysconf(_SC_CLK_TCK);
            if (!user || !sys || hz <= 0) return std::nullopt;
            return CgroupCpu{static_cast<double>(*user) / static_cast<double>(hz),
                             static_cast<double>(*sys) / static_cast<double>(hz)};
        }
        case CgroupCpuFiles::Kind::kV2: {
            const std::string text = read_cgroup_file(files.dir / "cpu.stat");
            const auto user = keyed_value(text, "user_usec");
            const auto sys = keyed_value(text, "system_usec");
            if (!user || !sys) return std::nullopt;
            return CgroupCpu{static_cast<double>(*user) * 1e-6, static_cast<double>(*sys) * 1e-6};
        }
    }
    return std::nullopt;
}

}  // namespace joulebench::environments
