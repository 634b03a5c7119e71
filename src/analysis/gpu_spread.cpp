#include "analysis/gpu_spread.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

#include "analysis/ordering.hpp"
#include "joulebench/stats.hpp"
#include "joulebench/experiment.hpp"

namespace joulebench::analysis {

namespace {

struct PerGpu {
    std::vector<double> energy_j;
    std::vector<double> wall_s;
};

std::string cap_text(const std::optional<double>& gpu, const std::optional<double>& cpu) {
    std::string s = gpu ? format_watts(*gpu) + " W" : "uncapped";
    if (cpu) s += ", CPU " + format_watts(*cpu) + " W";
    return s;
}

}  // namespace

Table gpu_spread_table(const std::vector<RunRecord>& observations, const std::string& workload,
                       const std::vector<std::string>& environments) {
    Table t;
    t.title = "Spread between GPUs under the same cap (gang mode, medians over done instances)";
    t.headers = {"environment", "cap", "GPU", "n", "E (J)", "T (s)", "E vs lowest GPU %"};
    t.csv_name = "gpu_spread";
    using Key = std::tuple<std::size_t, std::optional<double>, std::optional<double>>;
    std::map<Key, std::map<int, PerGpu>> groups;
    bool includes_estimate = false;  // how the energies in the table were obtained
    bool cpu_attributed = false;
    bool cpu_shared = false;
    for (const auto& o : observations) {
        if (o.workload != workload || o.instances == 0 || o.status != RunStatus::kDone ||
            !o.gpu || !o.energy_j || !o.wall_s) {
            continue;
        }
        const auto env = std::find(environments.begin(), environments.end(), o.environment);
        const auto order = static_cast<std::size_t>(env - environments.begin());
        includes_estimate = includes_estimate || o.total_includes_estimate;
        cpu_attributed = cpu_attributed || o.cpu_attributed;
        cpu_shared = cpu_shared || o.cpu_shared;
        PerGpu& g = groups[Key{order, o.gpu_cap_w, o.cpu_cap_w}][*o.gpu];
        g.energy_j.push_back(*o.energy_j);
        g.wall_s.push_back(*o.wall_s);
    }
    std::vector<Key> keys;
    for (const auto& [k, v] : groups) keys.push_back(k);
    std::stable_sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
        if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
        if (cap_less(std::get<1>(a), std::get<1>(b)) || cap_less(std::get<1>(b), std::get<1>(a)))
            return cap_less(std::get<1>(a), std::get<1>(b));
        return cap_less(std::get<2>(a), std::get<2>(b));
    });
    for (const Key& k : keys) {
        const auto& per_gpu = groups.at(k);
        std::map<int, double> median_energy;
        for (const auto& [gpu, g] : per_gpu) median_energy[gpu] = stats::median(g.energy_j);
        double lowest = median_energy.begin()->second;
        for (const auto& [gpu, e] : median_energy) lowest = std::min(lowest, e);
        const std::size_t env = std::get<0>(k);
        const std::string env_name = env < environments.size()
                                         ? environments[env]
                                         : std::string("(not in the experiment)");
        for (const auto& [gpu, g] : per_gpu) {
            const double e = median_energy.at(gpu);
            t.rows.push_back({env_name, cap_text(std::get<1>(k), std::get<2>(k)),
                              std::to_string(gpu), std::to_string(g.energy_j.size()),
                              number_cell(e), number_cell(stats::median(g.wall_s)),
                              lowest > 0.0 ? fmt::format("{:+.2f}", (e - lowest) / lowest * 100.0)
                                           : std::string("n/a")});
        }
    }
    if (t.rows.empty()) {
        t.note = "No gang-mode runs.";
    } else {
        t.note =
            "Every GPU ran the same runs at the same time under the same cap: differences here are "
            "the GPUs' own (and their cooling's), not the environment's. E is each instance's "
            "total (its GPU's energy, plus the CPU package and DRAM";
        if (cpu_attributed) t.note += ", attributed by CPU-time share";
        if (cpu_shared) t.note += ", some shared with other instances (share unknown)";
        t.note += ")";
        if (includes_estimate) t.note += "; some include the CPU-time estimate";
        t.note += ".";
    }
    return t;
}

}  // namespace joulebench::analysis
