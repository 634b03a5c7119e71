#pragma once
/// One AMD GPU as ROCm SMI lists it: identity (name, unique id, PCI bus id) and its power-cap
/// readings, sharing the loaded library.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/domain.hpp"
#include "sensors/rocm/rocm_library.hpp"

namespace joulebench::rocm {

class RocmDevice {
public:
    /// Reads the identity of ROCm SMI device `dv_ind`; joulebench index `index` (PCI order) is
    /// set later by enumerate(). Throws Error (make_error) when rsmi_dev_name_get fails.
    RocmDevice(std::shared_ptr<const RocmLibrary> library, std::uint32_t dv_ind);

    [[nodiscard]] const std::shared_ptr<const RocmLibrary>& library() const { return m_library; }
    [[nodiscard]] const RocmApi& api() const { return m_library->api(); }
    [[nodiscard]] std::uint32_t dv_ind() const { return m_dv_ind; }
    [[nodiscard]] int index() const { return m_index; }
    [[nodiscard]] const std::string& name() const { return m_name; }
    /// "0x1a2b3c4d5e6f7081" (rsmi_dev_unique_id_get), or empty when not available.
    [[nodiscard]] const std::string& unique_id() const { return m_unique_id; }
    /// "0000:03:00.0" decoded from rsmi_dev_pci_id_get's BDFID, or empty.
    [[nodiscard]] const std::string& pci_bus_id() const { return m_pci_bus_id; }
    /// The raw BDFID, for ordering.
    [[nodiscard]] std::optional<std::uint64_t> bdfid() const { return m_bdfid; }
    /// "AMD GPU 0 (AMD Instinct MI210, 0000:03:00.0)": for messages.
    [[nodiscard]] std::string label() const;
    /// Cap, its range and default in watts from rsmi_dev_power_cap_* (fields left empty where the
    /// call is missing or fails). Never throws.
    [[nodiscard]] PowerLimitInfo limit_info() const noexcept;

    /// Every GPU of the library, in PCI bus order (BDFID as a number; ROCm SMI order when a GPU
    /// has no BDFID), with joulebench indices 0..n-1. GPUs whose identity cannot be read are left
    /// out with a note in `notes`. Throws Error when rsmi_num_monitor_devices fails.
    static std::vector<RocmDevice> enumerate(const std::shared_ptr<const RocmLibrary>& library,
                                             std::vector<std::string>& notes);

private:
    std::shared_ptr<const RocmLibrary> m_library;
    std::uint32_t m_dv_ind = 0;
    int m_index = -1;
    std::string m_name;
    std::string m_unique_id;
    std::string m_pci_bus_id;
    std::optional<std::uint64_t> m_bdfid;
};

/// "0000:03:00.0" from a BDFID = (domain << 32) | (bus << 8) | (device << 3) | function
/// (rocm_smi.h, rsmi_dev_pci_id_get).
[[nodiscard]] std::string format_bdfid(std::uint64_t bdfid);

}  // namespace joulebench::rocm
