#pragma once
// Range checks for numeric options whose messages read as people write numbers. CLI11's Range and
// PositiveNumber print their bounds with "%f" (a 309-digit maximum for PositiveNumber) and say
// "Value abc not in range ..." for a value that is no number at all; these say "'abc' is not a
// number" and "0 is outside 1 to 5000". The checks of empty, NaN, infinite and negative values
// for every option are in main.cpp (check_option_values).

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace joulebench::cli {

namespace detail {

// The value as a double when the whole text is one; NaN otherwise.
inline bool parse_whole_number(const std::string& text, double& out) {
    if (text.empty()) return false;
    char* end = nullptr;
    errno = 0;
    out = std::strtod(text.c_str(), &end);
    return end == text.c_str() + text.size() && errno != ERANGE;
}

}  // namespace detail

/// A number from `lo` to `hi`, both included. Integral bounds ask for an integer.
template <typename T>
CLI::Validator number_range(T lo, T hi) {
    const bool integral = std::is_integral_v<T>;
    return CLI::Validator(
        [lo, hi, integral](std::string& value) -> std::string {
            double x = 0;
            if (value.empty()) return "the value is empty";
            if (!detail::parse_whole_number(value, x)) return fmt::format("'{}' is not a number", value);
            if (!std::isfinite(x)) return "must be a finite number, not " + value;
            if (integral && x != static_cast<double>(static_cast<long long>(x))) {
                return fmt::format("'{}' is not a whole number", value);
            }
            if (x < static_cast<double>(lo) || x > static_cast<double>(hi)) {
                return fmt::format("{} is outside {} to {}", value, lo, hi);
            }
            return {};
        },
        fmt::format("{} to {}", lo, hi));
}

/// A number above 0.
inline CLI::Validator positive_number() {
    return CLI::Validator(
        [](std::string& value) -> std::string {
            double x = 0;
            if (value.empty()) return "the value is empty";
            if (!detail::parse_whole_number(value, x)) return fmt::format("'{}' is not a number", value);
            if (!std::isfinite(x)) return "must be a finite number, not " + value;
            if (!(x > 0)) return fmt::format("{} is not above 0", value);
            return {};
        },
        "above 0");
}

}  // namespace joulebench::cli
