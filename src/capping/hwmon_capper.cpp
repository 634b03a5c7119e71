#include "capping/hwmon_capper.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <tuple>

#include <fmt/format.h>

#include "common/sysfs.hpp"
#include "joulebench/error.hpp"
#include "sensors/device_identity.hpp"
#include "sensors/hwmon/hwmon_sensor.hpp"

namespace joulebench::capping {

namespace fs = std::filesystem;

namespace {

constexpr const char* kHwmonPermissionHint =
    "writing amdgpu's power1_cap needs root: the sysfs file is writable by root only (run with sudo)";

// The sensor id and index hwmon gives the same GPU ("hwmon-gpu0"), so a cap and the energy of
// one GPU carry one name; -1 when the folder has no power or energy reading.
int gpu_index_of(const fs::path& dir) {
    std::vector<std::string> skipped;
    for (const auto& c : hwmon::discover_channels(dir.parent_path(), skipped)) {
        if (c.kind == DomainKind::kGpu && c.hwmon == dir.filename().string()) return c.index;
    }
    return -1;
}

Error unreadable(const CapDeviceInfo& info, const fs::path& file, const std::string& what) {
    return {ErrorCategory::kNotSupported,
            fmt::format("hwmon: read {} of {}: {} cannot be read", what, info.label, file.string()),
            "amdgpu has power1_cap_min and power1_cap_max since Linux 4.x; an older kernel cannot be capped here"};
}

}  // namespace

std::string hwmon_pci_bus_id(const fs::path& hwmon_dir) {
    std::error_code ec;
    const fs::path target = fs::canonical(hwmon_dir / "device", ec);
    if (ec) return {};
    const std::string name = target.filename().string();
    return pci_identity(name).empty() ? std::string() : name;
}

HwmonCapper::HwmonCapper(fs::path hwmon_dir, WriteFn write)
    : m_dir(std::move(hwmon_dir)), m_write(write != nullptr ? write : &sysfs::write_text) {
    std::error_code ec;
    if (!fs::is_directory(m_dir, ec)) {
        throw Error(ErrorCategory::kNotFound, fmt::format("hwmon: cap {}: no such hwmon folder", m_dir.string()),
                    "hwmon folders are numbered at boot; `joulebench caps show` lists the GPUs that can be capped");
    }
    const std::string driver = sysfs::read_text(m_dir / "name").value_or("");
    if (driver != "amdgpu") {
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("hwmon: cap {}: the driver is '{}', not amdgpu: only amdgpu's power1_cap is "
                                "written", m_dir.string(), driver),
                    "NVIDIA GPUs are capped through NVML, CPU packages through powercap (--cpu-power-cap)");
    }
    const std::string bus_id = hwmon_pci_bus_id(m_dir);
    if (bus_id.empty()) {
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("hwmon: cap {}: {} is not a link to a PCI device", m_dir.string(),
                                (m_dir / "device").string()),
                    "a cap is journalled under the GPU's PCI bus id so a crash can be undone after a reboot");
    }
    m_info.target = CapTarget::kGpu;
    m_info.index = gpu_index_of(m_dir);
    m_info.id = m_info.index >= 0 ? fmt::format("hwmon-gpu{}", m_info.index) : "hwmon-" + bus_id;
    m_info.key = bus_id;
    m_info.backend = "hwmon";
    m_info.source = bus_id;
    m_info.name = driver;
    m_info.label = fmt::format("AMD GPU {} (amdgpu, {}, {})", m_info.id, bus_id, m_dir.filename().string());
    if (!fs::exists(cap_file(), ec)) {
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("hwmon: cap {}: {} does not exist", m_info.label, cap_file().string()),
                    "amdgpu has power1_cap on discrete GPUs with a power limit (not on APUs); ROCm SMI "
                    "(librocm_smi64) cannot cap such a GPU either");
    }
}

Watts HwmonCapper::current_limit() const {
    const fs::path file = cap_file();
    errno = 0;
    const auto text = sysfs::read_text(file);
    if (!text) {
        const int err = errno != 0 ? errno : EIO;
        throw system_error(fmt::format("hwmon: read power cap of {} from {}", m_info.label, file.string()), err,
                           err == EACCES || err == EPERM ? kHwmonPermissionHint : "");
    }
    const auto uw = sysfs::parse_u64(text->data(), text->data() + text->size());
    if (!uw) {
        throw Error(ErrorCategory::kIo, fmt::format("hwmon: read power cap of {}: {}: '{}' is not a number of "
                                                    "microwatts", m_info.label, file.string(), *text));
    }
    return from_microwatts(*uw);
}

CapRange HwmonCapper::constraints() const {
    const auto min = sysfs::read_u64(m_dir / "power1_cap_min");
    if (!min) throw unreadable(m_info, m_dir / "power1_cap_min", "minimum power cap");
    const auto max = sysfs::read_u64(m_dir / "power1_cap_max");
    if (!max || *max == 0) throw unreadable(m_info, m_dir / "power1_cap_max", "maximum power cap");
    // amdgpu reports 0 as the minimum on many boards: a zero cap is not a cap, 1 W is the least.
    return {std::max(from_microwatts(*min), Watts(1.0)), from_microwatts(*max)};
}

std::optional<Watts> HwmonCapper::default_limit() const noexcept {
    try {
        if (const auto uw = sysfs::read_u64(m_dir / "power1_cap_default"); uw && *uw > 0) return from_microwatts(*uw);
    } catch (...) {
    }
    return std::nullopt;
}

void HwmonCapper::set_limit(Watts limit) {
    const fs::path file = cap_file();
    const std::string action = fmt::format("hwmon: set power cap of {} to {}", m_info.label, format_watts(limit));
    const double uw_exact = std::round(limit.value() * 1e6);
    if (!std::isfinite(uw_exact) || uw_exact <= 0.0 || uw_exact > 1e15) {
        throw Error(ErrorCategory::kInvalidArgument, action + ": not a positive power");
    }
    const char* step = "";
    if (const int err = m_write(file, fmt::format("{}\n", static_cast<std::uint64_t>(uw_exact)), &step); err != 0) {
        if (err == EINVAL) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("{}: {} {}: the driver refuses the value", action, step, file.string()),
                        "`joulebench caps show` lists the allowed range (power1_cap_min to power1_cap_max)");
        }
        throw system_error(fmt::format("{}: {} {}", action, step, file.string()), err,
                           err == EACCES || err == EPERM ? kHwmonPermissionHint : "");
    }
    const Watts now = current_limit();
    if (std::fabs((now - limit).value()) > tolerance().value()) {
        throw Error(ErrorCategory::kIo,
                    fmt::format("{}: {} reads back {} after the write", action, file.string(), format_watts(now)),
                    "the driver did not keep the value (power1_cap_min to power1_cap_max may not be what the "
                    "firmware accepts); `joulebench caps show` shows the GPU's limits");
    }
}

void HwmonCapper::check_writable() const {
    if (::access(cap_file().c_str(), W_OK) != 0) {
        throw system_error(fmt::format("hwmon: set power cap of {}: open {}", m_info.label, cap_file().string()),
                           errno, kHwmonPermissionHint);
    }
}

fs::path find_hwmon_dir_by_pci(const fs::path& root, std::string_view pci_bus_id) {
    const std::string wanted = pci_identity(pci_bus_id);
    std::error_code ec;
    std::size_t seen = 0;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
        if (entry.path().filename().string().rfind("hwmon", 0) != 0) continue;
        ++seen;
        const std::string id = hwmon_pci_bus_id(entry.path());
        if (!wanted.empty() && pci_identity(id) == wanted) return entry.path();
    }
    throw Error(ErrorCategory::kNotFound,
                fmt::format("hwmon: find the GPU with PCI bus id {}: none of the {} hwmon folders under {} is its{}",
                            pci_bus_id, seen, root.string(), ec ? " (" + ec.message() + ")" : ""),
                "is the amdgpu driver loaded? (`lsmod | grep amdgpu`)");
}

std::vector<std::unique_ptr<HwmonCapper>> hwmon_gpu_cappers(const fs::path& root, std::vector<std::string>& skipped) {
    std::vector<std::unique_ptr<HwmonCapper>> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
        if (entry.path().filename().string().rfind("hwmon", 0) != 0) continue;
        if (sysfs::read_text(entry.path() / "name").value_or("") != "amdgpu") continue;
        try {
            out.push_back(std::make_unique<HwmonCapper>(entry.path()));
        } catch (const Error& e) {
            skipped.emplace_back(e.what());
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a->info().key, a->dir()) < std::tie(b->info().key, b->dir());
    });
    return out;
}

std::unique_ptr<PowerCapper> open_hwmon_gpu_capper(const fs::path& hwmon_dir) {
    return std::make_unique<HwmonCapper>(hwmon_dir);
}

}  // namespace joulebench::capping
