#include "sensors/power_integrator.hpp"

namespace joulebench {

void PowerIntegrator::add(Clock::time_point time, double power_w) noexcept {
    if (has_last) {
        const double dt_s = seconds_between(last_time, time);
        if (dt_s > 0.0) energy_j += 0.5 * (last_power_w + power_w) * dt_s;
    }
    has_last = true;
    last_time = time;
    last_power_w = power_w;
}

}  // namespace joulebench
