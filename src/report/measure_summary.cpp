// The human summary `joulebench measure` prints on stderr, and the SI-prefixed numbers it uses.

#include "report/measure_summary.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include <cmath>
#include <iterator>

namespace joulebench::report {

std::string format_energy(double joules) {
    const double a = std::fabs(joules);
    if (a >= 1e6) return fmt::format("{:.3f} MJ", joules / 1e6);
    if (a >= 1e3) return fmt::format("{:.3f} kJ", joules / 1e3);
    if (a >= 1.0 || a == 0.0) return fmt::format("{:.3f} J", joules);
    return fmt::format("{:.3f} mJ", joules * 1e3);
}

std::string format_power(double watts) {
    if (std::fabs(watts) >= 1e3) return fmt::format("{:.2f} kW", watts / 1e3);
    return fmt::format("{:.2f} W", watts);
}

std::string format_duration(double seconds) {
    if (seconds < 1.0) return fmt::format("{:.1f} ms", seconds * 1e3);
    if (seconds < 120.0) return fmt::format("{:.3f} s", seconds);
    const auto minutes = static_cast<long>(seconds / 60.0);
    return fmt::format("{} min {:.1f} s", minutes, seconds - static_cast<double>(minutes) * 60.0);
}

std::string phase_line(const MarkedPhase& p) {
    // How its energy was read: the methods of the domains in its sum, as the run's lines say.
    std::vector<std::string_view> methods;
    for (const auto& d : p.domains) {
        const std::string_view m = to_string(d.method);
        if (d.counts_in_total && std::find(methods.begin(), methods.end(), m) == methods.end()) methods.push_back(m);
    }
    return fmt::format("Phase {}: {} from {:.3f} s, {}{}{}", p.name, format_duration(p.wall_s),
                       p.begin_s, p.energy_j ? format_energy(*p.energy_j) : std::string("energy n/a"),
                       p.energy_j && !methods.empty() ? fmt::format(" ({})", fmt::join(methods, ", ")) : "",
                       p.ended_by_run ? " (never ended: ends with the run)" : "");
}

std::string measure_summary(const MeasureResult& r) {
    std::string out;
    auto o = std::back_inserter(out);
    fmt::format_to(o, "  Wall time:     {}", format_duration(r.wall_s));
    fmt::format_to(o, "   (CPU {} user, {} system)\n", format_duration(r.cpu_user_s),
                   format_duration(r.cpu_system_s));
    if (r.signal) {
        fmt::format_to(o, "  Exit:          killed by signal {} (status {})\n", *r.signal,
                       r.exit_code);
    } else {
        fmt::format_to(o, "  Exit status:   {}\n", r.exit_code);
    }
    if (!r.domains.empty()) {
        fmt::format_to(o, "  {:<16} {:>13} {:>11} {:>11}  {}\n", "Domain", "Energy", "Avg power",
                       "Peak power", "Method");
    }
    for (const auto& d : r.domains) {
        std::string method(to_string(d.info.method));
        if (!d.counts_in_total) method += ", not in total";
        if (d.health.wraps > 0)
            method += fmt::format(", {} wrap{}", d.health.wraps, d.health.wraps == 1 ? "" : "s");
        fmt::format_to(o, "  {:<16} {:>13} {:>11} {:>11}  {}\n", d.info.id,
                       format_energy(d.energy_j), format_power(d.avg_power_w),
                       d.peak_power_w ? format_power(*d.peak_power_w) : std::string("-"), method);
    }
    for (const auto& g : r.gpus) {
        fmt::format_to(
            o, "  GPU {} {}: utilisation {} mean, {} max; {} max", g.index, g.name,
            g.mean_utilisation_pct ? fmt::format("{:.0f}%", *g.mean_utilisation_pct)
                                   : std::string("n/a"),
            g.max_utilisation_pct ? fmt::format("{}%", *g.max_utilisation_pct) : std::string("n/a"),
            g.max_temperature_c ? fmt::format("{:.0f} °C", *g.max_temperature_c)
                                : std::string("temperature n/a"));
        if (g.enforced_limit_w) fmt::format_to(o, "; limit {}", format_power(*g.enforced_limit_w));
        if (!g.throttle_reasons.empty()) {
            std::string reasons;
            for (const auto& t : g.throttle_reasons) reasons += (reasons.empty() ? "" : ", ") + t;
            fmt::format_to(o, "; throttled: {}", reasons);
        }
        out += '\n';
    }
    for (const auto& c : r.power_caps) {
        fmt::format_to(o, "  Power cap:     {}: {} requested, {} enforced; original {}, {}",
                       c.label, format_power(c.requested_w),
                       c.enforced_w ? format_power(*c.enforced_w) : std::string("n/a"),
                       format_power(c.original_w), c.restored ? "restored" : "NOT restored");
        if (c.throttled) {
            fmt::format_to(
                o, "; {}",
                *c.throttled ? "throttled by the cap (sw_power_cap)" : "not throttled by the cap");
        }
        out += '\n';
    }
    fmt::format_to(o, "  Total energy:  {}{}\n", format_energy(r.total_energy_j),
                   r.total_includes_estimate ? "  (includes an estimate)" : "");
    if (r.idle) {
        fmt::format_to(o, "  Idle baseline: {} over {} before the run -> idle {}, net {}\n",
                       format_power(r.idle->power_w), format_duration(r.idle->duration_s),
                       format_energy(r.idle->energy_j), format_energy(r.idle->net_energy_j));
    }
    for (const auto& p : r.phases) fmt::format_to(o, "  {}\n", phase_line(p));
    fmt::format_to(o, "  EDP:           {:.4g} J·s     ED2P: {:.4g} J·s²\n", r.edp_js, r.ed2p_js2);
    fmt::format_to(o,
                   "  Samples:       {} at {:.0f} ms (sensors read every {:.1f} ms); monitoring "
                   "used {:.4f}% of a core\n",
                   r.samples, r.interval_ms, r.poll_interval_ms, r.monitor_overhead_pct);
    for (const auto& w : r.warnings) fmt::format_to(o, "  warning: {}\n", w.text);
    return out;
}

}  // namespace joulebench::report
