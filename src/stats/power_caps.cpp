// Analysis over power caps, as the first study reported it: per environment and workload the cap
// minimising energy E, the energy-delay product EDP = E T (Gonzalez & Horowitz 1996, "Energy
// dissipation in general purpose microprocessors", IEEE JSSC 31(9)) and ED2P = E T^2 (Martin,
// Nystrom & Penzes 2001, "ET^2: a metric for time and energy efficiency of computation");
// overheads of each environment against the baseline environment at each cap, and their average
// and maximum over caps.

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "joulebench/error.hpp"
#include "joulebench/stats.hpp"
#include "joulebench/units.hpp"

namespace joulebench::stats {

namespace {

struct Cell {
    std::vector<double> t, e, edp, ed2p;
};

struct Summary {
    double t, e, edp, ed2p;
};

template <class T>
std::size_t index_of(std::vector<T>& list, const T& item) {
    const auto it = std::find(list.begin(), list.end(), item);
    if (it != list.end()) return static_cast<std::size_t>(it - list.begin());
    list.push_back(item);
    return list.size() - 1;
}

double pct(double value, double base) {
    return 100.0 * (value - base) / base;
}

void check_run(const CapRun& r, std::size_t i) {
    const std::string where = "stats: analyse power caps: run " + std::to_string(i + 1) + ": ";
    if (r.environment.empty() || r.workload.empty()) {
        throw Error(ErrorCategory::kInvalidArgument, where + "empty environment or workload name");
    }
    for (const auto& [name, v] : {std::pair<const char*, double>{"cap", r.cap_w},
                                  {"time", r.time_s},
                                  {"energy", r.energy_j}}) {
        if (!std::isfinite(v) || v <= 0.0) {
            throw Error(ErrorCategory::kInvalidArgument,
                        where + name + " must be finite and positive, got " + std::to_string(v));
        }
    }
}

}  // namespace

CapAnalysis analyse_caps(std::span<const CapRun> runs, std::string_view baseline_environment) {
    if (runs.empty()) {
        throw Error(ErrorCategory::kInvalidArgument, "stats: analyse power caps: no runs");
    }
    std::vector<std::string> envs;
    std::vector<std::string> workloads;
    // (env, workload) -> cap -> runs; std::map keeps caps ascending.
    std::map<std::pair<std::size_t, std::size_t>, std::map<double, Cell>> cells;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const CapRun& r = runs[i];
        check_run(r, i);
        const std::size_t e = index_of(envs, r.environment);
        const std::size_t w = index_of(workloads, r.workload);
        Cell& c = cells[{e, w}][r.cap_w];
        c.t.push_back(r.time_s);
        c.e.push_back(r.energy_j);
        c.edp.push_back(energy_delay_product(r.energy_j, r.time_s));
        c.ed2p.push_back(energy_delay_squared_product(r.energy_j, r.time_s));
    }
    const auto base_it = std::find(envs.begin(), envs.end(), baseline_environment);
    if (base_it == envs.end()) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "stats: analyse power caps: baseline environment '" +
                        std::string(baseline_environment) + "' has no runs");
    }
    const auto base = static_cast<std::size_t>(base_it - envs.begin());

    std::map<std::pair<std::size_t, std::size_t>, std::map<double, Summary>> med;
    for (const auto& [key, caps] : cells) {
        for (const auto& [cap, c] : caps) {
            med[key][cap] = Summary{median(c.t), median(c.e), median(c.edp), median(c.ed2p)};
        }
    }

    CapAnalysis out;
    for (std::size_t e = 0; e < envs.size(); ++e) {
        for (std::size_t w = 0; w < workloads.size(); ++w) {
            const auto it = med.find({e, w});
            if (it == med.end()) continue;
            for (const auto& [cap, s] : it->second) {
                out.medians.push_back(CapMedians{envs[e], workloads[w], cap,
                                                 cells.at({e, w}).at(cap).t.size(), s.t, s.e,
                                                 s.edp, s.ed2p});
            }
            CapOptimum opt;
            opt.environment = envs[e];
            opt.workload = workloads[w];
            bool first = true;
            // Caps ascending and strict "<": the lowest cap wins an exact tie.
            for (const auto& [cap, s] : it->second) {
                if (first || s.e < opt.min_energy_j) {
                    opt.min_energy_j = s.e;
                    opt.cap_min_energy_w = cap;
                }
                if (first || s.edp < opt.min_edp_js) {
                    opt.min_edp_js = s.edp;
                    opt.cap_min_edp_w = cap;
                }
                if (first || s.ed2p < opt.min_ed2p_js2) {
                    opt.min_ed2p_js2 = s.ed2p;
                    opt.cap_min_ed2p_w = cap;
                }
                first = false;
            }
            out.optima.push_back(opt);
        }
    }

    for (std::size_t e = 0; e < envs.size(); ++e) {
        if (e == base) continue;
        for (std::size_t w = 0; w < workloads.size(); ++w) {
            const auto it = med.find({e, w});
            if (it == med.end()) continue;
            const auto bit = med.find({base, w});
            if (bit == med.end()) {
                out.warnings.push_back("workload '" + workloads[w] + "' has runs in '" + envs[e] +
                                       "' but none in the baseline '" + envs[base] +
                                       "': no overheads");
                continue;
            }
            CapOverheadSummary sum;
            sum.environment = envs[e];
            sum.workload = workloads[w];
            for (const auto& [cap, s] : it->second) {
                const auto b = bit->second.find(cap);
                if (b == bit->second.end()) {
                    out.warnings.push_back("'" + envs[e] + "' / '" + workloads[w] + "' at cap " +
                                           std::to_string(cap) +
                                           " W has no baseline runs at that cap: skipped");
                    continue;
                }
                CapOverhead o;
                o.environment = envs[e];
                o.workload = workloads[w];
                o.cap_w = cap;
                o.time_pct = pct(s.t, b->second.t);
                o.energy_pct = pct(s.e, b->second.e);
                o.edp_pct = pct(s.edp, b->second.edp);
                if (sum.caps == 0) {
                    sum.time_max_pct = o.time_pct;
                    sum.energy_max_pct = o.energy_pct;
                    sum.edp_max_pct = o.edp_pct;
                }
                ++sum.caps;
                sum.time_avg_pct += o.time_pct;
                sum.energy_avg_pct += o.energy_pct;
                sum.edp_avg_pct += o.edp_pct;
                sum.time_max_pct = std::max(sum.time_max_pct, o.time_pct);
                sum.energy_max_pct = std::max(sum.energy_max_pct, o.energy_pct);
                sum.edp_max_pct = std::max(sum.edp_max_pct, o.edp_pct);
                out.overheads.push_back(o);
            }
            if (sum.caps == 0) continue;
            const auto k = static_cast<double>(sum.caps);
            sum.time_avg_pct /= k;
            sum.energy_avg_pct /= k;
            sum.edp_avg_pct /= k;
            out.summary.push_back(sum);
        }
    }
    return out;
}

}  // namespace joulebench::stats
