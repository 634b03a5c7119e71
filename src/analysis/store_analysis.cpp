// `joulebench analyze DB`: groups and blocks from a results store, fed to the same
// stats::analyse_groups and stats::analyse_caps as `analyze --csv`. Reads the store only through
// its public API (Store::runs, Store::experiment). The cap tables are store_caps.cpp, the JSON
// store_analysis_json.cpp, the tables store_analysis_render.cpp.

#include "analysis/store_analysis.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <set>
#include <cmath>
#include <map>
#include <tuple>

#include "analysis/node_spread.hpp"
#include "analysis/ordering.hpp"
#include "analysis/phase_runs.hpp"
#include "analysis/store_caps.hpp"
#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"

namespace joulebench::analysis {

using stats::AnalysisOptions;
using stats::NamedGroup;

namespace {

constexpr std::size_t kMinRunsForTimeRule = 2;

std::string where(std::string_view db) {
    return "analyze: analyse store " + std::string(db) + ": ";
}


// The key of a block: the four factors, the `by` one left empty.
struct BlockKey {
    std::string workload;
    std::string environment;
    std::optional<double> gpu;
    std::optional<double> cpu;
};

std::string level(const RunRecord& r, StoreFactor f) {
    switch (f) {
        case StoreFactor::kEnvironment:
            return r.environment;
        case StoreFactor::kWorkload:
            return r.workload;
        case StoreFactor::kGpuCap:
            return cap_label(r.gpu_cap_w);
        case StoreFactor::kCpuCap:
            return cap_label(r.cpu_cap_w);
    }
    return {};
}

// A cap domain that no run of the store has is left out of the title.
std::string block_title(const StoreBlock& b, bool gpu_capped, bool cpu_capped) {
    std::vector<std::string> parts;
    if (b.workload) parts.push_back("workload '" + *b.workload + "'");
    if (b.environment) parts.push_back("environment '" + *b.environment + "'");
    if (b.has_gpu_cap && gpu_capped) parts.push_back("GPU cap " + cap_label(b.gpu_cap_w));
    if (b.has_cpu_cap && cpu_capped) parts.push_back("CPU cap " + cap_label(b.cpu_cap_w));
    std::string s;
    for (const auto& p : parts) s += (s.empty() ? "" : ", ") + p;
    return s;
}

std::string plural(std::size_t n, std::string_view word) {
    return fmt::format("{} {} run{}", n, word, n == 1 ? "" : "s");
}

// The orders of one analysis: workloads and environments as declared, then as they appear; the
// default baseline is the first declared environment of type bare.
struct Orders {
    NameOrder workloads;
    NameOrder environments;
    std::optional<std::string> default_baseline;
};

Orders declared_orders(const StoreExperiment& experiment) {
    Orders o;
    if (!experiment.spec) return o;
    for (const auto& w : experiment.spec->workloads) o.workloads.add(w.name);
    for (const auto& e : experiment.spec->environments) {
        o.environments.add(e.name);
        if (!o.default_baseline && e.type == EnvironmentType::kBare) o.default_baseline = e.name;
    }
    return o;
}

void check_options(const StoreAnalysisOptions& options, const std::string& err) {
    const auto& metrics = store_metrics();
    if (std::find(metrics.begin(), metrics.end(), options.metric) == metrics.end()) {
        throw Error(ErrorCategory::kInvalidArgument,
                    err + "read metric '" + options.metric + "': unknown metric",
                    "use energy_j, wall_s, edp_js, ed2p_js2, gpu_energy_j or cpu_energy_j");
    }
    if (!(options.far_apart_fraction > 0.0 && options.far_apart_fraction <= 1.0)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    err + "check time order: fraction must lie in (0, 1]");
    }
}

// Only done runs with a finite value of the metric count; the others are counted and warned of.
std::vector<const RunRecord*> select_runs(std::span<const RunRecord> runs,
                                          const std::string& metric, const std::string& err,
                                          StoreRunCounts& counts,
                                          std::vector<std::string>& warnings) {
    std::vector<const RunRecord*> used;
    for (const RunRecord& r : runs) {
        counts.status.add(r.status);
        if (r.status != RunStatus::kDone) continue;
        const auto v = metric_value(r, metric);
        if (!v || !std::isfinite(*v)) {
            ++counts.missing_metric;
            continue;
        }
        used.push_back(&r);
    }
    counts.used = used.size();
    const StatusCounts& s = counts.status;
    if (s.failed > 0) warnings.push_back(plural(s.failed, "failed") + " excluded");
    if (s.timeout > 0) warnings.push_back(plural(s.timeout, "timed-out") + " excluded");
    if (s.interrupted > 0) warnings.push_back(plural(s.interrupted, "interrupted") + " excluded");
    if (s.not_run() > 0) {
        warnings.push_back(plural(s.not_run(), "unfinished") + " (planned or running) excluded");
    }
    if (counts.missing_metric > 0) {
        warnings.push_back(fmt::format("{} done run{} without a value of {} excluded",
                                       counts.missing_metric, counts.missing_metric == 1 ? "" : "s",
                                       metric));
    }
    if (used.empty()) {
        throw Error(ErrorCategory::kNotFound,
                    err + fmt::format("no done run with a value of {} ({})", metric, to_string(s)),
                    "run the experiment first (joulebench run), or pick another --metric");
    }
    return used;
}

// A run's sort key within its block: the declared order of its `by` level.
struct GroupLess {
    StoreFactor by;
    Orders* orders;
    bool operator()(const RunRecord* a, const RunRecord* b) const {
        switch (by) {
            case StoreFactor::kEnvironment:
                return orders->environments.rank(a->environment) <
                       orders->environments.rank(b->environment);
            case StoreFactor::kWorkload:
                return orders->workloads.rank(a->workload) < orders->workloads.rank(b->workload);
            case StoreFactor::kGpuCap:
                return cap_less(a->gpu_cap_w, b->gpu_cap_w);
            case StoreFactor::kCpuCap:
                return cap_less(a->cpu_cap_w, b->cpu_cap_w);
        }
        return false;
    }
};

// A baseline that no used run has is an error that lists the levels, in the order of the groups.
void check_baseline(const std::vector<const RunRecord*>& used, StoreFactor by,
                    const std::string& baseline, const GroupLess& group_less,
                    const std::string& err) {
    const bool known = std::any_of(used.begin(), used.end(),
                                   [&](const RunRecord* r) { return level(*r, by) == baseline; });
    if (known) return;
    // One run per level, in the order of the groups.
    std::vector<const RunRecord*> reps;
    for (const RunRecord* r : used) {
        const bool seen = std::any_of(reps.begin(), reps.end(), [&](const RunRecord* q) {
            return level(*q, by) == level(*r, by);
        });
        if (!seen) reps.push_back(r);
    }
    std::sort(reps.begin(), reps.end(), group_less);
    std::string list;
    for (const RunRecord* r : reps) list += (list.empty() ? "'" : ", '") + level(*r, by) + "'";
    throw Error(ErrorCategory::kInvalidArgument,
                err + "use baseline '" + baseline + "': no done run has " +
                    std::string(to_string(by)) + " '" + baseline + "'",
                "the " + std::string(to_string(by)) + " levels are " + list);
}

// One block: its groups (in the order of group_less, runs in plan order) through analyse_groups,
// and the time rule.
StoreBlock analyse_block(const BlockKey& key, const std::vector<const RunRecord*>& members,
                         const StoreAnalysisOptions& options,
                         const std::optional<std::string>& baseline, bool gpu_capped,
                         bool cpu_capped, std::vector<std::string>& warnings) {
    StoreBlock block;
    if (options.by != StoreFactor::kWorkload) block.workload = key.workload;
    if (options.by != StoreFactor::kEnvironment) block.environment = key.environment;
    block.has_gpu_cap = options.by != StoreFactor::kGpuCap;
    if (block.has_gpu_cap) block.gpu_cap_w = key.gpu;
    block.has_cpu_cap = options.by != StoreFactor::kCpuCap;
    if (block.has_cpu_cap) block.cpu_cap_w = key.cpu;
    block.runs = members.size();
    for (const RunRecord* r : members) block.cpu |= cpu_energy_marks(*r);

    std::vector<NamedGroup> groups;
    std::vector<GroupStartTimes> times;
    for (const RunRecord* r : members) {
        const std::string name = level(*r, options.by);
        if (groups.empty() || groups.back().name != name) {
            groups.push_back(NamedGroup{name, {}});
            times.push_back(GroupStartTimes{name, {}});
        }
        groups.back().values.push_back(*metric_value(*r, options.metric));
        if (r->started_at) times.back().started_at.push_back(*r->started_at);
    }

    AnalysisOptions ao = options.analysis;
    ao.metric = options.metric;
    ao.baseline.reset();
    block.title = block_title(block, gpu_capped, cpu_capped);
    const std::string& title = block.title;
    if (baseline) {
        const bool present = std::any_of(groups.begin(), groups.end(),
                                         [&](const auto& g) { return g.name == *baseline; });
        if (present) {
            ao.baseline = baseline;
        } else {
            warnings.push_back(title + ": baseline '" + *baseline +
                               "' has no done runs here: no overheads");
        }
    }
    block.analysis = stats::analyse_groups(groups, ao);
    block.time_warnings = far_apart_in_time(times, options.far_apart_fraction);
    for (const auto& w : block.time_warnings) {
        warnings.push_back(title + ": groups were measured in blocks far apart in time: " + w +
                           "; drift (temperature, background load) is confounded with the "
                           "groups (plan with order = \"shuffled\")");
    }
    return block;
}

// Blocks ordered by workload, environment (declared order), GPU cap, CPU cap; groups within a
// block by the same order of their level.
std::vector<StoreBlock> analyse_blocks(const std::vector<const RunRecord*>& used,
                                       const StoreAnalysisOptions& options,
                                       const std::optional<std::string>& baseline, Orders& orders,
                                       std::vector<std::string>& warnings) {
    const auto key_of = [&](const RunRecord& r) {
        BlockKey k{r.workload, r.environment, r.gpu_cap_w, r.cpu_cap_w};
        switch (options.by) {
            case StoreFactor::kEnvironment:
                k.environment.clear();
                break;
            case StoreFactor::kWorkload:
                k.workload.clear();
                break;
            case StoreFactor::kGpuCap:
                k.gpu.reset();
                break;
            case StoreFactor::kCpuCap:
                k.cpu.reset();
                break;
        }
        return k;
    };
    const auto block_less = [&](const BlockKey& a, const BlockKey& b) {
        const auto wa = orders.workloads.rank(a.workload);
        const auto wb = orders.workloads.rank(b.workload);
        if (wa != wb) return wa < wb;
        const auto ea = orders.environments.rank(a.environment);
        const auto eb = orders.environments.rank(b.environment);
        if (ea != eb) return ea < eb;
        if (cap_less(a.gpu, b.gpu) || cap_less(b.gpu, a.gpu)) return cap_less(a.gpu, b.gpu);
        return cap_less(a.cpu, b.cpu);
    };
    std::map<BlockKey, std::vector<const RunRecord*>, decltype(block_less)> blocks(block_less);
    for (const RunRecord* r : used) blocks[key_of(*r)].push_back(r);
    const bool gpu_capped = std::any_of(
        used.begin(), used.end(), [](const RunRecord* r) { return r->gpu_cap_w.has_value(); });
    const bool cpu_capped = std::any_of(
        used.begin(), used.end(), [](const RunRecord* r) { return r->cpu_cap_w.has_value(); });
    const GroupLess group_less{options.by, &orders};
    std::vector<StoreBlock> out;
    for (auto& [key, members] : blocks) {
        // Stable: runs of one group keep plan order, so values are in plan order.
        std::stable_sort(members.begin(), members.end(), group_less);
        out.push_back(
            analyse_block(key, members, options, baseline, gpu_capped, cpu_capped, warnings));
    }
    return out;
}

}  // namespace

std::string_view to_string(StoreFactor factor) {
    switch (factor) {
        case StoreFactor::kEnvironment:
            return "environment";
        case StoreFactor::kWorkload:
            return "workload";
        case StoreFactor::kGpuCap:
            return "gpu_cap";
        case StoreFactor::kCpuCap:
            return "cpu_cap";
    }
    return "environment";
}

StoreFactor store_factor_from_string(std::string_view name) {
    for (auto f : {StoreFactor::kEnvironment, StoreFactor::kWorkload, StoreFactor::kGpuCap,
                   StoreFactor::kCpuCap}) {
        if (to_string(f) == name) return f;
    }
    throw Error(ErrorCategory::kInvalidArgument,
                "analyze: parse --by '" + std::string(name) + "': unknown factor",
                "use environment, workload, gpu_cap or cpu_cap");
}

const std::vector<std::string>& store_metrics() {
    static const std::vector<std::string> kMetrics = {"energy_j", "wall_s",       "edp_js",
                                                      "ed2p_js2", "gpu_energy_j", "cpu_energy_j"};
    return kMetrics;
}

std::string cap_label(const std::optional<double>& cap_w) {
    if (!cap_w) return "uncapped";
    return format_watts(*cap_w) + " W";
}

std::vector<std::string> far_apart_in_time(std::span<const GroupStartTimes> groups,
                                           double fraction) {
    if (!(fraction > 0.0 && fraction <= 1.0)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "stats: check time order: fraction must lie in (0, 1], got " +
                        std::to_string(fraction));
    }
    std::vector<double> all;
    for (const auto& g : groups) all.insert(all.end(), g.started_at.begin(), g.started_at.end());
    std::vector<std::string> out;
    if (all.empty()) return out;
    std::sort(all.begin(), all.end());
    const double span = all.back() - all.front();
    if (!(span > 0.0)) return out;

    // 1-based positions of a group's first and last run among all runs of the block, for a
    // message a reader can check against the run list.
    const auto position = [&](double t) {
        return static_cast<std::size_t>(std::lower_bound(all.begin(), all.end(), t) - all.begin()) +
               1;
    };
    struct Range {
        double lo, hi, med;
    };
    std::vector<std::optional<Range>> ranges;
    for (const auto& g : groups) {
        if (g.started_at.size() < kMinRunsForTimeRule) {
            ranges.emplace_back();
            continue;
        }
        const auto [lo, hi] = std::minmax_element(g.started_at.begin(), g.started_at.end());
        ranges.push_back(Range{*lo, *hi, stats::median(g.started_at)});
    }
    for (std::size_t a = 0; a < groups.size(); ++a) {
        for (std::size_t b = a + 1; b < groups.size(); ++b) {
            if (!ranges[a] || !ranges[b]) continue;
            const Range& ra = *ranges[a];
            const Range& rb = *ranges[b];
            const std::string desc_a =
                fmt::format("'{}' (runs {}-{} of {} by start time)", groups[a].name,
                            position(ra.lo), position(ra.hi), all.size());
            const std::string desc_b =
                fmt::format("'{}' (runs {}-{})", groups[b].name, position(rb.lo), position(rb.hi));
            if (ra.hi < rb.lo || rb.hi < ra.lo) {
                out.push_back(desc_a + " and " + desc_b + " do not overlap in time");
                continue;
            }
            const double gap = std::abs(ra.med - rb.med);
            if (gap > fraction * span) {
                out.push_back(fmt::format(
                    "{} and {}: their median start times are {:.0f} s apart, {:.0f}% of the "
                    "block's {:.0f} s (threshold {:.0f}%)",
                    desc_a, desc_b, gap, 100.0 * gap / span, span, 100.0 * fraction));
            }
        }
    }
    return out;
}

StoreExperiment parse_store_experiment(const ExperimentRecord* record) {
    StoreExperiment out;
    if (record == nullptr) return out;
    out.name = record->name;
    if (record->file_text.empty()) return out;
    try {
        out.spec = parse_experiment_text(record->file_text, record->file_name);
    } catch (const Error& e) {
        out.parse_error = e.what();
    }
    return out;
}

std::optional<double> metric_value(const RunRecord& r, std::string_view metric) {
    if (metric == "energy_j") return r.energy_j;
    if (metric == "wall_s") return r.wall_s;
    if (metric == "edp_js") return r.edp_js;
    if (metric == "ed2p_js2") return r.ed2p_js2;
    if (metric == "gpu_energy_j") return r.gpu_energy_j;
    if (metric == "cpu_energy_j") return r.cpu_energy_j;
    return std::nullopt;
}

StoreFactor varying_factor(std::span<const RunRecord> runs) {
    std::set<std::string> environments, workloads;
    std::set<std::optional<double>> gpu_caps, cpu_caps;
    for (const auto& r : runs) {
        environments.insert(r.environment);
        workloads.insert(r.workload);
        gpu_caps.insert(r.gpu_cap_w);
        cpu_caps.insert(r.cpu_cap_w);
    }
    if (environments.size() > 1) return StoreFactor::kEnvironment;
    if (workloads.size() > 1) return StoreFactor::kWorkload;
    if (gpu_caps.size() > 1) return StoreFactor::kGpuCap;
    if (cpu_caps.size() > 1) return StoreFactor::kCpuCap;
    return StoreFactor::kEnvironment;
}

StoreAnalysis analyse_store_runs(std::span<const RunRecord> runs, const StoreExperiment& experiment,
                                 const StoreAnalysisOptions& given, std::string_view db) {
    StoreAnalysisOptions options = given;
    if (given.by_what_varies) options.by = varying_factor(runs);
    StoreAnalysis out;
    out.db = std::string(db);
    out.metric = options.metric;
    out.by = options.by;
    out.experiment = experiment.name;
    const std::string err = where(out.db.empty() ? "(runs)" : out.db);
    check_options(options, err);

    // Declared order of workloads and environments, and the default baseline.
    Orders orders = declared_orders(experiment);
    if (!experiment.parse_error.empty()) {
        out.warnings.push_back("the store's experiment file does not parse with this joulebench (" +
                               experiment.parse_error +
                               "): groups in order of first appearance, no default baseline");
    }
    const std::vector<const RunRecord*> used =
        select_runs(runs, options.metric, err, out.runs, out.warnings);

    if (options.baseline) {
        out.baseline = options.baseline;
    } else if (options.by == StoreFactor::kEnvironment && orders.default_baseline) {
        out.baseline = orders.default_baseline;
    }
    for (const RunRecord* r : used) {
        orders.workloads.add(r->workload);
        orders.environments.add(r->environment);
        out.cpu |= cpu_energy_marks(*r);
    }
    if (out.baseline) {
        check_baseline(used, options.by, *out.baseline, GroupLess{options.by, &orders}, err);
    }
    out.blocks = analyse_blocks(used, options, out.baseline, orders, out.warnings);

    // The cap tables always compare environments: their baseline is the analysis's with --by
    // environment, else the default one.
    if (options.cap_tables) {
        const std::optional<std::string> cap_baseline =
            options.by == StoreFactor::kEnvironment ? out.baseline : orders.default_baseline;
        out.caps = analyse_cap_tables(runs, orders.environments, orders.workloads, cap_baseline,
                                      out.warnings);
    }
    return out;
}

namespace {

// The runs as options.phase sees them, or the error naming the phases the store has.
PhaseRuns runs_of_phase(const Store& store, const std::vector<RunRecord>& runs, const std::string& phase) {
    const std::vector<MarkedPhaseRecord> phases = store.marked_phases();
    DomainKinds kinds;
    std::set<std::string> names;
    std::set<std::string> marked_runs;
    for (const auto& p : phases) {
        names.insert(p.phase.name);
        if (p.phase.name == phase) marked_runs.insert(p.run_id);
    }
    for (const auto& id : marked_runs) {
        for (const auto& d : store.domains(id)) kinds[{id, d.instance}][d.domain] = d.kind;
    }
    PhaseRuns out = phase_runs(runs, phases, kinds, phase);
    if (out.marked == 0) {
        std::string known;
        for (const auto& n : names) known += (known.empty() ? "'" : ", '") + n + "'";
        throw Error(ErrorCategory::kNotFound,
                    where(store.path().string()) +
                        fmt::format("--phase '{}': no done run marked it", phase),
                    names.empty() ? std::string("no run of this store marked a phase (README "
                                                "\"Markers\": JOULEBENCH_MARK begin NAME)")
                                  : "phases marked in this store: " + known);
    }
    return out;
}

}  // namespace

StoreAnalysis analyse_store(const Store& store, const StoreAnalysisOptions& options) {
    std::vector<RunRecord> runs = store.observations();
    const std::optional<ExperimentRecord> experiment = store.experiment();
    if (runs.empty()) {
        throw Error(ErrorCategory::kNotFound,
                    where(store.path().string()) + "the store holds no runs",
                    "plan and run an experiment first (joulebench run)");
    }
    std::vector<std::string> phase_warnings;
    if (options.phase) {
        PhaseRuns p = runs_of_phase(store, runs, *options.phase);
        runs = std::move(p.runs);
        phase_warnings = std::move(p.warnings);
    }
    StoreAnalysis out = analyse_store_runs(
        runs, parse_store_experiment(experiment ? &*experiment : nullptr), options,
        store.path().string());
    out.phase = options.phase;
    out.warnings.insert(out.warnings.begin(), phase_warnings.begin(), phase_warnings.end());
    std::map<std::int64_t, std::string> node_of;
    for (const auto& s : store.sessions()) node_of[s.id] = s.node.value_or("");
    for (auto& w : node_differences(runs, node_of, options.metric)) out.warnings.push_back(std::move(w));
    return out;
}

}  // namespace joulebench::analysis
