#pragma once
// Helpers of the statistics tests: loading reference JSON and comparing within tolerances.

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace joulebench::test {

/// Tolerances stated in issue 5: Shapiro W within 2e-4 and p within 1e-3 (absolute), everything
/// else within 1e-9 relative.
inline constexpr double kRel = 1e-9;
inline constexpr double kShapiroW = 2e-4;
inline constexpr double kShapiroP = 1e-3;

inline nlohmann::json load_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    return nlohmann::json::parse(in);
}

inline std::vector<double> doubles(const nlohmann::json& j) {
    return j.get<std::vector<double>>();
}

/// expected null means "undefined": the value must be NaN. Near zero the check is absolute 1e-300.
inline ::testing::AssertionResult near_rel(double actual, const nlohmann::json& expected,
                                           double rel = kRel) {
    if (expected.is_null()) {
        if (std::isnan(actual)) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure() << "expected NaN (null), got " << actual;
    }
    const double e = expected.get<double>();
    const double tol = std::max(rel * std::fabs(e), 1e-300);
    if (std::fabs(actual - e) <= tol) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "actual " << actual << " vs expected " << e << ", relative difference "
           << std::fabs(actual - e) / std::fabs(e) << " > " << rel;
}

/// Relative check that also accepts a tiny absolute difference for values that should be 0.
inline ::testing::AssertionResult near_rel_or_zero(double actual, double expected,
                                                   double rel = kRel) {
    const double tol = std::max(rel * std::fabs(expected), 1e-12);
    if (std::fabs(actual - expected) <= tol) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "actual " << actual << " vs expected " << expected;
}

}  // namespace joulebench::test
