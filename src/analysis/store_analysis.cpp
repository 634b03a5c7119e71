// `joulebench analyze DB`: groups and blocks from a results store, fed to the same
// stats::analyse_groups and stats::analyse_caps as `analyze --csv`. Reads the store only through
// its public API (Store::runs, Store::experiment).

#include "analysis/store_analysis.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "common/text_escape.hpp"
#include "common/json_number.hpp"
#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"

namespace joulebench::analysis {

using stats::AnalysisOptions;
using stats::CapRun;
using stats::NamedGroup;
using stats::TableFormat;

namespace {

constexpr std::size_t kMinRunsForTimeRule = 2;

std::string where(std::string_view db) {
    return "analyze: analyse store " + std::string(db) + ": ";
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

// Caps compare as optional doubles: "uncapped" (nullopt) first, then ascending.
bool cap_less(const std::optional<double>& a, const std::optional<double>& b) {
    if (!a) return static_cast<bool>(b);
    if (!b) return false;
    return *a < *b;
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

// Position of a name in the declared order (experiment file), unknown names after it in order of
// first appearance.
class Order {
public:
    void declare(const std::string& name) { rank(name); }
    std::size_t rank(const std::string& name) {
        const auto it = std::find(m_names.begin(), m_names.end(), name);
        if (it != m_names.end()) return static_cast<std::size_t>(it - m_names.begin());
        m_names.push_back(name);
        return m_names.size() - 1;
    }

private:
    std::vector<std::string> m_names;
};

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

StoreAnalysis analyse_store_runs(std::span<const RunRecord> runs,
                                 const ExperimentRecord* experiment,
                                 const StoreAnalysisOptions& options, std::string_view db) {
    StoreAnalysis out;
    out.db = std::string(db);
    out.metric = options.metric;
    out.by = options.by;
    if (experiment != nullptr) out.experiment = experiment->name;
    const std::string err = where(out.db.empty() ? "(runs)" : out.db);
    const std::string_view metric_hint =
        "use energy_j, wall_s, edp_js, ed2p_js2, gpu_energy_j or cpu_energy_j";
    const auto& metrics = store_metrics();
    if (std::find(metrics.begin(), metrics.end(), options.metric) == metrics.end()) {
        throw Error(ErrorCategory::kInvalidArgument,
                    err + "read metric '" + options.metric + "': unknown metric",
                    std::string(metric_hint));
    }
    if (!(options.far_apart_fraction > 0.0 && options.far_apart_fraction <= 1.0)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    err + "check time order: fraction must lie in (0, 1]");
    }

    // Declared order of workloads and environments, and the default baseline: the experiment
    // file as recorded in the store (pure parsing; it was validated when the store was made).
    Order workloads;
    Order environments;
    std::optional<std::string> default_baseline;
    if (experiment != nullptr && !experiment->file_text.empty()) {
        try {
            const ExperimentSpec spec =
                parse_experiment_text(experiment->file_text, experiment->file_name);
            for (const auto& w : spec.workloads) workloads.declare(w.name);
            for (const auto& e : spec.environments) {
                environments.declare(e.name);
                if (!default_baseline && e.type == EnvironmentType::kBare) {
                    default_baseline = e.name;
                }
            }
        } catch (const Error& e) {
            out.warnings.push_back(
                std::string("the store's experiment file does not parse with this joulebench (") +
                e.what() + "): groups in order of first appearance, no default baseline");
        }
    }

    // Only done runs with a value of the metric count.
    std::vector<const RunRecord*> used;
    for (const RunRecord& r : runs) {
        out.runs.status.add(r.status);
        if (r.status != RunStatus::kDone) continue;
        const auto v = metric_value(r, options.metric);
        if (!v || !std::isfinite(*v)) {
            ++out.runs.missing_metric;
            continue;
        }
        used.push_back(&r);
    }
    out.runs.used = used.size();
    const StatusCounts& s = out.runs.status;
    if (s.failed > 0) out.warnings.push_back(plural(s.failed, "failed") + " excluded");
    if (s.timeout > 0) out.warnings.push_back(plural(s.timeout, "timed-out") + " excluded");
    if (s.interrupted > 0) {
        out.warnings.push_back(plural(s.interrupted, "interrupted") + " excluded");
    }
    if (s.not_run() > 0) {
        out.warnings.push_back(plural(s.not_run(), "unfinished") +
                               " (planned or running) excluded");
    }
    if (out.runs.missing_metric > 0) {
        out.warnings.push_back(
            fmt::format("{} done run{} without a value of {} excluded", out.runs.missing_metric,
                        out.runs.missing_metric == 1 ? "" : "s", options.metric));
    }
    if (used.empty()) {
        throw Error(
            ErrorCategory::kNotFound,
            err + fmt::format("no done run with a value of {} ({})", options.metric, to_string(s)),
            "run the experiment first (joulebench run), or pick another --metric");
    }

    if (options.baseline) {
        out.baseline = options.baseline;
    } else if (options.by == StoreFactor::kEnvironment && default_baseline) {
        out.baseline = default_baseline;
    }
    // Blocks ordered by workload, environment (declared order), GPU cap, CPU cap; groups within
    // a block by the same order of their level.
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
    for (const RunRecord* r : used) {
        workloads.rank(r->workload);
        environments.rank(r->environment);
    }
    const auto block_less = [&](const BlockKey& a, const BlockKey& b) {
        const auto wa = workloads.rank(a.workload);
        const auto wb = workloads.rank(b.workload);
        if (wa != wb) return wa < wb;
        const auto ea = environments.rank(a.environment);
        const auto eb = environments.rank(b.environment);
        if (ea != eb) return ea < eb;
        if (cap_less(a.gpu, b.gpu) || cap_less(b.gpu, a.gpu)) return cap_less(a.gpu, b.gpu);
        return cap_less(a.cpu, b.cpu);
    };
    // A run's sort key within its block: the declared order of its `by` level.
    const auto group_less = [&](const RunRecord* a, const RunRecord* b) {
        switch (options.by) {
            case StoreFactor::kEnvironment:
                return environments.rank(a->environment) < environments.rank(b->environment);
            case StoreFactor::kWorkload:
                return workloads.rank(a->workload) < workloads.rank(b->workload);
            case StoreFactor::kGpuCap:
                return cap_less(a->gpu_cap_w, b->gpu_cap_w);
            case StoreFactor::kCpuCap:
                return cap_less(a->cpu_cap_w, b->cpu_cap_w);
        }
        return false;
    };
    if (out.baseline) {
        const bool known = std::any_of(used.begin(), used.end(), [&](const RunRecord* r) {
            return level(*r, options.by) == *out.baseline;
        });
        if (!known) {
            // One run per level, in the order of the groups.
            std::vector<const RunRecord*> reps;
            for (const RunRecord* r : used) {
                const bool seen = std::any_of(reps.begin(), reps.end(), [&](const RunRecord* q) {
                    return level(*q, options.by) == level(*r, options.by);
                });
                if (!seen) reps.push_back(r);
            }
            std::sort(reps.begin(), reps.end(), group_less);
            std::string list;
            for (const RunRecord* r : reps) {
                list += (list.empty() ? "'" : ", '") + level(*r, options.by) + "'";
            }
            throw Error(ErrorCategory::kInvalidArgument,
                        err + "use baseline '" + *out.baseline + "': no done run has " +
                            std::string(to_string(options.by)) + " '" + *out.baseline + "'",
                        "the " + std::string(to_string(options.by)) + " levels are " + list);
        }
    }
    std::map<BlockKey, std::vector<const RunRecord*>, decltype(block_less)> blocks(block_less);
    for (const RunRecord* r : used) blocks[key_of(*r)].push_back(r);
    const bool gpu_capped = std::any_of(
        used.begin(), used.end(), [](const RunRecord* r) { return r->gpu_cap_w.has_value(); });
    const bool cpu_capped = std::any_of(
        used.begin(), used.end(), [](const RunRecord* r) { return r->cpu_cap_w.has_value(); });

    for (auto& [key, members] : blocks) {
        // Stable: runs of one group keep plan order, so values are in plan order.
        std::stable_sort(members.begin(), members.end(), group_less);
        StoreBlock block;
        if (options.by != StoreFactor::kWorkload) block.workload = key.workload;
        if (options.by != StoreFactor::kEnvironment) block.environment = key.environment;
        block.has_gpu_cap = options.by != StoreFactor::kGpuCap;
        if (block.has_gpu_cap) block.gpu_cap_w = key.gpu;
        block.has_cpu_cap = options.by != StoreFactor::kCpuCap;
        if (block.has_cpu_cap) block.cpu_cap_w = key.cpu;
        block.runs = members.size();

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
        if (out.baseline) {
            const bool present = std::any_of(groups.begin(), groups.end(), [&](const auto& g) {
                return g.name == *out.baseline;
            });
            if (present) {
                ao.baseline = out.baseline;
            } else {
                out.warnings.push_back(title + ": baseline '" + *out.baseline +
                                       "' has no done runs here: no overheads");
            }
        }
        block.analysis = stats::analyse_groups(groups, ao);
        block.time_warnings = far_apart_in_time(times, options.far_apart_fraction);
        for (const auto& w : block.time_warnings) {
            out.warnings.push_back(title +
                                   ": groups were measured in blocks far apart in time: " + w +
                                   "; drift (temperature, background load) is confounded "
                                   "with the groups (plan with order = \"shuffled\")");
        }
        out.blocks.push_back(std::move(block));
    }

    // The cap table: per cap domain with more than one level, at each level of the other domain,
    // over the done runs that have both T and E (the table always uses T and E, whatever metric).
    std::optional<std::string> cap_baseline =
        options.by == StoreFactor::kEnvironment ? out.baseline : default_baseline;
    for (const bool gpu_domain : {true, false}) {
        const auto cap_of = [&](const RunRecord& r) {
            return gpu_domain ? r.gpu_cap_w : r.cpu_cap_w;
        };
        const auto other_of = [&](const RunRecord& r) {
            return gpu_domain ? r.cpu_cap_w : r.gpu_cap_w;
        };
        std::vector<double> levels;
        for (const RunRecord& r : runs) {
            if (r.status != RunStatus::kDone || !cap_of(r)) continue;
            if (std::find(levels.begin(), levels.end(), *cap_of(r)) == levels.end()) {
                levels.push_back(*cap_of(r));
            }
        }
        if (levels.size() < 2) continue;
        std::vector<std::optional<double>> others;
        std::size_t uncapped = 0;
        std::size_t without_te = 0;
        for (const RunRecord& r : runs) {
            if (r.status != RunStatus::kDone) continue;
            if (!cap_of(r)) {
                ++uncapped;
                continue;
            }
            if (std::find(others.begin(), others.end(), other_of(r)) == others.end()) {
                others.push_back(other_of(r));
            }
        }
        std::sort(others.begin(), others.end(), cap_less);
        const std::string domain = gpu_domain ? "gpu" : "cpu";
        if (uncapped > 0) {
            out.warnings.push_back(
                fmt::format("{} cap table: {} done run{} without a {} cap left out", domain,
                            uncapped, uncapped == 1 ? "" : "s", domain));
        }
        for (const auto& other : others) {
            std::vector<CapRun> cap_runs;
            std::vector<std::string> envs;
            for (const RunRecord& r : runs) {
                if (r.status != RunStatus::kDone || !cap_of(r) || other_of(r) != other) continue;
                if (!r.wall_s || !r.energy_j || !(*r.wall_s > 0.0) || !(*r.energy_j > 0.0) ||
                    !std::isfinite(*r.wall_s) || !std::isfinite(*r.energy_j)) {
                    ++without_te;
                    continue;
                }
                cap_runs.push_back(
                    CapRun{r.environment, r.workload, *cap_of(r), *r.wall_s, *r.energy_j});
            }
            if (cap_runs.empty()) continue;
            // Environments and workloads in declared order, as the blocks.
            std::stable_sort(cap_runs.begin(), cap_runs.end(),
                             [&](const CapRun& a, const CapRun& b) {
                                 const auto ea = environments.rank(a.environment);
                                 const auto eb = environments.rank(b.environment);
                                 if (ea != eb) return ea < eb;
                                 return workloads.rank(a.workload) < workloads.rank(b.workload);
                             });
            StoreCapTable table;
            table.domain = domain;
            table.other_cap_w = other;
            table.other_varies = others.size() > 1 || other.has_value();
            const bool base_present =
                cap_baseline && std::any_of(cap_runs.begin(), cap_runs.end(), [&](const CapRun& c) {
                    return c.environment == *cap_baseline;
                });
            if (base_present) {
                table.baseline = *cap_baseline;
                table.caps = stats::analyse_caps(cap_runs, table.baseline);
            } else {
                // analyse_caps needs a baseline for the overheads; the optima do not depend on
                // it, so take the first environment and drop the overheads.
                table.caps = stats::analyse_caps(cap_runs, cap_runs.front().environment);
                table.caps.overheads.clear();
                table.caps.summary.clear();
                table.caps.warnings.clear();
                out.warnings.push_back(fmt::format(
                    "{} cap table ({} cap {}): no baseline environment{}: optima only, no "
                    "overheads",
                    domain, gpu_domain ? "CPU" : "GPU", cap_label(other),
                    cap_baseline
                        ? " ('" + *cap_baseline + "' has no runs)"
                        : " (no bare environment; give --baseline with --by environment)"));
            }
            for (const auto& w : table.caps.warnings) {
                out.warnings.push_back(domain + " cap table: " + w);
            }
            out.caps.push_back(std::move(table));
        }
        if (without_te > 0) {
            out.warnings.push_back(fmt::format(
                "{} cap table: {} done run{} without a positive wall_s and energy_j left out",
                domain, without_te, without_te == 1 ? "" : "s"));
        }
    }
    return out;
}

StoreAnalysis analyse_store(const Store& store, const StoreAnalysisOptions& options) {
    const std::vector<RunRecord> runs = store.runs();
    const std::optional<ExperimentRecord> experiment = store.experiment();
    if (runs.empty()) {
        throw Error(ErrorCategory::kNotFound,
                    where(store.path().string()) + "the store holds no runs",
                    "plan and run an experiment first (joulebench run)");
    }
    return analyse_store_runs(runs, experiment ? &*experiment : nullptr, options,
                              store.path().string());
}

nlohmann::json to_json(const StatusCounts& s) {
    return {{"total", s.total()},           {"done", s.done},
            {"failed", s.failed},           {"timeout", s.timeout},
            {"interrupted", s.interrupted}, {"not_run", s.not_run()}};
}

nlohmann::json to_json(const stats::CapAnalysis& c) {
    nlohmann::json j;
    j["optima"] = nlohmann::json::array();
    for (const auto& o : c.optima) {
        j["optima"].push_back({{"environment", o.environment},
                               {"workload", o.workload},
                               {"cap_min_energy_w", json_number(o.cap_min_energy_w)},
                               {"cap_min_edp_w", json_number(o.cap_min_edp_w)},
                               {"cap_min_ed2p_w", json_number(o.cap_min_ed2p_w)},
                               {"min_energy_j", json_number(o.min_energy_j)},
                               {"min_edp_js", json_number(o.min_edp_js)},
                               {"min_ed2p_js2", json_number(o.min_ed2p_js2)}});
    }
    j["overheads"] = nlohmann::json::array();
    for (const auto& o : c.overheads) {
        j["overheads"].push_back({{"environment", o.environment},
                                  {"workload", o.workload},
                                  {"cap_w", json_number(o.cap_w)},
                                  {"time_pct", json_number(o.time_pct)},
                                  {"energy_pct", json_number(o.energy_pct)},
                                  {"edp_pct", json_number(o.edp_pct)}});
    }
    j["summary"] = nlohmann::json::array();
    for (const auto& s : c.summary) {
        j["summary"].push_back({{"environment", s.environment},
                                {"workload", s.workload},
                                {"caps", s.caps},
                                {"time_avg_pct", json_number(s.time_avg_pct)},
                                {"time_max_pct", json_number(s.time_max_pct)},
                                {"energy_avg_pct", json_number(s.energy_avg_pct)},
                                {"energy_max_pct", json_number(s.energy_max_pct)},
                                {"edp_avg_pct", json_number(s.edp_avg_pct)},
                                {"edp_max_pct", json_number(s.edp_max_pct)}});
    }
    j["warnings"] = c.warnings;
    return j;
}

nlohmann::json to_json(const StoreAnalysis& a) {
    nlohmann::json j;
    j["schema"] = std::string(kStoreAnalysisSchema);
    j["source"] = {{"db", a.db},
                   {"experiment", a.experiment},
                   {"metric", a.metric},
                   {"by", std::string(to_string(a.by))},
                   {"baseline", a.baseline ? nlohmann::json(*a.baseline) : nlohmann::json()}};
    j["runs"] = to_json(a.runs.status);
    j["runs"]["missing_metric"] = a.runs.missing_metric;
    j["runs"]["used"] = a.runs.used;
    j["blocks"] = nlohmann::json::array();
    for (const auto& b : a.blocks) {
        nlohmann::json jb;
        if (b.workload) jb["workload"] = *b.workload;
        if (b.environment) jb["environment"] = *b.environment;
        if (b.has_gpu_cap) jb["power_cap_w"] = json_number(b.gpu_cap_w);
        if (b.has_cpu_cap) jb["cpu_power_cap_w"] = json_number(b.cpu_cap_w);
        jb["runs"] = b.runs;
        jb["time_order_warnings"] = b.time_warnings;
        jb["analysis"] = to_json(b.analysis);
        j["blocks"].push_back(std::move(jb));
    }
    j["caps"] = nlohmann::json::array();
    for (const auto& c : a.caps) {
        nlohmann::json jc = to_json(c.caps);
        jc["domain"] = c.domain;
        jc[c.domain == "gpu" ? "cpu_power_cap_w" : "power_cap_w"] = json_number(c.other_cap_w);
        jc["baseline"] = c.baseline.empty() ? nlohmann::json() : nlohmann::json(c.baseline);
        j["caps"].push_back(std::move(jc));
    }
    j["warnings"] = a.warnings;
    return j;
}

namespace {

// The cap tables in the four formats. render.cpp's table writers are private to it (and owned
// with the CSV mode); these few lines follow the same layout for the tables only this mode has.
struct CapTableText {
    std::string title;
    std::vector<std::string> headers;
    std::vector<std::vector<std::string>> rows;
};

std::string num(double v) {
    if (!std::isfinite(v)) return "n/a";
    return fmt::format("{:.6g}", v);
}

std::string pct(double v) {
    if (!std::isfinite(v)) return "n/a";
    return fmt::format("{:+.2f}", v);
}

std::vector<CapTableText> cap_tables(const StoreCapTable& t) {
    std::string ctx = t.domain == "gpu" ? "GPU caps" : "CPU caps";
    if (t.other_varies) {
        ctx +=
            fmt::format(", {} cap {}", t.domain == "gpu" ? "CPU" : "GPU", cap_label(t.other_cap_w));
    }
    std::vector<CapTableText> out;
    CapTableText opt{"Caps minimising E, EDP and ED2P (" + ctx + "; medians over runs)",
                     {"environment", "workload", "cap min E (W)", "E (J)", "cap min EDP (W)",
                      "EDP (J s)", "cap min ED2P (W)", "ED2P (J s2)"},
                     {}};
    for (const auto& o : t.caps.optima) {
        opt.rows.push_back({o.environment, o.workload, num(o.cap_min_energy_w), num(o.min_energy_j),
                            num(o.cap_min_edp_w), num(o.min_edp_js), num(o.cap_min_ed2p_w),
                            num(o.min_ed2p_js2)});
    }
    out.push_back(std::move(opt));
    if (t.baseline.empty()) return out;
    CapTableText per{"Overheads against '" + t.baseline + "' per cap (" + ctx + "; % of medians)",
                     {"environment", "workload", "cap (W)", "T %", "E %", "EDP %"},
                     {}};
    for (const auto& o : t.caps.overheads) {
        per.rows.push_back({o.environment, o.workload, num(o.cap_w), pct(o.time_pct),
                            pct(o.energy_pct), pct(o.edp_pct)});
    }
    out.push_back(std::move(per));
    CapTableText sum{"Overheads against '" + t.baseline + "' over caps (" + ctx + "; %)",
                     {"environment", "workload", "caps", "T avg", "T max", "E avg", "E max",
                      "EDP avg", "EDP max"},
                     {}};
    for (const auto& s : t.caps.summary) {
        sum.rows.push_back({s.environment, s.workload, std::to_string(s.caps), pct(s.time_avg_pct),
                            pct(s.time_max_pct), pct(s.energy_avg_pct), pct(s.energy_max_pct),
                            pct(s.edp_avg_pct), pct(s.edp_max_pct)});
    }
    out.push_back(std::move(sum));
    return out;
}

std::string render_table(const CapTableText& t, TableFormat format, const std::string& csv_name) {
    std::string s;
    switch (format) {
        case TableFormat::kText: {
            std::vector<std::size_t> w(t.headers.size());
            for (std::size_t c = 0; c < t.headers.size(); ++c) {
                w[c] = t.headers[c].size();
                for (const auto& r : t.rows) w[c] = std::max(w[c], r[c].size());
            }
            s += t.title + "\n";
            const auto line = [&](const std::vector<std::string>& cells) {
                std::string l;
                for (std::size_t c = 0; c < cells.size(); ++c) {
                    l += (c == 0 ? "" : "  ") + cells[c] + std::string(w[c] - cells[c].size(), ' ');
                }
                while (!l.empty() && l.back() == ' ') l.pop_back();
                return l + "\n";
            };
            s += line(t.headers);
            std::vector<std::string> rule;
            for (auto n : w) rule.emplace_back(n, '-');
            s += line(rule);
            for (const auto& r : t.rows) s += line(r);
            break;
        }
        case TableFormat::kMarkdown: {
            s += "**" + md_escape(t.title) + "**\n\n|";
            for (const auto& h : t.headers) s += " " + md_escape(h) + " |";
            s += "\n|";
            for (std::size_t c = 0; c < t.headers.size(); ++c) s += "---|";
            s += "\n";
            for (const auto& r : t.rows) {
                s += "|";
                for (const auto& cell : r) s += " " + md_escape(cell) + " |";
                s += "\n";
            }
            break;
        }
        case TableFormat::kLatex: {
            s += "% " + t.title + "\n\\begin{tabular}{" + std::string(t.headers.size(), 'l') +
                 "}\n\\toprule\n";
            const auto row = [&](const std::vector<std::string>& cells) {
                std::string l;
                for (std::size_t c = 0; c < cells.size(); ++c) {
                    l += (c == 0 ? "" : " & ") + tex_escape(cells[c]);
                }
                return l + " \\\\\n";
            };
            s += row(t.headers) + "\\midrule\n";
            for (const auto& r : t.rows) s += row(r);
            s += "\\bottomrule\n\\end{tabular}\n";
            break;
        }
        case TableFormat::kCsv: {
            s += "table";
            for (const auto& h : t.headers) s += "," + csv_field(h);
            s += "\n";
            for (const auto& r : t.rows) {
                s += csv_field(csv_name);
                for (const auto& cell : r) s += "," + csv_field(cell);
                s += "\n";
            }
            break;
        }
    }
    return s;
}

std::string heading(const std::string& text, TableFormat format) {
    switch (format) {
        case TableFormat::kText:
            return "== " + text + " ==\n\n";
        case TableFormat::kMarkdown:
            return "### " + md_escape(text) + "\n\n";
        case TableFormat::kLatex:
            return "% === " + text + "\n";
        case TableFormat::kCsv:
            return {};
    }
    return {};
}

}  // namespace

std::string render(const StoreAnalysis& a, TableFormat format) {
    std::string s;
    const std::string by = std::string(to_string(a.by));
    const std::string intro = fmt::format(
        "{} by {} in {} ({}{}): {} done runs used of {}; one analysis block per {}", a.metric, by,
        a.db.empty() ? "(runs)" : a.db, a.experiment.empty() ? "no experiment" : a.experiment,
        a.baseline ? ", baseline '" + *a.baseline + "'" : "", a.runs.used, a.runs.status.total(),
        a.by == StoreFactor::kEnvironment ? "workload and power cap"
                                          : "combination of the other factors");
    if (format == TableFormat::kText) s += intro + "\n\n";
    if (format == TableFormat::kMarkdown) s += md_escape(intro) + "\n\n";
    if (format == TableFormat::kLatex) s += "% " + intro + "\n";
    bool first = true;
    for (const auto& b : a.blocks) {
        if (!first) s += "\n";
        first = false;
        const std::string title = "Block: " + b.title;
        s += heading(title, format);
        if (format == TableFormat::kCsv) {
            // A one-row table naming the block, so every CSV block can be traced to it.
            s += "table,workload,environment,power_cap_w,cpu_power_cap_w\nblock," +
                 csv_field(b.workload.value_or("")) + "," + csv_field(b.environment.value_or("")) +
                 "," + (b.gpu_cap_w ? format_watts(*b.gpu_cap_w) : "") + "," +
                 (b.cpu_cap_w ? format_watts(*b.cpu_cap_w) : "") + "\n\n";
        }
        s += render(b.analysis, format);
    }
    for (const auto& c : a.caps) {
        for (const auto& t : cap_tables(c)) {
            s += "\n" + render_table(t, format, "caps_" + c.domain);
        }
    }
    if (!a.warnings.empty()) {
        if (format == TableFormat::kText) {
            s += "\nWarnings (store):\n";
            for (const auto& w : a.warnings) s += "- " + w + "\n";
        } else if (format == TableFormat::kMarkdown) {
            s += "\n**Warnings (store)**\n\n";
            for (const auto& w : a.warnings) s += "- " + md_escape(w) + "\n";
        } else if (format == TableFormat::kLatex) {
            for (const auto& w : a.warnings) s += "% warning: " + w + "\n";
        }
    }
    return s;
}

}  // namespace joulebench::analysis
