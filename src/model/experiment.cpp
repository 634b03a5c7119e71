// The experiment file: TOML read with toml++, then every key validated with the file, line and
// problem in the message. The first problem ends parsing (one clear message beats a list of
// follow-on errors caused by the first). The sections are read by ExperimentParser
// (experiment_parser.hpp); durations, watts and the seed are in experiment_values.cpp.

#include "joulebench/experiment.hpp"

#include <fmt/core.h>
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/sha256.hpp"
#include "joulebench/error.hpp"
#include "model/experiment_parser.hpp"

namespace joulebench {

std::string to_string(const SourceLocation& where) {
    if (where.file.empty()) return {};  // an experiment built in memory (sweep): no location
    if (where.line <= 0) return where.file + ": ";
    return fmt::format("{}:{}: ", where.file, where.line);
}

std::string_view to_string(GpuMode mode) {
    return mode == GpuMode::kGang ? "gang" : "slots";
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
        case EnvironmentType::kVm:
            return "vm";
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
    if (text == "vm") return EnvironmentType::kVm;
    return std::nullopt;
}

namespace {

std::vector<double> distinct_sorted(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    return values;
}

// Refuses a plan too large to hold (1e6 repetitions x 100 caps ended in std::bad_alloc).
void check_plan_size(const ExperimentSpec& spec, const std::string& source_name) {
    const double runs = static_cast<double>(spec.workloads.size()) *
                        static_cast<double>(spec.environments.size()) *
                        static_cast<double>(std::max<std::size_t>(1, spec.power_caps.gpu_w.size())) *
                        static_cast<double>(std::max<std::size_t>(1, spec.power_caps.cpu_w.size())) *
                        static_cast<double>(spec.repetitions);
    if (runs <= static_cast<double>(kMaxPlannedRuns)) return;
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("experiment: {}: the plan would have {:.0f} runs ({} workloads x {} "
                            "environments x {} GPU caps x {} CPU caps x {} repetitions), more "
                            "than the limit of {}",
                            source_name, runs, spec.workloads.size(), spec.environments.size(),
                            std::max<std::size_t>(1, spec.power_caps.gpu_w.size()),
                            std::max<std::size_t>(1, spec.power_caps.cpu_w.size()),
                            spec.repetitions, kMaxPlannedRuns),
                "fewer caps (a coarser step) or repetitions; split a study this large into "
                "several experiment files");
}

}  // namespace

namespace {

// The parsed document in one canonical text (toml++'s JSON form: tables are ordered by key), or
// nullopt when the text is not TOML.
std::optional<std::string> canonical_document(std::string_view text) {
    try {
        const toml::table root = toml::parse(text);
        std::ostringstream out;
        out << toml::json_formatter{root};
        return out.str();
    } catch (const toml::parse_error&) {
        return std::nullopt;
    }
}

}  // namespace

bool same_experiment_text(std::string_view a, std::string_view b) {
    if (a == b) return true;
    const auto ca = canonical_document(a);
    return ca && ca == canonical_document(b);
}

ExperimentSpec parse_experiment_text(std::string_view text, std::string source_name) {
    ExperimentParser parser(source_name);
    toml::table root;
    try {
        root = toml::parse(text, source_name);
    } catch (const toml::parse_error& e) {
        const auto& begin = e.source().begin;
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("experiment: {}:{}: TOML syntax: {} (column {})", source_name,
                                begin.line, e.description(), begin.column));
    }
    parser.check_no_nul(root);
    parser.check_keys(root, "the file",
                      {"experiment", "workload", "environment", "power_caps", "gpus"});
    ExperimentSpec spec;
    parser.parse_experiment(root, spec);
    parser.parse_workloads(root, spec);
    parser.parse_environments(root, spec);
    parser.parse_caps(root, spec);
    parser.parse_gpus(root, spec);
    check_plan_size(spec, source_name);
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
