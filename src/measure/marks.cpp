#include "measure/marks.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "joulebench/units.hpp"

namespace joulebench {

namespace {

constexpr std::size_t kMaxBadLineWarnings = 10;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_.:/@+-").find(c) != std::string_view::npos;
}

std::string_view trim_end(std::string_view s) {
    while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

std::string_view trim(std::string_view s) {
    s = trim_end(s);
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    return s;
}

std::vector<std::string_view> words(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_blank(s[i])) ++i;
        const std::size_t start = i;
        while (i < s.size() && !is_blank(s[i])) ++i;
        if (i > start) out.push_back(s.substr(start, i - start));
    }
    return out;
}

// A line as quoted in a warning: at most 80 characters.
std::string quoted(std::string_view line) {
    constexpr std::size_t kMax = 80;
    return line.size() <= kMax ? fmt::format("'{}'", line)
                               : fmt::format("'{}...'", line.substr(0, kMax));
}

MarkParse malformed(std::string error) {
    MarkParse p;
    p.is_mark = true;
    p.error = std::move(error);
    return p;
}

}  // namespace

MarkParse parse_mark_line(std::string_view line, bool prefix_required) {
    // On standard output a mark starts at the line's start; in the marks file blanks may lead.
    std::string_view body = prefix_required ? trim_end(line) : trim(line);
    const bool prefixed = body.substr(0, kMarkPrefix.size()) == kMarkPrefix &&
                          (body.size() == kMarkPrefix.size() || is_blank(body[kMarkPrefix.size()]));
    if (prefixed) {
        body = trim(body.substr(kMarkPrefix.size()));
    } else if (prefix_required || body.empty()) {
        return {};
    }
    const auto w = words(body);
    if (w.empty() || (w[0] != "begin" && w[0] != "end")) {
        return malformed("expected 'begin NAME' or 'end NAME'");
    }
    if (w.size() != 2) {
        return malformed(w.size() == 1 ? fmt::format("'{}' without a phase name", w[0])
                                       : "a phase name has no blanks (A-Z a-z 0-9 _ . : / @ + -)");
    }
    const std::string_view name = w[1];
    if (name.size() > kMaxPhaseNameLength) {
        return malformed(fmt::format("the phase name is {} characters, more than {}", name.size(),
                                     kMaxPhaseNameLength));
    }
    if (!std::all_of(name.begin(), name.end(), is_name_char)) {
        return malformed("a phase name has only A-Z a-z 0-9 and _ . : / @ + -");
    }
    MarkParse p;
    p.is_mark = true;
    p.mark = Mark{w[0] == "begin" ? Mark::Kind::kBegin : Mark::Kind::kEnd, std::string(name)};
    return p;
}

MarkRecorder::MarkRecorder(Sampler& sampler, std::vector<const Sensor*> sensors)
    : m_sampler(sampler), m_sensors(std::move(sensors)) {}

void MarkRecorder::warn(std::string text) {
    m_warnings.push_back(make_warning(warning_code::kMarks, std::move(text)));
}

void MarkRecorder::line(std::string_view text, bool from_file) noexcept {
    try {
        const MarkParse p = parse_mark_line(text, !from_file);
        if (!p.is_mark) return;
        Point point;
        if (p.mark) {
            point.time = Clock::now();
            point.readings = m_sampler.read_now();
        }
        const std::lock_guard lock(m_mutex);
        if (!p.mark) {
            if (++m_bad_lines <= kMaxBadLineWarnings) {
                warn(fmt::format("marks: ignored the line {}{}: {}", quoted(trim(text)),
                                 from_file ? " of $JOULEBENCH_MARKS" : "", p.error));
            }
            return;
        }
        if (p.mark->kind == Mark::Kind::kBegin) {
            m_phases.push_back(Phase{p.mark->name, std::move(point), std::nullopt});
            return;
        }
        // The latest open phase of that name ends (phases may nest and overlap).
        for (auto it = m_phases.rbegin(); it != m_phases.rend(); ++it) {
            if (it->name == p.mark->name && !it->end) {
                it->end = std::move(point);
                return;
            }
        }
        warn(fmt::format("marks: 'end {}' without a 'begin {}' before it: ignored", p.mark->name,
                         p.mark->name));
    } catch (...) {  // out of memory: the mark is lost, the run goes on
    }
}

MarkRecorder::Point MarkRecorder::settled(const Point& point, Clock::time_point run_end) const {
    if (point.time < m_sampler.stop_time()) {
        if (point.time <= run_end) return point;
        // Read after the command ended but before the sampler's last reading (the relay got the
        // line a moment late): at the run's end, with its own readings, which lie within the run's.
        Point out = point;
        out.time = run_end;
        return out;
    }
    // Read after the sampler stopped (the workload printed it just before it ended), or the end
    // of a phase never ended: it counts at the run's end, with the sampler's last readings.
    Point out;
    out.time = run_end;
    for (const auto& d : m_sampler.domains()) out.readings.push_back(d.last);
    return out;
}

MarkedPhase MarkRecorder::phase_result(const Phase& phase, Clock::time_point run_start,
                                       Clock::time_point run_end) const {
    const Point begin = settled(phase.begin, run_end);
    const Point end = settled(phase.end ? *phase.end : Point{Clock::time_point::max(), {}}, run_end);
    MarkedPhase out;
    out.name = phase.name;
    out.ended_by_run = !phase.end;
    out.begin_s = seconds_between(run_start, begin.time);
    out.end_s = seconds_between(run_start, end.time);
    out.wall_s = std::max(0.0, out.end_s - out.begin_s);
    double total = 0.0;
    bool complete = true;
    for (std::size_t i = 0; i < m_sensors.size(); ++i) {
        PhaseDomainEnergy d;
        const SensorInfo& info = m_sensors[i]->info();
        d.id = info.id;
        d.method = info.method;
        d.counts_in_total = counts_in_total(info.kind);
        const auto& a = i < begin.readings.size() ? begin.readings[i] : std::nullopt;
        const auto& b = i < end.readings.size() ? end.readings[i] : std::nullopt;
        if (a && b) d.energy_j = std::max(0.0, (b->energy - a->energy).value());
        if (d.counts_in_total) {
            if (d.energy_j) total += *d.energy_j;
            complete = complete && d.energy_j.has_value();
        }
        out.domains.push_back(std::move(d));
    }
    if (complete) out.energy_j = total;
    return out;
}

void MarkRecorder::finish(Clock::time_point run_start, Clock::time_point run_end,
                          MeasureResult& result) {
    const std::lock_guard lock(m_mutex);
    double longest_update_s = 0.0;
    std::string longest_id;
    for (const Sensor* s : m_sensors) {
        const double u = std::chrono::duration<double>(s->info().update_period).count();
        if (u > longest_update_s) {
            longest_update_s = u;
            longest_id = s->info().id;
        }
    }
    for (const Phase& phase : m_phases) {
        MarkedPhase p = phase_result(phase, run_start, run_end);
        if (p.ended_by_run) {
            warn(fmt::format("marks: phase '{}' began and was never ended: it ends with the run",
                             p.name));
        }
        if (longest_update_s > 0 && p.wall_s < kMinUpdatePeriods * longest_update_s) {
            m_warnings.push_back(make_warning(
                warning_code::kShortPhase,
                fmt::format("phase '{}' lasted {:.3f} s, less than {} update periods of {} "
                            "({:.0f} ms): its energy is coarse",
                            p.name, p.wall_s, kMinUpdatePeriods, longest_id,
                            longest_update_s * 1000)));
        }
        if (!p.energy_j) {
            m_warnings.push_back(make_warning(
                warning_code::kMarks,
                fmt::format("marks: phase '{}': a domain could not be read at one of its marks: "
                            "its total energy is unknown",
                            p.name)));
        }
        result.phases.push_back(std::move(p));
    }
    if (m_bad_lines > kMaxBadLineWarnings) {
        warn(fmt::format("marks: {} more malformed mark lines were ignored",
                         m_bad_lines - kMaxBadLineWarnings));
    }
    for (auto& w : m_warnings) result.warnings.push_back(std::move(w));
    m_warnings.clear();
    m_phases.clear();
}

}  // namespace joulebench
