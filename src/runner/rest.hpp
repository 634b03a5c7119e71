#pragma once
// Rests between runs on a GPU slot (never measured): a fixed wait, or until the slot's power and
// temperature are back near the idle baseline measured before the first run (rest = "baseline").

#include <atomic>
#include <chrono>
#include <optional>
#include <utility>

#include "joulebench/experiment.hpp"
#include "runner/slot.hpp"

namespace joulebench::runner {

/// rest = "baseline": back near idle when within this much of the idle power and temperature.
inline constexpr double kBaselinePowerRatio = 1.10;
inline constexpr double kBaselinePowerSlackW = 5.0;
inline constexpr double kBaselineTempSlackC = 3.0;

/// Power (summed over the slot's rest domains: its GPUs, or without GPUs every domain that counts
/// in the total) and the hottest GPU temperature, observed over `window` (cut short by `stop`).
[[nodiscard]] std::pair<double, std::optional<double>> observe_idle(
    Slot& slot, std::chrono::milliseconds window, const std::atomic<bool>& stop);

/// Waits `duration`, in short sleeps that `stop` cuts short.
void interruptible_wait(std::chrono::milliseconds duration, const std::atomic<bool>& stop);

/// The rest before a run that is not the slot's first: `rest`'s wait, or (rest = "baseline", the
/// slot's idle baseline known) until the slot is back near it, at most `baseline_timeout`. A rest
/// that never got there adds a warning to the slot's next run.
void rest_before_run(Slot& slot, const RestSpec& rest, std::chrono::milliseconds baseline_timeout,
                     const std::atomic<bool>& stop);

}  // namespace joulebench::runner
