#pragma once
/// Our own minimal declarations of the ROCm SMI types joulebench uses. We never include
/// rocm_smi.h: librocm_smi64 is dlopen'ed at run time so one binary runs with or without ROCm.
/// Values follow rocm_smi.h of ROCm SMI 5.2.3 (Debian 12's librocm-smi-dev,
/// /usr/include/rocm_smi/rocm_smi.h). Used at the edge only (loader, sensor, capper, fake).

#include <cstdint>

// The C ABI types keep ROCm SMI's own spelling so a reader can match them against rocm_smi.h.
// NOLINTBEGIN(readability-identifier-naming)
extern "C" {

/// rsmi_status_t. rocm_smi.h declares an enum whose largest value is 0xFFFFFFFF
/// (RSMI_STATUS_UNKNOWN_ERROR), so its underlying type is unsigned int on every ABI ROCm ships
/// for; an unsigned alias is ABI-compatible and lets the fake return any value.
using rsmi_status_t = unsigned int;

}  // extern "C"
// NOLINTEND(readability-identifier-naming)

namespace joulebench::rocm {

// rsmi_status_t values (rocm_smi.h, 5.2.3), in the header's order.
constexpr rsmi_status_t kRsmiSuccess = 0x0;
constexpr rsmi_status_t kRsmiInvalidArgs = 0x1;
constexpr rsmi_status_t kRsmiNotSupported = 0x2;
constexpr rsmi_status_t kRsmiFileError = 0x3;
constexpr rsmi_status_t kRsmiPermission = 0x4;
constexpr rsmi_status_t kRsmiOutOfResources = 0x5;
constexpr rsmi_status_t kRsmiInternalException = 0x6;
constexpr rsmi_status_t kRsmiInputOutOfBounds = 0x7;
constexpr rsmi_status_t kRsmiInitError = 0x8;
constexpr rsmi_status_t kRsmiNotYetImplemented = 0x9;
constexpr rsmi_status_t kRsmiNotFound = 0xA;
constexpr rsmi_status_t kRsmiInsufficientSize = 0xB;
constexpr rsmi_status_t kRsmiInterrupt = 0xC;
constexpr rsmi_status_t kRsmiUnexpectedSize = 0xD;
constexpr rsmi_status_t kRsmiNoData = 0xE;
constexpr rsmi_status_t kRsmiUnexpectedData = 0xF;
constexpr rsmi_status_t kRsmiBusy = 0x10;
constexpr rsmi_status_t kRsmiRefcountOverflow = 0x11;
constexpr rsmi_status_t kRsmiUnknownError = 0xFFFFFFFF;

/// rsmi_init's flags: 0 enumerates AMD GPUs only (RSMI_INIT_FLAG_ALL_GPUS = 0x1 adds others).
constexpr std::uint64_t kRsmiInitFlagsAmdOnly = 0;

}  // namespace joulebench::rocm
