// The experiment file's [experiment], [[workload]] and [gpus] sections.

#include <fmt/core.h>

#include <set>

#include "common/child_env.hpp"
#include "model/did_you_mean.hpp"
#include "model/experiment_parser.hpp"

namespace joulebench {

void ExperimentParser::parse_experiment(const toml::table& root, ExperimentSpec& spec) const {
    const toml::node* node = root.get("experiment");
    if (node == nullptr) {
        fail(SourceLocation{m_file, 1, 1}, "no [experiment] table",
             "start the file with [experiment] and name = \"...\", repetitions = N");
    }
    const toml::table& t = table_value(*node, "[experiment]");
    const SourceLocation loc = at(t);
    check_keys(t, "[experiment]", {"name", "repetitions", "order", "seed", "warmup", "rest"});
    spec.name = name_value(require(t, "name", "[experiment]", loc), "experiment name");

    const toml::node& reps = require(t, "repetitions", "[experiment]", loc);
    const std::int64_t r = integer_value(reps, "repetitions");
    if (r < 1) fail(at(reps), fmt::format("repetitions must be at least 1, not {}", r));
    if (r > 1000000) fail(at(reps), fmt::format("repetitions {} is more than 1000000", r));
    spec.repetitions = static_cast<unsigned>(r);

    if (const toml::node* order = t.get("order")) parse_order(*order, spec);

    if (const toml::node* seed = t.get("seed")) {
        const std::int64_t s = integer_value(*seed, "seed");
        if (s < 0) fail(at(*seed), fmt::format("seed must not be negative, not {}", s));
        spec.seed = static_cast<std::uint64_t>(s);
        spec.seed_given = true;
    } else {
        spec.seed = seed_from_name(spec.name);
    }

    if (const toml::node* warmup = t.get("warmup")) parse_warmup(*warmup, spec);
    if (const toml::node* rest = t.get("rest")) parse_rest(*rest, spec);
}

void ExperimentParser::parse_order(const toml::node& node, ExperimentSpec& spec) const {
    const std::string text = string_value(node, "order");
    const auto parsed = run_order_from_string(text);
    if (!parsed) {
        fail(at(node), fmt::format("unknown order '{}'", text),
             did_you_mean(text, {"shuffled", "blocked", "interleaved"},
                          "use shuffled (the default), interleaved or blocked"));
    }
    spec.order = *parsed;
}

void ExperimentParser::parse_warmup(const toml::node& node, ExperimentSpec& spec) const {
    spec.warmup.where = at(node);
    if (node.is_string()) {
        spec.warmup.kind = WarmupSpec::Kind::kDuration;
        spec.warmup.duration = duration_value(node, "warmup");
    } else if (node.is_array()) {
        spec.warmup.kind = WarmupSpec::Kind::kCommand;
        spec.warmup.command = argv_value(node, "warmup command");
    } else {
        fail(at(node), fmt::format("warmup must be a duration (\"60s\") or a command array, not {}",
                                   toml_type_name(node)));
    }
}

void ExperimentParser::parse_rest(const toml::node& node, ExperimentSpec& spec) const {
    spec.rest.where = at(node);
    const std::string text = string_value(node, "rest");
    if (text == "baseline") {
        spec.rest.kind = RestSpec::Kind::kBaseline;
        return;
    }
    if (!parse_duration(text)) {
        fail(at(node), fmt::format("rest '{}' is neither a duration nor \"baseline\"", text),
             "write \"60s\", \"2m\", ... or \"baseline\" (wait until the GPU is back near idle)");
    }
    spec.rest.kind = RestSpec::Kind::kDuration;
    spec.rest.duration = duration_value(node, "rest");
}

std::string ExperimentParser::unique_name(const toml::table& t, std::string_view kind,
                                          const SourceLocation& loc,
                                          std::set<std::string>& names) const {
    const std::string table = fmt::format("[[{}]]", kind);
    const toml::node& node = require(t, "name", table, loc);
    std::string name = name_value(node, fmt::format("{} name", kind));
    if (!names.insert(name).second) {
        fail(at(node), fmt::format("duplicate {} name '{}'", kind, name),
             fmt::format("each {} needs its own name", table));
    }
    return name;
}

void ExperimentParser::parse_workloads(const toml::table& root, ExperimentSpec& spec) const {
    const toml::array* array = array_of_tables(root, "workload");
    if (array == nullptr) {
        fail(SourceLocation{m_file, 0, 0}, "no [[workload]]",
             "add at least one [[workload]] with name = \"...\" and command = [\"...\"]");
    }
    std::set<std::string> names;
    for (const auto& element : *array) {
        spec.workloads.push_back(workload(*element.as_table(), names));
    }
}

WorkloadSpec ExperimentParser::workload(const toml::table& t, std::set<std::string>& names) const {
    const SourceLocation loc = at(t);
    check_keys(t, "[[workload]]", {"name", "command", "timeout", "env", "metrics"});
    WorkloadSpec w;
    w.where = loc;
    w.name = unique_name(t, "workload", loc, names);
    w.command = argv_value(require(t, "command", "[[workload]]", loc),
                           fmt::format("command of workload '{}'", w.name));
    if (const toml::node* timeout = t.get("timeout")) {
        w.timeout = duration_value(*timeout, "timeout");
    }
    if (const toml::node* env = t.get("env")) w.env = env_value(*env);
    if (const toml::node* metrics = t.get("metrics")) {
        const std::string text = string_value(*metrics, "metrics");
        if (text != "json-line") {
            fail(at(*metrics), fmt::format("unknown metrics format '{}'", text),
                 "the only format is \"json-line\": the last JSON object line of stdout");
        }
        w.metrics = MetricsFormat::kJsonLine;
    }
    return w;
}

std::vector<std::pair<std::string, std::string>> ExperimentParser::env_value(
    const toml::node& node) const {
    std::vector<std::pair<std::string, std::string>> env;
    for (const auto& [key, value] : table_value(node, "env")) {
        const std::string k(key.str());
        if (!is_env_var_name(k)) {
            fail(at(key, value), fmt::format("'{}' is not a valid environment variable name", k),
                 "use letters, digits and _, not starting with a digit");
        }
        env.emplace_back(k, string_value(value, fmt::format("env.{}", k)));
    }
    return env;
}

void ExperimentParser::parse_gpus(const toml::table& root, ExperimentSpec& spec) const {
    const toml::node* node = root.get("gpus");
    if (node == nullptr) return;
    const toml::table& t = table_value(*node, "[gpus]");
    check_keys(t, "[gpus]", {"devices", "mode"});
    const toml::node& devices = require(t, "devices", "[gpus]", at(t));
    GpuSelection selection;
    selection.where = at(devices);
    if (const auto* s = devices.as_string()) {
        if (s->get() != "all") {
            fail(at(devices),
                 fmt::format("devices '{}' is not \"all\" or a list of GPU indices", s->get()));
        }
        selection.all = true;
    } else if (const auto* array = devices.as_array()) {
        if (array->empty()) {
            fail(at(devices), "devices must not be empty",
                 "remove [gpus] to run without GPU slots");
        }
        std::set<std::int64_t> seen;
        for (const auto& element : *array) {
            const std::int64_t index = integer_value(element, "a GPU index");
            if (index < 0) fail(at(devices), fmt::format("GPU index {} is negative", index));
            if (index > 1023) {
                fail(at(devices), fmt::format("GPU index {} is implausibly high", index));
            }
            if (!seen.insert(index).second) {
                fail(at(devices), fmt::format("GPU {} is listed twice", index));
            }
            selection.devices.push_back(static_cast<int>(index));
        }
    } else {
        fail(at(devices), fmt::format("devices must be a list of GPU indices or \"all\", not {}",
                                      toml_type_name(devices)));
    }
    if (const toml::node* mode = t.get("mode")) {
        selection.mode_where = at(*mode);
        const std::string m = string_value(*mode, "mode");
        if (m == "gang") {
            selection.mode = GpuMode::kGang;
        } else if (m != "slots") {
            fail(at(*mode), fmt::format("mode '{}' is not \"slots\" or \"gang\"", m),
                 "\"slots\": each GPU takes the next run; \"gang\": every run on every GPU at once");
        }
    }
    spec.gpus = std::move(selection);
}

}  // namespace joulebench
