// The experiment file: TOML read with toml++, then every key validated with the file, line and
// problem in the message. The first problem ends parsing (one clear message beats a list of
// follow-on errors caused by the first).

#include "joulebench/experiment.hpp"

#include <fmt/core.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/child_env.hpp"
#include "joulebench/error.hpp"
#include "common/sha256.hpp"

namespace joulebench {

std::string to_string(const SourceLocation& where) {
    if (where.line <= 0) return where.file + ": ";
    return fmt::format("{}:{}: ", where.file, where.line);
}

std::string_view to_string(RunOrder order) {
    switch (order) {
        case RunOrder::kShuffled:
            return "shuffled";
        case RunOrder::kBlocked:
            return "blocked";
        case RunOrder::kInterleaved:
            return "interleaved";
    }
    return "shuffled";
}

std::string_view to_string(EnvironmentType type) {
    switch (type) {
        case EnvironmentType::kBare:
            return "bare";
        case EnvironmentType::kDocker:
            return "docker";
        case EnvironmentType::kPodman:
            return "podman";
        case EnvironmentType::kSsh:
            return "ssh";
    }
    return "bare";
}

std::string_view to_string(MetricsFormat format) {
    switch (format) {
        case MetricsFormat::kNone:
            return "none";
        case MetricsFormat::kJsonLine:
            return "json-line";
    }
    return "none";
}

std::optional<RunOrder> run_order_from_string(std::string_view text) {
    if (text == "shuffled") return RunOrder::kShuffled;
    if (text == "blocked") return RunOrder::kBlocked;
    if (text == "interleaved") return RunOrder::kInterleaved;
    return std::nullopt;
}

std::optional<EnvironmentType> environment_type_from_string(std::string_view text) {
    if (text == "bare") return EnvironmentType::kBare;
    if (text == "docker") return EnvironmentType::kDocker;
    if (text == "podman") return EnvironmentType::kPodman;
    if (text == "ssh") return EnvironmentType::kSsh;
    return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == 0 || i == text.size()) return std::nullopt;  // no number, or no unit
    const std::string_view number = text.substr(0, i);
    if (number.front() == '.' || number.back() == '.') return std::nullopt;
    double value = 0.0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc{} || end != number.data() + number.size()) return std::nullopt;
    const std::string_view unit = text.substr(i);
    double ms_per_unit = 0.0;
    if (unit == "ms") {
        ms_per_unit = 1.0;
    } else if (unit == "s") {
        ms_per_unit = 1e3;
    } else if (unit == "m" || unit == "min") {
        ms_per_unit = 60e3;
    } else if (unit == "h") {
        ms_per_unit = 3600e3;
    } else {
        return std::nullopt;
    }
    const double ms = std::round(value * ms_per_unit);
    // A year is plenty for any timeout or rest; beyond, the text is surely a mistake.
    if (!std::isfinite(ms) || ms > 365.0 * 24 * 3600e3) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::string format_duration_ms(std::chrono::milliseconds duration) {
    std::int64_t ms = duration.count();
    if (ms == 0) return "0s";
    std::string out;
    const std::int64_t h = ms / 3600000;
    ms %= 3600000;
    const std::int64_t m = ms / 60000;
    ms %= 60000;
    if (h > 0) out += fmt::format("{}h", h);
    if (m > 0) out += fmt::format("{}{}m", out.empty() ? "" : " ", m);
    if (ms > 0) {
        if (ms % 1000 == 0) {
            out += fmt::format("{}{}s", out.empty() ? "" : " ", ms / 1000);
        } else if (ms < 1000 && out.empty()) {
            out += fmt::format("{}ms", ms);
        } else {
            out += fmt::format("{}{}s", out.empty() ? "" : " ", static_cast<double>(ms) / 1000.0);
        }
    }
    return out;
}

std::string format_watts(double watts) {
    if (std::isfinite(watts) && watts == std::floor(watts) && std::fabs(watts) < 1e15) {
        return fmt::format("{}", static_cast<std::int64_t>(watts));
    }
    return fmt::format("{}", watts);  // fmt's default is the shortest round-trip form
}

std::uint64_t seed_from_name(std::string_view experiment_name) {
    Sha256 hash;
    hash.update(std::string_view("joulebench-seed\0", 16));
    hash.update(experiment_name);
    const auto digest = hash.finish();
    std::uint64_t seed = 0;
    for (std::size_t i = 0; i < 8; ++i) seed = (seed << 8) | digest[i];
    return seed;
}

namespace {

std::vector<double> distinct_sorted(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    return values;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1);
    std::vector<std::size_t> cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

/// The closest allowed key within a third of the key's length (at least 1, at most 3 edits).
std::optional<std::string_view> closest(std::string_view key,
                                        const std::vector<std::string_view>& allowed) {
    std::optional<std::string_view> best;
    std::size_t best_distance = std::max<std::size_t>(1, std::min<std::size_t>(3, key.size() / 3));
    for (const auto candidate : allowed) {
        const std::size_t d = edit_distance(key, candidate);
        if (d <= best_distance && (!best || d < edit_distance(key, *best))) {
            best = candidate;
            best_distance = d;
        }
    }
    return best;
}

std::string_view type_name(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a floating-point number";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
        case toml::node_type::none:
            break;
    }
    return "nothing";
}

class Parser {
public:
    explicit Parser(std::string file) : m_file(std::move(file)) {}

    SourceLocation at(const toml::source_region& region) const {
        return SourceLocation{m_file, static_cast<int>(region.begin.line),
                              static_cast<int>(region.begin.column)};
    }
    SourceLocation at(const toml::node& node) const { return at(node.source()); }

    [[noreturn]] void fail(const SourceLocation& where, const std::string& problem,
                           std::string hint = {}) const {
        throw Error(ErrorCategory::kInvalidArgument, "experiment: " + to_string(where) + problem,
                    std::move(hint));
    }

    /// Rejects keys not in `allowed`, with a suggestion.
    void check_keys(const toml::table& table, std::string_view where_name,
                    const std::vector<std::string_view>& allowed) const {
        for (const auto& [key, value] : table) {
            const std::string_view k = key.str();
            if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
            std::string hint;
            if (const auto suggestion = closest(k, allowed)) {
                hint = fmt::format("did you mean '{}'?", *suggestion);
            } else {
                std::string list;
                for (const auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
                hint = "allowed keys: " + list;
            }
            const SourceLocation loc = key.source().begin.line > 0 ? at(key.source()) : at(value);
            fail(loc, fmt::format("unknown key '{}' in {}", k, where_name), hint);
        }
    }

    const toml::node* get(const toml::table& table, std::string_view key) const {
        return table.get(key);
    }

    const toml::node& require(const toml::table& table, std::string_view key,
                              std::string_view where_name, const SourceLocation& table_loc) const {
        const toml::node* node = table.get(key);
        if (node == nullptr)
            fail(table_loc, fmt::format("{} has no '{}' (required)", where_name, key));
        return *node;
    }

    std::string string_value(const toml::node& node, std::string_view what) const {
        const auto* s = node.as_string();
        if (s == nullptr)
            fail(at(node), fmt::format("{} must be a string, not {}", what, type_name(node)));
        return s->get();
    }

    /// A name: non-empty, no control characters, no surrounding spaces.
    std::string name_value(const toml::node& node, std::string_view what) const {
        std::string name = string_value(node, what);
        if (name.empty()) fail(at(node), fmt::format("{} must not be empty", what));
        for (const char c : name) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                fail(at(node), fmt::format("{} must not contain control characters", what));
            }
        }
        if (name.front() == ' ' || name.back() == ' ') {
            fail(at(node), fmt::format("{} must not start or end with a space", what));
        }
        return name;
    }

    std::int64_t integer_value(const toml::node& node, std::string_view what) const {
        const auto* i = node.as_integer();
        if (i == nullptr)
            fail(at(node), fmt::format("{} must be an integer, not {}", what, type_name(node)));
        return i->get();
    }

    double number_value(const toml::node& node, std::string_view what) const {
        if (const auto* i = node.as_integer()) return static_cast<double>(i->get());
        if (const auto* f = node.as_floating_point()) {
            if (!std::isfinite(f->get()))
                fail(at(node), fmt::format("{} must be a finite number", what));
            return f->get();
        }
        fail(at(node), fmt::format("{} must be a number, not {}", what, type_name(node)));
    }

    std::chrono::milliseconds duration_value(const toml::node& node, std::string_view what) const {
        const std::string text = string_value(node, what);
        const auto d = parse_duration(text);
        if (!d) {
            fail(at(node), fmt::format("{} '{}' is not a duration", what, text),
                 "write a number and a unit: \"500ms\", \"60s\", \"30m\", \"2h\"");
        }
        if (d->count() <= 0) {
            fail(at(node), fmt::format("{} must be longer than zero", what),
                 "remove the key to have none");
        }
        return *d;
    }

    /// An argv array: non-empty array of strings whose first element is not empty.
    std::vector<std::string> argv_value(const toml::node& node, std::string_view what) const {
        if (node.is_string()) {
            fail(at(node), fmt::format("{} must be an array of arguments, not a string", what),
                 fmt::format("write [\"program\", \"arg\", ...]; commands never go through a shell "
                             "unless you write [\"sh\", \"-c\", {}]",
                             nlohmann::json(*node.value<std::string>()).dump()));
        }
        const auto* array = node.as_array();
        if (array == nullptr) {
            fail(at(node),
                 fmt::format("{} must be an array of strings, not {}", what, type_name(node)));
        }
        if (array->empty()) fail(at(node), fmt::format("{} must not be empty", what));
        std::vector<std::string> argv;
        for (const auto& element : *array) {
            const auto* s = element.as_string();
            if (s == nullptr) {
                fail(at(element.source().begin.line > 0 ? element : node),
                     fmt::format("{} must hold only strings, not {}", what, type_name(element)));
            }
            argv.push_back(s->get());
        }
        if (argv.front().empty())
            fail(at(node), fmt::format("{}: the program name is empty", what));
        return argv;
    }

    std::vector<std::string> string_array(const toml::node& node, std::string_view what) const {
        const auto* array = node.as_array();
        if (array == nullptr) {
            fail(at(node),
                 fmt::format("{} must be an array of strings, not {}", what, type_name(node)));
        }
        std::vector<std::string> out;
        for (const auto& element : *array) {
            const auto* s = element.as_string();
            if (s == nullptr) {
                fail(at(node),
                     fmt::format("{} must hold only strings, not {}", what, type_name(element)));
            }
            out.push_back(s->get());
        }
        return out;
    }

    const toml::table& table_value(const toml::node& node, std::string_view what) const {
        const auto* t = node.as_table();
        if (t == nullptr)
            fail(at(node), fmt::format("{} must be a table, not {}", what, type_name(node)));
        return *t;
    }

    void parse_experiment(const toml::table& root, ExperimentSpec& spec) const {
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

        if (const toml::node* order = t.get("order")) {
            const std::string text = string_value(*order, "order");
            const auto parsed = run_order_from_string(text);
            if (!parsed) {
                std::string hint = "use shuffled (the default), interleaved or blocked";
                if (const auto s = closest(text, {"shuffled", "blocked", "interleaved"})) {
                    hint = fmt::format("did you mean '{}'? ", *s) + hint;
                }
                fail(at(*order), fmt::format("unknown order '{}'", text), hint);
            }
            spec.order = *parsed;
        }

        if (const toml::node* seed = t.get("seed")) {
            const std::int64_t s = integer_value(*seed, "seed");
            if (s < 0) fail(at(*seed), fmt::format("seed must not be negative, not {}", s));
            spec.seed = static_cast<std::uint64_t>(s);
            spec.seed_given = true;
        } else {
            spec.seed = seed_from_name(spec.name);
        }

        if (const toml::node* warmup = t.get("warmup")) {
            spec.warmup.where = at(*warmup);
            if (warmup->is_string()) {
                spec.warmup.kind = WarmupSpec::Kind::kDuration;
                spec.warmup.duration = duration_value(*warmup, "warmup");
            } else if (warmup->is_array()) {
                spec.warmup.kind = WarmupSpec::Kind::kCommand;
                spec.warmup.command = argv_value(*warmup, "warmup command");
            } else {
                fail(at(*warmup),
                     fmt::format("warmup must be a duration (\"60s\") or a command array, not {}",
                                 type_name(*warmup)));
            }
        }

        if (const toml::node* rest = t.get("rest")) {
            spec.rest.where = at(*rest);
            const std::string text = string_value(*rest, "rest");
            if (text == "baseline") {
                spec.rest.kind = RestSpec::Kind::kBaseline;
            } else {
                if (!parse_duration(text)) {
                    fail(at(*rest),
                         fmt::format("rest '{}' is neither a duration nor \"baseline\"", text),
                         "write \"60s\", \"2m\", ... or \"baseline\" (wait until the GPU is back "
                         "near idle)");
                }
                spec.rest.kind = RestSpec::Kind::kDuration;
                spec.rest.duration = duration_value(*rest, "rest");
            }
        }
    }

    /// The array of tables `key`, with a clear error when written as a single [table].
    const toml::array* array_of_tables(const toml::table& root, std::string_view key) const {
        const toml::node* node = root.get(key);
        if (node == nullptr) return nullptr;
        if (node->is_table()) {
            fail(at(*node), fmt::format("'{}' must be written [[{}]] (one per {})", key, key, key),
                 fmt::format("write [[{}]] with two brackets, once for each {}", key, key));
        }
        const auto* array = node->as_array();
        if (array == nullptr || !array->is_array_of_tables()) {
            fail(at(*node), fmt::format("'{}' must be an array of tables [[{}]], not {}", key, key,
                                        type_name(*node)));
        }
        if (array->empty()) fail(at(*node), fmt::format("'{}' is empty", key));
        return array;
    }

    void parse_workloads(const toml::table& root, ExperimentSpec& spec) const {
        const toml::array* array = array_of_tables(root, "workload");
        if (array == nullptr) {
            fail(SourceLocation{m_file, 0, 0}, "no [[workload]]",
                 "add at least one [[workload]] with name = \"...\" and command = [\"...\"]");
        }
        std::set<std::string> names;
        for (const auto& element : *array) {
            const toml::table& t = *element.as_table();
            const SourceLocation loc = at(t);
            check_keys(t, "[[workload]]", {"name", "command", "timeout", "env", "metrics"});
            WorkloadSpec w;
            w.where = loc;
            const toml::node& name = require(t, "name", "[[workload]]", loc);
            w.name = name_value(name, "workload name");
            if (!names.insert(w.name).second) {
                fail(at(name), fmt::format("duplicate workload name '{}'", w.name),
                     "each [[workload]] needs its own name");
            }
            w.command = argv_value(require(t, "command", "[[workload]]", loc),
                                   fmt::format("command of workload '{}'", w.name));
            if (const toml::node* timeout = t.get("timeout")) {
                w.timeout = duration_value(*timeout, "timeout");
            }
            if (const toml::node* env = t.get("env")) {
                const toml::table& et = table_value(*env, "env");
                for (const auto& [key, value] : et) {
                    const std::string k(key.str());
                    if (!is_env_var_name(k)) {
                        fail(at(key.source().begin.line > 0 ? key.source() : value.source()),
                             fmt::format("'{}' is not a valid environment variable name", k),
                             "use letters, digits and _, not starting with a digit");
                    }
                    w.env.emplace_back(k, string_value(value, fmt::format("env.{}", k)));
                }
            }
            if (const toml::node* metrics = t.get("metrics")) {
                const std::string text = string_value(*metrics, "metrics");
                if (text != "json-line") {
                    fail(at(*metrics), fmt::format("unknown metrics format '{}'", text),
                         "the only format is \"json-line\": the last JSON object line of stdout");
                }
                w.metrics = MetricsFormat::kJsonLine;
            }
            spec.workloads.push_back(std::move(w));
        }
    }

    void parse_environments(const toml::table& root, ExperimentSpec& spec) const {
        const toml::array* array = array_of_tables(root, "environment");
        if (array == nullptr) {
            EnvironmentSpec bare;
            bare.name = "bare";
            bare.where = SourceLocation{m_file, 0, 0};
            spec.environments.push_back(std::move(bare));
            return;
        }
        std::set<std::string> names;
        for (const auto& element : *array) {
            const toml::table& t = *element.as_table();
            const SourceLocation loc = at(t);
            check_keys(t, "[[environment]]",
                       {"name", "type", "image", "run_args", "host", "user", "port",
                        "identity_file", "remote_joulebench", "ssh_options"});
            EnvironmentSpec e;
            e.where = loc;
            const toml::node& name = require(t, "name", "[[environment]]", loc);
            e.name = name_value(name, "environment name");
            if (!names.insert(e.name).second) {
                fail(at(name), fmt::format("duplicate environment name '{}'", e.name),
                     "each [[environment]] needs its own name");
            }
            const toml::node& type =
                require(t, "type", fmt::format("environment '{}'", e.name), loc);
            const std::string type_text = string_value(type, "type");
            const auto parsed = environment_type_from_string(type_text);
            if (!parsed) {
                std::string hint = "use bare, docker, podman or ssh";
                if (const auto s = closest(type_text, {"bare", "docker", "podman", "ssh"})) {
                    hint = fmt::format("did you mean '{}'? ", *s) + hint;
                }
                fail(at(type), fmt::format("unknown environment type '{}'", type_text), hint);
            }
            e.type = *parsed;
            const bool container =
                e.type == EnvironmentType::kDocker || e.type == EnvironmentType::kPodman;
            const bool ssh = e.type == EnvironmentType::kSsh;
            // Keys of another type are errors, not silently ignored: a user who wrote `image` for
            // an ssh environment expects it to be used.
            for (const auto& [key, value] : t) {
                const std::string_view k = key.str();
                const bool container_key = k == "image" || k == "run_args";
                const bool ssh_key = k == "host" || k == "user" || k == "port" ||
                                     k == "identity_file" || k == "remote_joulebench" ||
                                     k == "ssh_options";
                if ((container_key && !container) || (ssh_key && !ssh)) {
                    fail(at(value),
                         fmt::format("key '{}' does not apply to environment type '{}'", k,
                                     type_text),
                         container_key
                             ? "image and run_args are for docker and podman"
                             : "host, user, port, identity_file, remote_joulebench and "
                               "ssh_options are for ssh");
                }
            }
            const std::string where_name = fmt::format("environment '{}'", e.name);
            if (container) {
                e.image = name_value(
                    require(t, "image", where_name + " (type " + type_text + ")", loc), "image");
                if (const toml::node* args = t.get("run_args")) {
                    e.run_args = string_array(*args, "run_args");
                }
            }
            if (ssh) {
                e.host = name_value(require(t, "host", where_name + " (type ssh)", loc), "host");
                if (const toml::node* user = t.get("user")) e.user = name_value(*user, "user");
                if (const toml::node* port = t.get("port")) {
                    const std::int64_t p = integer_value(*port, "port");
                    if (p < 1 || p > 65535)
                        fail(at(*port), fmt::format("port {} is not in 1..65535", p));
                    e.port = static_cast<int>(p);
                }
                if (const toml::node* id = t.get("identity_file")) {
                    e.identity_file = name_value(*id, "identity_file");
                }
                e.remote_joulebench = "joulebench";
                if (const toml::node* remote = t.get("remote_joulebench")) {
                    e.remote_joulebench = name_value(*remote, "remote_joulebench");
                }
                if (const toml::node* options = t.get("ssh_options")) {
                    e.ssh_options = string_array(*options, "ssh_options");
                    for (const auto& option : e.ssh_options) check_ssh_option(*options, option);
                }
            }
            spec.environments.push_back(std::move(e));
        }
    }

    // An ssh_options entry: "Name=value" as ssh -o takes it. Free-form words are refused (a word
    // without '=' would become ssh's host name or the remote command), and so are the options
    // the ssh environment sets itself or that would break its protocol (docs/ssh.md).
    void check_ssh_option(const toml::node& node, const std::string& option) const {
        const auto eq = option.find('=');
        const std::string name = option.substr(0, eq);
        const bool valid_name =
            !name.empty() && std::isalpha(static_cast<unsigned char>(name[0])) != 0 &&
            std::all_of(name.begin(), name.end(),
                        [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
        if (eq == std::string::npos || !valid_name || eq + 1 == option.size() ||
            option.find_first_of("\n\r") != std::string::npos) {
            fail(at(node), fmt::format("ssh_options entry '{}' is not of the form Name=value",
                                       option),
                 "write each option as in ssh_config(5), e.g. \"ProxyJump=gateway\"; it is "
                 "passed to ssh as -o Name=value");
        }
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        for (const std::string_view owned :
             {"batchmode", "requesttty", "remotecommand", "sessiontype", "stdinnull",
              "forkafterauthentication", "controlmaster", "controlpersist"}) {
            if (lower == owned) {
                fail(at(node),
                     fmt::format("ssh_options: '{}' cannot be set: the ssh environment sets it "
                                 "itself or it would break how the run's output comes back",
                                 name),
                     "see docs/ssh.md for the options joulebench passes to ssh");
            }
        }
    }

    std::vector<double> caps_value(const toml::node& node, std::string_view what) const {
        std::vector<double> caps;
        if (const auto* array = node.as_array()) {
            if (array->empty())
                fail(at(node), fmt::format("{} must not be empty", what),
                     "remove the key for no cap");
            for (const auto& element : *array) {
                if (!element.is_number()) {
                    fail(at(node), fmt::format("{} must hold only numbers (watts), not {}", what,
                                               type_name(element)));
                }
                caps.push_back(number_value(element, what));
            }
        } else if (const auto* range = node.as_table()) {
            check_keys(*range, std::string(what) + " range", {"from", "to", "step"});
            const SourceLocation loc = at(node);
            const toml::node& from_node =
                require(*range, "from", std::string(what) + " range", loc);
            const toml::node& to_node = require(*range, "to", std::string(what) + " range", loc);
            const toml::node& step_node =
                require(*range, "step", std::string(what) + " range", loc);
            const double from = number_value(from_node, "from");
            const double to = number_value(to_node, "to");
            const double step = number_value(step_node, "step");
            if (step <= 0)
                fail(at(step_node),
                     fmt::format("step must be more than 0, not {}", format_watts(step)));
            if (to < from) {
                fail(at(node), fmt::format("range from {} to {}: 'to' is below 'from'",
                                           format_watts(from), format_watts(to)));
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
            if (whole > 10000)
                fail(at(node), fmt::format("range gives {} caps (more than 10000)", whole + 1));
            for (std::int64_t k = 0; k <= static_cast<std::int64_t>(whole); ++k) {
                // Rounded to a microwatt so that 0.1-steps give 0.3, not 0.30000000000000004:
                // the value goes into run ids.
                const double value = from + static_cast<double>(k) * step;
                caps.push_back(std::round(value * 1e6) / 1e6);
            }
        } else {
            fail(at(node),
                 fmt::format("{} must be a list of watts or a range {{ from, to, step }}, not {}",
                             what, type_name(node)));
        }
        std::set<double> seen;
        for (const double c : caps) {
            if (c <= 0)
                fail(at(node),
                     fmt::format("{}: cap {} W must be more than 0", what, format_watts(c)));
            if (c > 100000)
                fail(at(node),
                     fmt::format("{}: cap {} W is implausibly high", what, format_watts(c)));
            if (!seen.insert(c).second) {
                fail(at(node), fmt::format("{}: cap {} W is listed twice", what, format_watts(c)));
            }
        }
        return caps;
    }

    void parse_caps(const toml::table& root, ExperimentSpec& spec) const {
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

    void parse_gpus(const toml::table& root, ExperimentSpec& spec) const {
        const toml::node* node = root.get("gpus");
        if (node == nullptr) return;
        const toml::table& t = table_value(*node, "[gpus]");
        check_keys(t, "[gpus]", {"devices"});
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
            if (array->empty())
                fail(at(devices), "devices must not be empty",
                     "remove [gpus] to run without GPU slots");
            std::set<std::int64_t> seen;
            for (const auto& element : *array) {
                const std::int64_t index = integer_value(element, "a GPU index");
                if (index < 0) fail(at(devices), fmt::format("GPU index {} is negative", index));
                if (index > 1023)
                    fail(at(devices), fmt::format("GPU index {} is implausibly high", index));
                if (!seen.insert(index).second) {
                    fail(at(devices), fmt::format("GPU {} is listed twice", index));
                }
                selection.devices.push_back(static_cast<int>(index));
            }
        } else {
            fail(at(devices),
                 fmt::format("devices must be a list of GPU indices or \"all\", not {}",
                             type_name(devices)));
        }
        spec.gpus = std::move(selection);
    }

private:
    std::string m_file;
};

}  // namespace

ExperimentSpec parse_experiment_text(std::string_view text, std::string source_name) {
    Parser parser(source_name);
    toml::table root;
    try {
        root = toml::parse(text, source_name);
    } catch (const toml::parse_error& e) {
        const auto& begin = e.source().begin;
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("experiment: {}:{}: TOML syntax: {} (column {})", source_name,
                                begin.line, e.description(), begin.column));
    }
    parser.check_keys(root, "the file",
                      {"experiment", "workload", "environment", "power_caps", "gpus"});
    ExperimentSpec spec;
    parser.parse_experiment(root, spec);
    parser.parse_workloads(root, spec);
    parser.parse_environments(root, spec);
    parser.parse_caps(root, spec);
    parser.parse_gpus(root, spec);
    spec.source_name = std::move(source_name);
    spec.source_text = std::string(text);
    spec.source_sha256 = sha256_hex(text);
    return spec;
}

ExperimentSpec parse_experiment_file(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        throw Error(ErrorCategory::kNotFound,
                    "experiment: read " + path.string() + ": no such file");
    }
    if (std::filesystem::is_directory(path, ec)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    "experiment: read " + path.string() + ": is a directory, not a file");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw system_error("experiment: read " + path.string(), errno);
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad())
        throw Error(ErrorCategory::kIo, "experiment: read " + path.string() + ": read failed");
    return parse_experiment_text(buffer.str(), path.string());
}

std::vector<double> distinct_gpu_caps(const ExperimentSpec& spec) {
    return distinct_sorted(spec.power_caps.gpu_w);
}

std::vector<double> distinct_cpu_caps(const ExperimentSpec& spec) {
    return distinct_sorted(spec.power_caps.cpu_w);
}

}  // namespace joulebench
