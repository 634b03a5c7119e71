#pragma once
/// The ROCm SMI backend: load the library, enumerate AMD GPUs in PCI bus order, make sensors.

#include "joulebench/sensor.hpp"
#include "sensors/rocm/rocm_library.hpp"

namespace joulebench::rocm {

struct RocmProbeOptions {
    RocmLibraryOptions library;
    /// `--gpus none`: no GPU is measured, AMD ones included. (`--gpus` indices name NVIDIA GPUs;
    /// every AMD GPU is measured otherwise, docs/rocm.md.)
    bool none = false;
};

/// Probes the backend; never throws. Sensors for every AMD GPU, skip reasons ("rocm: library not
/// found: ...", "rocm: rsmi_init failed: ...", "rocm: no GPUs", a GPU's own reason) and notes
/// (library, missing optional entry points, GPUs left out).
BackendProbe probe_rocm(const RocmProbeOptions& options) noexcept;

/// Same, on an already loaded library (tests hand a table in).
BackendProbe probe_rocm(const std::shared_ptr<const RocmLibrary>& library) noexcept;

}  // namespace joulebench::rocm
