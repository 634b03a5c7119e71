#include "live/live_state.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace joulebench::live {

LiveState::LiveState(std::string node, std::string mode) : m_node(std::move(node)), m_mode(std::move(mode)) {}

void LiveState::set_experiment(std::string name) {
    std::lock_guard lock(m_mutex);
    m_experiment = std::move(name);
}

void LiveState::fix_plan(std::size_t total, std::size_t already_done, std::size_t slots) {
    {
        std::lock_guard lock(m_mutex);
        m_plan_fixed = false;
    }
    plan(total, already_done, slots);
    std::lock_guard lock(m_mutex);
    m_plan->pending = total > already_done ? total - already_done : 0;
    m_plan_fixed = true;
}

void LiveState::plan(std::size_t total, std::size_t already_done, std::size_t slots) {
    std::lock_guard lock(m_mutex);
    if (m_plan_fixed) return;
    PlanNow p;
    p.planned = total;
    p.already_done = already_done;
    p.done = already_done;
    p.slots = slots == 0 ? 1 : slots;
    m_plan = p;
}

void LiveState::add_pending(std::size_t runs) {
    std::lock_guard lock(m_mutex);
    if (m_plan && !m_plan_fixed) m_plan->pending += runs;
}

void LiveState::retrying(std::size_t runs) {
    std::lock_guard lock(m_mutex);
    if (m_plan && !m_plan_fixed) m_plan->failed -= std::min(runs, m_plan->failed);
}

void LiveState::run_started(RunLabels labels) {
    std::lock_guard lock(m_mutex);
    // A retried run starts again: its old entry (if any) is replaced.
    std::erase_if(m_running, [&](const RunNow& r) { return r.labels.run_id == labels.run_id; });
    RunNow r;
    r.labels = std::move(labels);
    r.started = std::chrono::system_clock::now();
    m_running.push_back(std::move(r));
}

RunNow* LiveState::find_running_locked(const std::string& run_id) {
    for (auto& r : m_running) {
        if (r.labels.run_id == run_id) return &r;
    }
    return nullptr;
}

std::vector<DomainNow>* LiveState::domains_locked(const std::string& run_id) {
    if (run_id == kMachine) return &m_machine;
    RunNow* r = find_running_locked(run_id);
    return r ? &r->domains : nullptr;
}

void LiveState::trace_begin(const std::string& run_id, int instance, const std::vector<const Sensor*>& sensors) {
    std::vector<DomainNow> fresh;
    fresh.reserve(sensors.size());
    for (const Sensor* s : sensors) {
        DomainNow d;
        d.instance = instance;
        d.id = s->info().id;
        d.kind = std::string(to_string(s->info().kind));
        d.method = std::string(to_string(s->info().method));
        d.gpu = s->info().kind == DomainKind::kGpu;
        fresh.push_back(std::move(d));
    }
    std::lock_guard lock(m_mutex);
    std::vector<DomainNow>* domains = domains_locked(run_id);
    if (domains == nullptr) return;
    std::erase_if(*domains, [&](const DomainNow& d) { return d.instance == instance; });
    for (auto& d : fresh) domains->push_back(std::move(d));
}

void LiveState::trace_row(const std::string& run_id, int instance, const std::vector<TraceDomainValue>& values,
                          const std::vector<std::optional<GpuTelemetry>>& telemetry) noexcept {
    std::lock_guard lock(m_mutex);
    std::vector<DomainNow>* domains = domains_locked(run_id);
    if (domains == nullptr) return;
    std::size_t i = 0;  // the instance's domains are in the sampler's order
    for (auto& d : *domains) {
        if (d.instance != instance) continue;
        if (i < values.size() && values[i].valid) {
            d.energy_j = std::max(d.energy_j, values[i].energy_j);
            d.power_w = values[i].power_w;
            d.valid = true;
        }
        if (i < telemetry.size() && telemetry[i]) d.telemetry = telemetry[i];
        ++i;
    }
}

void LiveState::final_energy(const std::string& run_id, int instance, const std::string& domain,
                             double energy_j) {
    std::lock_guard lock(m_mutex);
    std::vector<DomainNow>* domains = domains_locked(run_id);
    if (domains == nullptr) return;
    for (auto& d : *domains) {
        if (d.instance == instance && d.id == domain) {
            d.energy_j = std::max(d.energy_j, energy_j);
            d.valid = true;
        }
    }
}

void LiveState::run_finished(const std::string& run_id, RunStatus status, double wall_s,
                             std::optional<double> energy_j, std::string detail) {
    std::lock_guard lock(m_mutex);
    const auto it = std::find_if(m_running.begin(), m_running.end(),
                                 [&](const RunNow& r) { return r.labels.run_id == run_id; });
    if (it == m_running.end()) return;
    RunNow r = std::move(*it);
    m_running.erase(it);
    r.status = status;
    r.wall_s = wall_s;
    r.energy_j = energy_j;
    r.detail = std::move(detail);
    ++m_by_status[std::string(to_string(status))];
    if (m_plan) {
        if (status == RunStatus::kDone) {
            ++m_plan->done;
        } else if (status != RunStatus::kInterrupted) {
            ++m_plan->failed;
        }
        if (m_plan->pending > 0) --m_plan->pending;
        const double took =
            std::chrono::duration<double>(std::chrono::system_clock::now() - r.started).count();
        m_time_sum_s += took;
        ++m_timed;
        m_plan->mean_run_s = m_time_sum_s / static_cast<double>(m_timed);
        m_plan->eta_s = *m_plan->mean_run_s * static_cast<double>(m_plan->pending) /
                        static_cast<double>(m_plan->slots);
    }
    m_finished.push_back(std::move(r));
    while (m_finished.size() > kKeepFinished) m_finished.pop_front();
}

void LiveState::sampler_stats(const SamplerStats& stats, bool running) {
    std::lock_guard lock(m_mutex);
    if (running) {
        m_running_sampler = stats;
        return;
    }
    m_monitoring.sampler_cpu_s += stats.thread_cpu_s;
    m_monitoring.sampler_ticks += stats.ticks;
    m_monitoring.sampler_late_ticks += stats.late_ticks;
}

void LiveState::served(double thread_cpu_s) {
    std::lock_guard lock(m_mutex);
    m_monitoring.serving_cpu_s = std::max(m_monitoring.serving_cpu_s, thread_cpu_s);
    ++m_monitoring.scrapes;
}

void LiveState::message(std::string text) {
    std::lock_guard lock(m_mutex);
    m_messages.push_back(std::move(text));
    while (m_messages.size() > kKeepMessages) m_messages.pop_front();
}

LiveSnapshot LiveState::snapshot() const {
    std::lock_guard lock(m_mutex);
    LiveSnapshot s;
    s.node = m_node;
    s.mode = m_mode;
    s.experiment = m_experiment;
    s.plan = m_plan;
    s.running = m_running;
    s.finished.assign(m_finished.begin(), m_finished.end());
    s.machine = m_machine;
    s.runs_by_status = m_by_status;
    s.messages.assign(m_messages.begin(), m_messages.end());
    s.monitoring = m_monitoring;
    s.monitoring.sampler_cpu_s += m_running_sampler.thread_cpu_s;
    s.monitoring.sampler_ticks += m_running_sampler.ticks;
    s.monitoring.sampler_late_ticks += m_running_sampler.late_ticks;
    if (s.plan && s.plan->eta_s) {
        // The ETA counts down between finishes: the runs in flight have been going a while.
        double elapsed = 0.0;
        const auto now = std::chrono::system_clock::now();
        for (const auto& r : m_running) elapsed += std::chrono::duration<double>(now - r.started).count();
        s.plan->eta_s = std::max(0.0, *s.plan->eta_s - elapsed / static_cast<double>(s.plan->slots));
    }
    s.taken = std::chrono::system_clock::now();
    return s;
}

std::string node_name() {
    if (const char* slurm = std::getenv("SLURMD_NODENAME"); slurm != nullptr && *slurm != '\0') return slurm;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') return host;
    return "unknown";
}

}  // namespace joulebench::live
