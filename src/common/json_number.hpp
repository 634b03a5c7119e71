#pragma once
// Numbers for the JSON documents joulebench writes: JSON has no NaN or infinity, so a value that is
// absent or not finite is written as null, the same way in every document (analysis, report,
// measure, plan, sweep).

#include <cmath>
#include <optional>

#include <nlohmann/json.hpp>

namespace joulebench {

/// `value`, or null when it is NaN or infinite. Json: nlohmann::json or nlohmann::ordered_json.
template <class Json = nlohmann::json>
[[nodiscard]] Json json_number(double value) {
    if (!std::isfinite(value)) return Json(nullptr);
    return Json(value);
}

/// The value, or null when absent, NaN or infinite.
template <class Json = nlohmann::json>
[[nodiscard]] Json json_number(const std::optional<double>& value) {
    if (!value) return Json(nullptr);
    return json_number<Json>(*value);
}

}  // namespace joulebench
