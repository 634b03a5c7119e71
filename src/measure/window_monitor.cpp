#include "measure/window_monitor.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>

#include "joulebench/error.hpp"
#include "measure/measure.hpp"

namespace joulebench {

namespace {

double seconds(const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
}

rusage self_usage() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return ru;
}

}  // namespace

WindowMonitor::WindowMonitor(ProbeOptions probe, std::chrono::milliseconds interval,
                             const std::string& gpus_text)
    : m_interval(interval) {
    if (interval.count() < 1) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("monitor: interval {} ms: must be at least 1 ms", interval.count()));
    }
    m_set = probe_all(probe);
    if (m_set.selection_error) throw *m_set.selection_error;
    check_gpus_readable(fmt::format("monitor: gpus {}", gpus_text), probe.nvml.gpus, m_set);
    if (m_set.cpu_clock) m_set.cpu_clock->attach(::getpid());
    m_sampler = std::make_unique<Sampler>(m_set.pointers(), interval);
    m_sampler->start();
}

WindowMonitor::~WindowMonitor() { close(); }

void WindowMonitor::close() noexcept {
    const std::lock_guard lock(m_mutex);
    if (m_closed) return;
    m_closed = true;
    m_sampler->stop();
}

void WindowMonitor::begin(const std::string& name) {
    const std::lock_guard lock(m_mutex);
    if (m_closed) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("monitor: begin '{}': the monitor is closed", name));
    }
    if (m_open.contains(name)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("monitor: begin '{}': a window of that name is already open "
                                "(end it first, or use another name)",
                                name));
    }
    Open open;
    open.usage = self_usage();
    open.started_at = unix_now();
    open.mark = m_sampler->mark();
    m_open.emplace(name, std::move(open));
}

MeasureResult WindowMonitor::end(const std::string& name) {
    const std::lock_guard lock(m_mutex);
    const auto it = m_open.find(name);
    if (it == m_open.end()) {
        std::vector<std::string> names;
        for (const auto& [n, o] : m_open) names.push_back("'" + n + "'");
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("monitor: end '{}': no such open window (open: {})", name,
                                names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
    }
    const SamplerMark end_mark = m_sampler->mark();
    const rusage usage = self_usage();
    const Open open = std::move(it->second);
    m_open.erase(it);
    MeasureResult result;
    result.command = {name};
    result.exit_code = 0;
    result.started_at = open.started_at;
    result.wall_s = seconds_between(open.mark.time, end_mark.time);
    result.cpu_user_s = std::max(0.0, seconds(usage.ru_utime) - seconds(open.usage.ru_utime));
    result.cpu_system_s = std::max(0.0, seconds(usage.ru_stime) - seconds(open.usage.ru_stime));
    result.interval_ms = static_cast<double>(m_interval.count());
    complete_measurement(m_set, window_between(open.mark, end_mark), {}, 0, result);
    return result;
}

std::vector<std::string> WindowMonitor::open_windows() const {
    const std::lock_guard lock(m_mutex);
    std::vector<std::string> names;
    for (const auto& [n, o] : m_open) names.push_back(n);
    return names;
}

}  // namespace joulebench
