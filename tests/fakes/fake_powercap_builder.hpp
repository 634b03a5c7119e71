#pragma once
// A fake Linux powercap tree in a temporary folder, laid out like /sys/class/powercap, whose
// energy counters advance with real time at a set power and wrap at max_energy_range_uj. The
// production PowercapSensor reads it unchanged (JOULEBENCH_POWERCAP_ROOT or the injected root).
//
// Counters are written in place (pwrite of a fixed-width number at offset 0), as sysfs behaves,
// so a reader holding the file open sees every update.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace joulebench::test {

class FakePowercapTree {
public:
    struct Zone {
        std::string dir;             ///< "intel-rapl:0", "intel-rapl:0:1"
        std::string name;            ///< "package-0", "core", "dram", "psys"
        double power_w = 0.0;
        std::uint64_t range_uj = 262143328850ULL;
        std::uint64_t start_uj = 0;
        double consumed_uj = 0.0;    ///< since the tree was created, never wrapped
        int fd = -1;
    };

    explicit FakePowercapTree(std::filesystem::path root);
    FakePowercapTree(const FakePowercapTree&) = delete;
    FakePowercapTree& operator=(const FakePowercapTree&) = delete;
    ~FakePowercapTree();

    [[nodiscard]] const std::filesystem::path& root() const { return m_root; }

    /// Adds a zone folder with name, energy_uj, max_energy_range_uj and (for packages) the
    /// long_term/short_term constraints. `dir` like "intel-rapl:0" or "intel-rapl:0:2".
    void add_zone(const std::string& dir, const std::string& name, double power_w,
                  std::uint64_t range_uj = 262143328850ULL, std::uint64_t start_uj = 0);
    /// Adds a file to a zone (e.g. a constraint).
    void write_file(const std::string& dir, const std::string& file, const std::string& content);
    /// The usual single-socket server: package-0 (with core and dram) at the given powers.
    void add_typical_socket(int package, double package_w, double core_w, double dram_w,
                            std::uint64_t range_uj = 262143328850ULL);

    void set_power(const std::string& dir, double power_w);
    /// Moves a counter forward by `uj` at once (wrapping as hardware does).
    void advance(const std::string& dir, std::uint64_t uj);
    /// Energy consumed by a zone since creation, in joules, not wrapped.
    [[nodiscard]] double consumed_j(const std::string& dir);
    /// The raw counter value now.
    [[nodiscard]] std::uint64_t counter_uj(const std::string& dir);

    /// From now on counters advance only while `path` exists: a workload creates it when it starts
    /// and removes it before it ends, so the energy "consumed" is exactly what a measurement that
    /// encloses the workload must find, whatever the scheduling delays.
    void set_gate(std::filesystem::path path);

    /// Starts a thread that advances every counter from real time every `tick`.
    void start(std::chrono::microseconds tick = std::chrono::microseconds(500));
    void stop();

private:
    void write_counter(Zone& z);
    void tick_once(std::chrono::steady_clock::time_point now);

    std::filesystem::path m_root;
    std::mutex m_mutex;
    std::map<std::string, Zone> m_zones;
    std::thread m_thread;
    std::atomic<bool> m_running{false};
    std::chrono::steady_clock::time_point m_last_tick{};
    std::filesystem::path m_gate;
};

}  // namespace joulebench::test
