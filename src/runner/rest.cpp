#include "runner/rest.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "joulebench/units.hpp"

namespace joulebench::runner {

namespace {

// The domains a rest compares with the idle baseline: the slot's GPUs; without GPUs, every
// domain that counts in the total (then the only slot).
bool rest_domain(const Slot& slot, const Sensor& s) {
    const bool has_gpu =
        std::any_of(slot.sensors.sensors.begin(), slot.sensors.sensors.end(),
                    [](const auto& x) { return x->info().kind == DomainKind::kGpu; });
    return has_gpu ? s.info().kind == DomainKind::kGpu : counts_in_total(s.info().kind);
}

}  // namespace

void interruptible_wait(std::chrono::milliseconds duration, const std::atomic<bool>& stop) {
    const auto until = Clock::now() + duration;
    while (Clock::now() < until && !stop.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

std::pair<double, std::optional<double>> observe_idle(Slot& slot, std::chrono::milliseconds window,
                                                      const std::atomic<bool>& stop) {
    std::vector<std::optional<EnergySample>> first;
    for (auto& s : slot.sensors.sensors)
        first.push_back(rest_domain(slot, *s) ? s->sample() : std::nullopt);
    interruptible_wait(window, stop);
    double power = 0.0;
    std::optional<double> temp;
    for (std::size_t i = 0; i < slot.sensors.sensors.size(); ++i) {
        auto& s = *slot.sensors.sensors[i];
        if (!first[i]) continue;
        if (const auto last = s.sample()) {
            const double dt = seconds_between(first[i]->time, last->time);
            if (dt > 0) power += (last->energy - first[i]->energy).value() / dt;
        }
        if (const auto t = s.telemetry(); t && t->temperature_c)
            temp = std::max(temp.value_or(*t->temperature_c), *t->temperature_c);
    }
    return {power, temp};
}

void rest_before_run(Slot& slot, const RestSpec& rest, std::chrono::milliseconds baseline_timeout,
                     const std::atomic<bool>& stop) {
    if (rest.kind == RestSpec::Kind::kDuration) {
        interruptible_wait(rest.duration, stop);
        return;
    }
    if (rest.kind != RestSpec::Kind::kBaseline || !slot.idle_power_w) return;
    const auto until = Clock::now() + baseline_timeout;
    double power = 0.0;
    std::optional<double> temp;
    // At least one look, however short the timeout.
    do {
        std::tie(power, temp) = observe_idle(slot, std::chrono::milliseconds(500), stop);
        const bool power_ok =
            power <= *slot.idle_power_w * kBaselinePowerRatio + kBaselinePowerSlackW;
        const bool temp_ok =
            !temp || !slot.idle_temp_c || *temp <= *slot.idle_temp_c + kBaselineTempSlackC;
        if (power_ok && temp_ok) return;
    } while (!stop.load() && Clock::now() < until);
    if (stop.load()) return;
    slot.pending_warnings.push_back(make_warning(
        warning_code::kRestNotIdle,
        fmt::format("rest: not back near the idle baseline after {} ({:.1f} W, idle {:.1f} W): "
                    "started anyway",
                    format_duration_ms(baseline_timeout), power, *slot.idle_power_w)));
}

}  // namespace joulebench::runner
