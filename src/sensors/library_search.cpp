#include "sensors/library_search.hpp"

#include <dlfcn.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "common/strings.hpp"
#include "joulebench/error.hpp"

namespace joulebench {

LibrarySearch library_search_order(const std::optional<std::string>& explicit_path,
                                   const char* env_var, const std::vector<std::string>& candidates,
                                   const std::vector<std::string>& driver_markers,
                                   std::string_view driver) {
    LibrarySearch search;
    if (explicit_path) {
        search.attempts.push_back({*explicit_path, *explicit_path});
    } else if (const char* env = std::getenv(env_var); env != nullptr && *env != 0) {
        search.attempts.push_back({fmt::format("${}={}", env_var, env), env});
    }
    bool driver_present = driver_markers.empty();
    for (const auto& marker : driver_markers) {
        if (::access(marker.c_str(), F_OK) == 0) {
            driver_present = true;
            break;
        }
    }
    if (driver_present) {
        for (const auto& candidate : candidates) search.attempts.push_back({candidate, candidate});
    } else if (!candidates.empty()) {
        search.skipped = fmt::format("{} not searched (no {} loaded: none of {} exists)",
                                     join(candidates, ", "), driver, join(driver_markers, ", "));
    }
    return search;
}

std::string dl_error_text() {
    const char* text = dlerror();
    return text != nullptr ? std::string(text) : std::string("unknown dlopen error");
}

std::string describe_failed_search(const std::vector<std::string>& failures,
                                   const std::string& skipped) {
    std::string tried = failures.empty() ? std::string() : "tried " + join(failures, ", ");
    if (!skipped.empty()) tried += (tried.empty() ? "" : "; ") + skipped;
    return tried;
}

OpenedLibrary open_first_library(const LibrarySearch& search, std::string_view vendor,
                                 std::string hint) {
    std::vector<std::string> failures;
    for (const auto& [label, path] : search.attempts) {
        void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) {
            failures.push_back(fmt::format("{} ({})", label, dl_error_text()));
            continue;
        }
        OpenedLibrary opened{handle, label, {}};
        for (const auto& failure : failures) opened.notes.push_back("not loaded: " + failure);
        return opened;
    }
    throw Error(ErrorCategory::kNotFound,
                fmt::format("{}: library not found: {}", vendor,
                            describe_failed_search(failures, search.skipped)),
                std::move(hint));
}

}  // namespace joulebench
