#pragma once
/// What the dlopen'ed vendor libraries (NVML, ROCm SMI) share about their entry-point tables. A
/// table is a struct of function pointers built from the vendor's X-macro list (nvml_api.def,
/// rocm_smi_api.def, whose `need` is `required` or `optional`: api_need below), and each vendor
/// gives one visitor over it, in its own namespace (found by argument-dependent lookup):
///
///     template <typename Table, typename F> void for_each_entry(Table& api, F&& visit);
///
/// which calls `visit(name, required, slot)` for every entry in .def order, `slot` being the
/// table's function pointer (Table is the vendor's Api or const Api). Filling a table with dlsym,
/// listing its missing entries and the static list of entry points are written once, here.

#include <dlfcn.h>

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace joulebench {

/// The `need` column of a .def list, as a bool: `api_need::need`.
namespace api_need {
inline constexpr bool required = true;
inline constexpr bool optional = false;
}  // namespace api_need

/// Static facts about one entry of a vendor's .def list.
struct ApiEntryPoint {
    std::string_view name;
    bool required;
};

/// Fills `api` from `handle` with dlsym. Returns the names of missing required symbols.
template <typename Api>
std::vector<std::string> resolve_api_symbols(void* handle, Api& api) {
    std::vector<std::string> missing_required;
    for_each_entry(api, [&](const char* name, bool required, auto& slot) {
        // dlsym returns void*; POSIX guarantees it converts to a function pointer, which C++ only
        // allows through reinterpret_cast (conditionally-supported, supported by GCC and Clang on
        // POSIX).
        slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(dlsym(handle, name));
        if (slot == nullptr && required) missing_required.emplace_back(name);
    });
    return missing_required;
}

/// The names of the null entries of `api` that are required (`required` true) or optional.
template <typename Api>
std::vector<std::string> missing_api_entries(const Api& api, bool required) {
    std::vector<std::string> missing;
    for_each_entry(api, [&](const char* name, bool entry_required, const auto& slot) {
        if (slot == nullptr && entry_required == required) missing.emplace_back(name);
    });
    return missing;
}

/// Every entry point of `Api`, in .def order.
template <typename Api>
std::vector<ApiEntryPoint> api_entry_points() {
    std::vector<ApiEntryPoint> entries;
    const Api api{};
    for_each_entry(api, [&](const char* name, bool required, const auto& /*slot*/) {
        entries.push_back({name, required});
    });
    return entries;
}

}  // namespace joulebench
