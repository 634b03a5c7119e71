#include "joulebench/power_capper.hpp"

#include <cmath>

#include <fmt/format.h>

#include "joulebench/error.hpp"

namespace joulebench {

// The shortest form that reads back as the same number: 149.9999 W is never shown as 150 W.
std::string format_watts(Watts value) { return fmt::format("{} W", value.value()); }

void check_cap_range(const PowerCapper& capper, Watts limit) {
    const std::string action =
        fmt::format("caps: set power limit of {} to {}", capper.info().label, format_watts(limit));
    if (!std::isfinite(limit.value()) || limit.value() <= 0.0) {
        throw Error(ErrorCategory::kInvalidArgument, action + ": not a positive power");
    }
    const CapRange range = capper.constraints();
    if (limit < range.min || limit > range.max) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("{}: outside the allowed range {} to {}", action, format_watts(range.min),
                                format_watts(range.max)),
                    fmt::format("choose a limit between {} and {} (`joulebench caps show` lists every "
                                "device's range)",
                                format_watts(range.min), format_watts(range.max)));
    }
}

Watts verify_cap(const PowerCapper& capper, Watts expected) {
    const Watts tolerance = capper.tolerance();
    const Watts current = capper.current_limit();
    if (std::fabs((current - expected).value()) > tolerance.value()) {
        throw Error(ErrorCategory::kIo,
                    fmt::format("caps: verify power limit of {}: reads back {} after writing {}",
                                capper.info().label, format_watts(current), format_watts(expected)),
                    "the driver did not keep the value; `joulebench caps show` shows the device's limits");
    }
    const Watts enforced = capper.enforced_limit();
    if (enforced > expected + tolerance) {
        throw Error(ErrorCategory::kIo,
                    fmt::format("caps: verify power limit of {}: the enforced limit is {}, above the {} written",
                                capper.info().label, format_watts(enforced), format_watts(expected)));
    }
    return enforced;
}

}  // namespace joulebench
