#include "tune/driver.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/strings.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "model/sweep.hpp"

namespace joulebench::tune {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kName = "tune";
/// Repetitions planned per cap beyond the most a comparison takes: room for failed runs.
constexpr unsigned kSpareRepetitions = 3;
/// The sweep `tune` is measured against: 3 repetitions per cap (issue 16).
constexpr std::size_t kSweepRepetitions = 3;

/// What the store holds of the search so far.
struct StoreState {
    std::vector<Observation> observations;  ///< done runs, in run order
    std::size_t attempted = 0;              ///< runs started (any status but planned)
    std::size_t failed = 0;                 ///< failed or timed out
    std::set<std::pair<double, unsigned>> used;  ///< (cap, repetition) with a final status
    std::map<double, std::string> last_error;    ///< per cap, the last failure's reason
    double machine_time_s = 0.0;
    double energy_j = 0.0;
    CpuEnergyMarks cpu;  ///< of the runs' energy totals
};

std::string failure_reason(const RunRecord& r) {
    std::string reason = std::string(to_string(r.status));
    if (r.exit_code) reason += fmt::format(", exit status {}", *r.exit_code);
    if (r.signal) reason += fmt::format(", signal {}", *r.signal);
    const std::string tail = trim(r.stderr_tail);
    if (!tail.empty()) {
        const auto cut = tail.rfind('\n');
        reason += ": " + (cut == std::string::npos ? tail : tail.substr(cut + 1));
    }
    return reason;
}

StoreState read_state(const fs::path& db) {
    StoreState s;
    if (!fs::exists(db)) return s;
    std::vector<RunRecord> runs = Store(db, Store::Mode::kReadOnly).runs();
    std::sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
        return a.started_at.value_or(0.0) < b.started_at.value_or(0.0);
    });
    for (const RunRecord& r : runs) {
        if (r.workload != kName || !r.gpu_cap_w || r.status == RunStatus::kPlanned) continue;
        ++s.attempted;
        if (r.started_at && r.ended_at) s.machine_time_s += *r.ended_at - *r.started_at;
        if (r.energy_j) s.energy_j += *r.energy_j;
        s.cpu |= cpu_energy_marks(r);
        const bool final = r.status == RunStatus::kDone || r.status == RunStatus::kFailed ||
                           r.status == RunStatus::kTimeout;
        if (final) s.used.insert({*r.gpu_cap_w, r.repetition});
        if (r.status == RunStatus::kDone && r.wall_s && r.energy_j && *r.wall_s > 0.0 &&
            *r.energy_j > 0.0) {
            s.observations.push_back({*r.gpu_cap_w, *r.wall_s, *r.energy_j});
        } else if (final) {
            ++s.failed;
            s.last_error[*r.gpu_cap_w] = failure_reason(r);
        }
    }
    return s;
}

/// The runner speaks as `run`; here the user ran `tune`.
Error tune_error(const Error& e) {
    std::string message = e.what();
    if (message.rfind("run: ", 0) == 0) message.replace(0, 5, "tune: ");
    Error out(e.category(), message, e.hint());
    out.set_exit_code(e.exit_code());
    return out;
}

runner::RunnerSummary production_run(ExperimentSpec spec, runner::RunnerOptions options) {
    return runner::Runner(std::move(spec), std::move(options), runner::production_dependencies()).run();
}

TuneReport make_report(const SearchRequest& rq, const CapSearch& search, const StoreState& s) {
    TuneReport report;
    report.method = "search";
    report.options = search.options();
    report.command = rq.command;
    report.result = search.result(s.observations);
    report.runs_attempted = s.attempted;
    report.runs_failed = s.failed;
    report.full_sweep_runs = kSweepRepetitions * report.options.caps_w.size();
    if (s.attempted > 0) {
        report.full_sweep_time_s =
            static_cast<double>(report.full_sweep_runs) * s.machine_time_s / static_cast<double>(s.attempted);
    }
    report.machine_time_s = s.machine_time_s;
    report.energy_spent_j = s.energy_j;
    report.cpu = s.cpu;
    if (s.attempted >= report.options.budget && !report.result.confident) {
        if (!report.result.budget_spent) {
            report.notes.push_back(fmt::format(
                "the budget of {} runs was spent ({} of them failed) before the search ended",
                report.options.budget, s.failed));
        }
        report.result.budget_spent = true;
    }
    return report;
}

}  // namespace

SearchOutcome run_search(const SearchRequest& rq, std::FILE* messages, const RunOne& run_one) {
    const CapSearch search(rq.options);
    const SearchOptions& o = search.options();
    const unsigned repetitions = o.max_runs_per_cap + kSpareRepetitions;
    const ExperimentSpec spec = sweep_experiment(
        {rq.command, o.caps_w, repetitions, rq.seed, rq.gpus, std::string(kName)});
    const RunOne run = run_one ? run_one : RunOne(production_run);

    SearchOutcome outcome;
    StoreState state = read_state(rq.db);
    if (rq.live) rq.live->fix_plan(o.budget, state.attempted, 1);  // each Runner runs one run
    if (state.attempted > 0) {
        fmt::print(messages, "joulebench tune: resuming: {} run(s) in {}\n", state.attempted,
                   rq.db.string());
    }
    while (state.attempted < o.budget) {
        const std::optional<std::size_t> next = search.next(state.observations);
        if (!next) break;
        const double cap = o.caps_w[*next];
        unsigned rep = 1;
        while (rep <= repetitions && state.used.count({cap, rep}) > 0) ++rep;
        if (rep > repetitions) {
            throw Error(ErrorCategory::kIo,
                        fmt::format("tune: none of the {} runs at {} W finished: the last {}",
                                    repetitions, format_watts(cap), state.last_error[cap]),
                        fmt::format("see the runs with `joulebench export {} --format csv` and their "
                                    "logs in {}.logs",
                                    rq.db.string(), rq.db.string()));
        }
        const std::string id = run_id(kName, kName, kSweepEnvironment, cap, std::nullopt, rep);
        const bool again = state.attempted > state.used.size();  // an interrupted run, run again
        fmt::print(messages, "joulebench tune: run {} of at most {}: {} W{}\n", state.used.size() + 1,
                   o.budget, format_watts(cap), again ? " (interrupted before, run again)" : "");
        std::fflush(messages);
        runner::RunnerOptions ro;
        ro.experiment_file = fmt::format("(joulebench {})", kName);
        ro.db = rq.db;
        ro.interval = rq.interval;
        ro.command_line = rq.command_line;
        ro.only_runs = std::vector<std::string>{id};
        ro.live = rq.live;
        ro.plain = rq.plain;
        runner::RunnerSummary summary;
        try {
            summary = run(spec, ro);
        } catch (const Error& e) {
            throw tune_error(e);
        }
        state = read_state(rq.db);
        if (!summary.caps_restored) outcome.caps_restored = false;
        if (summary.stopped_by_signal) outcome.stopped_by_signal = summary.stopped_by_signal;
        if (summary.stopped || !summary.caps_restored) break;
    }
    outcome.report = make_report(rq, search, state);
    return outcome;
}

}  // namespace joulebench::tune
