// The experiment parser's locations, key check and typed values (the sections that use them are
// in experiment_sections.cpp, experiment_environments.cpp and experiment_power_caps.cpp).

#include "model/experiment_parser.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/strings.hpp"
#include "joulebench/error.hpp"
#include "model/did_you_mean.hpp"

namespace joulebench {

std::string_view toml_type_name(const toml::node& node) {
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

SourceLocation ExperimentParser::at(const toml::source_region& region) const {
    return SourceLocation{m_file, static_cast<int>(region.begin.line),
                          static_cast<int>(region.begin.column)};
}

SourceLocation ExperimentParser::at(const toml::key& key, const toml::node& value) const {
    return key.source().begin.line > 0 ? at(key.source()) : at(value);
}

void ExperimentParser::fail(const SourceLocation& where, const std::string& problem,
                            std::string hint) const {
    throw Error(ErrorCategory::kInvalidArgument, "experiment: " + to_string(where) + problem,
                std::move(hint));
}

void ExperimentParser::check_keys(const toml::table& table, std::string_view where_name,
                                  const std::vector<std::string_view>& allowed) const {
    for (const auto& [key, value] : table) {
        const std::string_view k = key.str();
        if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
        std::string hint;
        if (const auto suggestion = closest_word(k, allowed)) {
            hint = fmt::format("did you mean '{}'?", *suggestion);
        } else {
            hint = "allowed keys: " +
                   join(std::vector<std::string>(allowed.begin(), allowed.end()), ", ");
        }
        fail(at(key, value), fmt::format("unknown key '{}' in {}", k, where_name), hint);
    }
}

const toml::node& ExperimentParser::require(const toml::table& table, std::string_view key,
                                            std::string_view where_name,
                                            const SourceLocation& table_loc) const {
    const toml::node* node = table.get(key);
    if (node == nullptr) fail(table_loc, fmt::format("{} has no '{}' (required)", where_name, key));
    return *node;
}

void ExperimentParser::check_no_nul(const toml::node& node) const {
    const auto refuse = [&](const SourceLocation& where, std::string_view what) {
        fail(where, fmt::format("{} holds a NUL character (\\u0000)", what),
             "remove it: commands, environment variables and names cannot hold NUL, which "
             "would cut them short");
    };
    if (const auto* s = node.as_string()) {
        if (s->get().find('\0') != std::string::npos) refuse(at(node), "a string");
    } else if (const auto* t = node.as_table()) {
        for (const auto& [key, value] : *t) {
            if (key.str().find('\0') != std::string_view::npos) refuse(at(key, value), "a key");
            check_no_nul(value);
        }
    } else if (const auto* a = node.as_array()) {
        for (const auto& element : *a) check_no_nul(element);
    }
}

std::string ExperimentParser::string_value(const toml::node& node, std::string_view what) const {
    const auto* s = node.as_string();
    if (s == nullptr) {
        fail(at(node), fmt::format("{} must be a string, not {}", what, toml_type_name(node)));
    }
    return s->get();
}

std::string ExperimentParser::name_value(const toml::node& node, std::string_view what) const {
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

std::int64_t ExperimentParser::integer_value(const toml::node& node, std::string_view what) const {
    const auto* i = node.as_integer();
    if (i == nullptr) {
        fail(at(node), fmt::format("{} must be an integer, not {}", what, toml_type_name(node)));
    }
    return i->get();
}

double ExperimentParser::number_value(const toml::node& node, std::string_view what) const {
    if (const auto* i = node.as_integer()) return static_cast<double>(i->get());
    if (const auto* f = node.as_floating_point()) {
        if (!std::isfinite(f->get())) {
            fail(at(node), fmt::format("{} must be a finite number", what));
        }
        return f->get();
    }
    fail(at(node), fmt::format("{} must be a number, not {}", what, toml_type_name(node)));
}

std::chrono::milliseconds ExperimentParser::duration_value(const toml::node& node,
                                                           std::string_view what) const {
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

std::vector<std::string> ExperimentParser::argv_value(const toml::node& node,
                                                      std::string_view what) const {
    if (node.is_string()) {
        fail(at(node), fmt::format("{} must be an array of arguments, not a string", what),
             fmt::format("write [\"program\", \"arg\", ...]; commands never go through a shell "
                         "unless you write [\"sh\", \"-c\", {}]",
                         nlohmann::json(*node.value<std::string>()).dump()));
    }
    const auto* array = node.as_array();
    if (array == nullptr) {
        fail(at(node),
             fmt::format("{} must be an array of strings, not {}", what, toml_type_name(node)));
    }
    if (array->empty()) fail(at(node), fmt::format("{} must not be empty", what));
    std::vector<std::string> argv;
    for (const auto& element : *array) {
        const auto* s = element.as_string();
        if (s == nullptr) {
            fail(at(element.source().begin.line > 0 ? element : node),
                 fmt::format("{} must hold only strings, not {}", what, toml_type_name(element)));
        }
        argv.push_back(s->get());
    }
    if (argv.front().empty()) fail(at(node), fmt::format("{}: the program name is empty", what));
    return argv;
}

std::vector<std::string> ExperimentParser::string_array(const toml::node& node,
                                                        std::string_view what) const {
    const auto* array = node.as_array();
    if (array == nullptr) {
        fail(at(node),
             fmt::format("{} must be an array of strings, not {}", what, toml_type_name(node)));
    }
    std::vector<std::string> out;
    for (const auto& element : *array) {
        const auto* s = element.as_string();
        if (s == nullptr) {
            fail(at(node),
                 fmt::format("{} must hold only strings, not {}", what, toml_type_name(element)));
        }
        out.push_back(s->get());
    }
    return out;
}

const toml::table& ExperimentParser::table_value(const toml::node& node,
                                                 std::string_view what) const {
    const auto* t = node.as_table();
    if (t == nullptr) {
        fail(at(node), fmt::format("{} must be a table, not {}", what, toml_type_name(node)));
    }
    return *t;
}

const toml::array* ExperimentParser::array_of_tables(const toml::table& root,
                                                     std::string_view key) const {
    const toml::node* node = root.get(key);
    if (node == nullptr) return nullptr;
    if (node->is_table()) {
        fail(at(*node), fmt::format("'{}' must be written [[{}]] (one per {})", key, key, key),
             fmt::format("write [[{}]] with two brackets, once for each {}", key, key));
    }
    const auto* array = node->as_array();
    if (array == nullptr || !array->is_array_of_tables()) {
        fail(at(*node), fmt::format("'{}' must be an array of tables [[{}]], not {}", key, key,
                                    toml_type_name(*node)));
    }
    if (array->empty()) fail(at(*node), fmt::format("'{}' is empty", key));
    return array;
}

}  // namespace joulebench
