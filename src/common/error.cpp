#include "joulebench/error.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace joulebench {

std::string_view to_string(ErrorCategory category) {
    switch (category) {
        case ErrorCategory::kNotSupported: return "not supported";
        case ErrorCategory::kNoPermission: return "no permission";
        case ErrorCategory::kNotFound: return "not found";
        case ErrorCategory::kInvalidArgument: return "invalid argument";
        case ErrorCategory::kDeviceLost: return "device lost";
        case ErrorCategory::kIo: return "I/O error";
        case ErrorCategory::kInternal: return "internal error";
    }
    return "unknown";
}

Error::Error(ErrorCategory category, const std::string& message, std::string hint)
    : std::runtime_error(message), m_category(category), m_hint(std::move(hint)) {}

int Error::exit_code() const {
    if (m_exit_code >= 0) return m_exit_code;
    return m_category == ErrorCategory::kInvalidArgument ? 2 : 1;
}

Error system_error(const std::string& what, int errno_value, std::string hint) {
    ErrorCategory category = ErrorCategory::kIo;
    if (errno_value == EACCES || errno_value == EPERM) {
        category = ErrorCategory::kNoPermission;
    } else if (errno_value == ENOENT) {
        category = ErrorCategory::kNotFound;
    } else if (errno_value == EINVAL) {
        category = ErrorCategory::kInvalidArgument;
    }
    // fmt rather than std::string operator+: GCC 12 raises a false -Wrestrict on the latter (GCC bug 105329).
    return {category, fmt::format("{}: {}", what, std::strerror(errno_value)), std::move(hint)};
}

int report_error(const Error& error) {
    std::fflush(stdout);
    fmt::print(stderr, "error: {}\n", error.what());
    if (!error.hint().empty()) fmt::print(stderr, "hint: {}\n", error.hint());
    return error.exit_code();
}

}  // namespace joulebench
