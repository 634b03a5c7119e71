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

// toml++ 3.3.0 (Debian 12's) asserts, and without assertions (NDEBUG) reaches
// __builtin_unreachable or a false __builtin_assume, i.e. undefined behaviour, on a character that
// is neither ASCII nor inside a string or comment where it expects a key or whitespace
// ("[\xc3\xa9"), and on a table header whose first character cannot start a key ("[\\", "[\x02");
// found by fuzz/fuzz_experiment, docs/fuzzing.md. TOML 1.0 allows non-ASCII characters only in
// strings and comments, control characters nowhere (but tab, and line breaks in multi-line
// strings), and a header is `[` key `]`, so the text is checked for these before toml++ reads it.
// True when the 10 characters before text[i] are a date YYYY-MM-DD that starts a word.
bool is_date_before(std::string_view text, std::size_t i) {
    if (i < 10) return false;
    const std::string_view date = text.substr(i - 10, 10);
    for (std::size_t k = 0; k < date.size(); ++k) {
        const bool dash = k == 4 || k == 7;
        if (dash ? date[k] != '-' : (date[k] < '0' || date[k] > '9')) return false;
    }
    return i == 10 || std::string_view(" \t\n=[{,").find(text[i - 11]) != std::string_view::npos;
}

// `header` starts with the `[` of a table header at `line`:`column`.
void check_table_header(std::string_view header, const std::string& source_name,
                        std::size_t line, std::size_t column) {
    std::size_t i = 1;
    const bool array = header.size() > 1 && header[1] == '[';
    if (array) ++i;
    while (i < header.size() && (header[i] == ' ' || header[i] == '\t')) ++i;
    if (i == header.size()) return;  // toml++ says what is missing
    const char c = header[i];
    const bool key = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-' || c == '"' || c == '\'';
    // `]` (an empty key) and `[ [` (split brackets) are errors toml++ itself reports.
    if (key || c == ']' || (c == '[' && !array)) return;
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("experiment: {}:{}: TOML syntax: a table header must start with a key, "
                            "a bare word or a quoted string (column {})",
                            source_name, line, column));
}

void check_toml_characters(std::string_view text, const std::string& source_name) {
    enum class In { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral };
    In in = In::kCode;
    bool line_start = true;      // only whitespace before, on this line
    char before = '\n';          // the character before this one, outside strings and comments
    std::string open;            // the arrays and inline tables open, innermost last
    std::size_t line = 1;
    std::size_t column = 0;  // of text[i], in characters (UTF-8 continuation bytes not counted)
    const auto at = [&](std::size_t i, std::string_view what) {
        return text.substr(i, what.size()) == what;
    };
    std::size_t i = at(0, "\xef\xbb\xbf") ? 3 : 0;  // a UTF-8 byte order mark, as toml++ allows
    for (; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if ((c & 0xC0U) != 0x80U) ++column;
        const bool line_break = c == '\n' || (c == '\r' && at(i + 1, "\n"));
        if ((c < 0x20U && c != '\t' && !line_break) || c == 0x7FU) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("experiment: {}:{}: TOML syntax: control character U+{:04X} "
                                    "is not allowed (column {})",
                                    source_name, line, static_cast<unsigned>(c), column));
        }
        if (c >= 0x80U && in == In::kCode) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("experiment: {}:{}: TOML syntax: a non-ASCII character outside "
                                    "a string or comment (bare keys are ASCII) (column {})",
                                    source_name, line, column));
        }
        if (c == '\n') {
            ++line;
            column = 0;
            line_start = true;
            before = '\n';
            if (in != In::kMultiBasic && in != In::kMultiLiteral) in = In::kCode;
            continue;
        }
        switch (in) {
            case In::kCode:
                if (c == '[' && line_start && open.empty()) {
                    check_table_header(text.substr(i), source_name, line, column);
                } else if (c == '[' || c == '{') {
                    open += static_cast<char>(c);
                } else if (c == '}' && !open.empty() && open.back() == '[') {
                    // toml++ reads a value there without looking (`d = [}` reached its
                    // assertion; found by fuzz_experiment).
                    throw Error(ErrorCategory::kInvalidArgument,
                                fmt::format("experiment: {}:{}: TOML syntax: '}}' inside an array "
                                            "(column {})",
                                            source_name, line, column));
                } else if ((c == ']' || c == '}') && !open.empty()) {
                    open.pop_back();
                }
                if (c != ' ' && c != '\t' && c != '\r') line_start = false;
                // toml++ reads a time after `YYYY-MM-DDT` without looking: `1979-05-27T:`
                // reached its assertion (found by fuzz_experiment). No key an experiment file
                // knows looks like a date.
                if ((c == 'T' || c == 't') && is_date_before(text, i) &&
                    !(i + 1 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '9')) {
                    throw Error(ErrorCategory::kInvalidArgument,
                                fmt::format("experiment: {}:{}: TOML syntax: a date and 'T' must "
                                            "be followed by a time (column {})",
                                            source_name, line, column));
                }
                // A quote starts a string only where a key or value starts; inside a bare word
                // (`0x1'''é`) toml++ sees no string, so neither may this check.
                if ((c == '"' || c == '\'') &&
                    std::string_view(" \t\r\n=[{,.").find(before) == std::string_view::npos) {
                    throw Error(ErrorCategory::kInvalidArgument,
                                fmt::format("experiment: {}:{}: TOML syntax: a quote inside a "
                                            "bare key or value (column {})",
                                            source_name, line, column));
                }
                before = static_cast<char>(c);
                if (c == '#') {
                    in = In::kComment;
                } else if (at(i, "\"\"\"") || at(i, "'''")) {
                    in = c == '"' ? In::kMultiBasic : In::kMultiLiteral;
                    i += 2;
                    column += 2;
                } else if (c == '"' || c == '\'') {
                    in = c == '"' ? In::kBasic : In::kLiteral;
                }
                break;
            case In::kComment:
                break;
            case In::kBasic:
            case In::kMultiBasic:
                if (c == '\\' && (at(i + 1, "\"") || at(i + 1, "\\"))) {
                    ++i;
                    ++column;
                } else if (in == In::kBasic && c == '"') {
                    in = In::kCode;
                } else if (in == In::kMultiBasic && at(i, "\"\"\"")) {
                    i += 2;
                    column += 2;
                    // Up to two more quotes are the string's own last characters.
                    for (int extra = 0; extra < 2 && at(i + 1, "\""); ++extra, ++i, ++column) {
                    }
                    in = In::kCode;
                }
                break;
            case In::kLiteral:
                if (c == '\'') in = In::kCode;
                break;
            case In::kMultiLiteral:
                if (at(i, "'''")) {
                    i += 2;
                    column += 2;
                    for (int extra = 0; extra < 2 && at(i + 1, "'"); ++extra, ++i, ++column) {
                    }
                    in = In::kCode;
                }
                break;
        }
    }
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
    check_toml_characters(text, source_name);
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
