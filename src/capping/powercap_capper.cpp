#include "capping/powercap_capper.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "common/sysfs.hpp"
#include "joulebench/error.hpp"

namespace joulebench::capping {

namespace fs = std::filesystem;

namespace {

constexpr const char* kLimitFile = "constraint_0_power_limit_uw";
constexpr const char* kPowercapPermissionHint =
    "writing a powercap limit needs root: the sysfs file is writable by root only (run with sudo)";

}  // namespace

PowercapCapper::PowercapCapper(const rapl::ZoneDescription& zone) : m_zone(zone.path) {
    m_info.target = CapTarget::kCpuPackage;
    m_info.index = zone.package_index;
    m_info.id = fmt::format("package{}", zone.package_index);
    m_info.key = zone.zone;
    m_info.backend = "powercap";
    m_info.source = zone.path.string();
    m_info.name = zone.name;
    m_info.label = fmt::format("CPU package {} ({})", zone.package_index, zone.zone);
    const auto name = sysfs::read_text(m_zone / "constraint_0_name");
    if (!name) {
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("powercap: cap {}: {} has no constraint_0 (no power limit)",
                                m_info.label, m_zone.string()));
    }
    if (*name != "long_term") {
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("powercap: cap {}: constraint_0 is '{}', not long_term", m_info.label,
                                *name));
    }
}

fs::path PowercapCapper::limit_file() const { return m_zone / kLimitFile; }

Watts PowercapCapper::current_limit() const {
    const fs::path file = limit_file();
    errno = 0;
    const auto text = sysfs::read_text(file);
    if (!text) {
        throw system_error(fmt::format("powercap: read power limit of {} from {}", m_info.label,
                                       file.string()),
                           errno != 0 ? errno : EIO);
    }
    const auto uw = sysfs::parse_u64(text->data(), text->data() + text->size());
    if (!uw) {
        throw Error(ErrorCategory::kIo, fmt::format("powercap: read power limit of {}: {}: '{}' is "
                                                    "not a number of microwatts",
                                                    m_info.label, file.string(), *text));
    }
    return from_microwatts(*uw);
}

CapRange PowercapCapper::constraints() const {
    CapRange range{Watts(0.0), Watts(kPowercapFallbackMaxW)};
    if (const auto min = sysfs::read_u64(m_zone / "constraint_0_min_power_uw")) {
        range.min = from_microwatts(*min);
    }
    if (const auto max = sysfs::read_u64(m_zone / "constraint_0_max_power_uw"); max && *max > 0) {
        range.max = from_microwatts(*max);
    }
    // A zero limit is not a cap but a stop: the smallest accepted value is 1 W.
    if (range.min < Watts(1.0)) range.min = Watts(1.0);
    return range;
}

void PowercapCapper::set_limit(Watts limit) {
    const fs::path file = limit_file();
    const std::string action =
        fmt::format("powercap: set power limit of {} to {}", m_info.label, format_watts(limit));
    const double uw_exact = std::round(limit.value() * 1e6);
    if (!std::isfinite(uw_exact) || uw_exact <= 0.0 || uw_exact > 1e15) {
        throw Error(ErrorCategory::kInvalidArgument, action + ": not a valid power");
    }
    const std::string text = fmt::format("{}\n", static_cast<std::uint64_t>(uw_exact));
    const char* step = "";
    if (const int err = sysfs::write_text(file, text, &step); err != 0) {
        throw system_error(fmt::format("{}: {} {}", action, step, file.string()), err,
                           err == EACCES || err == EPERM ? kPowercapPermissionHint : "");
    }
}

void PowercapCapper::check_writable() const {
    if (::access(limit_file().c_str(), W_OK) != 0) {
        throw system_error(fmt::format("powercap: set power limit of {}: open {}", m_info.label, limit_file().string()),
                           errno, kPowercapPermissionHint);
    }
}

std::vector<std::string> PowercapCapper::warnings() const noexcept {
    std::vector<std::string> out;
    try {
        if (const auto enabled = sysfs::read_u64(m_zone / "enabled"); enabled && *enabled == 0) {
            out.push_back(fmt::format("{}: power limiting is disabled ({}/enabled = 0): the limit is "
                                      "written but not enforced",
                                      m_info.label, m_zone.string()));
        }
    } catch (...) {
    }
    return out;
}

std::vector<std::unique_ptr<PowercapCapper>> powercap_package_cappers(const fs::path& root,
                                                                      std::vector<std::string>& skipped) {
    std::vector<std::unique_ptr<PowercapCapper>> out;
    for (const auto& zone : rapl::discover_zones(root, skipped)) {
        if (zone.kind != DomainKind::kPackage) continue;
        try {
            out.push_back(std::make_unique<PowercapCapper>(zone));
        } catch (const Error& e) {
            skipped.emplace_back(e.what());
        }
    }
    return out;
}

}  // namespace joulebench::capping
