// The experiment file's [power_caps]: GPU and CPU caps in watts, each a list or a range
// { from, to, step }.

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "model/experiment_parser.hpp"

namespace joulebench {

void ExperimentParser::parse_caps(const toml::table& root, ExperimentSpec& spec) const {
    const toml::node* node = root.get("power_caps");
    if (node == nullptr) return;
    const toml::table& t = table_value(*node, "[power_caps]");
    check_keys(t, "[power_caps]", {"gpu_w", "cpu_w"});
    if (const toml::node* gpu = t.get("gpu_w")) {
        spec.power_caps.gpu_w = caps_value(*gpu, "gpu_w");
        spec.power_caps.gpu_where = at(*gpu);
    }
    if (const toml::node* cpu = t.get("cpu_w")) {
        spec.power_caps.cpu_w = caps_value(*cpu, "cpu_w");
        spec.power_caps.cpu_where = at(*cpu);
    }
}

std::vector<double> ExperimentParser::caps_value(const toml::node& node,
                                                 std::string_view what) const {
    std::vector<double> caps;
    if (const auto* array = node.as_array()) {
        if (array->empty()) {
            fail(at(node), fmt::format("{} must not be empty", what), "remove the key for no cap");
        }
        for (const auto& element : *array) {
            if (!element.is_number()) {
                fail(at(node), fmt::format("{} must hold only numbers (watts), not {}", what,
                                           toml_type_name(element)));
            }
            caps.push_back(number_value(element, what));
        }
    } else if (const auto* range = node.as_table()) {
        caps = caps_range(node, *range, what);
    } else {
        fail(at(node),
             fmt::format("{} must be a list of watts or a range {{ from, to, step }}, not {}", what,
                         toml_type_name(node)));
    }
    std::set<double> seen;
    for (const double c : caps) {
        if (c <= 0) {
            fail(at(node), fmt::format("{}: cap {} W must be more than 0", what, format_watts(c)));
        }
        if (c > 100000) {
            fail(at(node), fmt::format("{}: cap {} W is implausibly high", what, format_watts(c)));
        }
        if (!seen.insert(c).second) {
            fail(at(node), fmt::format("{}: cap {} W is listed twice", what, format_watts(c)));
        }
    }
    return caps;
}

std::vector<double> ExperimentParser::caps_range(const toml::node& node, const toml::table& range,
                                                 std::string_view what) const {
    const std::string where_name = std::string(what) + " range";
    check_keys(range, where_name, {"from", "to", "step"});
    const SourceLocation loc = at(node);
    const toml::node& from_node = require(range, "from", where_name, loc);
    const toml::node& to_node = require(range, "to", where_name, loc);
    const toml::node& step_node = require(range, "step", where_name, loc);
    const double from = number_value(from_node, "from");
    const double to = number_value(to_node, "to");
    const double step = number_value(step_node, "step");
    if (step <= 0) {
        fail(at(step_node), fmt::format("step must be more than 0, not {}", format_watts(step)));
    }
    if (to < from) {
        fail(at(node), fmt::format("range from {} to {}: 'to' is below 'from'", format_watts(from),
                                   format_watts(to)));
    }
    const double steps = (to - from) / step;
    const double whole = std::round(steps);
    if (std::fabs(steps - whole) > 1e-9 * std::max(1.0, steps)) {
        const double last = from + std::floor(steps) * step;
        fail(at(step_node),
             fmt::format("step {} from {} does not reach {} (the last value would be {})",
                         format_watts(step), format_watts(from), format_watts(to),
                         format_watts(last)),
             "choose 'to' = from + k x step, or another step");
    }
    if (whole > 10000) {
        fail(at(node), fmt::format("range gives {} caps (more than 10000)", whole + 1));
    }
    std::vector<double> caps;
    for (std::int64_t k = 0; k <= static_cast<std::int64_t>(whole); ++k) {
        // Rounded to a microwatt so that 0.1-steps give 0.3, not 0.30000000000000004: the value
        // goes into run ids.
        const double value = from + static_cast<double>(k) * step;
        caps.push_back(std::round(value * 1e6) / 1e6);
    }
    return caps;
}

}  // namespace joulebench
