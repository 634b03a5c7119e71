#include "sensors/rapl/powercap_sensor.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <regex>

#include "common/sysfs.hpp"
#include "joulebench/error.hpp"
#include "sensors/device_identity.hpp"

namespace joulebench::rapl {

namespace fs = std::filesystem;

std::uint64_t Unwrapper::add(std::uint64_t raw_uj) {
    if (!last_uj) {
        last_uj = raw_uj;
        return 0;
    }
    std::uint64_t delta = 0;
    if (raw_uj >= *last_uj) {
        delta = raw_uj - *last_uj;
    } else {
        // The counter restarted from zero: it went up to range_uj, then on from 0 to raw_uj.
        // (The kernel reports the range as the largest value; the off-by-one is 1 uJ.)
        ++wraps;
        delta = (range_uj > *last_uj ? range_uj - *last_uj : 0) + raw_uj;
    }
    last_uj = raw_uj;
    return delta;
}

std::string permission_hint(const fs::path& root) {
    return fmt::format(
        "energy_uj is readable by root only since CVE-2020-8694 (Platypus); run as root, or grant "
        "read access until the next boot with `sudo chmod a+r {}/intel-rapl:*/energy_uj "
        "{}/intel-rapl:*:*/energy_uj`, or permanently with a udev rule or a group that may read it",
        root.string(), root.string());
}

std::vector<PowerLimitInfo> read_constraints(const fs::path& zone_path) {
    std::vector<PowerLimitInfo> limits;
    for (int n = 0; n < 16; ++n) {
        const std::string prefix = fmt::format("constraint_{}_", n);
        auto name = sysfs::read_text(zone_path / (prefix + "name"));
        if (!name) break;
        PowerLimitInfo info;
        info.name = *name;
        if (auto v = sysfs::read_u64(zone_path / (prefix + "power_limit_uw"))) info.current = from_microwatts(*v);
        if (auto v = sysfs::read_u64(zone_path / (prefix + "max_power_uw")); v && *v > 0) info.max = from_microwatts(*v);
        if (auto v = sysfs::read_u64(zone_path / (prefix + "min_power_uw"))) info.min = from_microwatts(*v);
        if (auto v = sysfs::read_u64(zone_path / (prefix + "time_window_us"))) {
            info.time_window = std::chrono::microseconds(static_cast<std::int64_t>(*v));
        }
        limits.push_back(std::move(info));
    }
    return limits;
}

namespace {

// "intel-rapl:0" -> {0}; "intel-rapl:0:2" -> {0, 2}; anything else -> empty.
std::vector<int> zone_indices(const std::string& entry, const std::string& prefix) {
    if (entry.rfind(prefix + ":", 0) != 0) return {};
    std::vector<int> out;
    const char* p = entry.c_str() + prefix.size();
    const char* end = entry.c_str() + entry.size();
    while (p < end) {
        if (*p != ':') return {};
        ++p;
        int value = 0;
        const auto [next, ec] = std::from_chars(p, end, value);
        if (ec != std::errc() || next == p) return {};
        out.push_back(value);
        p = next;
    }
    return out;
}

std::optional<int> package_number(const std::string& name) {
    if (name.rfind("package-", 0) != 0) return std::nullopt;
    int value = 0;
    const char* begin = name.c_str() + 8;
    const char* end = name.c_str() + name.size();
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr != end) return std::nullopt;
    return value;
}

std::string sensor_id(const ZoneDescription& z, int top_index) {
    switch (z.kind) {
        case DomainKind::kPackage: return fmt::format("package{}", z.package_index);
        case DomainKind::kCore: return fmt::format("package{}-core", z.package_index);
        case DomainKind::kUncore: return fmt::format("package{}-uncore", z.package_index);
        case DomainKind::kDram: return fmt::format("dram{}", z.package_index);
        case DomainKind::kPsys: return fmt::format("psys{}", top_index);
        default: return z.zone;
    }
}

}  // namespace

std::vector<ZoneDescription> discover_zones(const fs::path& root, std::vector<std::string>& skipped) {
    std::vector<ZoneDescription> zones;
    std::error_code ec;
    if (!fs::exists(root, ec)) {
        skipped.push_back(fmt::format("powercap: {} does not exist (no powercap driver, or not Linux)", root.string()));
        return zones;
    }
    std::vector<std::pair<std::vector<int>, fs::path>> entries;
    bool saw_mmio = false;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("intel-rapl-mmio:", 0) == 0) {
            saw_mmio = true;
            continue;
        }
        auto idx = zone_indices(name, "intel-rapl");
        if (idx.empty() || idx.size() > 2) continue;
        entries.emplace_back(std::move(idx), entry.path());
    }
    if (ec) {
        skipped.push_back(fmt::format("powercap: list {}: {}", root.string(), ec.message()));
        return zones;
    }
    if (saw_mmio) {
        skipped.push_back("powercap: intel-rapl-mmio zones skipped: they measure the same package as intel-rapl through MMIO and would be counted twice");
    }
    if (auto enabled = sysfs::read_u64(root / "intel-rapl" / "enabled"); enabled && *enabled == 0) {
        skipped.push_back("powercap: intel-rapl control type is disabled (intel-rapl/enabled = 0); counters may not update");
    }
    std::sort(entries.begin(), entries.end());
    if (entries.empty()) {
        skipped.push_back(fmt::format("powercap: no intel-rapl zones under {} (no RAPL driver loaded: try `modprobe intel_rapl_msr` or, for AMD, a kernel >= 5.8)", root.string()));
        return zones;
    }

    for (const auto& [idx, path] : entries) {
        ZoneDescription z;
        z.path = path;
        z.zone = path.filename().string();
        auto name = sysfs::read_text(path / "name");
        if (!name) {
            skipped.push_back(fmt::format("powercap: {}: cannot read name: {}", z.zone, std::strerror(errno)));
            continue;
        }
        z.name = *name;
        if (idx.size() == 1) {
            if (auto pkg = package_number(z.name)) {
                z.kind = DomainKind::kPackage;
                z.package_index = *pkg;
            } else if (z.name == "psys") {
                z.kind = DomainKind::kPsys;
                z.package_index = idx[0];
            } else if (z.name == "dram") {
                // Some platforms expose DRAM as a top-level zone.
                z.kind = DomainKind::kDram;
                z.package_index = idx[0];
            } else {
                skipped.push_back(fmt::format("powercap: {}: unknown zone name '{}'", z.zone, z.name));
                continue;
            }
        } else {
            const fs::path parent = root / fmt::format("intel-rapl:{}", idx[0]);
            auto parent_name = sysfs::read_text(parent / "name");
            auto pkg = parent_name ? package_number(*parent_name) : std::nullopt;
            z.package_index = pkg.value_or(idx[0]);
            if (z.name == "core") {
                z.kind = DomainKind::kCore;
            } else if (z.name == "uncore") {
                z.kind = DomainKind::kUncore;
            } else if (z.name == "dram") {
                z.kind = DomainKind::kDram;
            } else {
                skipped.push_back(fmt::format("powercap: {}: unknown subzone name '{}'", z.zone, z.name));
                continue;
            }
        }
        auto range = sysfs::read_u64(path / "max_energy_range_uj");
        if (!range || *range == 0) {
            skipped.push_back(fmt::format("powercap: {} ({}): max_energy_range_uj missing or zero: wraps could not be corrected", z.zone, z.name));
            continue;
        }
        z.max_energy_range_uj = *range;
        zones.push_back(std::move(z));
    }
    return zones;
}

PowercapSensor::PowercapSensor(ZoneDescription zone) {
    m_unwrap.range_uj = zone.max_energy_range_uj;
    const fs::path energy = zone.path / "energy_uj";
    m_fd = ::open(energy.c_str(), O_RDONLY | O_CLOEXEC);
    if (m_fd < 0) {
        const int err = errno;
        const fs::path root = zone.path.parent_path();
        throw system_error(fmt::format("powercap: open {}", energy.string()), err,
                           (err == EACCES || err == EPERM) ? permission_hint(root) : std::string{});
    }
    m_info.kind = zone.kind;
    m_info.index = zone.package_index;
    m_info.method = Method::kCounter;
    m_info.backend = "powercap";
    m_info.name = zone.name;
    m_info.source = zone.path.string();
    // RAPL energy status registers update about every millisecond (Intel SDM vol. 3B, 15.10.1).
    m_info.update_period = std::chrono::microseconds(1000);
    m_info.wrap_range = from_microjoules(zone.max_energy_range_uj);
    m_info.limits = read_constraints(zone.path);
    m_info.id = sensor_id(zone, zone.package_index);
    // Only the package itself: hwmon (amd_energy) offers the same socket counter, never its parts.
    if (zone.kind == DomainKind::kPackage) m_info.device_identity = cpu_package_identity(zone.package_index);
    // Check now that the counter can actually be read (open may succeed where read fails).
    if (!sysfs::pread_u64(m_fd)) {
        const int err = errno;
        ::close(m_fd);
        m_fd = -1;
        throw system_error(fmt::format("powercap: read {}", energy.string()), err ? err : EIO);
    }
}

PowercapSensor::~PowercapSensor() {
    if (m_fd >= 0) ::close(m_fd);
}

std::optional<std::uint64_t> PowercapSensor::read_raw() noexcept { return sysfs::pread_u64(m_fd); }

std::optional<EnergySample> PowercapSensor::sample() noexcept {
    const auto raw = read_raw();
    const auto now = Clock::now();
    if (!raw) {
        ++m_failed_reads;
        return std::nullopt;
    }
    m_total_uj += m_unwrap.add(*raw);
    return EnergySample{now, from_microjoules(m_total_uj)};
}

SensorHealth PowercapSensor::health() const {
    SensorHealth h;
    h.wraps = m_unwrap.wraps;
    h.failed_reads = m_failed_reads;
    return h;
}

std::chrono::nanoseconds PowercapSensor::max_poll_interval() const {
    // Read at least twice per shortest possible wrap time, so a wrap is never missed.
    const double range_j = static_cast<double>(m_unwrap.range_uj) * 1e-6;
    const double seconds = range_j / kMaxPlausibleZonePowerW / 2.0;
    const auto ns = static_cast<std::int64_t>(seconds * 1e9);
    return std::chrono::nanoseconds(std::max<std::int64_t>(ns, 1'000'000));
}

BackendProbe probe_powercap(const fs::path& root) noexcept {
    BackendProbe probe;
    probe.backend = "powercap";
    try {
        auto zones = discover_zones(root, probe.skipped);
        bool permission_reported = false;
        for (auto& z : zones) {
            try {
                probe.sensors.push_back(std::make_unique<PowercapSensor>(z));
            } catch (const Error& e) {
                if (e.category() == ErrorCategory::kNoPermission) {
                    probe.skipped.push_back(fmt::format("{} ({})", e.what(), z.name));
                    if (!permission_reported) {
                        probe.skipped.push_back("powercap: hint: " + e.hint());
                        permission_reported = true;
                    }
                } else {
                    probe.skipped.push_back(e.what());
                }
            }
        }
        if (!probe.sensors.empty()) probe.notes.push_back("powercap root: " + root.string());
    } catch (const std::exception& e) {
        probe.skipped.push_back(std::string("powercap: probe failed: ") + e.what());
    }
    return probe;
}

}  // namespace joulebench::rapl
