#include "fakes/fake_powercap_builder.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace joulebench::test {

namespace fs = std::filesystem;

FakePowercapTree::FakePowercapTree(fs::path root) : m_root(std::move(root)) {
    fs::create_directories(m_root);
    fs::create_directories(m_root / "intel-rapl");
    write_file("intel-rapl", "enabled", "1\n");
}

FakePowercapTree::~FakePowercapTree() {
    stop();
    for (auto& [dir, z] : m_zones) {
        if (z.fd >= 0) ::close(z.fd);
    }
}

void FakePowercapTree::write_file(const std::string& dir, const std::string& file, const std::string& content) {
    fs::create_directories(m_root / dir);
    std::ofstream out(m_root / dir / file, std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("fake powercap: cannot write " + (m_root / dir / file).string());
}

void FakePowercapTree::add_zone(const std::string& dir, const std::string& name, double power_w,
                                std::uint64_t range_uj, std::uint64_t start_uj) {
    const std::lock_guard lock(m_mutex);
    write_file(dir, "name", name + "\n");
    write_file(dir, "max_energy_range_uj", std::to_string(range_uj) + "\n");
    write_file(dir, "enabled", "1\n");
    Zone z;
    z.dir = dir;
    z.name = name;
    z.power_w = power_w;
    z.range_uj = range_uj;
    z.start_uj = start_uj;
    const fs::path energy = m_root / dir / "energy_uj";
    z.fd = ::open(energy.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
    if (z.fd < 0) throw std::runtime_error("fake powercap: cannot create " + energy.string());
    write_counter(z);
    m_zones[dir] = z;
}

void FakePowercapTree::add_typical_socket(int package, double package_w, double core_w, double dram_w,
                                          std::uint64_t range_uj) {
    const std::string pkg = "intel-rapl:" + std::to_string(package);
    add_zone(pkg, "package-" + std::to_string(package), package_w, range_uj);
    write_file(pkg, "constraint_0_name", "long_term\n");
    write_file(pkg, "constraint_0_power_limit_uw", "165000000\n");
    write_file(pkg, "constraint_0_time_window_us", "999424\n");
    write_file(pkg, "constraint_0_max_power_uw", "205000000\n");
    write_file(pkg, "constraint_1_name", "short_term\n");
    write_file(pkg, "constraint_1_power_limit_uw", "198000000\n");
    write_file(pkg, "constraint_1_time_window_us", "2440\n");
    write_file(pkg, "constraint_1_max_power_uw", "0\n");
    add_zone(pkg + ":0", "core", core_w, range_uj);
    add_zone(pkg + ":1", "dram", dram_w, range_uj);
}

void FakePowercapTree::write_counter(Zone& z) {
    const auto total = static_cast<std::uint64_t>(std::llround(static_cast<double>(z.start_uj) + z.consumed_uj));
    const std::uint64_t value = total % z.range_uj;
    char buf[32];
    // Fixed width: the file length never changes, so a concurrent reader never sees a torn value.
    const int n = std::snprintf(buf, sizeof buf, "%020llu\n", static_cast<unsigned long long>(value));
    if (::pwrite(z.fd, buf, static_cast<std::size_t>(n), 0) != n) {
        throw std::runtime_error("fake powercap: write counter of " + z.dir);
    }
}

void FakePowercapTree::set_power(const std::string& dir, double power_w) {
    tick_once(std::chrono::steady_clock::now());
    const std::lock_guard lock(m_mutex);
    m_zones.at(dir).power_w = power_w;
}

void FakePowercapTree::advance(const std::string& dir, std::uint64_t uj) {
    const std::lock_guard lock(m_mutex);
    auto& z = m_zones.at(dir);
    z.consumed_uj += static_cast<double>(uj);
    write_counter(z);
}

double FakePowercapTree::consumed_j(const std::string& dir) {
    const std::lock_guard lock(m_mutex);
    return m_zones.at(dir).consumed_uj * 1e-6;
}

std::uint64_t FakePowercapTree::counter_uj(const std::string& dir) {
    const std::lock_guard lock(m_mutex);
    const auto& z = m_zones.at(dir);
    return static_cast<std::uint64_t>(std::llround(static_cast<double>(z.start_uj) + z.consumed_uj)) % z.range_uj;
}

void FakePowercapTree::tick_once(std::chrono::steady_clock::time_point now) {
    const std::lock_guard lock(m_mutex);
    if (m_last_tick == std::chrono::steady_clock::time_point{}) {
        m_last_tick = now;
        return;
    }
    const double dt = std::chrono::duration<double>(now - m_last_tick).count();
    m_last_tick = now;
    if (!m_gate.empty() && ::access(m_gate.c_str(), F_OK) != 0) return;
    for (auto& [dir, z] : m_zones) {
        z.consumed_uj += z.power_w * dt * 1e6;
        write_counter(z);
    }
}

void FakePowercapTree::set_gate(fs::path path) {
    tick_once(std::chrono::steady_clock::now());
    const std::lock_guard lock(m_mutex);
    m_gate = std::move(path);
}

void FakePowercapTree::start(std::chrono::microseconds tick) {
    if (m_running.exchange(true)) return;
    tick_once(std::chrono::steady_clock::now());
    m_thread = std::thread([this, tick] {
        auto next = std::chrono::steady_clock::now();
        while (m_running.load()) {
            next += tick;
            std::this_thread::sleep_until(next);
            tick_once(std::chrono::steady_clock::now());
        }
    });
}

void FakePowercapTree::stop() {
    if (!m_running.exchange(false)) return;
    if (m_thread.joinable()) m_thread.join();
    tick_once(std::chrono::steady_clock::now());
}

}  // namespace joulebench::test
