#pragma once
/// Our own minimal declarations of the NVML types joulebench uses. We never include nvml.h: the
/// library is dlopen'ed at run time so one binary runs with or without a driver [nvtop, DCGM].
/// Layouts and values follow NVML's public header (nvml.h, CUDA 12); only what we call is here.
/// These types are used at the edge only (loader, sensor, fake library): nothing under
/// include/joulebench sees them.

#include <cstdint>

// The C ABI types keep NVML's own spelling so a reader can match them against nvml.h.
// NOLINTBEGIN(readability-identifier-naming)
extern "C" {

/// NVML's return codes. NVML declares an enum; enums of that range have the size of int on
/// every ABI NVML ships for, so an int alias is ABI-compatible and lets the fake return any value.
using nvmlReturn_t = int;

/// Opaque device handle.
struct nvmlDevice_st;
using nvmlDevice_t = nvmlDevice_st*;

/// nvmlPciInfo_t as filled by nvmlDeviceGetPciInfo_v3.
struct nvmlPciInfo_t {
    char busIdLegacy[16];  ///< "0000:3B:00.0" style (legacy 4-digit domain)
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    char busId[32];  ///< "00000000:3B:00.0": 8-digit domain, bus, device.function
};

/// nvmlUtilization_t: percent of time over the past sample period.
struct nvmlUtilization_t {
    unsigned int gpu;     ///< kernels executing, percent
    unsigned int memory;  ///< device memory read/written, percent
};

/// Enums passed by value (nvmlTemperatureSensors_t, nvmlClockType_t, nvmlEnableState_t): int-sized.
using nvmlTemperatureSensors_t = int;
using nvmlClockType_t = int;
using nvmlEnableState_t = int;

}  // extern "C"
// NOLINTEND(readability-identifier-naming)

namespace joulebench::nvml {

// nvmlReturn_t values (nvml.h).
inline constexpr nvmlReturn_t kSuccess = 0;
inline constexpr nvmlReturn_t kErrorUninitialized = 1;
inline constexpr nvmlReturn_t kErrorInvalidArgument = 2;
inline constexpr nvmlReturn_t kErrorNotSupported = 3;
inline constexpr nvmlReturn_t kErrorNoPermission = 4;
inline constexpr nvmlReturn_t kErrorAlreadyInitialized = 5;
inline constexpr nvmlReturn_t kErrorNotFound = 6;
inline constexpr nvmlReturn_t kErrorInsufficientSize = 7;
inline constexpr nvmlReturn_t kErrorInsufficientPower = 8;
inline constexpr nvmlReturn_t kErrorDriverNotLoaded = 9;
inline constexpr nvmlReturn_t kErrorTimeout = 10;
inline constexpr nvmlReturn_t kErrorIrqIssue = 11;
inline constexpr nvmlReturn_t kErrorLibraryNotFound = 12;
inline constexpr nvmlReturn_t kErrorFunctionNotFound = 13;
inline constexpr nvmlReturn_t kErrorCorruptedInforom = 14;
inline constexpr nvmlReturn_t kErrorGpuIsLost = 15;
inline constexpr nvmlReturn_t kErrorResetRequired = 16;
inline constexpr nvmlReturn_t kErrorOperatingSystem = 17;
inline constexpr nvmlReturn_t kErrorLibRmVersionMismatch = 18;
inline constexpr nvmlReturn_t kErrorInUse = 19;
inline constexpr nvmlReturn_t kErrorMemory = 20;
inline constexpr nvmlReturn_t kErrorNoData = 21;
inline constexpr nvmlReturn_t kErrorUnknown = 999;

// nvmlTemperatureSensors_t: NVML_TEMPERATURE_GPU.
inline constexpr nvmlTemperatureSensors_t kTemperatureGpu = 0;
// nvmlClockType_t: NVML_CLOCK_SM.
inline constexpr nvmlClockType_t kClockSm = 1;
// nvmlEnableState_t.
inline constexpr nvmlEnableState_t kFeatureDisabled = 0;
inline constexpr nvmlEnableState_t kFeatureEnabled = 1;

// Buffer sizes (nvml.h): NVML_DEVICE_NAME_V2_BUFFER_SIZE, NVML_DEVICE_UUID_V2_BUFFER_SIZE,
// NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE.
inline constexpr unsigned kNameBufferSize = 96;
inline constexpr unsigned kUuidBufferSize = 96;
inline constexpr unsigned kDriverVersionBufferSize = 80;

}  // namespace joulebench::nvml
