// `joulebench --version`: the version and commit this binary was built from (cmake/build_info.cmake),
// the backends compiled in, and which of them can be used on this machine. The vendor libraries
// are loaded only here, when asked, so `--version` stays cheap to parse for every other command.

#include <fmt/format.h>

#include <exception>
#include <filesystem>
#include <string>
#include <system_error>

#include "commands.hpp"
#include "sensors/registry.hpp"
#include "sensors/nvml/nvml_library.hpp"
#include "sensors/rocm/rocm_library.hpp"

namespace joulebench::cli {

extern const char* const kBuildVersion;
extern const char* const kBuildCommit;
extern const char* const kBuildTreeState;

namespace {

namespace fs = std::filesystem;

// "N entries in ROOT", or why the folder cannot be listed.
std::string sysfs_state(const fs::path& root, const char* prefix) {
    std::error_code ec;
    fs::directory_iterator it(root, ec);
    if (ec) return fmt::format("{}: {}", root.string(), ec.message());
    std::size_t n = 0;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (it->path().filename().string().rfind(prefix, 0) == 0) ++n;
    }
    return fmt::format("{} {}* entr{} in {}", n, prefix, n == 1 ? "y" : "ies", root.string());
}

template <typename Library, typename Options>
std::string library_state(const Options& options) {
    try {
        const auto library = Library::load(options);
        return "loads (" + library->description() + ")";
    } catch (const std::exception& e) {
        return e.what();
    }
}

}  // namespace

std::string version_text() {
    std::string s = fmt::format("joulebench {}\ncommit {}{}\n", kBuildVersion, kBuildCommit,
                                *kBuildTreeState != '\0' ? fmt::format(" (built with {})", kBuildTreeState) : "");
    s += "backends compiled in: nvml and rocm-smi (loaded at run time with dlopen), rapl (powercap "
         "sysfs), hwmon (sysfs), cpu-time estimate\n";
    s += "on this machine:\n";
    s += fmt::format("  nvml      {}\n", library_state<nvml::NvmlLibrary>(nvml::NvmlLibraryOptions{}));
    s += fmt::format("  rocm-smi  {}\n", library_state<rocm::RocmLibrary>(rocm::RocmLibraryOptions{}));
    s += fmt::format("  rapl      {}\n", sysfs_state(ProbeOptions::default_powercap_root(), "intel-rapl"));
    s += fmt::format("  hwmon     {}\n", sysfs_state(ProbeOptions::default_hwmon_root(), "hwmon"));
    s += "  estimate  always (CPU energy from CPU time where no CPU sensor is readable; results say so)";
    return s;
}

}  // namespace joulebench::cli
