// The report model: the store's runs, sessions, traces and baselines arranged for the charts and
// tables of `joulebench report`. Statistics come from analysis::analyse_store_runs (the code of
// `analyze DB`), run once per metric; nothing here computes a median, interval or test.

#include "report/report_data.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <set>
#include <utility>

#include "common/json_number.hpp"
#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"

namespace joulebench::report {

namespace {

std::string where(const std::string& db) {
    return "report: read store " + db + ": ";
}

std::string num(double v) {
    if (!std::isfinite(v)) return "n/a";
    return fmt::format("{:.6g}", v);
}

std::string pct(double v) {
    if (!std::isfinite(v)) return "n/a";
    return fmt::format("{:+.2f}", v);
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

std::string human_bytes(double bytes) {
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    std::size_t u = 0;
    while (bytes >= 1024.0 && u + 1 < std::size(kUnits)) {
        bytes /= 1024.0;
        ++u;
    }
    return fmt::format("{:.{}f} {}", bytes, u == 0 ? 0 : 1, kUnits[u]);
}

// Caps compare as optional doubles: uncapped first, then ascending.
bool cap_less(const std::optional<double>& a, const std::optional<double>& b) {
    if (!a) return static_cast<bool>(b);
    if (!b) return false;
    return *a < *b;
}

// How cap levels are named and placed on the axis, for the whole store: which domains vary.
struct CapScheme {
    bool gpu_varies = false;
    bool cpu_varies = false;

    [[nodiscard]] std::string label(const std::optional<double>& gpu,
                                    const std::optional<double>& cpu) const {
        if (gpu_varies && cpu_varies) {
            return "GPU " + analysis::cap_label(gpu) + " / CPU " + analysis::cap_label(cpu);
        }
        if (cpu_varies) return analysis::cap_label(cpu);
        return analysis::cap_label(gpu);
    }
    [[nodiscard]] std::optional<double> value(const std::optional<double>& gpu,
                                              const std::optional<double>& cpu) const {
        if (gpu_varies && cpu_varies) return std::nullopt;
        if (cpu_varies) return cpu;
        return gpu;
    }
    [[nodiscard]] std::string title() const {
        if (gpu_varies && cpu_varies) return "GPU / CPU power cap";
        if (cpu_varies) return "CPU power cap (W)";
        return "GPU power cap (W)";
    }
};

// Ordered names: declared first, then in order of first appearance.
class Order {
public:
    void add(const std::string& name) {
        if (std::find(m_names.begin(), m_names.end(), name) == m_names.end()) {
            m_names.push_back(name);
        }
    }
    [[nodiscard]] const std::vector<std::string>& names() const { return m_names; }

private:
    std::vector<std::string> m_names;
};

// A run warning with its numbers replaced by '#', so that "took 12.3 s" and "took 14 s" count as
// one kind. Digits glued to a name ("gpu0", "package1") are kept: they name a device.
std::string warning_kind(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        const bool glued = i > 0 && (std::isalnum(static_cast<unsigned char>(text[i - 1])) ||
                                     text[i - 1] == '_' || text[i - 1] == '-');
        if (std::isdigit(c) && !glued) {
            while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) ||
                                       (text[i] == '.' && i + 1 < text.size() &&
                                        std::isdigit(static_cast<unsigned char>(text[i + 1]))))) {
                ++i;
            }
            out += '#';
            continue;
        }
        out += text[i];
        ++i;
    }
    return out;
}

// Flattens a JSON value into "key: value" pairs ("gpus[0].name").
void flatten(const nlohmann::json& j, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
    if (j.is_object()) {
        for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
        return;
    }
    if (j.is_array()) {
        for (std::size_t i = 0; i < j.size(); ++i) {
            flatten(j[i], prefix + "[" + std::to_string(i) + "]", out);
        }
        return;
    }
    std::string value = j.is_string() ? j.get<std::string>() : j.dump();
    // Sizes recorded in bytes read better with a binary prefix beside them.
    const bool bytes_key = prefix.size() >= 5 && (prefix.ends_with("_bytes") ||
                                                  prefix.ends_with(".size") || prefix == "size");
    if (bytes_key && j.is_number() && j.get<double>() >= 0) {
        value += " (" + human_bytes(j.get<double>()) + ")";
    }
    out.emplace_back(prefix, std::move(value));
}

std::string last_line(const std::string& text) {
    std::string s = text;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    const auto nl = s.rfind('\n');
    if (nl != std::string::npos) s = s.substr(nl + 1);
    if (s.size() > 200) s = s.substr(0, 197) + "...";
    return s;
}

std::string plural(std::size_t n, const std::string& word) {
    return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

TraceReport build_trace(const Store& store, const std::vector<RunRecord>& runs,
                        const std::vector<RunPoint>& points, const ReportOptions& options,
                        const std::string& err) {
    TraceReport tr;
    const RunRecord* chosen = nullptr;
    if (options.trace_run) {
        for (const auto& r : runs) {
            if (r.run_id == *options.trace_run) chosen = &r;
        }
        if (chosen == nullptr) {
            throw Error(ErrorCategory::kInvalidArgument,
                        err + "draw the trace of run '" + *options.trace_run +
                            "': no such run in the store",
                        "run ids are listed by `joulebench export DB`");
        }
        tr.chosen_by_user = true;
    } else {
        std::vector<const RunRecord*> done;
        for (const auto& r : runs) {
            if (r.status == RunStatus::kDone && r.energy_j && std::isfinite(*r.energy_j)) {
                done.push_back(&r);
            }
        }
        if (done.empty()) {
            tr.note = "no done run with an energy value: no trace to draw";
            return tr;
        }
        // The lower median: an actual run, never an average of two.
        std::stable_sort(done.begin(), done.end(), [](const RunRecord* a, const RunRecord* b) {
            return *a->energy_j < *b->energy_j;
        });
        chosen = done[(done.size() - 1) / 2];
    }
    tr.run_id = chosen->run_id;
    std::string variant;
    for (const auto& p : points) {
        if (p.run_id == chosen->run_id) variant = p.variant;
    }
    tr.title = fmt::format("run {} ({}, repetition {}, {}{})", chosen->run_id, variant,
                           chosen->repetition, to_string(chosen->status),
                           chosen->energy_j ? ", E = " + num(*chosen->energy_j) + " J" : "");
    tr.idle_power_w = chosen->idle_power_w;
    const Trace trace = store.trace(chosen->run_id);
    tr.rows = trace.times_s.size();
    if (tr.rows == 0) {
        tr.note = "no sample trace is stored for this run";
        return tr;
    }
    std::set<std::string> in_total;
    for (const auto& d : store.domains(chosen->run_id)) {
        if (d.counts_in_total) in_total.insert(d.domain);
    }
    std::vector<std::size_t> power_cols;
    for (std::size_t c = 0; c < trace.columns.size(); ++c) {
        if (trace.columns[c].quantity == "power_w") power_cols.push_back(c);
    }
    if (power_cols.empty()) {
        tr.note = "the stored trace has no power column";
        return tr;
    }
    const std::size_t max_points = std::max<std::size_t>(options.max_trace_points, 1);
    tr.bucket = (tr.rows + max_points - 1) / max_points;
    bool total_possible = !in_total.empty();
    for (const auto& d : in_total) {
        const bool present = std::any_of(power_cols.begin(), power_cols.end(),
                                         [&](auto c) { return trace.columns[c].domain == d; });
        total_possible = total_possible && present;
    }
    // Bucket means: each point is the mean of `bucket` consecutive rows' average power (the
    // rows are equally spaced by the sampler, so this is the mean power over the bucket).
    for (std::size_t start = 0; start < tr.rows; start += tr.bucket) {
        const std::size_t end = std::min(tr.rows, start + tr.bucket);
        double t_sum = 0.0;
        for (std::size_t i = start; i < end; ++i) t_sum += trace.times_s[i];
        const double t = t_sum / static_cast<double>(end - start);
        double total_sum = 0.0;
        std::size_t total_n = 0;
        for (const auto c : power_cols) {
            double sum = 0.0;
            std::size_t n = 0;
            for (std::size_t i = start; i < end; ++i) {
                const double v = trace.values[c][i];
                if (std::isfinite(v)) {
                    sum += v;
                    ++n;
                }
            }
            if (n == 0) continue;
            tr.points.push_back(
                TracePoint{t, trace.columns[c].domain, sum / static_cast<double>(n)});
        }
        if (total_possible) {
            for (std::size_t i = start; i < end; ++i) {
                double row = 0.0;
                bool complete = true;
                for (const auto c : power_cols) {
                    if (in_total.count(trace.columns[c].domain) == 0) continue;
                    const double v = trace.values[c][i];
                    if (!std::isfinite(v)) complete = false;
                    row += v;
                }
                if (complete) {
                    total_sum += row;
                    ++total_n;
                }
            }
            if (total_n > 0) {
                tr.points.push_back(
                    TracePoint{t, "total", total_sum / static_cast<double>(total_n)});
            }
        }
    }
    if (tr.bucket > 1) {
        tr.note = fmt::format("{} rows shown as {} points: each the mean of {} consecutive rows",
                              tr.rows, (tr.rows + tr.bucket - 1) / tr.bucket, tr.bucket);
    }
    return tr;
}

}  // namespace

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
    {
        const auto now = static_cast<double>(std::time(nullptr));
        m.generated_at = utc(now);
    }
    const std::string err = where(m.db);
    const std::vector<RunRecord> runs = store.runs();
    if (runs.empty()) {
        throw Error(ErrorCategory::kNotFound, err + "the store holds no runs",
                    "plan and run an experiment first (joulebench run FILE --db DB)");
    }
    if (auto e = store.experiment()) m.experiment = std::move(*e);

    std::optional<ExperimentSpec> spec;
    if (!m.experiment.file_text.empty()) {
        try {
            spec = parse_experiment_text(m.experiment.file_text, m.experiment.file_name);
        } catch (const Error& e) {
            m.warnings.push_back(WarningEntry{
                "report",
                std::string("the store's experiment file does not parse with this joulebench (") +
                    e.what() + "): names in order of first appearance",
                1});
        }
    }

    // Names in declared order, then any others in order of appearance.
    Order envs;
    Order workloads;
    if (spec) {
        for (const auto& e : spec->environments) envs.add(e.name);
        for (const auto& w : spec->workloads) workloads.add(w.name);
    }
    for (const auto& r : runs) {
        envs.add(r.environment);
        workloads.add(r.workload);
    }
    m.environments = envs.names();

    std::set<std::optional<double>, decltype(&cap_less)> gpu_levels(&cap_less);
    std::set<std::optional<double>, decltype(&cap_less)> cpu_levels(&cap_less);
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
    CapScheme scheme;
    scheme.gpu_varies = gpu_levels.size() > 1;
    scheme.cpu_varies = cpu_levels.size() > 1;

    // The baseline: given, or chosen as below.
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
        m.baseline = options.baseline;
    } else {
        // As `analyze DB` chooses (src/analysis/store_analysis.cpp): the first declared bare
        // environment, here among those with a done run; without one, the first environment
        // with a done run (the page says which it used).
        if (spec) {
            for (const auto& e : spec->environments) {
                if (e.type == EnvironmentType::kBare && envs_done.count(e.name) != 0) {
                    m.baseline = e.name;
                    break;
                }
            }
        }
        if (!m.baseline) {
            for (const auto& e : m.environments) {
                if (envs_done.count(e) != 0) {
                    m.baseline = e;
                    break;
                }
            }
        }
    }

    // The statistics: `analyze DB` once per metric, blocks per workload and cap level.
    m.analysis_options.by = analysis::StoreFactor::kEnvironment;
    m.analysis_options.baseline = m.baseline;
    m.analysis_options.analysis = options.analysis;
    const analysis::StoreExperiment parsed = analysis::parse_store_experiment(&m.experiment);
    for (const auto& metric : report_metrics()) {
        analysis::StoreAnalysisOptions o = m.analysis_options;
        o.metric = metric;
        try {
            m.analyses.push_back(analysis::analyse_store_runs(runs, parsed, o, m.db));
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
    m.analysis_options.metric = m.analyses.front().metric;

    // Runs for the distributions and the order chart.
    std::optional<double> first_start;
    for (const auto& r : runs) {
        if (r.started_at && (!first_start || *r.started_at < *first_start)) {
            first_start = r.started_at;
        }
    }
    m.runs.reserve(runs.size());
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
        m.runs.push_back(std::move(p));
    }

    // Per workload: curves, overheads, statistics from the blocks; tables from the cap tables.
    for (const auto& w : workloads.names()) {
        WorkloadReport wr;
        wr.name = w;
        std::vector<std::pair<std::optional<double>, std::optional<double>>> levels;
        for (const auto& a : m.analyses) {
            for (const auto& b : a.blocks) {
                if (b.workload != w) continue;
                const auto lvl = std::make_pair(b.gpu_cap_w, b.cpu_cap_w);
                if (std::find(levels.begin(), levels.end(), lvl) == levels.end()) {
                    levels.push_back(lvl);
                }
                const std::string label = scheme.label(b.gpu_cap_w, b.cpu_cap_w);
                const auto value = scheme.value(b.gpu_cap_w, b.cpu_cap_w);
                for (const auto& g : b.analysis.groups) {
                    wr.curves.push_back(CurvePoint{g.name, value, label, a.metric, g.d.n,
                                                   g.d.median, g.median_ci95.lo, g.median_ci95.hi,
                                                   g.d.q1, g.d.q3, g.d.min, g.d.max});
                }
                for (const auto& o : b.analysis.baseline) {
                    wr.overheads.push_back(OverheadPoint{o.group, value, label, a.metric,
                                                         o.overhead.pct, o.overhead.ci.lo,
                                                         o.overhead.ci.hi});
                }
                wr.statistics.push_back(
                    StatisticsBlock{b.title, a.metric, b.analysis, stats::verdicts(b.analysis)});
            }
        }
        if (levels.empty()) continue;  // no done run of this workload
        std::sort(levels.begin(), levels.end(), [](const auto& a, const auto& b) {
            if (cap_less(a.first, b.first) || cap_less(b.first, a.first)) {
                return cap_less(a.first, b.first);
            }
            return cap_less(a.second, b.second);
        });
        bool all_numeric = !(scheme.gpu_varies && scheme.cpu_varies);
        for (const auto& [g, c] : levels) {
            wr.cap_levels.push_back(scheme.label(g, c));
            all_numeric = all_numeric && scheme.value(g, c).has_value();
        }
        wr.cap_axis = levels.size() == 1 ? "single" : (all_numeric ? "quantitative" : "ordinal");
        wr.cap_title = scheme.title();

        // Best caps and overheads over caps: analyse_caps through analyze DB's cap tables.
        const analysis::StoreAnalysis& a0 = m.analyses.front();
        wr.best_caps.title = "Best power cap per environment (medians over runs)";
        wr.best_caps.headers = {"environment", "cap min E (W)",    "E (J)",      "cap min EDP (W)",
                                "EDP (J s)",   "cap min ED2P (W)", "ED2P (J s2)"};
        wr.overhead_summary.title =
            m.baseline ? "Overhead against '" + *m.baseline + "' over caps (% of medians)"
                       : "Overhead over caps";
        wr.overhead_summary.headers = {"environment", "caps",    "T avg %",   "T max %",
                                       "E avg %",     "E max %", "EDP avg %", "EDP max %"};
        bool any_table = false;
        for (const auto& c : a0.caps) {
            const std::string ctx =
                c.other_varies ? fmt::format(" ({} cap {})", c.domain == "gpu" ? "CPU" : "GPU",
                                             analysis::cap_label(c.other_cap_w))
                               : std::string();
            for (const auto& o : c.caps.optima) {
                if (o.workload != w) continue;
                any_table = true;
                wr.best_caps.rows.push_back({o.environment + ctx, num(o.cap_min_energy_w),
                                             num(o.min_energy_j), num(o.cap_min_edp_w),
                                             num(o.min_edp_js), num(o.cap_min_ed2p_w),
                                             num(o.min_ed2p_js2)});
            }
            for (const auto& s : c.caps.summary) {
                if (s.workload != w) continue;
                wr.overhead_summary.rows.push_back({s.environment + ctx, std::to_string(s.caps),
                                                    pct(s.time_avg_pct), pct(s.time_max_pct),
                                                    pct(s.energy_avg_pct), pct(s.energy_max_pct),
                                                    pct(s.edp_avg_pct), pct(s.edp_max_pct)});
            }
        }
        if (!any_table) {
            wr.best_caps.note = fmt::format(
                "Only one cap level ({}) was measured for this workload: there is no cap to "
                "choose.",
                wr.cap_levels.front());
            // One level: the average and the maximum over caps are the overhead at that level.
            std::map<std::string, std::map<std::string, double>> at;
            for (const auto& o : wr.overheads) at[o.environment][o.metric] = o.pct;
            for (const auto& e : m.environments) {
                const auto it = at.find(e);
                if (it == at.end()) continue;
                const auto get = [&](const char* k) {
                    const auto f = it->second.find(k);
                    return f == it->second.end() ? pct(NAN) : pct(f->second);
                };
                wr.overhead_summary.rows.push_back({e, "1", get("wall_s"), get("wall_s"),
                                                    get("energy_j"), get("energy_j"), get("edp_js"),
                                                    get("edp_js")});
            }
            wr.overhead_summary.note =
                "One cap level: average and maximum are the overhead at that level (medians, "
                "from the statistics below).";
        } else if (wr.overhead_summary.rows.empty()) {
            wr.overhead_summary.note = "No overheads: the baseline has no runs under these caps.";
        }
        if (!m.baseline) wr.overhead_summary.note = "No baseline environment: no overheads.";
        m.workloads.push_back(std::move(wr));
    }

    // Warnings: plan, runs (aggregated), failed runs, analysis.
    if (spec) {
        try {
            for (const auto& w : make_plan(*spec).warnings) {
                m.warnings.push_back(WarningEntry{"plan", w, 1});
            }
        } catch (const Error& e) {
            m.warnings.push_back(WarningEntry{"plan", e.what(), 1});
        }
    }
    {
        std::vector<std::string> kinds;
        std::map<std::string, std::pair<std::string, std::size_t>> seen;  // kind -> example, n
        std::map<std::string, bool> varies;
        for (const auto& r : runs) {
            if (r.warnings_json.empty()) continue;
            const auto j = nlohmann::json::parse(r.warnings_json, nullptr, false);
            if (!j.is_array()) continue;
            for (const auto& w : j) {
                if (!w.is_string()) continue;
                const std::string text = w.get<std::string>();
                const std::string kind = warning_kind(text);
                auto it = seen.find(kind);
                if (it == seen.end()) {
                    kinds.push_back(kind);
                    seen.emplace(kind, std::make_pair(text, std::size_t{1}));
                } else {
                    ++it->second.second;
                    if (it->second.first != text) varies[kind] = true;
                }
            }
        }
        for (const auto& k : kinds) {
            const auto& [example, n] = seen.at(k);
            m.warnings.push_back(WarningEntry{
                "runs", varies.count(k) != 0 ? k + " (e.g. \"" + example + "\")" : example, n});
        }
    }
    {
        std::size_t listed = 0;
        std::size_t unlisted = 0;
        for (const auto& r : runs) {
            if (r.status == RunStatus::kDone || r.status == RunStatus::kPlanned ||
                r.status == RunStatus::kRunning) {
                continue;
            }
            if (listed >= options.max_failed_listed) {
                ++unlisted;
                continue;
            }
            ++listed;
            std::string how(to_string(r.status));
            if (r.signal) {
                how += fmt::format(", signal {}", *r.signal);
            } else if (r.exit_code) {
                how += fmt::format(", exit code {}", *r.exit_code);
            }
            const std::string tail = last_line(r.stderr_tail);
            m.warnings.push_back(WarningEntry{
                "failed run",
                fmt::format("run {} ({} / {} / {}, repetition {}): {}{}", r.run_id, r.workload,
                            r.environment, scheme.label(r.gpu_cap_w, r.cpu_cap_w), r.repetition,
                            how, tail.empty() ? "" : ": " + tail),
                1});
        }
        if (unlisted > 0) {
            m.warnings.push_back(
                WarningEntry{"failed run",
                             fmt::format("and {} more runs that did not finish (see joulebench "
                                         "export DB)",
                                         unlisted),
                             unlisted});
        }
        if (m.status.not_run() > 0) {
            m.warnings.push_back(
                WarningEntry{"runs",
                             plural(m.status.not_run(), "run") +
                                 " not run yet (planned, or running when the report was made)",
                             m.status.not_run()});
        }
    }
    {
        std::set<std::string> seen;
        for (const auto& a : m.analyses) {
            for (const auto& w : a.warnings) {
                if (seen.insert(w).second) m.warnings.push_back(WarningEntry{"analysis", w, 1});
            }
        }
    }

    m.trace = build_trace(store, runs, m.runs, options, err);
    if (!m.trace.note.empty() && m.trace.points.empty()) {
        m.warnings.push_back(WarningEntry{"report", "power over time: " + m.trace.note, 1});
    }

    // Idle baselines.
    m.idle_baselines.title = "Every idle measurement of the store";
    m.idle_baselines.headers = {"session",   "domain",          "started", "duration (s)",
                                "power (W)", "temperature (C)", "context"};
    for (const auto& b : store.idle_baselines()) {
        m.idle_baselines.rows.push_back({b.session_id ? std::to_string(*b.session_id) : "",
                                         b.domain, utc(b.started_at), num(b.duration_s),
                                         num(b.power_w),
                                         b.temperature_c ? num(*b.temperature_c) : "", b.context});
    }
    if (m.idle_baselines.rows.empty()) {
        m.idle_baselines.note =
            "No idle baseline was measured (joulebench run --idle-baseline, or rest = "
            "\"baseline\").";
    }

    // Context: the experiment, each session's host, the environments.
    Table exp{"Experiment", {"item", "value"}, {}, ""};
    exp.rows.push_back({"name", m.experiment.name});
    exp.rows.push_back({"file", m.experiment.file_name});
    exp.rows.push_back({"file SHA-256", m.experiment.file_sha256});
    exp.rows.push_back(
        {"seed", std::to_string(m.experiment.seed) +
                     (m.experiment.seed_given ? " (given)" : " (derived from the name)")});
    if (spec) {
        exp.rows.push_back({"repetitions", std::to_string(spec->repetitions)});
        exp.rows.push_back({"order", std::string(to_string(spec->order))});
    }
    exp.rows.push_back({"store created", utc(m.experiment.created_at)});
    exp.rows.push_back({"created by", "joulebench " + m.experiment.joulebench_version});
    exp.rows.push_back({"runs", to_string(m.status)});
    exp.rows.push_back({"baseline", m.baseline.value_or("(none)")});
    exp.rows.push_back(
        {"statistics",
         fmt::format("p adjusted by {}, alpha {}, bootstrap {} resamples (seed {})",
                     stats::to_string(options.analysis.p_adjust), options.analysis.alpha,
                     options.analysis.bootstrap.resamples, options.analysis.bootstrap.seed)});
    m.context.push_back(std::move(exp));

    std::map<std::string, std::vector<std::string>> env_details;  // env -> "session N: k: v"
    std::map<std::string, nlohmann::json> audits;  // env -> its image audit (last session's)
    const auto sessions = store.sessions();
    for (const auto& s : sessions) {
        Table t{fmt::format("Session {} (host)", s.id), {"item", "value"}, {}, ""};
        t.rows.push_back({"started", utc(s.started_at)});
        t.rows.push_back({"ended", s.ended_at ? utc(*s.ended_at) : "(not recorded)"});
        if (s.shard) t.rows.push_back({"shard", *s.shard});
        t.rows.push_back({"joulebench", s.joulebench_version});
        if (!s.command_line.empty()) t.rows.push_back({"command line", s.command_line});
        const auto host = nlohmann::json::parse(s.host_json, nullptr, false);
        if (host.is_object()) {
            for (const auto& [k, v] : host.items()) {
                if (k == "environments" && v.is_object()) {
                    for (const auto& [name, described] : v.items()) {
                        // The image audit has a table of its own (below), not a flat line.
                        nlohmann::json d = described;
                        if (d.is_object() && d.contains("audit")) {
                            audits[name] = d["audit"];
                            d.erase("audit");
                        }
                        std::vector<std::pair<std::string, std::string>> kv;
                        flatten(d, "", kv);
                        std::string line;
                        for (const auto& [dk, dv] : kv) {
                            line += (line.empty() ? "" : "; ") + dk + ": " + dv;
                        }
                        if (!line.empty()) {
                            env_details[name].push_back(
                                sessions.size() > 1 ? fmt::format("session {}: {}", s.id, line)
                                                    : line);
                        }
                    }
                    continue;
                }
                std::vector<std::pair<std::string, std::string>> kv;
                flatten(v, k, kv);
                for (auto& [fk, fv] : kv) t.rows.push_back({fk, fv});
            }
        } else {
            t.note = "host_json is not a JSON object";
        }
        m.context.push_back(std::move(t));
    }
    Table envt{"Environments", {"environment", "type", "image", "recorded by the runner"}, {}, ""};
    for (const auto& e : m.environments) {
        std::string type;
        std::string image;
        if (spec) {
            for (const auto& es : spec->environments) {
                if (es.name != e) continue;
                type = std::string(to_string(es.type));
                image = es.image;
                if (es.type == EnvironmentType::kSsh) image = "(host " + es.host + ")";
            }
        }
        std::string details;
        for (const auto& d : env_details[e]) details += (details.empty() ? "" : " | ") + d;
        envt.rows.push_back({e, type, image, details});
    }
    m.context.push_back(std::move(envt));

    // Energy beside image size (the second study's last table): each container environment's
    // image from its audit (`image inspect`), and the median energy of its done runs per
    // workload.
    if (!audits.empty()) {
        std::map<std::pair<std::string, std::string>, std::vector<double>> energy;  // (w, env)
        std::vector<std::string> workload_names;
        for (const auto& r : runs) {  // read once, above, in plan order
            if (r.status != RunStatus::kDone) continue;
            if (std::find(workload_names.begin(), workload_names.end(), r.workload) ==
                workload_names.end()) {
                workload_names.push_back(r.workload);
            }
            if (r.energy_j) energy[{r.workload, r.environment}].push_back(*r.energy_j);
        }
        Table images{"Images",
                     {"environment", "image", "size", "layers", "base", "Python", "PyTorch",
                      "CUDA"},
                     {},
                     "Size and contents from each container environment's image audit "
                     "(joulebench image inspect), recorded when the run started; energy is the "
                     "median over the done runs."};
        for (const auto& w : workload_names) images.headers.push_back("median E " + w + " (J)");
        const auto text = [](const nlohmann::json& j, const char* key) {
            return j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                                         : std::string("-");
        };
        for (const auto& e : m.environments) {
            const auto it = audits.find(e);
            if (it == audits.end() || !it->second.is_object()) continue;
            const auto& a = it->second;
            const auto sw = a.contains("software") ? a["software"] : nlohmann::json::object();
            std::vector<std::string> row{
                e,
                text(a, "reference"),
                a.contains("size_bytes") && a["size_bytes"].is_number()
                    ? human_bytes(a["size_bytes"].get<double>())
                    : "-",
                a.contains("layers") && a["layers"].is_array() ? std::to_string(a["layers"].size())
                                                               : "-",
                a.contains("base") && a["base"].is_object() ? text(a["base"], "name") : "-",
                text(sw, "python"),
                text(sw, "torch"),
                sw.contains("torch_cuda") && sw["torch_cuda"].is_string()
                    ? sw["torch_cuda"].get<std::string>()
                    : text(sw, "cuda_toolkit")};
            for (const auto& w : workload_names) {
                const auto values = energy.find({w, e});
                row.push_back(values == energy.end() || values->second.empty()
                                  ? "-"
                                  : fmt::format("{:.4g}", stats::median(values->second)));
            }
            images.rows.push_back(std::move(row));
        }
        if (!images.rows.empty()) m.context.push_back(std::move(images));
    }
    return m;
}

nlohmann::json to_json(const ReportModel& m) {
    nlohmann::json j;
    j["schema"] = std::string(kReportSchema);
    j["db"] = m.db;
    j["generated_at"] = m.generated_at;
    j["joulebench_version"] = m.joulebench_version;
    j["experiment"] = {{"name", m.experiment.name},
                       {"file_name", m.experiment.file_name},
                       {"file_sha256", m.experiment.file_sha256},
                       {"seed", std::to_string(m.experiment.seed)},
                       {"seed_given", m.experiment.seed_given}};
    j["baseline"] = m.baseline ? nlohmann::json(*m.baseline) : nlohmann::json();
    j["environments"] = m.environments;
    j["status"] = analysis::to_json(m.status);
    const auto cap_json = [](const std::optional<double>& c) { return json_number(c); };
    j["workloads"] = nlohmann::json::array();
    for (const auto& w : m.workloads) {
        nlohmann::json jw;
        jw["name"] = w.name;
        jw["cap_axis"] = w.cap_axis;
        jw["cap_title"] = w.cap_title;
        jw["cap_levels"] = w.cap_levels;
        jw["curves"] = nlohmann::json::array();
        for (const auto& c : w.curves) {
            jw["curves"].push_back({{"environment", c.environment},
                                    {"cap_w", cap_json(c.cap_w)},
                                    {"cap", c.cap_label},
                                    {"metric", c.metric},
                                    {"n", c.n},
                                    {"median", json_number(c.median)},
                                    {"lo", json_number(c.lo)},
                                    {"hi", json_number(c.hi)},
                                    {"q1", json_number(c.q1)},
                                    {"q3", json_number(c.q3)},
                                    {"min", json_number(c.min)},
                                    {"max", json_number(c.max)}});
        }
        jw["overheads"] = nlohmann::json::array();
        for (const auto& o : w.overheads) {
            jw["overheads"].push_back({{"environment", o.environment},
                                       {"cap_w", cap_json(o.cap_w)},
                                       {"cap", o.cap_label},
                                       {"metric", o.metric},
                                       {"pct", json_number(o.pct)},
                                       {"lo", json_number(o.lo)},
                                       {"hi", json_number(o.hi)}});
        }
        jw["statistics"] = nlohmann::json::array();
        for (const auto& b : w.statistics) {
            jw["statistics"].push_back({{"title", b.title},
                                        {"metric", b.metric},
                                        {"analysis", stats::to_json(b.analysis)},
                                        {"verdicts", b.verdicts}});
        }
        j["workloads"].push_back(std::move(jw));
    }
    // Runs as columns (one array per field): a 10 000-run store stays a few hundred kB smaller
    // than with one object per run, and the page turns them into rows once.
    nlohmann::json runs;
    for (const char* k : {"run_id", "plan_index", "workload", "environment", "cap", "repetition",
                          "status", "variant", "start_s", "wall_s", "energy_j"}) {
        runs[k] = nlohmann::json::array();
    }
    for (const auto& r : m.runs) {
        runs["run_id"].push_back(r.run_id);
        runs["plan_index"].push_back(r.plan_index);
        runs["workload"].push_back(r.workload);
        runs["environment"].push_back(r.environment);
        runs["cap"].push_back(r.cap_label);
        runs["repetition"].push_back(r.repetition);
        runs["status"].push_back(r.status);
        runs["variant"].push_back(r.variant);
        runs["start_s"].push_back(json_number(r.start_s));
        runs["wall_s"].push_back(json_number(r.wall_s));
        runs["energy_j"].push_back(json_number(r.energy_j));
    }
    j["runs"] = std::move(runs);
    nlohmann::json tr;
    tr["run_id"] = m.trace.run_id;
    tr["title"] = m.trace.title;
    tr["rows"] = m.trace.rows;
    tr["bucket"] = m.trace.bucket;
    tr["idle_power_w"] = json_number(m.trace.idle_power_w);
    tr["note"] = m.trace.note;
    tr["points"] = nlohmann::json::array();
    for (const auto& p : m.trace.points) {
        tr["points"].push_back(
            {{"t_s", json_number(p.t_s)}, {"domain", p.domain}, {"power_w", json_number(p.power_w)}});
    }
    j["trace"] = std::move(tr);
    j["warnings"] = nlohmann::json::array();
    for (const auto& w : m.warnings) {
        j["warnings"].push_back({{"source", w.source}, {"text", w.text}, {"count", w.count}});
    }
    return j;
}

std::string json_for_script(const nlohmann::json& doc) {
    const std::string text = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string out;
    out.reserve(text.size() + text.size() / 64);
    for (const char c : text) {
        // '<' occurs only inside JSON strings, where \u003c means the same character; so no
        // "</script" or "<!--" can end or disturb the script element.
        if (c == '<') {
            out += "\\u003c";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace joulebench::report
