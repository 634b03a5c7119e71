// What a finished run writes besides its row: the figures of its row (from its measurement, or
// in gang mode from its instances), its domains and its instances; and the observations analysis
// reads back (docs/store.md, "Gang mode").

#include <fmt/core.h>
#include <sqlite3.h>

#include <algorithm>

#include "joulebench/store.hpp"
#include "joulebench/units.hpp"
#include "model/measure_json.hpp"
#include "store/store_internal.hpp"

namespace joulebench::store_detail {


std::pair<std::optional<double>, std::optional<double>> gpu_and_cpu_energy(const MeasureResult& m) {
    double gpu = 0.0;
    double cpu = 0.0;
    for (const auto& d : m.domains) {
        if (!d.counts_in_total) continue;
        (d.info.kind == DomainKind::kGpu ? gpu : cpu) += d.energy_j;
    }
    return {gpu, cpu};
}

Span run_span(const RunOutcome& outcome, double marked_running_at) {
    const MeasureResult* m = outcome.measure ? &*outcome.measure : nullptr;
    Span s;
    s.started_at = outcome.started_at;
    if (s.started_at == 0.0 && m != nullptr) s.started_at = m->started_at;
    const auto [first, last] = instances_span(outcome.instances);
    if (s.started_at == 0.0) s.started_at = first;
    if (s.started_at == 0.0) s.started_at = marked_running_at;
    s.ended_at = outcome.ended_at;
    if (s.ended_at == 0.0 && m != nullptr) s.ended_at = s.started_at + m->wall_s;
    if (s.ended_at == 0.0) s.ended_at = last;
    if (s.ended_at == 0.0) s.ended_at = unix_now();
    return s;
}

Figures figures_of(const MeasureResult* m, const Span& span) {
    Figures f;
    if (m == nullptr) {
        if (span.ended_at > span.started_at && span.started_at > 0.0)
            f.wall_s = span.ended_at - span.started_at;
        return f;
    }
    const auto [gpu_energy, cpu_energy] = gpu_and_cpu_energy(*m);
    f.wall_s = m->wall_s;
    f.cpu_user_s = m->cpu_user_s;
    f.cpu_system_s = m->cpu_system_s;
    f.energy_j = m->total_energy_j;
    f.gpu_energy_j = gpu_energy;
    f.cpu_energy_j = cpu_energy;
    f.edp_js = m->edp_js;
    f.ed2p_js2 = m->ed2p_js2;
    f.includes_estimate = m->total_includes_estimate;
    if (m->idle) {
        f.idle_power_w = m->idle->power_w;
        f.net_energy_j = m->idle->net_energy_j;
    }
    // The workload's argv need not be UTF-8: U+FFFD in place of a bad byte, where a strict dump
    // threw and the run could not be recorded (docs/fuzzing.md).
    f.measure_json =
        measure_to_json(*m).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    return f;
}

// Gang mode: the run is every instance together, so its time is from the first start to the last
// end, its energies the sums of its instances' (only when every instance was measured), and its
// EDP that energy times that time.
Figures figures_of(const std::vector<InstanceOutcome>& instances, const Span& span) {
    Figures f = figures_of(nullptr, span);
    const bool all_measured = std::all_of(instances.begin(), instances.end(),
                                          [](const InstanceOutcome& i) { return i.measure.has_value(); });
    if (!all_measured || instances.empty()) return f;
    double energy = 0, gpu = 0, cpu = 0, user = 0, system = 0, idle = 0, net = 0;
    bool all_idle = true;
    for (const auto& i : instances) {
        const Figures one = figures_of(&*i.measure, span);
        energy += one.energy_j.value_or(0.0);
        gpu += one.gpu_energy_j.value_or(0.0);
        cpu += one.cpu_energy_j.value_or(0.0);
        user += one.cpu_user_s.value_or(0.0);
        system += one.cpu_system_s.value_or(0.0);
        f.includes_estimate = f.includes_estimate || one.includes_estimate;
        all_idle = all_idle && one.idle_power_w && one.net_energy_j;
        idle += one.idle_power_w.value_or(0.0);
        net += one.net_energy_j.value_or(0.0);
    }
    f.energy_j = energy;
    f.gpu_energy_j = gpu;
    f.cpu_energy_j = cpu;
    f.cpu_user_s = user;
    f.cpu_system_s = system;
    if (f.wall_s) {
        f.edp_js = energy_delay_product(energy, *f.wall_s);
        f.ed2p_js2 = energy_delay_squared_product(energy, *f.wall_s);
    }
    if (all_idle) {
        f.idle_power_w = idle;
        f.net_energy_j = net;
    }
    return f;
}

void bind_figures(Statement& s, int first, const Figures& f) {
    s.bind(first, f.wall_s).bind(first + 1, f.cpu_user_s).bind(first + 2, f.cpu_system_s);
    s.bind(first + 3, f.energy_j).bind(first + 4, f.gpu_energy_j).bind(first + 5, f.cpu_energy_j);
    s.bind(first + 6, f.edp_js).bind(first + 7, f.ed2p_js2);
    if (f.energy_j) {
        s.bind(first + 8, f.includes_estimate ? 1 : 0);
    } else {
        s.bind_null(first + 8);
    }
    s.bind(first + 9, f.idle_power_w).bind(first + 10, f.net_energy_j);
}

int insert_domains(sqlite3* db, const std::string& run_id, const MeasureResult& m, int instance,
                   int first_index) {
    Statement d(
        db,
        "INSERT INTO run_domains (run_id, domain_index, domain, kind, device_index, method, "
        "backend, name, energy_j, avg_power_w, peak_power_w, counts_in_total, "
        "cross_check_energy_j, disagreement_pct, idle_power_w, net_energy_j, failed_reads, wraps, "
        "resets, sharing, cpu_time_share, measured_energy_j, measured_on, instance) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    int index = first_index;
    for (const auto& dom : m.domains) {
        d.reset();
        d.bind(1, run_id).bind(2, index++).bind(3, dom.info.id).bind(4, to_string(dom.info.kind));
        if (dom.info.index >= 0) {
            d.bind(5, dom.info.index);
        } else {
            d.bind_null(5);
        }
        d.bind(6, to_string(dom.info.method)).bind(7, dom.info.backend).bind(8, dom.info.name);
        d.bind(9, dom.energy_j).bind(10, dom.avg_power_w).bind(11, dom.peak_power_w);
        d.bind(12, dom.counts_in_total ? 1 : 0)
            .bind(13, dom.cross_check_energy_j)
            .bind(14, dom.disagreement_pct);
        d.bind(15, dom.idle_power_w).bind(16, dom.net_energy_j);
        d.bind(17, static_cast<std::int64_t>(dom.failed_reads + dom.health.failed_reads));
        d.bind(18, static_cast<std::int64_t>(dom.health.wraps))
            .bind(19, static_cast<std::int64_t>(dom.health.resets));
        d.bind(20, to_string(dom.sharing)).bind(21, dom.cpu_time_share);
        d.bind(22, dom.measured_energy_j).bind(23, to_string(dom.measured_on)).bind(24, instance);
        d.run();
    }
    return index;
}

void insert_marked_phases(sqlite3* db, const std::string& run_id, const MeasureResult& m,
                          int instance) {
    Statement q(db,
                "INSERT INTO run_marked_phases (run_id, instance, position, name, begin_s, end_s, "
                "wall_s, energy_j, ended_by_run, domains_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    std::int64_t position = 0;
    for (const auto& p : m.phases) {
        nlohmann::json domains = nlohmann::json::array();
        for (const auto& d : p.domains) {
            domains.push_back({{"id", d.id},
                               {"energy_j", d.energy_j ? nlohmann::json(*d.energy_j) : nlohmann::json()},
                               {"method", to_string(d.method)},
                               {"counts_in_total", d.counts_in_total}});
        }
        q.reset();
        q.bind(1, run_id).bind(2, static_cast<std::int64_t>(instance)).bind(3, position++);
        q.bind(4, p.name).bind(5, p.begin_s).bind(6, p.end_s).bind(7, p.wall_s).bind(8, p.energy_j);
        q.bind(9, static_cast<std::int64_t>(p.ended_by_run ? 1 : 0)).bind(10, domains.dump());
        q.run();
    }
}

void insert_instances(sqlite3* db, const std::string& run_id,
                      const std::vector<InstanceOutcome>& instances) {
    Statement q(db,
                "INSERT INTO run_instances (run_id, instance, gpu, status, started_at, ended_at, "
                "exit_code, signal, wall_s, cpu_user_s, cpu_system_s, energy_j, gpu_energy_j, "
                "cpu_energy_j, edp_js, ed2p_js2, total_includes_estimate, idle_power_w, "
                "net_energy_j, stderr_tail, measure_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?, coalesce(?, 0), ?, ?, ?, ?)");
    int domain_index = 0;
    for (const auto& i : instances) {
        const MeasureResult* m = i.measure ? &*i.measure : nullptr;
        const auto [started, ended] = instance_span(i);
        const Figures f = figures_of(m, Span{started, ended});
        std::optional<int> exit_code = i.exit_code;
        if (!exit_code && m != nullptr) exit_code = m->exit_code;
        std::optional<int> signal = i.signal;
        if (!signal && m != nullptr) signal = m->signal;
        q.reset();
        q.bind(1, run_id).bind(2, i.instance).bind(3, i.gpu).bind(4, to_string(i.status));
        q.bind(5, started).bind(6, ended).bind(7, exit_code).bind(8, signal);
        bind_figures(q, 9, f);  // 9..19
        q.bind(20, i.stderr_tail).bind(21, f.measure_json);
        q.run();
        if (m != nullptr) domain_index = insert_domains(db, run_id, *m, i.instance, domain_index);
        if (m != nullptr) insert_marked_phases(db, run_id, *m, i.instance);
    }
}

}  // namespace joulebench::store_detail

namespace joulebench {

using namespace store_detail;

std::vector<RunRecord> Store::observations(const std::vector<RunStatus>& statuses) const {
    std::vector<RunRecord> runs_in_order = runs();
    std::lock_guard lock(m_mutex);
    Statement q(m_db,
                "SELECT gpu, status, started_at, ended_at, exit_code, signal, wall_s, energy_j, "
                "gpu_energy_j, cpu_energy_j, edp_js, ed2p_js2, idle_power_w, net_energy_j, "
                "stderr_tail, coalesce(measure_json, ''), total_includes_estimate, instance, "
                "EXISTS (SELECT 1 FROM run_domains d WHERE d.run_id = i.run_id AND d.instance = "
                "i.instance AND d.sharing = 'attributed'), "
                "EXISTS (SELECT 1 FROM run_domains d WHERE d.run_id = i.run_id AND d.instance = "
                "i.instance AND d.sharing = 'shared') "
                "FROM run_instances i WHERE run_id = ? ORDER BY instance");
    const auto wanted = [&](RunStatus s) {
        return statuses.empty() || std::find(statuses.begin(), statuses.end(), s) != statuses.end();
    };
    std::vector<RunRecord> out;
    for (const RunRecord& run : runs_in_order) {
        if (run.instances == 0) {
            if (wanted(run.status)) out.push_back(run);
            continue;
        }
        q.reset();
        q.bind(1, run.run_id);
        while (q.step()) {
            RunRecord r = run;
            if (const auto gpu = q.opt_integer(0)) r.gpu = static_cast<int>(*gpu);
            const RunStatus own = run_status_from_string(q.text(1)).value_or(run.status);
            r.status = own == RunStatus::kDone && run.status != RunStatus::kDone ? run.status : own;
            r.started_at = q.opt_real(2);
            r.ended_at = q.opt_real(3);
            r.exit_code.reset();
            r.signal.reset();
            if (const auto code = q.opt_integer(4)) r.exit_code = static_cast<int>(*code);
            if (const auto sig = q.opt_integer(5)) r.signal = static_cast<int>(*sig);
            r.wall_s = q.opt_real(6);
            r.energy_j = q.opt_real(7);
            r.gpu_energy_j = q.opt_real(8);
            r.cpu_energy_j = q.opt_real(9);
            r.edp_js = q.opt_real(10);
            r.ed2p_js2 = q.opt_real(11);
            r.idle_power_w = q.opt_real(12);
            r.net_energy_j = q.opt_real(13);
            r.stderr_tail = q.text(14);
            r.measure_json = q.text(15);
            r.total_includes_estimate = q.integer(16) != 0;
            r.instance = static_cast<int>(q.integer(17));
            r.cpu_attributed = q.integer(18) != 0;
            r.cpu_shared = q.integer(19) != 0;
            if (wanted(r.status)) out.push_back(std::move(r));
        }
    }
    return out;
}

}  // namespace joulebench
