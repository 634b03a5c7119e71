#include "report/measure_report.hpp"

#include <fmt/format.h>

#include <cmath>

namespace joulebench::report {

using json = nlohmann::ordered_json;

namespace {
template <class T>
json opt(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}
}  // namespace

json measure_to_json(const MeasureResult& r) {
    json j;
    j["schema_version"] = kMeasureSchemaVersion;
    j["joulebench_version"] = JOULEBENCH_VERSION;
    j["command"] = r.command;
    j["exit_code"] = r.exit_code;
    j["signal"] = opt(r.signal);
    j["started_at"] = r.started_at;
    j["wall_s"] = r.wall_s;
    j["cpu_user_s"] = r.cpu_user_s;
    j["cpu_system_s"] = r.cpu_system_s;
    json domains = json::array();
    for (const auto& d : r.domains) {
        json o;
        o["id"] = d.info.id;
        o["kind"] = std::string(to_string(d.info.kind));
        o["index"] = d.info.index;
        o["name"] = d.info.name;
        o["backend"] = d.info.backend;
        o["energy_j"] = d.energy_j;
        o["avg_power_w"] = d.avg_power_w;
        o["peak_power_w"] = opt(d.peak_power_w);
        o["method"] = std::string(to_string(d.info.method));
        o["counts_in_total"] = d.counts_in_total;
        o["wraps"] = d.health.wraps;
        o["resets"] = d.health.resets;
        o["failed_reads"] = d.failed_reads;
        o["update_period_ms"] = static_cast<double>(d.info.update_period.count()) / 1000.0;
        o["wrap_range_j"] = d.info.wrap_range ? json(d.info.wrap_range->value()) : json(nullptr);
        o["cross_check_energy_j"] = opt(d.cross_check_energy_j);
        o["disagreement_pct"] = opt(d.disagreement_pct);
        if (d.idle_power_w) {
            o["idle_power_w"] = *d.idle_power_w;
            o["net_energy_j"] = opt(d.net_energy_j);
        }
        domains.push_back(std::move(o));
    }
    j["domains"] = std::move(domains);
    json gpus = json::array();
    for (const auto& g : r.gpus) {
        gpus.push_back({{"index", g.index},
                        {"id", g.id},
                        {"name", g.name},
                        {"uuid", g.uuid},
                        {"pci_bus_id", g.pci_bus_id},
                        {"mean_utilisation_pct", opt(g.mean_utilisation_pct)},
                        {"max_utilisation_pct", opt(g.max_utilisation_pct)},
                        {"max_temperature_c", opt(g.max_temperature_c)},
                        {"mean_sm_clock_mhz", opt(g.mean_sm_clock_mhz)},
                        {"throttle_reasons", g.throttle_reasons},
                        {"enforced_limit_w", opt(g.enforced_limit_w)}});
    }
    j["gpus"] = std::move(gpus);
    json caps = json::array();
    for (const auto& c : r.power_caps) {
        caps.push_back({{"id", c.id},
                        {"kind", c.kind},
                        {"index", c.index},
                        {"label", c.label},
                        {"key", c.key},
                        {"requested_w", c.requested_w},
                        {"enforced_w", opt(c.enforced_w)},
                        {"original_w", c.original_w},
                        {"default_w", opt(c.default_w)},
                        {"restored", c.restored},
                        {"restore_error", c.restore_error.empty() ? json(nullptr) : json(c.restore_error)},
                        {"throttled_by_cap", opt(c.throttled)}});
    }
    j["power_caps"] = std::move(caps);
    j["total_energy_j"] = r.total_energy_j;
    j["total_includes_estimate"] = r.total_includes_estimate;
    j["edp_js"] = r.edp_js;
    j["ed2p_js2"] = r.ed2p_js2;
    if (r.idle) {
        json idle;
        idle["duration_s"] = r.idle->duration_s;
        idle["power_w"] = r.idle->power_w;
        idle["energy_j"] = r.idle->energy_j;
        idle["gross_energy_j"] = r.total_energy_j;
        idle["net_energy_j"] = r.idle->net_energy_j;
        json per = json::object();
        for (const auto& [id, p] : r.idle->domain_power_w) per[id] = p;
        idle["domain_power_w"] = std::move(per);
        j["idle"] = std::move(idle);
    } else {
        j["idle"] = nullptr;
    }
    if (r.estimate) {
        j["estimate"] = {{"cpu_model", r.estimate->cpu_model},
                         {"tdp_w", r.estimate->tdp_w},
                         {"threads_per_package", r.estimate->threads_per_package},
                         {"watts_per_cpu", r.estimate->watts_per_cpu},
                         {"tdp_source", r.estimate->source}};
    } else {
        j["estimate"] = nullptr;
    }
    j["warnings"] = r.warnings;
    j["samples"] = r.samples;
    j["polls"] = r.polls;
    j["interval_ms"] = r.interval_ms;
    j["poll_interval_ms"] = r.poll_interval_ms;
    j["late_ticks"] = r.late_ticks;
    j["monitor_cpu_s"] = r.monitor_cpu_s;
    j["monitor_overhead_pct"] = r.monitor_overhead_pct;
    return j;
}

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

std::string measure_summary(const MeasureResult& r) {
    std::string out;
    auto o = std::back_inserter(out);
    fmt::format_to(o, "  Wall time:     {}", format_duration(r.wall_s));
    fmt::format_to(o, "   (CPU {} user, {} system)\n", format_duration(r.cpu_user_s), format_duration(r.cpu_system_s));
    if (r.signal) {
        fmt::format_to(o, "  Exit:          killed by signal {} (status {})\n", *r.signal, r.exit_code);
    } else {
        fmt::format_to(o, "  Exit status:   {}\n", r.exit_code);
    }
    if (!r.domains.empty()) {
        fmt::format_to(o, "  {:<16} {:>13} {:>11} {:>11}  {}\n", "Domain", "Energy", "Avg power", "Peak power", "Method");
    }
    for (const auto& d : r.domains) {
        std::string method(to_string(d.info.method));
        if (!d.counts_in_total) method += ", not in total";
        if (d.health.wraps > 0) method += fmt::format(", {} wrap{}", d.health.wraps, d.health.wraps == 1 ? "" : "s");
        fmt::format_to(o, "  {:<16} {:>13} {:>11} {:>11}  {}\n", d.info.id, format_energy(d.energy_j),
                       format_power(d.avg_power_w), d.peak_power_w ? format_power(*d.peak_power_w) : std::string("-"), method);
    }
    for (const auto& g : r.gpus) {
        fmt::format_to(o, "  GPU {} {}: utilisation {} mean, {} max; {} max",
                       g.index, g.name,
                       g.mean_utilisation_pct ? fmt::format("{:.0f}%", *g.mean_utilisation_pct) : std::string("n/a"),
                       g.max_utilisation_pct ? fmt::format("{}%", *g.max_utilisation_pct) : std::string("n/a"),
                       g.max_temperature_c ? fmt::format("{:.0f} °C", *g.max_temperature_c) : std::string("temperature n/a"));
        if (g.enforced_limit_w) fmt::format_to(o, "; limit {}", format_power(*g.enforced_limit_w));
        if (!g.throttle_reasons.empty()) {
            std::string reasons;
            for (const auto& t : g.throttle_reasons) reasons += (reasons.empty() ? "" : ", ") + t;
            fmt::format_to(o, "; throttled: {}", reasons);
        }
        out += '\n';
    }
    for (const auto& c : r.power_caps) {
        fmt::format_to(o, "  Power cap:     {}: {} requested, {} enforced; original {}, {}", c.label,
                       format_power(c.requested_w), c.enforced_w ? format_power(*c.enforced_w) : std::string("n/a"),
                       format_power(c.original_w), c.restored ? "restored" : "NOT restored");
        if (c.throttled) {
            fmt::format_to(o, "; {}", *c.throttled ? "throttled by the cap (sw_power_cap)" : "not throttled by the cap");
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
    fmt::format_to(o, "  EDP:           {:.4g} J·s     ED2P: {:.4g} J·s²\n", r.edp_js, r.ed2p_js2);
    fmt::format_to(o, "  Samples:       {} at {:.0f} ms (sensors read every {:.1f} ms); monitoring used {:.4f}% of a core\n",
                   r.samples, r.interval_ms, r.poll_interval_ms, r.monitor_overhead_pct);
    for (const auto& w : r.warnings) fmt::format_to(o, "  warning: {}\n", w);
    return out;
}

}  // namespace joulebench::report
