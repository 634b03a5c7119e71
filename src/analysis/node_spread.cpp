#include "analysis/node_spread.hpp"

#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <set>
#include <span>
#include <tuple>

#include "analysis/store_analysis.hpp"
#include "joulebench/stats.hpp"

namespace joulebench::analysis {

namespace {

using Cell = std::tuple<std::string, std::string, std::optional<double>, std::optional<double>>;

std::string cell_name(const Cell& c) {
    std::string name = fmt::format("{} in {}", std::get<0>(c), std::get<1>(c));
    if (std::get<2>(c)) name += fmt::format(" at {:g} W", *std::get<2>(c));
    if (std::get<3>(c)) name += fmt::format(", CPU {:g} W", *std::get<3>(c));
    return name;
}

struct Tested {
    Cell cell;
    std::map<std::string, std::vector<double>> by_node;
    double p = 1.0;
};

}  // namespace

std::vector<std::string> node_differences(const std::vector<RunRecord>& runs,
                                          const std::map<std::int64_t, std::string>& node_of,
                                          std::string_view metric, double alpha) {
    std::map<Cell, std::map<std::string, std::vector<double>>> cells;
    std::set<std::string> nodes;
    for (const auto& r : runs) {
        if (r.status != RunStatus::kDone || !r.session_id) continue;
        const auto node = node_of.find(*r.session_id);
        const auto v = metric_value(r, metric);
        if (node == node_of.end() || node->second.empty() || !v) continue;
        nodes.insert(node->second);
        cells[{r.workload, r.environment, r.gpu_cap_w, r.cpu_cap_w}][node->second].push_back(*v);
    }
    if (nodes.size() < 2) return {};
    std::vector<Tested> tested;
    for (auto& [cell, by_node] : cells) {
        std::erase_if(by_node, [](const auto& kv) { return kv.second.size() < 2; });
        if (by_node.size() < 2) continue;
        std::vector<std::span<const double>> groups;
        for (const auto& [node, values] : by_node) groups.emplace_back(values);
        const stats::KruskalWallis kw = stats::kruskal_wallis(groups);
        if (std::isnan(kw.p)) continue;  // every value equal
        tested.push_back({cell, by_node, kw.p});
    }
    std::vector<double> ps;
    for (const auto& t : tested) ps.push_back(t.p);
    const std::vector<double> adjusted = stats::adjust_p(ps, stats::PAdjust::kBonferroni);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < tested.size(); ++i) {
        if (adjusted[i] >= alpha) continue;
        std::string medians;
        for (const auto& [node, values] : tested[i].by_node) {
            medians += fmt::format("{}{}: median {:.6g} of {} runs", medians.empty() ? "" : ", ",
                                   node, stats::median(values), values.size());
        }
        out.push_back(fmt::format(
            "{}: {} differs between nodes ({}; Kruskal-Wallis p = {:.3g}, Bonferroni-adjusted "
            "over {} cells p = {:.3g}): the node a run ran on shifts its result",
            cell_name(tested[i].cell), metric, medians, tested[i].p, tested.size(), adjusted[i]));
    }
    return out;
}

}  // namespace joulebench::analysis
