// The values of an experiment file that are text with a format of their own: durations, watts
// (as run ids write them) and the seed derived from the experiment's name.

#include <fmt/core.h>

#include <charconv>
#include <cmath>

#include "common/sha256.hpp"
#include "joulebench/experiment.hpp"

namespace joulebench {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == 0 || i == text.size()) return std::nullopt;  // no number, or no unit
    const std::string_view number = text.substr(0, i);
    if (number.front() == '.' || number.back() == '.') return std::nullopt;
    double value = 0.0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc{} || end != number.data() + number.size()) return std::nullopt;
    const std::string_view unit = text.substr(i);
    double ms_per_unit = 0.0;
    if (unit == "ms") {
        ms_per_unit = 1.0;
    } else if (unit == "s") {
        ms_per_unit = 1e3;
    } else if (unit == "m" || unit == "min") {
        ms_per_unit = 60e3;
    } else if (unit == "h") {
        ms_per_unit = 3600e3;
    } else {
        return std::nullopt;
    }
    const double ms = std::round(value * ms_per_unit);
    // A year is plenty for any timeout or rest; beyond, the text is surely a mistake.
    if (!std::isfinite(ms) || ms > 365.0 * 24 * 3600e3) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::string format_duration_ms(std::chrono::milliseconds duration) {
    std::int64_t ms = duration.count();
    if (ms == 0) return "0s";
    std::string out;
    const std::int64_t h = ms / 3600000;
    ms %= 3600000;
    const std::int64_t m = ms / 60000;
    ms %= 60000;
    if (h > 0) out += fmt::format("{}h", h);
    if (m > 0) out += fmt::format("{}{}m", out.empty() ? "" : " ", m);
    if (ms > 0) {
        if (ms % 1000 == 0) {
            out += fmt::format("{}{}s", out.empty() ? "" : " ", ms / 1000);
        } else if (ms < 1000 && out.empty()) {
            out += fmt::format("{}ms", ms);
        } else {
            out += fmt::format("{}{}s", out.empty() ? "" : " ", static_cast<double>(ms) / 1000.0);
        }
    }
    return out;
}

std::string format_watts(double watts) {
    if (std::isfinite(watts) && watts == std::floor(watts) && std::fabs(watts) < 1e15) {
        return fmt::format("{}", static_cast<std::int64_t>(watts));
    }
    return fmt::format("{}", watts);  // fmt's default is the shortest round-trip form
}

std::uint64_t seed_from_name(std::string_view experiment_name) {
    Sha256 hash;
    hash.update(std::string_view("joulebench-seed\0", 16));
    hash.update(experiment_name);
    const auto digest = hash.finish();
    std::uint64_t seed = 0;
    for (std::size_t i = 0; i < 8; ++i) seed = (seed << 8) | digest[i];
    return seed;
}

}  // namespace joulebench
