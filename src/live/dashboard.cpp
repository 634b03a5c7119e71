#include "live/dashboard.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "joulebench/experiment.hpp"

namespace joulebench::live {
namespace {

std::string duration_text(double seconds) {
    if (seconds < 10.0) return fmt::format("{:.1f}s", std::max(0.0, seconds));
    return format_duration_ms(std::chrono::milliseconds(std::llround(seconds) * 1000));
}

/// Power and energy of the domains that count in a run's total (not core, uncore, psys or a
/// board sensor, which overlap them).
struct Sums {
    double power_w = 0.0;
    double energy_j = 0.0;
    bool any_power = false;
    bool any_energy = false;
    bool estimated = false;  ///< a summed domain is the CPU-time estimate
};

Sums sums(const std::vector<DomainNow>& domains) {
    Sums s;
    for (const auto& d : domains) {
        const auto kind = domain_kind_from_string(d.kind);
        if (!kind || !counts_in_total(*kind) || !d.valid) continue;
        s.energy_j += d.energy_j;
        s.any_energy = true;
        s.estimated = s.estimated || d.method == "estimated";
        if (d.power_w) {
            s.power_w += *d.power_w;
            s.any_power = true;
        }
    }
    return s;
}

std::string fit(std::string line, std::size_t width) {
    const std::size_t max = width > 1 ? width - 1 : 1;
    if (line.size() > max) line = line.substr(0, max > 3 ? max - 3 : max) + (max > 3 ? "..." : "");
    return line;
}

}  // namespace

std::string run_text(const RunLabels& run) {
    std::string out = run.workload + "/" + run.environment;
    if (run.gpu_cap_w) out += "/" + format_watts(*run.gpu_cap_w) + " W";
    if (run.cpu_cap_w) out += "/cpu " + format_watts(*run.cpu_cap_w) + " W";
    return out + fmt::format("/#{}", run.repetition);
}

std::string progress_bar(double fraction, std::size_t width) {
    const std::size_t inner = width > 2 ? width - 2 : 0;
    const double f = std::clamp(std::isfinite(fraction) ? fraction : 0.0, 0.0, 1.0);
    const auto filled = static_cast<std::size_t>(std::floor(f * static_cast<double>(inner)));
    return "[" + std::string(filled, '#') + std::string(inner - filled, '.') + "]";
}

std::string energy_text(double joules) {
    const double a = std::fabs(joules);
    if (a >= 1e6) return fmt::format("{:.2f} MJ", joules / 1e6);
    if (a >= 1e4) return fmt::format("{:.1f} kJ", joules / 1e3);
    if (a >= 100) return fmt::format("{:.0f} J", joules);
    return fmt::format("{:.1f} J", joules);
}

std::size_t terminal_width(int fd, std::size_t fallback) {
    winsize w{};
    if (::ioctl(fd, TIOCGWINSZ, &w) == 0 && w.ws_col > 0) return w.ws_col;
    return fallback;
}

std::vector<std::string> dashboard_lines(const LiveSnapshot& s, const DashboardOptions& o) {
    std::vector<std::string> lines;
    const auto now = s.taken;
    std::string head = o.title;
    if (!s.experiment.empty()) head += ": " + s.experiment;
    if (s.plan) {
        const PlanNow& p = *s.plan;
        const std::size_t ended = p.done + p.failed;
        const double fraction = p.planned > 0 ? static_cast<double>(ended) / static_cast<double>(p.planned) : 0.0;
        head += fmt::format("  {} {}/{}  {} failed", progress_bar(fraction, 22), ended, p.planned, p.failed);
        if (p.eta_s) head += "  ETA " + duration_text(*p.eta_s);
    }
    lines.push_back(fit(head, o.width));
    for (const auto& r : s.running) {
        const double elapsed = std::chrono::duration<double>(now - r.started).count();
        const Sums sum = sums(r.domains);
        std::string line = fmt::format("  {:<6} {}  {}", r.labels.slot ? fmt::format("GPU {}", *r.labels.slot) : "-",
                                       run_text(r.labels), duration_text(elapsed));
        if (sum.any_power) line += fmt::format("  {:.1f} W", sum.power_w);
        if (sum.any_energy) line += "  " + energy_text(sum.energy_j);
        if (sum.estimated) line += " (CPU estimated)";  // as run's lines say it
        lines.push_back(fit(line, o.width));
    }
    const std::size_t from = s.finished.size() > o.finished ? s.finished.size() - o.finished : 0;
    for (std::size_t i = from; i < s.finished.size(); ++i) {
        const auto& r = s.finished[i];
        std::string line = fmt::format("  {:<6} {}  {:.2f} s", r.status ? std::string(to_string(*r.status)) : "?",
                                       run_text(r.labels), r.wall_s);
        if (r.energy_j) line += "  " + energy_text(*r.energy_j);
        if (r.energy_j && sums(r.domains).estimated) line += " (CPU estimated)";
        if (!r.detail.empty()) line += "  " + r.detail;
        lines.push_back(fit(line, o.width));
    }
    return lines;
}

}  // namespace joulebench::live
