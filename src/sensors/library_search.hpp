#pragma once
/// The search order shared by the dlopen'ed vendor libraries (NVML, ROCm SMI): an explicit path,
/// else an environment variable, then the standard sonames, but those only when the vendor's
/// kernel driver shows one of its marker files (a failed dlopen search of a standard name costs
/// some 40 failed opens through the loader's paths at every start-up). Each attempt has a label
/// for messages (`$JOULEBENCH_NVML_LIBRARY=/x/libnvidia-ml.so.1`) and the argument to dlopen.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace joulebench {

struct LibraryAttempt {
    std::string label;  ///< for messages
    std::string path;   ///< what dlopen is given
};

struct LibrarySearch {
    std::vector<LibraryAttempt> attempts;
    /// Why the standard names were not searched ("libx.so.1 not searched (no ... driver loaded:
    /// none of /dev/x exists)"), or empty.
    std::string skipped;
};

/// `explicit_path` wins; otherwise `$env_var` when set and not empty; then each of `candidates`
/// when `driver_markers` is empty or one of them exists (`driver` names the driver in the skip
/// message: "NVIDIA driver").
[[nodiscard]] LibrarySearch library_search_order(const std::optional<std::string>& explicit_path,
                                                 const char* env_var,
                                                 const std::vector<std::string>& candidates,
                                                 const std::vector<std::string>& driver_markers,
                                                 std::string_view driver);

/// The library open_first_library loaded.
struct OpenedLibrary {
    void* handle = nullptr;          ///< dlopen handle; the caller owns it (dlclose)
    std::string label;               ///< the attempt's label
    std::vector<std::string> notes;  ///< "not loaded: <label> (<dlerror>)", one per earlier attempt
};

/// dlopen's (RTLD_NOW | RTLD_LOCAL: the vendor's symbols must not leak into the global namespace
/// of the process) the first attempt of `search` that loads. Throws Error kNotFound "<vendor>:
/// library not found: <describe_failed_search>" with `hint` when none does.
[[nodiscard]] OpenedLibrary open_first_library(const LibrarySearch& search, std::string_view vendor,
                                               std::string hint);

/// dlerror()'s text, or "unknown dlopen error".
[[nodiscard]] std::string dl_error_text();

/// "tried A (why), B (why); <skipped>": the text after "library not found: ".
[[nodiscard]] std::string describe_failed_search(const std::vector<std::string>& failures,
                                                 const std::string& skipped);

}  // namespace joulebench
