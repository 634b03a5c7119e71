#pragma once
// Helpers shared by the statistics sources (not public API).

#include <cmath>
#include <span>
#include <string_view>
#include <vector>

#include "joulebench/error.hpp"

namespace joulebench::stats::detail {

/// Throws Error (kInvalidArgument) when `values` is empty or holds NaN or infinity.
inline void require_finite_nonempty(std::span<const double> values, std::string_view what) {
    if (values.empty()) {
        throw Error(ErrorCategory::kInvalidArgument,
                    std::string("stats: ") + std::string(what) + ": the sample is empty");
    }
    for (const double v : values) {
        if (!std::isfinite(v)) {
            throw Error(ErrorCategory::kInvalidArgument,
                        std::string("stats: ") + std::string(what) +
                            ": the sample holds a NaN or infinite value");
        }
    }
}

/// Checks that there are >= 2 groups, none empty, all finite, and concatenates them in order.
std::vector<double> pool_groups(const std::vector<std::span<const double>>& groups,
                                std::string_view what);

/// Upper tail of the standard normal, Q(z) = erfc(z / sqrt 2) / 2 (accurate far in the tail).
inline double normal_sf(double z) {
    return 0.5 * std::erfc(z / std::sqrt(2.0));
}

}  // namespace joulebench::stats::detail
