#pragma once
/// The one exception type of joulebench. Messages read `component: action object: cause`, e.g.
/// `nvml: set power limit of GPU 0 to 250 W: insufficient permissions`, and may carry a hint that
/// tells the user how to fix it. Absent hardware is never an error: it is a probe reason.

#include <stdexcept>
#include <string>
#include <string_view>

namespace joulebench {

enum class ErrorCategory {
    kNotSupported,
    kNoPermission,
    kNotFound,
    kInvalidArgument,
    kDeviceLost,
    kIo,
    kInternal,
};

[[nodiscard]] std::string_view to_string(ErrorCategory category);

class Error : public std::runtime_error {
public:
    Error(ErrorCategory category, const std::string& message, std::string hint = {});

    [[nodiscard]] ErrorCategory category() const { return m_category; }
    /// How to fix it, or empty.
    [[nodiscard]] const std::string& hint() const { return m_hint; }
    /// Exit status for this error: the one set with set_exit_code, else 2 for bad usage
    /// (invalid argument), 1 otherwise.
    [[nodiscard]] int exit_code() const;
    /// Overrides the exit status (e.g. 127 for a command that is not found, as shells do).
    void set_exit_code(int code) { m_exit_code = code; }

private:
    ErrorCategory m_category;
    std::string m_hint;
    int m_exit_code = -1;
};

/// Prints `error: <what>` and, when there is one, `hint: <hint>` on standard error (standard
/// output flushed first, so the lines follow what was printed before), and returns the error's
/// exit status: how a program of the project ends on an Error.
int report_error(const Error& error);

/// An Error with the message of `errno` appended: `what: strerror(errno)`.
[[nodiscard]] Error system_error(const std::string& what, int errno_value, std::string hint = {});

}  // namespace joulebench
