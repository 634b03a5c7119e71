#pragma once
/// The one interface every write to hardware power limits goes through [GEOPM PlatformIO controls].
/// Implementations: NVML GPUs (src/capping/nvml_capper.hpp), AMD GPUs through ROCm SMI
/// (rocm_capper.hpp) or amdgpu's hwmon `power1_cap` (hwmon_capper.hpp), and CPU packages through
/// powercap (src/capping/powercap_capper.hpp). A PowerCapper never restores anything by itself: crash-safe
/// capping (journal before the first write, restore in a noexcept destructor, a guardian for
/// SIGKILL) is layered on top of it by capping::ScopedCap and capping::CapSession.

#include <optional>
#include <string>
#include <vector>

#include "joulebench/units.hpp"

namespace joulebench {

/// What a capper limits.
enum class CapTarget {
    kGpu,         ///< a whole GPU board (NVML power management limit)
    kCpuPackage,  ///< a CPU package (powercap constraint_0 = long term, RAPL PL1)
};

/// Static description of a cappable device.
struct CapDeviceInfo {
    CapTarget target = CapTarget::kGpu;
    int index = -1;       ///< GPU index in PCI bus order, or package index
    std::string id;       ///< the sensor id of the same domain: "gpu0", "package0"
    std::string key;      ///< stable identity, names the journal entry: GPU UUID, PCI bus id "0000:03:00.0"
                          ///< (hwmon), "intel-rapl:0" (powercap zone)
    std::string backend;  ///< "nvml", "rocm", "hwmon", "powercap"
    std::string source;   ///< what restores find it by: the GPU UUID, the PCI bus id (hwmon), or the powercap zone folder
    std::string name;     ///< GPU model, powercap zone name ("package-0")
    std::string label;    ///< how messages name it: "GPU 0 (NVIDIA A100, 00000000:3B:00.0)"
};

/// The allowed range of a limit, in watts (inclusive).
struct CapRange {
    Watts min;
    Watts max;
};

class PowerCapper {
public:
    PowerCapper() = default;
    PowerCapper(const PowerCapper&) = delete;
    PowerCapper& operator=(const PowerCapper&) = delete;
    virtual ~PowerCapper() = default;

    [[nodiscard]] virtual const CapDeviceInfo& info() const = 0;
    /// The limit software has set now. Throws Error (kNotSupported, kNoPermission, kIo, ...).
    [[nodiscard]] virtual Watts current_limit() const = 0;
    /// The limit actually in force (GPU: the lowest of all limiters; powercap: the written one).
    /// Throws Error.
    [[nodiscard]] virtual Watts enforced_limit() const = 0;
    /// The range set_limit accepts. Throws Error when it cannot be read.
    [[nodiscard]] virtual CapRange constraints() const = 0;
    /// The factory default, when the device reports one. Never throws.
    [[nodiscard]] virtual std::optional<Watts> default_limit() const noexcept = 0;
    /// Writes `limit`. Callers check the range first (check_cap_range): a restore writes back the
    /// original value, which need not lie inside the advertised range. Throws Error:
    /// kNoPermission with a hint, kInvalidArgument when the device refuses the value, kIo, ...
    virtual void set_limit(Watts limit) = 0;
    /// How far a read-back limit may differ from the written one (hardware rounding), in watts.
    [[nodiscard]] virtual Watts tolerance() const = 0;
    /// Checks, before anything is written, that a write would not be refused for lack of
    /// permission (sysfs cappers: the file is writable). Throws Error kNoPermission naming the file,
    /// with a hint. Default: nothing to check (the library call says so itself).
    virtual void check_writable() const {}
    /// What a user should know before a write (e.g. GPU persistence mode off). Never throws.
    [[nodiscard]] virtual std::vector<std::string> warnings() const noexcept { return {}; }
};

/// Checks `limit` against `capper.constraints()`. Throws Error kInvalidArgument (exit status 2)
/// whose message names the device and the allowed range in watts; nothing is written.
void check_cap_range(const PowerCapper& capper, Watts limit);

/// Reads the limit back after a write: the current limit must be within tolerance() of
/// `expected`, and the enforced limit must not be above it. Returns the enforced limit. Throws
/// Error kIo ("caps: verify ...") when the device does not hold the value.
Watts verify_cap(const PowerCapper& capper, Watts expected);

/// "250 W", "123.456 W": a limit as messages and reports show it.
[[nodiscard]] std::string format_watts(Watts value);

}  // namespace joulebench
