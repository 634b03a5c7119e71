#pragma once
// The experiment file's parser, inside the model part: each section of the TOML document read and
// validated, the first problem thrown as Error (invalid argument) "experiment: FILE:LINE: problem"
// with a hint. experiment_parser.cpp holds the locations, the key check and the typed values every
// section reads with; the sections are in experiment_sections.cpp ([experiment], [[workload]],
// [gpus]), experiment_environments.cpp ([[environment]]) and experiment_power_caps.cpp
// ([power_caps]).

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/experiment.hpp"

namespace joulebench {

/// A TOML value's type as messages name it ("a string", "an array", ...).
[[nodiscard]] std::string_view toml_type_name(const toml::node& node);

class ExperimentParser {
public:
    /// `file` names the file in every message.
    explicit ExperimentParser(std::string file) : m_file(std::move(file)) {}

    // The sections: each fills its part of `spec` from the document's root table.
    void parse_experiment(const toml::table& root, ExperimentSpec& spec) const;
    void parse_workloads(const toml::table& root, ExperimentSpec& spec) const;
    void parse_environments(const toml::table& root, ExperimentSpec& spec) const;
    void parse_caps(const toml::table& root, ExperimentSpec& spec) const;
    void parse_gpus(const toml::table& root, ExperimentSpec& spec) const;

    // Locations and failures.
    [[nodiscard]] SourceLocation at(const toml::source_region& region) const;
    [[nodiscard]] SourceLocation at(const toml::node& node) const { return at(node.source()); }
    /// A key's location, or its value's where the key has none.
    [[nodiscard]] SourceLocation at(const toml::key& key, const toml::node& value) const;
    [[noreturn]] void fail(const SourceLocation& where, const std::string& problem,
                           std::string hint = {}) const;

    /// Rejects a NUL character in any string or key of the document (`\u0000`): argv, the
    /// environment and names are C strings, which it would cut short.
    void check_no_nul(const toml::node& node) const;

    /// Rejects keys not in `allowed`, with a suggestion.
    void check_keys(const toml::table& table, std::string_view where_name,
                    const std::vector<std::string_view>& allowed) const;

    // Typed values; `what` names the value in messages.
    [[nodiscard]] const toml::node& require(const toml::table& table, std::string_view key,
                                            std::string_view where_name,
                                            const SourceLocation& table_loc) const;
    [[nodiscard]] std::string string_value(const toml::node& node, std::string_view what) const;
    /// A name: non-empty, no control characters, no surrounding spaces.
    [[nodiscard]] std::string name_value(const toml::node& node, std::string_view what) const;
    [[nodiscard]] std::int64_t integer_value(const toml::node& node, std::string_view what) const;
    /// An integer or a finite floating-point number.
    [[nodiscard]] double number_value(const toml::node& node, std::string_view what) const;
    /// A duration string ("500ms", "60s"), longer than zero.
    [[nodiscard]] std::chrono::milliseconds duration_value(const toml::node& node,
                                                           std::string_view what) const;
    /// An argv array: non-empty array of strings whose first element is not empty.
    [[nodiscard]] std::vector<std::string> argv_value(const toml::node& node,
                                                      std::string_view what) const;
    [[nodiscard]] std::vector<std::string> string_array(const toml::node& node,
                                                        std::string_view what) const;
    [[nodiscard]] const toml::table& table_value(const toml::node& node,
                                                 std::string_view what) const;
    /// The array of tables `key` (nullptr when absent), with a clear error when written as a
    /// single [table].
    [[nodiscard]] const toml::array* array_of_tables(const toml::table& root,
                                                     std::string_view key) const;

private:
    void parse_order(const toml::node& node, ExperimentSpec& spec) const;
    void parse_warmup(const toml::node& node, ExperimentSpec& spec) const;
    void parse_rest(const toml::node& node, ExperimentSpec& spec) const;
    // One [[workload]] / [[environment]] table; `names` holds the names before it (a repeated
    // name is an error).
    [[nodiscard]] std::string unique_name(const toml::table& t, std::string_view kind,
                                          const SourceLocation& loc,
                                          std::set<std::string>& names) const;
    [[nodiscard]] WorkloadSpec workload(const toml::table& t, std::set<std::string>& names) const;
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> env_value(
        const toml::node& node) const;
    [[nodiscard]] EnvironmentSpec environment(const toml::table& t,
                                              std::set<std::string>& names) const;
    void check_type_keys(const toml::table& t, EnvironmentType type,
                         const std::string& type_text) const;
    // The keys of a docker/podman or an ssh environment; `where_name` names it in messages.
    void parse_container_keys(const toml::table& t, const std::string& where_name,
                              const std::string& type_text, EnvironmentSpec& e) const;
    void parse_ssh_keys(const toml::table& t, const std::string& where_name,
                        EnvironmentSpec& e) const;
    void check_ssh_option(const toml::node& node, const std::string& option) const;
    // The keys of a vm environment (experiment_vm.cpp).
    void parse_vm_keys(const toml::table& t, const std::string& where_name,
                       EnvironmentSpec& e) const;
    void parse_vm_lists(const toml::table& t, EnvironmentSpec& e) const;
    [[nodiscard]] std::vector<double> caps_value(const toml::node& node,
                                                 std::string_view what) const;
    [[nodiscard]] std::vector<double> caps_range(const toml::node& node, const toml::table& range,
                                                 std::string_view what) const;

    std::string m_file;
};

}  // namespace joulebench
