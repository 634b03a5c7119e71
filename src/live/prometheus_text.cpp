#include "live/prometheus_text.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string_view>
#include <sstream>
#include <utility>
#include <vector>

#include "joulebench/experiment.hpp"
#include "joulebench/measure_result.hpp"

namespace joulebench::live {
namespace {

/// A sample's labels, rendered as they go out (`k="v",k2="v2"`), so that a run's labels are
/// escaped and joined once per family rather than per sample.
class Labels {
public:
    Labels() = default;
    Labels(std::initializer_list<std::pair<const char*, std::string>> labels) {
        for (const auto& [k, v] : labels) emplace_back(k, v);
    }
    void emplace_back(std::string_view key, const std::string& value) {
        if (!m_text.empty()) m_text += ',';
        m_text += key;
        m_text += "=\"";
        m_text += escape_label_value(value);
        m_text += '"';
    }
    [[nodiscard]] bool empty() const { return m_text.empty(); }
    [[nodiscard]] const std::string& text() const { return m_text; }

private:
    std::string m_text;
};

void append_number(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else {
        fmt::format_to(std::back_inserter(out), "{}", v);
    }
}

class Exposition {
public:
    void family(const char* name, const char* type, const char* help) {
        m_name = name;
        fmt::format_to(std::back_inserter(m_out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    void sample(const Labels& labels, double value) {
        m_out += m_name;
        if (!labels.empty()) {
            m_out += '{';
            m_out += labels.text();
            m_out += '}';
        }
        m_out += ' ';
        append_number(m_out, value);
        m_out += '\n';
    }

    std::string take() { return std::move(m_out); }

private:
    std::string m_out;
    std::string m_name;
};

Labels run_labels(const LiveSnapshot& s, const RunLabels& r) {
    Labels l{{"node", s.node}};
    if (!s.experiment.empty()) l.emplace_back("experiment", s.experiment);
    l.emplace_back("run", r.run_id);
    l.emplace_back("workload", r.workload);
    l.emplace_back("environment", r.environment);
    if (r.gpu_cap_w) l.emplace_back("gpu_cap_watts", format_watts(*r.gpu_cap_w));
    if (r.cpu_cap_w) l.emplace_back("cpu_cap_watts", format_watts(*r.cpu_cap_w));
    l.emplace_back("repetition", std::to_string(r.repetition));
    if (r.slot) l.emplace_back("gpu_slot", std::to_string(*r.slot));
    return l;
}

Labels domain_labels(Labels base, const DomainNow& d, bool gang) {
    if (gang) base.emplace_back("gang_instance", std::to_string(d.instance));  // "instance" is Prometheus's target label
    base.emplace_back("domain", d.id);
    base.emplace_back("kind", d.kind);
    base.emplace_back("method", d.method);
    return base;
}

/// Calls `each(labels, domain)` for every domain of the running runs, then (`finished`) of the
/// finished ones, then of the machine.
void for_domains(const LiveSnapshot& s, bool finished,
                 const std::function<void(const Labels&, const DomainNow&)>& each) {
    const auto runs = [&](const std::vector<RunNow>& list) {
        for (const auto& r : list) {
            bool gang = false;
            for (const auto& d : r.domains) gang = gang || d.instance != 0;
            const Labels base = run_labels(s, r.labels);
            for (const auto& d : r.domains) {
                if (d.valid) each(domain_labels(base, d, gang), d);
            }
        }
    };
    runs(s.running);
    if (finished) runs(s.finished);
    const Labels machine{{"node", s.node}};
    for (const auto& d : s.machine) {
        if (d.valid) each(domain_labels(machine, d, false), d);
    }
}

void gpu_family(Exposition& e, const LiveSnapshot& s, const char* name, const char* help,
                const std::function<std::optional<double>(const GpuTelemetry&)>& value) {
    bool any = false;
    for_domains(s, false, [&](const Labels&, const DomainNow& d) {
        any = any || (d.telemetry && value(*d.telemetry));
    });
    if (!any) return;
    e.family(name, "gauge", help);
    for_domains(s, false, [&](const Labels& l, const DomainNow& d) {
        if (!d.telemetry) return;
        if (const auto v = value(*d.telemetry)) e.sample(l, *v);
    });
}

void energy_families(Exposition& e, const LiveSnapshot& s) {
    e.family("joulebench_energy_joules_total", "counter",
             "Energy a domain measured since the run's (exporter: the exporter's) first reading, "
             "corrected for counter wraps; a finished run's ends at its measured energy.");
    for_domains(s, true, [&](const Labels& l, const DomainNow& d) { e.sample(l, d.energy_j); });
    e.family("joulebench_power_watts", "gauge", "Average power of a domain over the last trace interval.");
    for_domains(s, false, [&](const Labels& l, const DomainNow& d) {
        if (d.power_w) e.sample(l, *d.power_w);
    });
}

void gpu_families(Exposition& e, const LiveSnapshot& s) {
    gpu_family(e, s, "joulebench_gpu_utilisation_ratio", "GPU utilisation (0 to 1) the driver reports.",
               [](const GpuTelemetry& t) -> std::optional<double> {
                   if (!t.utilisation_pct) return std::nullopt;
                   return *t.utilisation_pct / 100.0;
               });
    gpu_family(e, s, "joulebench_gpu_temperature_celsius", "GPU temperature.",
               [](const GpuTelemetry& t) { return t.temperature_c; });
    gpu_family(e, s, "joulebench_gpu_sm_clock_hertz", "GPU streaming multiprocessor (graphics) clock.",
               [](const GpuTelemetry& t) -> std::optional<double> {
                   if (!t.sm_clock_mhz) return std::nullopt;
                   return *t.sm_clock_mhz * 1e6;
               });
    gpu_family(e, s, "joulebench_gpu_power_limit_watts", "Power limit the GPU enforces (the cap in force).",
               [](const GpuTelemetry& t) -> std::optional<double> {
                   if (!t.enforced_limit) return std::nullopt;
                   return t.enforced_limit->value();
               });
    bool any = false;
    for_domains(s, false, [&](const Labels&, const DomainNow& d) {
        any = any || (d.telemetry && d.telemetry->throttle_reasons);
    });
    if (!any) return;
    e.family("joulebench_gpu_throttle_reason", "gauge",
             "1 while the GPU's clocks are held down for this reason (NVML clocks event reasons), else 0.");
    for_domains(s, false, [&](const Labels& l, const DomainNow& d) {
        if (!d.telemetry || !d.telemetry->throttle_reasons) return;
        const std::uint64_t mask = *d.telemetry->throttle_reasons;
        // Every named reason, set or not, so that a reason that ends drops to 0.
        for (unsigned bit = 0; bit < 9; ++bit) {
            const auto names = throttle_reason_names(std::uint64_t{1} << bit);
            if (names.empty()) continue;
            Labels with = l;
            with.emplace_back("reason", names.front());
            e.sample(with, (mask >> bit) & 1U ? 1.0 : 0.0);
        }
    });
}

void run_families(Exposition& e, const LiveSnapshot& s) {
    const auto since_epoch = [](std::chrono::system_clock::time_point t) {
        return std::chrono::duration<double>(t.time_since_epoch()).count();
    };
    e.family("joulebench_run_start_time_seconds", "gauge", "When a run in progress started (Unix time).");
    for (const auto& r : s.running) e.sample(run_labels(s, r.labels), since_epoch(r.started));
    e.family("joulebench_run_duration_seconds", "gauge",
             "A finished run's wall time as recorded (the last finished runs are kept).");
    for (const auto& r : s.finished) {
        Labels l = run_labels(s, r.labels);
        l.emplace_back("status", std::string(to_string(*r.status)));
        e.sample(l, r.wall_s);
    }
    e.family("joulebench_run_energy_joules", "gauge",
             "A finished run's total energy as the store records it (domains that count in the total).");
    for (const auto& r : s.finished) {
        if (!r.energy_j) continue;
        Labels l = run_labels(s, r.labels);
        l.emplace_back("status", std::string(to_string(*r.status)));
        e.sample(l, *r.energy_j);
    }
    if (s.mode == "exporter") return;
    e.family("joulebench_runs_total", "counter", "Runs finished by this invocation, by status.");
    for (const RunStatus st : {RunStatus::kDone, RunStatus::kFailed, RunStatus::kTimeout, RunStatus::kInterrupted}) {
        const std::string name(to_string(st));
        const auto it = s.runs_by_status.find(name);
        e.sample({{"node", s.node}, {"status", name}},
                 it == s.runs_by_status.end() ? 0.0 : static_cast<double>(it->second));
    }
}

void plan_families(Exposition& e, const LiveSnapshot& s) {
    if (!s.plan) return;
    const PlanNow& p = *s.plan;
    Labels base{{"node", s.node}};
    if (!s.experiment.empty()) base.emplace_back("experiment", s.experiment);
    e.family("joulebench_plan_runs", "gauge",
             "Runs of this invocation's plan: planned, done (before and now), failed (now), running, pending.");
    const std::pair<const char*, std::size_t> states[] = {{"planned", p.planned},
                                                          {"done", p.done},
                                                          {"failed", p.failed},
                                                          {"running", s.running.size()},
                                                          {"pending", p.pending}};
    for (const auto& [state, n] : states) {
        Labels l = base;
        l.emplace_back("state", state);
        e.sample(l, static_cast<double>(n));
    }
    if (p.eta_s) {
        e.family("joulebench_plan_eta_seconds", "gauge",
                 "Estimated time to the end of the plan: mean run time (rests included) x pending / slots.");
        e.sample(base, *p.eta_s);
    }
}

void monitoring_families(Exposition& e, const LiveSnapshot& s, const ProcessNow& p) {
    const Labels node{{"node", s.node}};
    const MonitoringNow& m = s.monitoring;
    e.family("joulebench_sampler_cpu_seconds_total", "counter",
             "CPU time the sampling threads used (finished runs, and the exporter's so far).");
    e.sample(node, m.sampler_cpu_s);
    e.family("joulebench_sampler_ticks_total", "counter", "Sampling ticks (every sensor read once).");
    e.sample(node, static_cast<double>(m.sampler_ticks));
    e.family("joulebench_sampler_late_ticks_total", "counter", "Ticks that started more than a period late.");
    e.sample(node, static_cast<double>(m.sampler_late_ticks));
    e.family("joulebench_scrape_cpu_seconds_total", "counter",
             "CPU time the metrics server's thread used (accepting, reading, rendering, writing), up to this scrape's rendering.");
    e.sample(node, m.serving_cpu_s);
    e.family("joulebench_scrapes_total", "counter", "Scrapes answered (before this one).");
    e.sample(node, static_cast<double>(m.scrapes));
    if (p.cpu_s) {
        e.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
        e.sample({}, *p.cpu_s);
    }
    if (p.resident_bytes) {
        e.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        e.sample({}, *p.resident_bytes);
    }
    if (p.start_time_s) {
        e.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
        e.sample({}, *p.start_time_s);
    }
}

}  // namespace

std::string escape_label_value(const std::string& value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

ProcessNow read_process_now() {
    ProcessNow p;
    // /proc/self/stat: fields 14, 15 (utime, stime) and 22 (starttime) in clock ticks, 24 (rss) in
    // pages; the second field (comm) may hold spaces, so fields are counted after its ')'.
    std::ifstream in("/proc/self/stat");
    std::string line;
    if (!std::getline(in, line)) return p;
    const auto close = line.rfind(')');
    if (close == std::string::npos) return p;
    std::istringstream fields(line.substr(close + 2));
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    // f[0] is field 3 (state).
    const long ticks = ::sysconf(_SC_CLK_TCK);
    const long page = ::sysconf(_SC_PAGESIZE);
    if (f.size() < 22 || ticks <= 0 || page <= 0) return p;
    try {
        p.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(ticks);
        p.resident_bytes = std::stod(f[21]) * static_cast<double>(page);
        std::ifstream stat("/proc/stat");
        for (std::string l; std::getline(stat, l);) {
            if (l.rfind("btime ", 0) == 0) {
                p.start_time_s = std::stod(l.substr(6)) + std::stod(f[19]) / static_cast<double>(ticks);
                break;
            }
        }
    } catch (const std::exception&) {
    }
    return p;
}

std::string prometheus_text(const LiveSnapshot& snapshot, const ProcessNow& process) {
    Exposition e;
    energy_families(e, snapshot);
    gpu_families(e, snapshot);
    run_families(e, snapshot);
    plan_families(e, snapshot);
    monitoring_families(e, snapshot, process);
    return e.take();
}

}  // namespace joulebench::live
