#pragma once
// A fake Linux hwmon class in a temporary folder: `<base>/class/hwmon/hwmonN` folders with `name`,
// `energyN_input` / `powerN_average` / `powerN_input` / `tempN_input` files and labels, and a
// `device` link to `<base>/devices/<PCI bus id>` where the device is a PCI one, laid out like
// /sys. The production hwmon backend reads it unchanged (JOULEBENCH_HWMON_ROOT or the injected
// root). The test moves the values as the kernel would: counters forward, back to zero on a
// reset; values are written in place at a fixed width (pwrite at offset 0), so a reader holding
// the file open sees every update and never a torn number.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace joulebench::test {

class FakeHwmonTree {
public:
    /// `base` is created; the hwmon root is `base/class/hwmon`.
    explicit FakeHwmonTree(std::filesystem::path base);
    FakeHwmonTree(const FakeHwmonTree&) = delete;
    FakeHwmonTree& operator=(const FakeHwmonTree&) = delete;
    ~FakeHwmonTree();

    /// What JOULEBENCH_HWMON_ROOT points at.
    [[nodiscard]] std::filesystem::path root() const { return m_base / "class" / "hwmon"; }

    /// Adds `hwmonN` with its `name`; with a PCI bus id ("0000:03:00.0"), its `device` link.
    void add_device(const std::string& hwmon, const std::string& name,
                    const std::optional<std::string>& pci_bus_id = std::nullopt);
    /// Adds `energyN_input` at `start_uj` (and `energyN_label` when a label is given).
    void add_energy(const std::string& hwmon, int channel, std::uint64_t start_uj,
                    const std::string& label = {});
    /// Adds `powerN_<file>` ("average" or "input") reading `power_uw` (and `powerN_label`).
    void add_power(const std::string& hwmon, int channel, const std::string& file,
                   std::uint64_t power_uw, const std::string& label = {});
    /// Adds `tempN_input` in millidegrees Celsius (what most hwmon devices only have).
    void add_temperature(const std::string& hwmon, int channel, std::int64_t millidegrees);
    /// Adds amdgpu's power cap files as plain writable files: `power1_cap`, `power1_cap_min`,
    /// `power1_cap_max` and, when given, `power1_cap_default` (microwatts).
    void add_power_cap(const std::string& hwmon, std::uint64_t cap_uw, std::uint64_t min_uw, std::uint64_t max_uw,
                       std::optional<std::uint64_t> default_uw = std::nullopt);
    /// `power1_cap` now, in microwatts.
    [[nodiscard]] std::uint64_t power_cap_uw(const std::string& hwmon) const;
    /// Writes any other file of a device (`update_interval`, ...).
    void write_file(const std::string& hwmon, const std::string& file, const std::string& content);

    /// Moves an energy counter forward by `uj`.
    void advance(const std::string& hwmon, int channel, std::uint64_t uj);
    /// Sets an energy counter to `uj` (smaller than before: a reset, as after a driver reload).
    void set_energy(const std::string& hwmon, int channel, std::uint64_t uj);
    /// The counter now.
    [[nodiscard]] std::uint64_t energy_uj(const std::string& hwmon, int channel) const;
    /// Sets a power reading (`file` as in add_power).
    void set_power(const std::string& hwmon, int channel, const std::string& file, std::uint64_t power_uw);

private:
    void write_value(const std::string& key, std::uint64_t value);
    int open_value(const std::filesystem::path& path);

    std::filesystem::path m_base;
    std::map<std::string, int> m_fds;             // "hwmon0/energy1_input" -> descriptor
    std::map<std::string, std::uint64_t> m_values;
};

}  // namespace joulebench::test
