// The cap tables of `analyze DB`: stats::analyse_caps over the done runs of each cap domain that
// has more than one level, at each level of the other domain. The tables always use T and E,
// whatever the metric of the analysis.

#include "analysis/store_caps.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

namespace joulebench::analysis {

namespace {

// One cap domain: which cap of a run varies, which is held.
struct CapDomain {
    bool gpu = true;
    [[nodiscard]] std::string name() const { return gpu ? "gpu" : "cpu"; }
    [[nodiscard]] std::string other_name() const { return gpu ? "CPU" : "GPU"; }
    [[nodiscard]] std::optional<double> cap(const RunRecord& r) const {
        return gpu ? r.gpu_cap_w : r.cpu_cap_w;
    }
    [[nodiscard]] std::optional<double> other(const RunRecord& r) const {
        return gpu ? r.cpu_cap_w : r.gpu_cap_w;
    }
};

bool has_time_and_energy(const RunRecord& r) {
    return r.wall_s && r.energy_j && *r.wall_s > 0.0 && *r.energy_j > 0.0 &&
           std::isfinite(*r.wall_s) && std::isfinite(*r.energy_j);
}

// The table of one domain at one level of the other domain, from its runs (not empty).
StoreCapTable cap_table(const CapDomain& d, const std::optional<double>& other,
                        std::vector<stats::CapRun> cap_runs, bool other_varies,
                        const std::optional<std::string>& baseline,
                        std::vector<std::string>& warnings) {
    StoreCapTable table;
    table.domain = d.name();
    table.other_cap_w = other;
    table.other_varies = other_varies;
    const bool base_present =
        baseline && std::any_of(cap_runs.begin(), cap_runs.end(),
                                [&](const stats::CapRun& c) { return c.environment == *baseline; });
    if (base_present) {
        table.baseline = *baseline;
        table.caps = stats::analyse_caps(cap_runs, table.baseline);
    } else {
        // analyse_caps needs a baseline for the overheads; the optima do not depend on it, so
        // take the first environment and drop the overheads.
        table.caps = stats::analyse_caps(cap_runs, cap_runs.front().environment);
        table.caps.overheads.clear();
        table.caps.summary.clear();
        table.caps.warnings.clear();
        warnings.push_back(fmt::format(
            "{} cap table ({} cap {}): no baseline environment{}: optima only, no overheads",
            d.name(), d.other_name(), cap_label(other),
            baseline ? " ('" + *baseline + "' has no runs)"
                     : " (no bare environment; give --baseline with --by environment)"));
    }
    for (const auto& w : table.caps.warnings) warnings.push_back(d.name() + " cap table: " + w);
    return table;
}

}  // namespace

std::vector<StoreCapTable> analyse_cap_tables(std::span<const RunRecord> runs,
                                              NameOrder& environments, NameOrder& workloads,
                                              const std::optional<std::string>& baseline,
                                              std::vector<std::string>& warnings) {
    std::vector<StoreCapTable> out;
    for (const bool gpu : {true, false}) {
        const CapDomain d{gpu};
        std::vector<double> levels;
        for (const RunRecord& r : runs) {
            if (r.status != RunStatus::kDone || !d.cap(r)) continue;
            if (std::find(levels.begin(), levels.end(), *d.cap(r)) == levels.end()) {
                levels.push_back(*d.cap(r));
            }
        }
        if (levels.size() < 2) continue;
        std::vector<std::optional<double>> others;
        std::size_t uncapped = 0;
        for (const RunRecord& r : runs) {
            if (r.status != RunStatus::kDone) continue;
            if (!d.cap(r)) {
                ++uncapped;
            } else if (std::find(others.begin(), others.end(), d.other(r)) == others.end()) {
                others.push_back(d.other(r));
            }
        }
        std::sort(others.begin(), others.end(), cap_less);
        if (uncapped > 0) {
            warnings.push_back(fmt::format("{} cap table: {} done run{} without a {} cap left out",
                                           d.name(), uncapped, uncapped == 1 ? "" : "s", d.name()));
        }
        std::size_t without_te = 0;
        for (const auto& other : others) {
            std::vector<stats::CapRun> cap_runs;
            for (const RunRecord& r : runs) {
                if (r.status != RunStatus::kDone || !d.cap(r) || d.other(r) != other) continue;
                if (!has_time_and_energy(r)) {
                    ++without_te;
                    continue;
                }
                cap_runs.push_back(
                    stats::CapRun{r.environment, r.workload, *d.cap(r), *r.wall_s, *r.energy_j});
            }
            if (cap_runs.empty()) continue;
            // Environments and workloads in declared order, as the blocks.
            std::stable_sort(cap_runs.begin(), cap_runs.end(),
                             [&](const stats::CapRun& a, const stats::CapRun& b) {
                                 const auto ea = environments.rank(a.environment);
                                 const auto eb = environments.rank(b.environment);
                                 if (ea != eb) return ea < eb;
                                 return workloads.rank(a.workload) < workloads.rank(b.workload);
                             });
            const bool other_varies = others.size() > 1 || other.has_value();
            out.push_back(
                cap_table(d, other, std::move(cap_runs), other_varies, baseline, warnings));
        }
        if (without_te > 0) {
            warnings.push_back(fmt::format(
                "{} cap table: {} done run{} without a positive wall_s and energy_j left out",
                d.name(), without_te, without_te == 1 ? "" : "s"));
        }
    }
    return out;
}

}  // namespace joulebench::analysis
