#pragma once
// The keys of SensorInfo::device_identity: what physical thing a domain measures, spelled the same
// by every backend, so the registry can tell that two backends see one device (RAPL and amd_energy
// one CPU package; NVML or ROCm SMI and hwmon one GPU) and count it once.

#include <cctype>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace joulebench {

/// "cpu-package:N" for the CPU package with physical package id N.
inline std::string cpu_package_identity(int package) {
    return fmt::format("cpu-package:{}", package);
}

/// "pci:dddd:bb:dd.f", lower case with a four-digit domain, from a PCI bus id in either the
/// kernel's spelling ("0000:03:00.0", the target of hwmon's `device` link) or NVML's
/// ("00000000:03:00.0"). Empty when `bus_id` is not a PCI address.
inline std::string pci_identity(std::string_view bus_id) {
    const auto colon = bus_id.find(':');
    if (colon == std::string_view::npos || colon == 0) return {};
    std::string_view domain = bus_id.substr(0, colon);
    const std::string_view rest = bus_id.substr(colon + 1);  // "bb:dd.f"
    if (rest.size() != 7 || rest[2] != ':' || rest[5] != '.') return {};
    while (domain.size() > 4 && domain.front() == '0') domain.remove_prefix(1);
    if (domain.size() > 4) return {};
    std::string out = "pci:" + std::string(4 - domain.size(), '0') + std::string(domain) + ":" +
                      std::string(rest);
    for (std::size_t i = 4; i < out.size(); ++i) {
        const auto c = static_cast<unsigned char>(out[i]);
        if (c == ':' || c == '.') continue;
        if (!std::isxdigit(c)) return {};
        out[i] = static_cast<char>(std::tolower(c));
    }
    return out;
}

}  // namespace joulebench
