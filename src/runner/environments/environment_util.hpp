#pragma once
// Small helpers shared by the environments (bare, container).

#include <chrono>

namespace joulebench::runner {

/// Unix time now, in seconds (InstanceResult::started_at).
[[nodiscard]] inline double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace joulebench::runner
