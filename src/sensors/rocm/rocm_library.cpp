#include "sensors/rocm/rocm_library.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <utility>

#include "common/strings.hpp"
#include "sensors/library_search.hpp"

namespace joulebench::rocm {

// The visitor of RocmApi that api_table.hpp's functions find by argument-dependent lookup.
template <typename Table, typename F>
void for_each_entry(Table& api, F&& visit) {
#define JOULEBENCH_ROCM_SMI_ENTRY(need, ret, name, params) visit(#name, api_need::need, api.name);
#include "sensors/rocm/rocm_smi_api.def"
#undef JOULEBENCH_ROCM_SMI_ENTRY
}

namespace {

std::string init_hint(rsmi_status_t status) {
    if (status == kRsmiPermission) return "check permissions on /dev/kfd and /dev/dri/*";
    return "check that the amdgpu driver is loaded (rocm-smi)";
}

}  // namespace

const std::vector<RocmEntryPoint>& rocm_entry_points() {
    static const std::vector<RocmEntryPoint> kEntries = api_entry_points<RocmApi>();
    return kEntries;
}

std::string status_name(rsmi_status_t status) {
    switch (status) {
        case kRsmiSuccess:
            return "RSMI_STATUS_SUCCESS";
        case kRsmiInvalidArgs:
            return "RSMI_STATUS_INVALID_ARGS";
        case kRsmiNotSupported:
            return "RSMI_STATUS_NOT_SUPPORTED";
        case kRsmiFileError:
            return "RSMI_STATUS_FILE_ERROR";
        case kRsmiPermission:
            return "RSMI_STATUS_PERMISSION";
        case kRsmiOutOfResources:
            return "RSMI_STATUS_OUT_OF_RESOURCES";
        case kRsmiInternalException:
            return "RSMI_STATUS_INTERNAL_EXCEPTION";
        case kRsmiInputOutOfBounds:
            return "RSMI_STATUS_INPUT_OUT_OF_BOUNDS";
        case kRsmiInitError:
            return "RSMI_STATUS_INIT_ERROR";
        case kRsmiNotYetImplemented:
            return "RSMI_STATUS_NOT_YET_IMPLEMENTED";
        case kRsmiNotFound:
            return "RSMI_STATUS_NOT_FOUND";
        case kRsmiInsufficientSize:
            return "RSMI_STATUS_INSUFFICIENT_SIZE";
        case kRsmiInterrupt:
            return "RSMI_STATUS_INTERRUPT";
        case kRsmiUnexpectedSize:
            return "RSMI_STATUS_UNEXPECTED_SIZE";
        case kRsmiNoData:
            return "RSMI_STATUS_NO_DATA";
        case kRsmiUnexpectedData:
            return "RSMI_STATUS_UNEXPECTED_DATA";
        case kRsmiBusy:
            return "RSMI_STATUS_BUSY";
        case kRsmiRefcountOverflow:
            return "RSMI_STATUS_REFCOUNT_OVERFLOW";
        case kRsmiUnknownError:
            return "RSMI_STATUS_UNKNOWN_ERROR";
        default:
            return fmt::format("RSMI_STATUS_{}", status);
    }
}

ErrorCategory category_of(rsmi_status_t status) {
    switch (status) {
        case kRsmiNotSupported:
        case kRsmiNotYetImplemented:
            return ErrorCategory::kNotSupported;
        case kRsmiPermission:
            return ErrorCategory::kNoPermission;
        case kRsmiInvalidArgs:
        case kRsmiInputOutOfBounds:
            return ErrorCategory::kInvalidArgument;
        case kRsmiNotFound:
        case kRsmiInitError:
            return ErrorCategory::kNotFound;
        case kRsmiFileError:
        case kRsmiBusy:
        case kRsmiInterrupt:
        case kRsmiNoData:
        case kRsmiUnexpectedSize:
        case kRsmiUnexpectedData:
            return ErrorCategory::kIo;
        default:
            return ErrorCategory::kInternal;
    }
}

std::shared_ptr<RocmLibrary> RocmLibrary::load(const RocmLibraryOptions& options) {
    const LibrarySearch search =
        library_search_order(options.explicit_path, "JOULEBENCH_ROCM_SMI_LIBRARY",
                             options.candidates, options.driver_markers, "amdgpu KFD");
    OpenedLibrary opened = open_first_library(
        search, "rocm",
        "install librocm-smi64-1 (Debian) or ROCm, or set JOULEBENCH_ROCM_SMI_LIBRARY");
    void* handle = opened.handle;
    RocmApi api;
    const auto missing = resolve_api_symbols(handle, api);
    if (!missing.empty()) {
        dlclose(handle);
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("rocm: load {}: required symbols missing: {}", opened.label,
                                join(missing, ", ")),
                    "ROCm SMI is too old or the file is not librocm_smi64");
    }
    std::shared_ptr<RocmLibrary> library(
        new RocmLibrary(api, std::move(opened.label), std::move(opened.notes)));
    const rsmi_status_t rc = api.rsmi_init(kRsmiInitFlagsAmdOnly);
    if (rc != kRsmiSuccess) {
        const std::string text = library->error_string(rc);
        library.reset();  // no shut down: init failed; the handle is not owned yet
        dlclose(handle);
        throw Error(category_of(rc), fmt::format("rocm: rsmi_init failed: {}", text),
                    init_hint(rc));
    }
    library->m_handle = handle;
    library->m_initialised = true;
    return library;
}

RocmApi RocmLibrary::resolve_table(const std::string& path) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("rocm: load {}: {}", path, dl_error_text()));
    }
    RocmApi api;
    (void)resolve_api_symbols(handle, api);
    return api;  // the handle stays open: the table points into it
}

std::shared_ptr<RocmLibrary> RocmLibrary::from_table(const RocmApi& api, std::string description) {
    const auto missing = missing_api_entries(api, /*required=*/true);
    if (!missing.empty()) {
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("rocm: load {}: required symbols missing: {}", description,
                                join(missing, ", ")));
    }
    std::shared_ptr<RocmLibrary> library(new RocmLibrary(api, std::move(description), {}));
    const rsmi_status_t rc = api.rsmi_init(kRsmiInitFlagsAmdOnly);
    if (rc != kRsmiSuccess) {
        throw Error(category_of(rc),
                    fmt::format("rocm: rsmi_init failed: {}", library->error_string(rc)),
                    init_hint(rc));
    }
    library->m_initialised = true;
    return library;
}

RocmLibrary::RocmLibrary(const RocmApi& api, std::string description,
                         std::vector<std::string> search_notes)
    : m_api(api), m_description(std::move(description)), m_search_notes(std::move(search_notes)) {}

RocmLibrary::~RocmLibrary() {
    if (m_initialised && m_api.rsmi_shut_down != nullptr) (void)m_api.rsmi_shut_down();
    if (m_handle != nullptr) (void)dlclose(m_handle);
}

std::vector<std::string> RocmLibrary::missing_optional() const {
    return missing_api_entries(m_api, /*required=*/false);
}

std::string RocmLibrary::error_string(rsmi_status_t status) const noexcept {
    try {
        const char* text = nullptr;
        if (m_api.rsmi_status_string != nullptr &&
            m_api.rsmi_status_string(status, &text) == kRsmiSuccess && text != nullptr &&
            *text != 0) {
            return text;
        }
        return status_name(status);
    } catch (...) {
        return {};
    }
}

Error RocmLibrary::make_error(rsmi_status_t status, const std::string& action) const {
    std::string hint;
    if (status == kRsmiPermission) {
        hint = "run as root (e.g. with sudo), or ask the administrator to allow it";
    }
    return {category_of(status), fmt::format("rocm: {}: {}", action, error_string(status)),
            std::move(hint)};
}

}  // namespace joulebench::rocm
