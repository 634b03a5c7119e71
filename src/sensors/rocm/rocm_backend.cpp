#include "sensors/rocm/rocm_backend.hpp"

#include <fmt/format.h>

#include "common/strings.hpp"
#include "sensors/rocm/rocm_device.hpp"
#include "sensors/rocm/rocm_sensor.hpp"

namespace joulebench::rocm {

namespace {
void add_skip(BackendProbe& probe, const std::exception& e) noexcept {
    try {
        const auto* error = dynamic_cast<const Error*>(&e);
        probe.skipped.emplace_back(
            error != nullptr ? e.what() : std::string("rocm: probe failed: ") + e.what());
    } catch (...) {
    }
}
}  // namespace

BackendProbe probe_rocm(const std::shared_ptr<const RocmLibrary>& library) noexcept {
    BackendProbe probe;
    try {
        probe.backend = "rocm";
        probe.notes.push_back("library: " + library->description());
        for (const auto& note : library->search_notes()) probe.notes.push_back(note);
        const auto missing = library->missing_optional();
        if (!missing.empty()) {
            probe.notes.push_back("not in the library (capabilities removed): " +
                                  join(missing, ", "));
        }
        auto devices = RocmDevice::enumerate(library, probe.notes);
        if (devices.empty()) {
            probe.skipped.emplace_back("rocm: no GPUs");
            return probe;
        }
        for (auto& device : devices) {
            try {
                probe.sensors.push_back(std::make_unique<RocmSensor>(std::move(device)));
            } catch (const Error& e) {
                probe.skipped.emplace_back(e.what());
            }
        }
    } catch (const std::exception& e) {
        probe.sensors.clear();
        add_skip(probe, e);
    }
    return probe;
}

BackendProbe probe_rocm(const RocmProbeOptions& options) noexcept {
    if (options.none) {
        BackendProbe probe;
        try {
            probe.backend = "rocm";
            probe.skipped.emplace_back("rocm: no GPUs selected (--gpus none)");
        } catch (...) {
        }
        return probe;
    }
    try {
        return probe_rocm(RocmLibrary::load(options.library));
    } catch (const std::exception& e) {
        BackendProbe probe;
        try {
            probe.backend = "rocm";
        } catch (...) {
        }
        add_skip(probe, e);
        return probe;
    }
}

}  // namespace joulebench::rocm
