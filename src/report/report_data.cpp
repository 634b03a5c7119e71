// The report model: the store's runs, sessions, traces and baselines arranged for the charts and
// tables of `joulebench report`. Statistics come from analysis::analyse_store_runs (the code of
// `analyze DB`), run once per metric over the experiment file parsed once here; nothing here
// computes a median, interval or test. This file reads the store and chooses the baseline; the
// other steps are the files named in report_build.hpp.

#include "report/report_data.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>
#include <utility>

#include "analysis/gpu_spread.hpp"
#include "analysis/node_spread.hpp"
#include "analysis/ordering.hpp"
#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"
#include "report/report_build.hpp"

namespace joulebench::report {

namespace {

std::string where(const std::string& db) {
    return "report: read store " + db + ": ";
}

// The baseline: given (it must have done runs), else as `analyze DB` chooses it
// (src/analysis/store_analysis.cpp): the first declared bare environment, here among those with
// a done run; without one, the first environment with a done run (the page says which it used).
std::optional<std::string> choose_baseline(const ReportModel& m,
                                           const std::optional<ExperimentSpec>& spec,
                                           const std::set<std::string>& envs_done,
                                           const ReportOptions& options, const std::string& err) {
    if (options.baseline) {
        if (envs_done.count(*options.baseline) == 0) {
            std::string list;
            for (const auto& e : m.environments) {
                if (envs_done.count(e) != 0) list += (list.empty() ? "'" : ", '") + e + "'";
            }
            throw Error(
                ErrorCategory::kInvalidArgument,
                err + "use baseline '" + *options.baseline + "': no done run has that environment",
                "environments with done runs: " + list);
        }
        return options.baseline;
    }
    if (spec) {
        for (const auto& e : spec->environments) {
            if (e.type == EnvironmentType::kBare && envs_done.count(e.name) != 0) return e.name;
        }
    }
    for (const auto& e : m.environments) {
        if (envs_done.count(e) != 0) return e;
    }
    return std::nullopt;
}

// The statistics: `analyze DB` once per metric, blocks per workload and cap level, groups per
// environment. The cap tables use T and E whatever the metric: only the first analysis that
// succeeds computes them.
void analyse(ReportModel& m, const std::vector<RunRecord>& runs,
             const analysis::StoreExperiment& experiment, const ReportOptions& options,
             const std::string& err) {
    analysis::StoreAnalysisOptions o;
    o.by = analysis::StoreFactor::kEnvironment;
    o.baseline = m.baseline;
    o.analysis = options.analysis;
    for (const auto& metric : report_metrics()) {
        o.metric = metric;
        o.cap_tables = m.analyses.empty();
        try {
            m.analyses.push_back(analysis::analyse_store_runs(runs, experiment, o, m.db));
        } catch (const Error& e) {
            if (e.category() != ErrorCategory::kNotFound) throw;
            m.warnings.push_back(
                WarningEntry{"report", "no " + metric + " chart or statistics: " + e.what(), 1});
        }
    }
    if (m.analyses.empty()) {
        throw Error(ErrorCategory::kNotFound,
                    err + "no done run has a wall time or an energy value",
                    "the runs were measured without any sensor; see joulebench sensors -v");
    }
}

// Every run, plan order, for the distributions and the order chart.
std::vector<RunPoint> run_points(const std::vector<RunRecord>& runs, const CapScheme& scheme) {
    std::optional<double> first_start;
    for (const auto& r : runs) {
        if (r.started_at && (!first_start || *r.started_at < *first_start)) {
            first_start = r.started_at;
        }
    }
    std::vector<RunPoint> out;
    out.reserve(runs.size());
    for (const auto& r : runs) {
        RunPoint p;
        p.run_id = r.run_id;
        p.plan_index = r.plan_index;
        p.workload = r.workload;
        p.environment = r.environment;
        p.cap_label = scheme.label(r.gpu_cap_w, r.cpu_cap_w);
        p.repetition = r.repetition;
        p.status = std::string(to_string(r.status));
        p.variant = r.workload + " / " + r.environment + " / " + p.cap_label;
        if (r.started_at && first_start) p.start_s = *r.started_at - *first_start;
        p.wall_s = r.wall_s;
        p.energy_j = r.energy_j;
        out.push_back(std::move(p));
    }
    return out;
}

}  // namespace

std::string CapScheme::label(const std::optional<double>& gpu,
                             const std::optional<double>& cpu) const {
    if (gpu_varies && cpu_varies) {
        return "GPU " + analysis::cap_label(gpu) + " / CPU " + analysis::cap_label(cpu);
    }
    if (cpu_varies) return analysis::cap_label(cpu);
    return analysis::cap_label(gpu);
}

std::optional<double> CapScheme::value(const std::optional<double>& gpu,
                                       const std::optional<double>& cpu) const {
    if (gpu_varies && cpu_varies) return std::nullopt;
    if (cpu_varies) return cpu;
    return gpu;
}

std::string CapScheme::title() const {
    if (gpu_varies && cpu_varies) return "GPU / CPU power cap";
    if (cpu_varies) return "CPU power cap (W)";
    return "GPU power cap (W)";
}

std::string utc(double unix_s) {
    if (!std::isfinite(unix_s)) return "n/a";
    const auto t = static_cast<std::time_t>(std::floor(unix_s));
    std::tm tm{};
    if (::gmtime_r(&t, &tm) == nullptr) return "n/a";
    char buf[32];
    if (std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) return "n/a";
    return buf;
}

const std::vector<std::string>& report_metrics() {
    static const std::vector<std::string> kMetrics = {"wall_s", "energy_j", "edp_js"};
    return kMetrics;
}

std::string metric_name(const std::string& metric) {
    if (metric == "wall_s") return "T (s)";
    if (metric == "energy_j") return "E (J)";
    if (metric == "edp_js") return "EDP (J s)";
    return metric;
}

ReportModel build_report(const Store& store, const ReportOptions& options) {
    ReportModel m;
    m.db = store.path().string();
    m.joulebench_version = JOULEBENCH_VERSION;
    m.generated_at = utc(static_cast<double>(std::time(nullptr)));
    const std::string err = where(m.db);
    const std::vector<RunRecord> runs = store.observations();
    if (runs.empty()) {
        throw Error(ErrorCategory::kNotFound, err + "the store holds no runs",
                    "plan and run an experiment first (joulebench run FILE --db DB)");
    }
    if (auto e = store.experiment()) m.experiment = std::move(*e);
    // Parsed once, here, for the report and every analysis.
    const analysis::StoreExperiment experiment = analysis::parse_store_experiment(&m.experiment);
    const std::optional<ExperimentSpec>& spec = experiment.spec;
    if (!experiment.parse_error.empty()) {
        m.warnings.push_back(
            WarningEntry{"report",
                         "the store's experiment file does not parse with this joulebench (" +
                             experiment.parse_error + "): names in order of first appearance",
                         1});
    }

    // Names in declared order, then any others in order of appearance.
    analysis::NameOrder envs;
    analysis::NameOrder workloads;
    if (spec) {
        for (const auto& e : spec->environments) envs.add(e.name);
        for (const auto& w : spec->workloads) workloads.add(w.name);
    }
    for (const auto& r : runs) {
        envs.add(r.environment);
        workloads.add(r.workload);
    }
    m.environments = envs.names();

    std::set<std::optional<double>, decltype(&analysis::cap_less)> gpu_levels(&analysis::cap_less);
    std::set<std::optional<double>, decltype(&analysis::cap_less)> cpu_levels(&analysis::cap_less);
    std::set<std::string> envs_done;
    for (const auto& r : runs) {
        m.status.add(r.status);
        if (r.status != RunStatus::kDone) continue;
        gpu_levels.insert(r.gpu_cap_w);
        cpu_levels.insert(r.cpu_cap_w);
        envs_done.insert(r.environment);
    }
    if (m.status.done == 0) {
        throw Error(ErrorCategory::kNotFound,
                    err + "no done run to report (" + to_string(m.status) + ")",
                    "run the experiment (joulebench run FILE --db DB) until some runs are done");
    }
    const CapScheme scheme{gpu_levels.size() > 1, cpu_levels.size() > 1};
    m.baseline = choose_baseline(m, spec, envs_done, options, err);

    analyse(m, runs, experiment, options, err);
    m.runs = run_points(runs, scheme);
    m.workloads = workload_reports(m, workloads.names(), scheme);
    for (auto& w : m.workloads) w.gpu_spread = analysis::gpu_spread_table(runs, w.name, m.environments);
    add_warnings(m, runs, store.warnings(), spec, scheme, options);
    {
        std::map<std::int64_t, std::string> node_of;
        for (const auto& s : store.sessions()) node_of[s.id] = s.node.value_or("");
        for (const auto& metric : {"energy_j", "wall_s"}) {
            for (auto& w : analysis::node_differences(runs, node_of, metric))
                m.warnings.push_back(WarningEntry{"analysis", std::move(w), 1});
        }
    }
    m.trace = build_trace(store, runs, m.runs, options, err);
    if (!m.trace.note.empty() && m.trace.points.empty()) {
        m.warnings.push_back(WarningEntry{"report", "power over time: " + m.trace.note, 1});
    }
    m.idle_baselines = idle_baselines_table(store);
    m.context = context_tables(store, m, spec, runs, options);
    return m;
}

}  // namespace joulebench::report
