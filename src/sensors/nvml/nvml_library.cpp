#include "sensors/nvml/nvml_library.hpp"

#include "common/strings.hpp"
#include "sensors/library_search.hpp"

#include <dlfcn.h>

#include <utility>

#include <fmt/format.h>

namespace joulebench::nvml {

// The visitor of NvmlApi that api_table.hpp's functions find by argument-dependent lookup.
template <typename Table, typename F>
void for_each_entry(Table& api, F&& visit) {
#define JOULEBENCH_NVML_ENTRY(need, ret, name, params) visit(#name, api_need::need, api.name);
#include "sensors/nvml/nvml_api.def"
#undef JOULEBENCH_NVML_ENTRY
}

const std::vector<NvmlEntryPoint>& nvml_entry_points() {
    static const std::vector<NvmlEntryPoint> kEntries = api_entry_points<NvmlApi>();
    return kEntries;
}

std::string return_code_name(nvmlReturn_t code) {
    switch (code) {
        case kSuccess: return "NVML_SUCCESS";
        case kErrorUninitialized: return "NVML_ERROR_UNINITIALIZED";
        case kErrorInvalidArgument: return "NVML_ERROR_INVALID_ARGUMENT";
        case kErrorNotSupported: return "NVML_ERROR_NOT_SUPPORTED";
        case kErrorNoPermission: return "NVML_ERROR_NO_PERMISSION";
        case kErrorAlreadyInitialized: return "NVML_ERROR_ALREADY_INITIALIZED";
        case kErrorNotFound: return "NVML_ERROR_NOT_FOUND";
        case kErrorInsufficientSize: return "NVML_ERROR_INSUFFICIENT_SIZE";
        case kErrorInsufficientPower: return "NVML_ERROR_INSUFFICIENT_POWER";
        case kErrorDriverNotLoaded: return "NVML_ERROR_DRIVER_NOT_LOADED";
        case kErrorTimeout: return "NVML_ERROR_TIMEOUT";
        case kErrorIrqIssue: return "NVML_ERROR_IRQ_ISSUE";
        case kErrorLibraryNotFound: return "NVML_ERROR_LIBRARY_NOT_FOUND";
        case kErrorFunctionNotFound: return "NVML_ERROR_FUNCTION_NOT_FOUND";
        case kErrorCorruptedInforom: return "NVML_ERROR_CORRUPTED_INFOROM";
        case kErrorGpuIsLost: return "NVML_ERROR_GPU_IS_LOST";
        case kErrorResetRequired: return "NVML_ERROR_RESET_REQUIRED";
        case kErrorOperatingSystem: return "NVML_ERROR_OPERATING_SYSTEM";
        case kErrorLibRmVersionMismatch: return "NVML_ERROR_LIB_RM_VERSION_MISMATCH";
        case kErrorInUse: return "NVML_ERROR_IN_USE";
        case kErrorMemory: return "NVML_ERROR_MEMORY";
        case kErrorNoData: return "NVML_ERROR_NO_DATA";
        case kErrorUnknown: return "NVML_ERROR_UNKNOWN";
        default: return fmt::format("NVML_ERROR_{}", code);
    }
}

ErrorCategory category_of(nvmlReturn_t code) {
    switch (code) {
        case kErrorNotSupported:
        case kErrorFunctionNotFound: return ErrorCategory::kNotSupported;
        case kErrorNoPermission: return ErrorCategory::kNoPermission;
        case kErrorInvalidArgument: return ErrorCategory::kInvalidArgument;
        case kErrorNotFound:
        case kErrorDriverNotLoaded:
        case kErrorLibraryNotFound: return ErrorCategory::kNotFound;
        case kErrorGpuIsLost:
        case kErrorResetRequired: return ErrorCategory::kDeviceLost;
        case kErrorTimeout:
        case kErrorIrqIssue:
        case kErrorOperatingSystem:
        case kErrorCorruptedInforom: return ErrorCategory::kIo;
        default: return ErrorCategory::kInternal;
    }
}

std::shared_ptr<NvmlLibrary> NvmlLibrary::load(const NvmlLibraryOptions& options) {
    const LibrarySearch search =
        library_search_order(options.explicit_path, "JOULEBENCH_NVML_LIBRARY", options.candidates,
                             options.driver_markers, "NVIDIA driver");
    OpenedLibrary opened = open_first_library(
        search, "nvml",
        "install the NVIDIA driver or set JOULEBENCH_NVML_LIBRARY to libnvidia-ml.so.1");
    void* handle = opened.handle;
    NvmlApi api;
    const auto missing = resolve_api_symbols(handle, api);
    if (!missing.empty()) {
        dlclose(handle);
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("nvml: load {}: required symbols missing: {}", opened.label,
                                join(missing, ", ")),
                    "the NVIDIA driver is too old or the file is not libnvidia-ml");
    }
    std::shared_ptr<NvmlLibrary> library(
        new NvmlLibrary(nullptr, api, std::move(opened.label), std::move(opened.notes)));
    // Own the handle only once init succeeded: the destructor shuts down and closes.
    const nvmlReturn_t rc = api.nvmlInit_v2();
    if (rc != kSuccess) {
        const std::string text = library->error_string(rc);
        library.reset();  // no shutdown: init failed (m_handle is still null)
        dlclose(handle);
        throw Error(category_of(rc), fmt::format("nvml: nvmlInit_v2 failed: {}", text),
                    rc == kErrorNoPermission ? "check permissions on /dev/nvidia*"
                                             : "check that the NVIDIA driver is loaded "
                                               "(nvidia-smi)");
    }
    library->m_handle = handle;
    library->m_initialised = true;
    return library;
}

NvmlApi NvmlLibrary::resolve_table(const std::string& path) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("nvml: load {}: {}", path, dl_error_text()));
    }
    NvmlApi api;
    (void)resolve_api_symbols(handle, api);
    return api;  // the handle stays open: the table points into it
}

std::shared_ptr<NvmlLibrary> NvmlLibrary::from_table(const NvmlApi& api, std::string description) {
    const auto missing = missing_api_entries(api, /*required=*/true);
    if (!missing.empty()) {
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("nvml: load {}: required symbols missing: {}", description,
                                join(missing, ", ")));
    }
    std::shared_ptr<NvmlLibrary> library(new NvmlLibrary(nullptr, api, std::move(description), {}));
    const nvmlReturn_t rc = api.nvmlInit_v2();
    if (rc != kSuccess) {
        throw Error(category_of(rc),
                    fmt::format("nvml: nvmlInit_v2 failed: {}", library->error_string(rc)));
    }
    library->m_initialised = true;
    return library;
}

NvmlLibrary::NvmlLibrary(void* handle, const NvmlApi& api, std::string description,
                         std::vector<std::string> search_notes)
    : m_handle(handle),
      m_api(api),
      m_description(std::move(description)),
      m_search_notes(std::move(search_notes)) {}

NvmlLibrary::~NvmlLibrary() {
    if (m_initialised && m_api.nvmlShutdown != nullptr) (void)m_api.nvmlShutdown();
    if (m_handle != nullptr) (void)dlclose(m_handle);
}

std::vector<std::string> NvmlLibrary::missing_optional() const {
    return missing_api_entries(m_api, /*required=*/false);
}

std::string NvmlLibrary::error_string(nvmlReturn_t code) const noexcept {
    try {
        const char* text = m_api.nvmlErrorString != nullptr ? m_api.nvmlErrorString(code) : nullptr;
        if (text != nullptr && *text != 0) return text;
        return return_code_name(code);
    } catch (...) {
        return {};
    }
}

Error NvmlLibrary::make_error(nvmlReturn_t code, const std::string& action) const {
    std::string hint;
    switch (code) {
        case kErrorNoPermission:
            hint = "run as root (e.g. with sudo), or ask the administrator to allow it";
            break;
        case kErrorGpuIsLost:
        case kErrorResetRequired: hint = "the GPU needs a reset (nvidia-smi -r) or a reboot"; break;
        case kErrorUninitialized: hint = "internal: NVML used after nvmlShutdown"; break;
        default: break;
    }
    return {category_of(code), fmt::format("nvml: {}: {}", action, error_string(code)),
            std::move(hint)};
}

}  // namespace joulebench::nvml
