#include "fakes/fake_hwmon_builder.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <chrono>
#include <fstream>
#include <thread>
#include <stdexcept>

namespace joulebench::test {

namespace fs = std::filesystem;

FakeHwmonTree::FakeHwmonTree(fs::path base) : m_base(std::move(base)) {
    fs::create_directories(root());
}

FakeHwmonTree::~FakeHwmonTree() {
    for (auto& [key, fd] : m_fds) ::close(fd);
}

void FakeHwmonTree::write_file(const std::string& hwmon, const std::string& file, const std::string& content) {
    fs::create_directories(root() / hwmon);
    std::ofstream out(root() / hwmon / file, std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("fake hwmon: cannot write " + (root() / hwmon / file).string());
}

void FakeHwmonTree::add_device(const std::string& hwmon, const std::string& name,
                               const std::optional<std::string>& pci_bus_id) {
    write_file(hwmon, "name", name + "\n");
    if (pci_bus_id) {
        const fs::path device = m_base / "devices" / *pci_bus_id;
        fs::create_directories(device);
        fs::create_directory_symlink(device, root() / hwmon / "device");
    }
}

int FakeHwmonTree::open_value(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
    if (fd < 0) throw std::runtime_error("fake hwmon: cannot create " + path.string());
    return fd;
}

void FakeHwmonTree::write_value(const std::string& key, std::uint64_t value) {
    char buf[32];
    // Fixed width: the file length never changes, so a reset to a smaller value leaves no digits
    // of the old one behind and a concurrent reader never sees a torn value.
    const int n = std::snprintf(buf, sizeof buf, "%020llu\n", static_cast<unsigned long long>(value));
    if (::pwrite(m_fds.at(key), buf, static_cast<std::size_t>(n), 0) != n) {
        throw std::runtime_error("fake hwmon: write " + key);
    }
    m_values[key] = value;
}

void FakeHwmonTree::add_energy(const std::string& hwmon, int channel, std::uint64_t start_uj,
                               const std::string& label) {
    const std::string file = "energy" + std::to_string(channel) + "_input";
    fs::create_directories(root() / hwmon);
    m_fds[hwmon + "/" + file] = open_value(root() / hwmon / file);
    write_value(hwmon + "/" + file, start_uj);
    if (!label.empty()) write_file(hwmon, "energy" + std::to_string(channel) + "_label", label + "\n");
}

void FakeHwmonTree::add_power(const std::string& hwmon, int channel, const std::string& file,
                              std::uint64_t power_uw, const std::string& label) {
    const std::string name = "power" + std::to_string(channel) + "_" + file;
    fs::create_directories(root() / hwmon);
    m_fds[hwmon + "/" + name] = open_value(root() / hwmon / name);
    write_value(hwmon + "/" + name, power_uw);
    if (!label.empty()) write_file(hwmon, "power" + std::to_string(channel) + "_label", label + "\n");
}

void FakeHwmonTree::add_temperature(const std::string& hwmon, int channel, std::int64_t millidegrees) {
    write_file(hwmon, "temp" + std::to_string(channel) + "_input", std::to_string(millidegrees) + "\n");
}

void FakeHwmonTree::add_power_cap(const std::string& hwmon, std::uint64_t cap_uw, std::uint64_t min_uw,
                                  std::uint64_t max_uw, std::optional<std::uint64_t> default_uw) {
    write_file(hwmon, "power1_cap", std::to_string(cap_uw) + "\n");
    write_file(hwmon, "power1_cap_min", std::to_string(min_uw) + "\n");
    write_file(hwmon, "power1_cap_max", std::to_string(max_uw) + "\n");
    if (default_uw) write_file(hwmon, "power1_cap_default", std::to_string(*default_uw) + "\n");
}

std::uint64_t FakeHwmonTree::power_cap_uw(const std::string& hwmon) const {
    // A real sysfs attribute is written at once; this regular file is truncated, then written, so
    // a read in between (a guardian restoring the cap while the test looks) finds it empty for a
    // moment: read again.
    for (int attempt = 0;; ++attempt) {
        std::ifstream in(root() / hwmon / "power1_cap");
        std::uint64_t value = 0;
        if (in >> value) return value;
        if (attempt == 200) throw std::runtime_error("fake hwmon: read " + (root() / hwmon / "power1_cap").string());
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

void FakeHwmonTree::advance(const std::string& hwmon, int channel, std::uint64_t uj) {
    set_energy(hwmon, channel, energy_uj(hwmon, channel) + uj);
}

void FakeHwmonTree::set_energy(const std::string& hwmon, int channel, std::uint64_t uj) {
    write_value(hwmon + "/energy" + std::to_string(channel) + "_input", uj);
}

std::uint64_t FakeHwmonTree::energy_uj(const std::string& hwmon, int channel) const {
    return m_values.at(hwmon + "/energy" + std::to_string(channel) + "_input");
}

void FakeHwmonTree::set_power(const std::string& hwmon, int channel, const std::string& file,
                              std::uint64_t power_uw) {
    write_value(hwmon + "/power" + std::to_string(channel) + "_" + file, power_uw);
}

}  // namespace joulebench::test
