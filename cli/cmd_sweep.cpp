// `joulebench sweep --caps 150:450:50 [--repetitions N] [--gpus ...] [--db DB] [--json OUT] -- CMD`:
// the StEP-style shortcut. One workload in the bare environment with GPU power caps swept, run
// through the same runner as `joulebench run` (an experiment file is generated and validated by
// the experiment parser, the runner checks every cap against every GPU's range before the first
// run, records every run in a store and restores the caps), then summarised per cap with
// stats::analyse_caps: median T, E, EDP and ED2P, and the best cap for each of E, EDP and ED2P.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stdlib.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "commands.hpp"
#include "common/atomic_file.hpp"
#include "common/json_number.hpp"
#include "common/strings.hpp"
#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"
#include "joulebench/stats.hpp"
#include "joulebench/store.hpp"
#include "joulebench/units.hpp"
#include "model/cpu_energy_marks.hpp"
#include "runner/runner.hpp"

namespace joulebench::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxCaps = 200;
constexpr std::string_view kWorkload = "sweep";
constexpr std::string_view kEnvironment = "bare";
constexpr std::string_view kCapsHint =
    "give --caps FROM:TO:STEP (e.g. 150:450:50, TO included when reached) or a comma list "
    "(150,200,250), in watts";

Error caps_error(const std::string& text, const std::string& problem) {
    return Error(ErrorCategory::kInvalidArgument,
                 fmt::format("sweep: parse --caps '{}': {}", text, problem), std::string(kCapsHint));
}

double parse_watts(const std::string& whole, std::string_view part) {
    double value = 0.0;
    const char* end = part.data() + part.size();
    const auto [ptr, ec] = std::from_chars(part.data(), end, value);
    if (part.empty() || ec != std::errc() || ptr != end) {
        throw caps_error(whole, fmt::format("'{}' is not a number", part));
    }
    if (!std::isfinite(value) || value <= 0.0) {
        throw caps_error(whole, fmt::format("{} is not a positive power", part));
    }
    return value;
}

/// Parses --caps: "FROM:TO:STEP" (FROM, FROM+STEP, ... up to TO, TO included when reached) or a
/// comma list "150,200,250". Watts, ascending. Throws Error (kInvalidArgument) on a value that is
/// not a positive number, STEP <= 0, FROM > TO, duplicates, or more than 200 caps.
std::vector<double> parse_sweep_caps(const std::string& text) {
    std::vector<double> caps;
    if (text.find(':') != std::string::npos) {
        const auto parts = split(text, ':');
        if (parts.size() != 3) throw caps_error(text, "a range is FROM:TO:STEP (three values)");
        const double from = parse_watts(text, parts[0]);
        const double to = parse_watts(text, parts[1]);
        const double step = parse_watts(text, parts[2]);
        if (from > to) throw caps_error(text, fmt::format("FROM {} is above TO {}", parts[0], parts[1]));
        // Counted in steps from FROM (not by repeated addition) so that 0.1-watt steps do not
        // drift; the relative slack lets TO count as reached despite rounding.
        const double steps = std::floor((to - from) / step * (1.0 + 1e-12) + 1e-9);
        if (steps + 1.0 > static_cast<double>(kMaxCaps)) {
            throw caps_error(text, fmt::format("{} caps, at most {} allowed", steps + 1.0, kMaxCaps));
        }
        const auto count = static_cast<std::size_t>(steps) + 1;
        for (std::size_t i = 0; i < count; ++i) caps.push_back(from + static_cast<double>(i) * step);
        if (std::fabs(caps.back() - to) <= 1e-9 * to) caps.back() = to;
    } else {
        for (const auto part : split(text, ',')) caps.push_back(parse_watts(text, part));
        if (caps.size() > kMaxCaps) {
            throw caps_error(text, fmt::format("{} caps, at most {} allowed", caps.size(), kMaxCaps));
        }
    }
    // Drivers take limits in milliwatts; rounding there also keeps 0.1-watt steps from showing
    // as 100.30000000000001 in run ids and tables.
    for (double& w : caps) w = std::round(w * 1000.0) / 1000.0;
    std::sort(caps.begin(), caps.end());
    const auto dup = std::adjacent_find(caps.begin(), caps.end());
    if (dup != caps.end()) {
        throw caps_error(text, fmt::format("{} W is listed twice (caps are set in whole milliwatts)",
                                           format_watts(*dup)));
    }
    if (caps.front() <= 0.0) {
        throw caps_error(text, "a cap rounds to 0 mW (caps are set in whole milliwatts)");
    }
    return caps;
}

/// The experiment file `run` would read for this sweep. Written with toml++ so that any command
/// argument (quotes, backslashes, control characters) is escaped correctly.
std::string sweep_experiment_toml(const std::vector<std::string>& command,
                                  const std::vector<double>& caps, unsigned repetitions,
                                  std::optional<std::uint64_t> seed, const std::string& gpus) {
    toml::table experiment{{"name", "sweep"},
                           {"repetitions", static_cast<std::int64_t>(repetitions)},
                           {"order", "shuffled"}};
    if (seed) experiment.insert("seed", static_cast<std::int64_t>(*seed));
    toml::array argv;
    for (const auto& a : command) argv.push_back(a);
    toml::array gpu_w;
    for (const double w : caps) gpu_w.push_back(w);
    toml::table doc{{"experiment", std::move(experiment)},
                    {"workload", toml::array{toml::table{{"name", kWorkload},
                                                         {"command", std::move(argv)}}}},
                    {"environment", toml::array{toml::table{{"name", kEnvironment},
                                                            {"type", "bare"}}}},
                    {"power_caps", toml::table{{"gpu_w", std::move(gpu_w)}}}};
    if (!gpus.empty()) {
        if (gpus == "all") {
            doc.insert("gpus", toml::table{{"devices", "all"}});
        } else {
            toml::array devices;
            for (const auto part : split(gpus, ',')) {
                int index = -1;
                const char* end = part.data() + part.size();
                const auto [ptr, ec] = std::from_chars(part.data(), end, index);
                if (part.empty() || ec != std::errc() || ptr != end || index < 0) {
                    throw Error(ErrorCategory::kInvalidArgument,
                                fmt::format("sweep: parse --gpus '{}': '{}' is not a GPU index",
                                            gpus, part),
                                "give all, or indices in PCI bus order: --gpus 0,1");
                }
                devices.push_back(index);
            }
            doc.insert("gpus", toml::table{{"devices", std::move(devices)}});
        }
    }
    std::ostringstream out;
    out << "# generated by joulebench sweep\n" << doc << "\n";
    return out.str();
}

/// A private temporary folder for the generated experiment file (and the store when no --db is
/// given); removed with its contents at scope exit unless keep() was called. Never throws.
class SweepScratch {
public:
    SweepScratch() {
        std::string pattern = (fs::temp_directory_path() / "joulebench-sweep-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw system_error(fmt::format("sweep: create a temporary folder {}", pattern), errno);
        }
        m_path = pattern;
    }
    SweepScratch(const SweepScratch&) = delete;
    SweepScratch& operator=(const SweepScratch&) = delete;
    ~SweepScratch() {
        std::error_code ec;
        if (m_keep) {
            fs::remove(m_path / "sweep.toml", ec);
        } else {
            fs::remove_all(m_path, ec);
        }
    }
    [[nodiscard]] const fs::path& path() const { return m_path; }
    void keep() { m_keep = true; }

private:
    fs::path m_path;
    bool m_keep = false;
};

/// The runner names the generated file in its messages ("run: /tmp/.../sweep.toml:9: gpu_w 500:
/// ..."); the user never wrote that file, so the location is dropped and the component renamed.
Error sweep_error(const Error& e, const std::string& file) {
    std::string message = e.what();
    for (std::size_t at = message.find(file); at != std::string::npos; at = message.find(file)) {
        const std::size_t end = message.find(": ", at + file.size());
        message.erase(at, end == std::string::npos ? file.size() : end + 2 - at);
    }
    if (message.rfind("run: ", 0) == 0) message.replace(0, 5, "sweep: ");
    Error out(e.category(), message, e.hint());
    out.set_exit_code(e.exit_code());
    return out;
}

struct CapRow {
    double cap_w = 0.0;
    std::size_t n = 0;
    std::size_t failed = 0;  ///< failed, timed out, interrupted or never run
    std::optional<double> wall_s, energy_j, edp_js, ed2p_js2;  ///< medians over the n done runs
    /// Some done run's energy total includes the CPU-time estimate, CPU energy attributed by its
    /// share of the machine's busy CPU time, or CPU energy shared with overlapping runs
    /// (src/model/cpu_energy_marks.hpp): what `run`'s progress line calls "(CPU estimated)",
    /// "(CPU attributed)" and "(CPU shared)".
    CpuEnergyMarks cpu;
};

// Table markers of the three cases above, each explained by a footnote line under the table.
constexpr std::string_view kEstimatedMark = "*";
constexpr std::string_view kAttributedMark = "+";
constexpr std::string_view kSharedMark = "!";

std::string cell(const std::optional<double>& v) { return v ? fmt::format("{:.4g}", *v) : "-"; }

}  // namespace

void add_sweep_command(CLI::App& app, CommandContext& ctx) {
    struct Options {
        std::string caps;
        unsigned repetitions = 3;
        std::string gpus;
        std::string db;
        std::string json;
        std::optional<std::uint64_t> seed;
        unsigned interval_ms = 100;
        std::vector<std::string> command;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand(
        "sweep",
        "Run one command bare under a sweep of GPU power caps; print median T, E, EDP, ED2P per "
        "cap and the best cap for each");
    sub->add_option("--caps", opts->caps,
                    "GPU power caps in watts: FROM:TO:STEP (TO included when reached) or a comma "
                    "list 150,200,250 (at most 200)")
        ->required();
    sub->add_option("--repetitions", opts->repetitions, "Runs per cap (default 3)")
        ->check(CLI::Range(1U, 10000U));
    sub->add_option("--gpus", opts->gpus,
                    "GPU slots: all, or indices in PCI bus order (0,1); default: one run at a "
                    "time, every GPU capped");
    sub->add_option("--db", opts->db,
                    "Keep the runs in this store (SQLite; resumed when the same sweep ran "
                    "before); default: a temporary store, removed after a clean sweep");
    sub->add_option("--json", opts->json, "Write the per-cap table as JSON to this file (- for standard output)");
    sub->add_option("--seed", opts->seed, "Seed of the shuffled run order (default: fixed)");
    sub->add_option("--interval", opts->interval_ms, "Trace interval in milliseconds")
        ->check(CLI::Range(1U, 3'600'000U));
    sub->add_option("command", opts->command, "The command and its arguments (after --)");
    sub->callback([opts, &ctx] {
        if (opts->command.empty()) {
            throw Error(ErrorCategory::kInvalidArgument, "sweep: no command given",
                        "usage: joulebench sweep --caps 150:450:50 -- CMD [ARGS...]");
        }
        const std::vector<double> caps = parse_sweep_caps(opts->caps);
        // Fail before the runs if the JSON cannot be written later.
        if (!opts->json.empty() && opts->json != "-") {
            std::FILE* probe = std::fopen(opts->json.c_str(), "a");
            if (probe == nullptr) {
                throw system_error(fmt::format("sweep: open {}", opts->json), errno);
            }
            std::fclose(probe);
        }

        SweepScratch scratch;
        const fs::path file = scratch.path() / "sweep.toml";
        const std::string text = sweep_experiment_toml(opts->command, caps, opts->repetitions,
                                                       opts->seed, opts->gpus);
        // Validated here by the experiment parser, as `run` will read it again from the file.
        const ExperimentSpec spec = parse_experiment_text(text, file.string());
        write_file_atomically(file, spec.source_text);
        const bool temporary_store = opts->db.empty();
        const fs::path db = temporary_store ? scratch.path() / "sweep.db" : fs::path(opts->db);

        runner::RunnerOptions o;
        o.experiment_file = file;
        o.db = db;
        o.interval = std::chrono::milliseconds(opts->interval_ms);
        o.command_line = fmt::format("joulebench sweep --caps {} --repetitions {}{}{} -- {}",
                                     opts->caps, opts->repetitions,
                                     opts->gpus.empty() ? "" : " --gpus " + opts->gpus,
                                     temporary_store ? "" : " --db " + opts->db,
                                     fmt::join(opts->command, " "));
        runner::RunnerSummary summary;
        try {
            summary = runner::run_experiment(o);
        } catch (const Error& e) {
            throw sweep_error(e, file.string());
        }

        // Per cap: the done runs' T and E (what analyse_caps summarises) and the other statuses.
        std::map<double, CapRow> rows;
        for (const double w : caps) rows[w].cap_w = w;
        std::vector<stats::CapRun> done;
        {
            const Store store(db, Store::Mode::kReadOnly);
            for (const auto& r : store.runs()) {
                if (!r.gpu_cap_w || rows.count(*r.gpu_cap_w) == 0) continue;
                CapRow& row = rows[*r.gpu_cap_w];
                if (r.status == RunStatus::kDone && r.wall_s && r.energy_j && *r.wall_s > 0.0 &&
                    *r.energy_j > 0.0) {
                    ++row.n;
                    row.cpu |= cpu_energy_marks(r);
                    done.push_back({std::string(kEnvironment), std::string(kWorkload),
                                    *r.gpu_cap_w, *r.wall_s, *r.energy_j});
                } else {
                    ++row.failed;
                }
            }
        }
        for (auto& [w, row] : rows) {
            std::vector<double> t, e, edp, ed2p;
            for (const auto& r : done) {
                if (r.cap_w != w) continue;
                t.push_back(r.time_s);
                e.push_back(r.energy_j);
                edp.push_back(energy_delay_product(r.energy_j, r.time_s));
                ed2p.push_back(energy_delay_squared_product(r.energy_j, r.time_s));
            }
            if (t.empty()) continue;
            row.wall_s = stats::median(t);
            row.energy_j = stats::median(e);
            row.edp_js = stats::median(edp);
            row.ed2p_js2 = stats::median(ed2p);
        }
        std::optional<stats::CapOptimum> best;
        if (!done.empty()) {
            const auto analysis = stats::analyse_caps(done, kEnvironment);
            if (!analysis.optima.empty()) best = analysis.optima.front();
        }

        // The table (on stderr when the JSON goes to standard output).
        std::FILE* table_out = opts->json == "-" ? stderr : stdout;
        std::string table = fmt::format("joulebench sweep: {} ({} repetitions per cap)\n",
                                        fmt::join(opts->command, " "), opts->repetitions);
        table += fmt::format("{:>8}  {:>3}  {:>12}  {:>12}  {:>12}  {:>12}  {:>6}\n", "cap W", "n",
                             "median T s", "median E J", "EDP J·s", "ED2P J·s²", "failed");
        CpuEnergyMarks any;  // the marks used in the table, for its footnotes
        for (const auto& [w, row] : rows) {
            // The marks follow the energy (and so EDP and ED2P, which are computed from it).
            std::string energy = cell(row.energy_j);
            if (row.cpu.estimated) energy += kEstimatedMark;
            if (row.cpu.attributed) energy += kAttributedMark;
            if (row.cpu.shared) energy += kSharedMark;
            any |= row.cpu;
            table += fmt::format("{:>8}  {:>3}  {:>12}  {:>12}  {:>12}  {:>12}  {:>6}\n",
                                 format_watts(w), row.n, cell(row.wall_s), energy, cell(row.edp_js),
                                 cell(row.ed2p_js2), row.failed);
        }
        if (any.estimated) {
            table += fmt::format(
                "{} CPU estimated: the energy of runs of the marked caps includes the CPU-time "
                "estimate (no CPU energy sensor; method `estimated`), not a measured counter\n",
                kEstimatedMark);
        }
        if (any.attributed) {
            table += fmt::format(
                "{} CPU attributed: runs of the marked caps overlapped others; their energy "
                "includes CPU energy attributed by their share of the machine's busy CPU time\n",
                kAttributedMark);
        }
        if (any.shared) {
            table += fmt::format(
                "{} CPU shared: runs of the marked caps overlapped others while their share of the "
                "machine's busy CPU time was unknown; their energy includes the others' CPU energy\n",
                kSharedMark);
        }
        if (best) {
            table += fmt::format("best cap: E {} W, EDP {} W, ED2P {} W\n",
                                 format_watts(best->cap_min_energy_w),
                                 format_watts(best->cap_min_edp_w),
                                 format_watts(best->cap_min_ed2p_w));
        } else {
            table += "best cap: none (no run finished)\n";
        }
        std::fflush(stdout);
        std::fputs(table.c_str(), table_out);
        std::fflush(table_out);

        if (!opts->json.empty()) {
            nlohmann::json j;
            j["command"] = opts->command;
            j["caps"] = nlohmann::json::array();
            for (const auto& [w, row] : rows) {
                j["caps"].push_back({{"power_cap_w", w},
                                     {"n", row.n},
                                     {"failed", row.failed},
                                     {"wall_s", json_number(row.wall_s)},
                                     {"energy_j", json_number(row.energy_j)},
                                     {"edp_js", json_number(row.edp_js)},
                                     {"ed2p_js2", json_number(row.ed2p_js2)},
                                     {"cpu_estimated", row.cpu.estimated},
                                     {"cpu_attributed", row.cpu.attributed},
                                     {"cpu_shared", row.cpu.shared}});
            }
            j["best"] = best ? nlohmann::json{{"energy_j", best->cap_min_energy_w},
                                              {"edp_js", best->cap_min_edp_w},
                                              {"ed2p_js2", best->cap_min_ed2p_w}}
                             : nlohmann::json{{"energy_j", nullptr},
                                              {"edp_js", nullptr},
                                              {"ed2p_js2", nullptr}};
            const std::string json_text = j.dump(2) + "\n";
            if (opts->json == "-") {
                std::fwrite(json_text.data(), 1, json_text.size(), stdout);
                std::fflush(stdout);
            } else {
                write_file_atomically(opts->json, json_text);
            }
        }

        const auto& c = summary.counts;
        const bool incomplete = (c.failed + c.timeout + c.interrupted + c.planned + c.running) > 0;
        ctx.exit_code = incomplete ? 1 : 0;
        if (summary.stopped_by_signal) ctx.exit_code = 128 + *summary.stopped_by_signal;
        if (!summary.caps_restored) {
            fmt::print(stderr,
                       "error: caps: a power cap could not be restored\nhint: fix the cause, then "
                       "run `joulebench caps restore`\n");
            ctx.exit_code = 1;
        }
        if (temporary_store && ctx.exit_code != 0) {
            scratch.keep();
            fmt::print(stderr,
                       "joulebench sweep: not every run finished; the runs are kept in {} (logs "
                       "in {}.logs; `joulebench export {} --format csv` lists them)\n",
                       db.string(), db.string(), db.string());
        }
    });
}

}  // namespace joulebench::cli
