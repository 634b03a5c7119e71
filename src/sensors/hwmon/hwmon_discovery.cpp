// Which hwmon channels become domains, and of what kind (hwmon_sensor.hpp, docs/sensors.md).

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <string_view>

#include "common/sysfs.hpp"
#include "sensors/device_identity.hpp"
#include "sensors/hwmon/hwmon_sensor.hpp"

namespace joulebench::hwmon {

namespace fs = std::filesystem;

namespace {

// The files of one device, by channel number.
struct DeviceFiles {
    fs::path dir;
    std::string hwmon;
    int number = 0;
    std::string driver;
    std::string pci_bus_id;
    std::optional<std::chrono::microseconds> update_interval;
    std::map<int, bool> energy;          // channel -> present
    std::map<int, Reading> power;        // channel -> the preferred power file
};

// "prefix<N>suffix" -> N; nullopt otherwise.
std::optional<int> channel_of(std::string_view file, std::string_view prefix, std::string_view suffix) {
    if (file.size() <= prefix.size() + suffix.size() || file.substr(0, prefix.size()) != prefix ||
        file.substr(file.size() - suffix.size()) != suffix) {
        return std::nullopt;
    }
    const std::string_view digits = file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
    int value = 0;
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
    return value;
}

bool is_gpu_driver(std::string_view driver) {
    constexpr std::array<std::string_view, 4> kGpuDrivers{"amdgpu", "i915", "xe", "nouveau"};
    return std::find(kGpuDrivers.begin(), kGpuDrivers.end(), driver) != kGpuDrivers.end();
}

std::string label_of(const DeviceFiles& d, std::string_view kind, int channel) {
    return sysfs::read_text(d.dir / fmt::format("{}{}_label", kind, channel)).value_or("");
}

// Scans one hwmonN folder; false when it has no energy or power file (nothing to say about it).
bool scan_device(const fs::path& dir, DeviceFiles& d) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string file = entry.path().filename().string();
        if (auto n = channel_of(file, "energy", "_input")) {
            d.energy[*n] = true;
        } else if (auto avg = channel_of(file, "power", "_average")) {
            d.power[*avg] = Reading::kPowerAverage;  // preferred: averaged by the device
        } else if (auto in = channel_of(file, "power", "_input")) {
            d.power.try_emplace(*in, Reading::kPowerInput);
        }
    }
    if (d.energy.empty() && d.power.empty()) return false;
    d.dir = dir;
    d.driver = sysfs::read_text(dir / "name").value_or("");
    if (auto ms = sysfs::read_u64(dir / "update_interval"); ms && *ms > 0 && *ms < 3'600'000) {
        d.update_interval = std::chrono::milliseconds(*ms);
    }
    const fs::path target = fs::canonical(dir / "device", ec);
    if (!ec && !pci_identity(target.filename().string()).empty()) d.pci_bus_id = target.filename().string();
    return true;
}

ChannelDescription base_channel(const DeviceFiles& d, int channel, Reading reading) {
    ChannelDescription c;
    const char* stem = reading == Reading::kEnergy ? "energy" : "power";
    const char* suffix = reading == Reading::kEnergy ? "_input" : reading == Reading::kPowerAverage ? "_average" : "_input";
    c.file = d.dir / fmt::format("{}{}{}", stem, channel, suffix);
    c.hwmon = d.hwmon;
    c.driver = d.driver;
    c.label = label_of(d, stem, channel);
    c.channel = channel;
    c.reading = reading;
    c.pci_bus_id = d.pci_bus_id;
    if (reading == Reading::kEnergy) {
        // amd_energy and the Intel GPUs read RAPL-style energy registers updated about every
        // millisecond; for other devices without `update_interval` the conservative default.
        const bool fast = d.driver == "amd_energy" || d.driver == "i915" || d.driver == "xe";
        c.update_period = d.update_interval.value_or(
            fast ? std::chrono::microseconds(1000) : std::chrono::microseconds(kDefaultPowerUpdatePeriod));
    } else {
        c.update_period = d.update_interval.value_or(kDefaultPowerUpdatePeriod);
        c.max_poll_interval = kIntegratedMaxPoll;
    }
    return c;
}

std::string file_of(const ChannelDescription& c) { return c.file.filename().string(); }

// amd_energy: one package domain per "Esocket<N>" counter; "Ecore<NNN>" counters are parts of
// their socket and skipped as a group.
void amd_energy_channels(const DeviceFiles& d, std::vector<ChannelDescription>& out,
                         std::vector<std::string>& skipped) {
    int cores = 0;
    for (const auto& [n, present] : d.energy) {
        ChannelDescription c = base_channel(d, n, Reading::kEnergy);
        if (auto socket = channel_of(c.label, "Esocket", "")) {
            c.kind = DomainKind::kPackage;
            c.index = *socket;
            c.id = fmt::format("hwmon-package{}", *socket);
            c.device_identity = cpu_package_identity(*socket);
            // The RAPL energy status MSRs update every millisecond (kernel amd_energy.rst).
            c.update_period = std::chrono::microseconds(1000);
            out.push_back(std::move(c));
        } else if (channel_of(c.label, "Ecore", "")) {
            ++cores;
        } else {
            skipped.push_back(fmt::format("hwmon: {} (amd_energy) {}: unknown label '{}'", d.hwmon, file_of(c), c.label));
        }
    }
    if (cores > 0) {
        skipped.push_back(fmt::format(
            "hwmon: {} (amd_energy): {} per-core counter{} (Ecore*) skipped: each core's energy is "
            "part of its socket's counter, which is measured (adding both would count it twice)",
            d.hwmon, cores, cores == 1 ? "" : "s"));
    }
}

// A GPU: one domain, its board. Energy first (the "card" channel where labelled, else the lowest
// channel), else the lowest power channel, integrated; every other channel is listed as skipped.
void gpu_channels(const DeviceFiles& d, std::vector<ChannelDescription>& out,
                  std::vector<std::string>& skipped) {
    std::optional<ChannelDescription> chosen;
    std::vector<ChannelDescription> others;
    for (const auto& [n, present] : d.energy) {
        ChannelDescription c = base_channel(d, n, Reading::kEnergy);
        if (!chosen) {
            chosen = std::move(c);
        } else if (c.label == "card" && chosen->label != "card") {
            others.push_back(std::move(*chosen));
            chosen = std::move(c);
        } else {
            others.push_back(std::move(c));
        }
    }
    for (const auto& [n, reading] : d.power) {
        ChannelDescription c = base_channel(d, n, reading);
        if (!chosen) {
            chosen = std::move(c);
        } else {
            others.push_back(std::move(c));
        }
    }
    const std::string board = fmt::format("{}{}", chosen->file.filename().string(),
                                          chosen->label.empty() ? "" : " (" + chosen->label + ")");
    for (const auto& o : others) {
        skipped.push_back(fmt::format(
            "hwmon: {} ({}) {}{}: another reading of the same GPU; one per GPU is counted, {}",
            d.hwmon, d.driver, file_of(o), o.label.empty() ? "" : " (" + o.label + ")", board));
    }
    chosen->kind = DomainKind::kGpu;
    chosen->device_identity = pci_identity(d.pci_bus_id);
    if (d.driver == "i915" || d.driver == "xe") {
        if (chosen->reading == Reading::kEnergy) chosen->max_poll_interval = kIntelGpuMaxPoll;
    }
    out.push_back(std::move(*chosen));
}

// Any other device: each energy channel is a platform domain; where the device has no energy
// counter, each power channel is one, integrated.
void platform_channels(const DeviceFiles& d, std::vector<ChannelDescription>& out,
                       std::vector<std::string>& skipped) {
    for (const auto& [n, present] : d.energy) {
        ChannelDescription c = base_channel(d, n, Reading::kEnergy);
        c.id = fmt::format("{}-energy{}", d.hwmon, n);
        out.push_back(std::move(c));
    }
    for (const auto& [n, reading] : d.power) {
        ChannelDescription c = base_channel(d, n, reading);
        if (!d.energy.empty()) {
            skipped.push_back(fmt::format("hwmon: {} ({}) {}: not integrated: the device's energy counter is read instead",
                                          d.hwmon, d.driver.empty() ? "no name" : d.driver, file_of(c)));
            continue;
        }
        c.id = fmt::format("{}-power{}", d.hwmon, n);
        out.push_back(std::move(c));
    }
}

}  // namespace

std::vector<ChannelDescription> discover_channels(const fs::path& root, std::vector<std::string>& skipped) {
    std::vector<ChannelDescription> out;
    std::error_code ec;
    if (!fs::is_directory(root, ec)) return out;  // no hwmon class here: nothing to say
    std::vector<DeviceFiles> devices;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
        const std::string name = entry.path().filename().string();
        auto number = channel_of(name, "hwmon", "");
        if (!number) continue;
        DeviceFiles d;
        d.hwmon = name;
        d.number = *number;
        if (scan_device(entry.path(), d)) devices.push_back(std::move(d));
    }
    if (ec) {
        skipped.push_back(fmt::format("hwmon: list {}: {}", root.string(), ec.message()));
        return out;
    }
    // GPUs are numbered in PCI bus order (as NVML numbers its GPUs), the rest in hwmon order.
    std::sort(devices.begin(), devices.end(), [](const DeviceFiles& a, const DeviceFiles& b) {
        return std::tie(a.pci_bus_id, a.number) < std::tie(b.pci_bus_id, b.number);
    });
    int gpus = 0;
    for (const auto& d : devices) {
        if (d.driver == "amd_energy") {
            amd_energy_channels(d, out, skipped);
        } else if (is_gpu_driver(d.driver)) {
            gpu_channels(d, out, skipped);
            out.back().index = gpus;
            out.back().id = fmt::format("hwmon-gpu{}", gpus);
            ++gpus;
        } else {
            platform_channels(d, out, skipped);
        }
    }
    return out;
}

}  // namespace joulebench::hwmon
