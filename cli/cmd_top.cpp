// `joulebench top DB [--interval S] [--once]`: the dashboard of an experiment running elsewhere
// (another terminal, a batch job), read from its store, which is safe to read while it is written
// (WAL). docs/live.md, "Terminal dashboard".

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <regex>
#include <set>
#include <string>

#include "commands.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"
#include "live/dashboard.hpp"
#include "live/live_state.hpp"
#include "option_checks.hpp"

namespace joulebench::cli {

namespace {

namespace fs = std::filesystem;

struct TopCliOptions {
    std::string db;
    double interval_s = 1.0;
    bool once = false;
};

std::chrono::system_clock::time_point from_unix(double seconds) {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(seconds)));
}

/// A trace column's domain kind from its sensor id (SensorInfo::id: "gpu0", "package0",
/// "dram0", "cpu-estimated"; "package0-core" and the like overlap a package and never count).
std::string kind_of(const std::string& id) {
    static const std::regex kGpu("gpu[0-9]+");
    static const std::regex kPackage("package[0-9]+");
    static const std::regex kDram("dram[0-9]+");
    if (std::regex_match(id, kGpu)) return "gpu";
    if (std::regex_match(id, kPackage)) return "package";
    if (std::regex_match(id, kDram)) return "dram";
    if (id == "cpu-estimated") return "estimated-cpu";
    return "platform";
}

live::RunLabels labels_of(const RunRecord& r) {
    live::RunLabels l;
    l.run_id = r.run_id;
    l.workload = r.workload;
    l.environment = r.environment;
    l.gpu_cap_w = r.gpu_cap_w;
    l.cpu_cap_w = r.cpu_cap_w;
    l.repetition = static_cast<int>(r.repetition);
    l.slot = r.gpu;
    return l;
}

/// The power and energy of a run in flight: the last row of its stored trace (the runner stores
/// it in chunks, so it may lag by a chunk).
std::vector<live::DomainNow> last_trace_row(const Store& store, const std::string& run_id) {
    std::vector<live::DomainNow> out;
    const Trace t = store.trace(run_id);
    if (t.values.empty()) return out;
    const auto& row = t.values.back();
    for (std::size_t c = 0; c < t.columns.size() && c < row.size(); ++c) {
        const auto& col = t.columns[c];
        if (col.quantity != "energy_j" && col.quantity != "power_w") continue;
        auto it = std::find_if(out.begin(), out.end(), [&](const live::DomainNow& d) { return d.id == col.domain; });
        if (it == out.end()) {
            live::DomainNow d;
            d.id = col.domain;
            d.kind = kind_of(col.domain);
            out.push_back(d);
            it = out.end() - 1;
        }
        if (std::isnan(row[c])) continue;
        if (col.quantity == "energy_j") {
            it->energy_j = row[c];
            it->valid = true;
        } else {
            it->power_w = row[c];
        }
    }
    return out;
}

live::LiveSnapshot snapshot_of(const Store& store) {
    live::LiveSnapshot s;
    s.mode = "top";
    s.taken = std::chrono::system_clock::now();
    if (const auto e = store.experiment()) s.experiment = e->name;
    live::PlanNow p;
    std::vector<RunRecord> ended;
    double wall_sum = 0.0;
    std::size_t walls = 0;
    std::set<int> slots;
    for (const auto& r : store.runs()) {
        ++p.planned;
        switch (r.status) {
            case RunStatus::kDone: ++p.done; break;
            case RunStatus::kFailed:
            case RunStatus::kTimeout: ++p.failed; break;
            case RunStatus::kRunning: {
                live::RunNow now;
                now.labels = labels_of(r);
                now.started = from_unix(r.started_at.value_or(0.0));
                now.domains = last_trace_row(store, r.run_id);
                s.running.push_back(std::move(now));
                if (r.gpu) slots.insert(*r.gpu);
                break;
            }
            default: break;
        }
        if (r.status != RunStatus::kRunning && r.status != RunStatus::kPlanned && r.ended_at) ended.push_back(r);
        if (r.status == RunStatus::kDone && r.started_at && r.ended_at) {
            wall_sum += *r.ended_at - *r.started_at;
            ++walls;
        }
        if (r.status != RunStatus::kPlanned && r.status != RunStatus::kRunning) {
            ++s.runs_by_status[std::string(to_string(r.status))];
        }
    }
    p.pending = p.planned - p.done - p.failed;
    p.slots = std::max<std::size_t>(1, slots.size());
    if (walls > 0) {
        p.mean_run_s = wall_sum / static_cast<double>(walls);
        double eta = *p.mean_run_s * static_cast<double>(p.pending) / static_cast<double>(p.slots);
        for (const auto& r : s.running) {
            eta -= std::chrono::duration<double>(s.taken - r.started).count() / static_cast<double>(p.slots);
        }
        p.eta_s = std::max(0.0, eta);
    }
    s.plan = p;
    std::sort(ended.begin(), ended.end(), [](const RunRecord& a, const RunRecord& b) { return *a.ended_at < *b.ended_at; });
    for (const auto& r : ended) {
        live::RunNow f;
        f.labels = labels_of(r);
        f.status = r.status;
        f.wall_s = r.wall_s.value_or(0.0);
        f.energy_j = r.energy_j;
        if (r.status != RunStatus::kDone && !r.stderr_tail.empty()) {
            std::string tail = r.stderr_tail;
            while (!tail.empty() && tail.back() == '\n') tail.pop_back();
            f.detail = tail.substr(tail.rfind('\n') == std::string::npos ? 0 : tail.rfind('\n') + 1);
        }
        s.finished.push_back(std::move(f));
    }
    return s;
}

/// Still going: a run in flight, or the last session not ended.
bool in_progress(const Store& store, const live::LiveSnapshot& s) {
    if (!s.running.empty()) return true;
    const auto sessions = store.sessions();
    return !sessions.empty() && !sessions.back().ended_at;
}

void top(const TopCliOptions& opts) {
    if (!fs::exists(opts.db)) {
        throw Error(ErrorCategory::kNotFound, fmt::format("top: {}: no such store", opts.db),
                    "give the --db of the `joulebench run` to watch");
    }
    live::DashboardOptions o;
    o.title = "joulebench top";
    o.finished = 5;
    const bool terminal = ::isatty(STDOUT_FILENO) == 1;
    if (opts.once || !terminal) {
        const Store store(opts.db, Store::Mode::kReadOnly);
        const auto lines = live::dashboard_lines(snapshot_of(store), o);
        fmt::print("{}\n", fmt::join(lines, "\n"));
        return;
    }
    sigset_t ending;
    sigemptyset(&ending);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&ending, sig);
    pthread_sigmask(SIG_BLOCK, &ending, nullptr);
    std::size_t shown = 0;
    for (;;) {
        bool going = false;
        std::vector<std::string> lines;
        {
            const Store store(opts.db, Store::Mode::kReadOnly);
            const live::LiveSnapshot s = snapshot_of(store);
            going = in_progress(store, s);
            o.width = live::terminal_width(STDOUT_FILENO);
            lines = live::dashboard_lines(s, o);
        }
        if (shown > 1) fmt::print("\033[{}A", shown - 1);
        if (shown > 0) fmt::print("\r\033[J");
        fmt::print("{}", fmt::join(lines, "\n"));
        std::fflush(stdout);
        shown = lines.size();
        if (!going) break;
        const auto ns = static_cast<long>(std::llround(opts.interval_s * 1e9));
        const timespec wait{ns / 1'000'000'000L, ns % 1'000'000'000L};
        if (sigtimedwait(&ending, nullptr, &wait) > 0) break;
    }
    fmt::print("\n");
}

}  // namespace

void add_top_command(CLI::App& app, CommandContext& ctx) {
    auto opts = std::make_shared<TopCliOptions>();
    auto* sub = app.add_subcommand(
        "top",
        "Show the progress of an experiment running elsewhere, from its store: the plan's progress "
        "and ETA, the runs in flight, the last finished runs (Ctrl-C ends)");
    sub->add_option("db", opts->db, "The store of the running experiment (its run --db)")->required();
    sub->add_option("--interval", opts->interval_s, "Seconds between redraws (default 1)")
        ->check(number_range(0.1, 3600.0));
    sub->add_flag("--once", opts->once, "Print the dashboard once and exit (also when not on a terminal)");
    sub->callback([opts, &ctx] {
        top(*opts);
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
