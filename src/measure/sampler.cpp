#include "measure/sampler.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <time.h>

#include <algorithm>

namespace joulebench {

Sampler::Sampler(std::vector<Sensor*> sensors, std::chrono::nanoseconds trace_interval, TraceSink* sink)
    : m_sensors(std::move(sensors)), m_trace_interval(trace_interval), m_poll(trace_interval), m_sink(sink) {
    for (const Sensor* s : m_sensors) {
        const auto need = s->max_poll_interval();
        if (need.count() > 0 && need < m_poll) m_poll = need;
    }
    m_domains.resize(m_sensors.size());
    m_gpus.resize(m_sensors.size());
    m_last_trace.resize(m_sensors.size());
    m_row.resize(m_sensors.size());
    m_telemetry.resize(m_sensors.size());
    m_stats.poll_period = m_poll;
}

Sampler::~Sampler() { stop(); }

void Sampler::start(bool defer_thread) {
    if (m_sink != nullptr) {
        std::vector<const Sensor*> view(m_sensors.begin(), m_sensors.end());
        m_sink->begin(view);
    }
    {
        const std::lock_guard read_lock(m_read_mutex);
        m_start = Clock::now();
        m_next_trace = m_start;
        read_all(m_start, true);
        m_running = true;
    }
    if (defer_thread) return;
    try {
        start_thread();
    } catch (...) {
        const std::lock_guard read_lock(m_read_mutex);
        m_running = false;
        throw;
    }
}

void Sampler::start_thread() {
    if (!m_running || m_thread.joinable()) return;
    // The sampler thread must never receive the signals meant for the workload and joulebench's
    // main thread: block them before it is created (it inherits the mask).
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    try {
        m_thread = std::thread([this] { run(); });
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        throw;
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void Sampler::stop() noexcept {
    if (!m_running) return;
    {
        const std::lock_guard lock(m_mutex);
        m_stop_requested = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();
    const std::lock_guard read_lock(m_read_mutex);
    m_running = false;
    m_stop = Clock::now();
    read_all(m_stop, true);
    if (m_sink != nullptr) m_sink->end();
}

std::vector<std::optional<EnergySample>> Sampler::read_now() noexcept {
    std::vector<std::optional<EnergySample>> out(m_sensors.size());
    const std::lock_guard read_lock(m_read_mutex);
    if (!m_running) return out;
    for (std::size_t i = 0; i < m_sensors.size(); ++i) out[i] = m_sensors[i]->sample();
    return out;
}

SamplerStats Sampler::stats() const { return m_stats; }

namespace {

// CPU time (user + system) of a running thread so far; 0 when it cannot be read.
double thread_cpu_seconds(std::thread& thread) {
    if (!thread.joinable()) return 0.0;
    clockid_t clock{};
    timespec ts{};
    if (pthread_getcpuclockid(thread.native_handle(), &clock) != 0 || clock_gettime(clock, &ts) != 0) {
        return 0.0;
    }
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

SamplerMark Sampler::mark() {
    SamplerMark m;
    const std::lock_guard read_lock(m_read_mutex);
    m.time = Clock::now();
    read_all(m.time, false);
    m.domains = m_domains;
    m.gpus = m_gpus;
    m.stats = m_stats;
    m.stats.thread_cpu_s = thread_cpu_seconds(m_thread);
    return m;
}

SamplerStats Sampler::stats_now() {
    const std::lock_guard read_lock(m_read_mutex);
    SamplerStats s = m_stats;
    s.thread_cpu_s = thread_cpu_seconds(m_thread);
    return s;
}

SamplerWindow Sampler::whole() const {
    return SamplerWindow{m_domains, m_gpus, m_stats, m_start, m_stop};
}

SamplerWindow window_between(const SamplerMark& begin, const SamplerMark& end) {
    SamplerWindow w;
    w.start = begin.time;
    w.stop = end.time;
    w.domains.resize(end.domains.size());
    for (std::size_t i = 0; i < end.domains.size() && i < begin.domains.size(); ++i) {
        const auto& b = begin.domains[i];
        const auto& e = end.domains[i];
        auto& d = w.domains[i];
        // A domain with a failed read at one end spans the nearest successful readings.
        d.first = b.last ? b.last : e.first;
        d.last = e.last;
        d.failed_reads = e.failed_reads - b.failed_reads;
        d.cross_first = b.cross_last ? b.cross_last : e.cross_first;
        d.cross_last = e.cross_last;
    }
    w.gpus.resize(end.gpus.size());
    for (std::size_t i = 0; i < end.gpus.size() && i < begin.gpus.size(); ++i) {
        const auto& b = begin.gpus[i];
        const auto& e = end.gpus[i];
        auto& g = w.gpus[i];
        g.rows = e.rows - b.rows;
        g.utilisation_sum = e.utilisation_sum - b.utilisation_sum;
        g.utilisation_rows = e.utilisation_rows - b.utilisation_rows;
        g.sm_clock_sum = e.sm_clock_sum - b.sm_clock_sum;
        g.sm_clock_rows = e.sm_clock_rows - b.sm_clock_rows;
        if (g.rows > 0) g.enforced_limit = e.enforced_limit;
    }
    w.stats.ticks = end.stats.ticks - begin.stats.ticks;
    w.stats.trace_rows = end.stats.trace_rows - begin.stats.trace_rows;
    w.stats.late_ticks = end.stats.late_ticks - begin.stats.late_ticks;
    w.stats.max_lateness = end.stats.max_lateness;
    w.stats.poll_period = end.stats.poll_period;
    w.stats.thread_cpu_s = std::max(0.0, end.stats.thread_cpu_s - begin.stats.thread_cpu_s);
    return w;
}

void Sampler::run() noexcept {
    auto next = m_start + m_poll;
    // A deferred thread (start_thread) starts after its first tick was due: that tick fires at
    // once and is late only by what follows the thread's start, not by the wait before it.
    const auto started = Clock::now();
    bool first = true;
    std::unique_lock lock(m_mutex);
    for (;;) {
        if (m_cv.wait_until(lock, next, [this] { return m_stop_requested; })) break;
        lock.unlock();
        std::unique_lock read_lock(m_read_mutex);
        const auto now = Clock::now();
        const auto late = now - (first ? std::max(next, started) : next);
        first = false;
        if (late > m_poll) {
            ++m_stats.late_ticks;
        }
        m_stats.max_lateness = std::max(m_stats.max_lateness, std::chrono::duration_cast<std::chrono::nanoseconds>(late));
        // A trace row is due once its time has come (half a poll period early is on time).
        const bool trace_due = now + m_poll / 2 >= m_next_trace;
        read_all(now, trace_due);
        next += m_poll;
        if (next <= now) {
            // Fell behind by more than a period (machine overloaded, suspended): skip ahead
            // rather than firing a burst of catch-up ticks.
            const auto behind = (now - next) / m_poll + 1;
            next += m_poll * behind;
        }
        read_lock.unlock();
        lock.lock();
    }
    rusage ru{};
    if (::getrusage(RUSAGE_THREAD, &ru) == 0) {
        m_stats.thread_cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
    }
}

void Sampler::read_all(Clock::time_point now, bool trace_due) noexcept {
    ++m_stats.ticks;
    for (std::size_t i = 0; i < m_sensors.size(); ++i) {
        auto sample = m_sensors[i]->sample();
        auto& d = m_domains[i];
        if (!sample) {
            ++d.failed_reads;
            m_row[i].valid = false;
            m_row[i].power_w.reset();
            continue;
        }
        if (!d.first) d.first = sample;
        d.last = sample;
        if (const auto cross = m_sensors[i]->cross_check_energy()) {
            if (!d.cross_first) d.cross_first = cross;
            d.cross_last = cross;
        }
        if (!trace_due) continue;
        auto& row = m_row[i];
        row.valid = true;
        row.energy_j = (sample->energy - d.first->energy).value();
        row.power_w.reset();
        if (const auto& prev = m_last_trace[i]) {
            const double dt = seconds_between(prev->time, sample->time);
            if (dt > 0.0) {
                const Watts p = (sample->energy - prev->energy) / Seconds(dt);
                row.power_w = p.value();
                if (!d.peak_power || p > *d.peak_power) d.peak_power = p;
            }
        }
        m_last_trace[i] = sample;
    }
    if (!trace_due) return;
    for (std::size_t i = 0; i < m_sensors.size(); ++i) {
        if (m_sensors[i]->info().kind != DomainKind::kGpu) continue;
        m_telemetry[i] = m_sensors[i]->telemetry();
        if (!m_telemetry[i]) continue;
        const auto& t = *m_telemetry[i];
        auto& g = m_gpus[i];
        ++g.rows;
        if (t.utilisation_pct) {
            g.utilisation_sum += *t.utilisation_pct;
            ++g.utilisation_rows;
            g.utilisation_max = std::max(g.utilisation_max.value_or(0U), *t.utilisation_pct);
        }
        if (t.temperature_c) g.temperature_max = std::max(g.temperature_max.value_or(-1e9), *t.temperature_c);
        if (t.sm_clock_mhz) {
            g.sm_clock_sum += *t.sm_clock_mhz;
            ++g.sm_clock_rows;
        }
        if (t.throttle_reasons) g.throttle_mask |= *t.throttle_reasons;
        if (t.enforced_limit) {
            g.enforced_limit = t.enforced_limit;
            if (!g.enforced_limit_min || *t.enforced_limit < *g.enforced_limit_min) g.enforced_limit_min = t.enforced_limit;
        }
    }
    ++m_stats.trace_rows;
    if (m_sink != nullptr) m_sink->row(seconds_between(m_start, now), m_row, m_telemetry);
    // Next trace row one interval after this one was due (not after now), so rows do not drift.
    m_next_trace += m_trace_interval;
    if (m_next_trace + m_poll / 2 <= now) m_next_trace = now + m_trace_interval;
}

}  // namespace joulebench
