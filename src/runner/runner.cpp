#include "runner/runner.hpp"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"
#include "joulebench/units.hpp"
#include "runner/execution.hpp"
#include "runner/preflight.hpp"
#include "runner/scheduler.hpp"
#include "runner/session.hpp"

namespace joulebench::runner {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_stop_signal{0};

void stop_handler(int sig) {
    g_stop_signal.store(sig);
    g_stop.store(true);
}

// --dry-run: what a real run would find, and the plan; nothing is written.
RunnerSummary print_dry_run(const ExperimentSpec& spec, const RunnerOptions& options,
                            const Preflight& pf) {
    RunnerSummary summary;
    summary.planned = pf.plan.runs.size();
    for (const auto& w : pf.plan.warnings) fmt::print(stderr, "warning: {}\n", w);
    if (fs::exists(options.db) && !options.new_store && Store::needs_upgrade(options.db)) {
        fmt::print("{}: a store of an older schema: a run would upgrade it (schema {}), then "
                   "resume it\n",
                   options.db.string(), Store::kSchemaVersion);
    } else if (fs::exists(options.db) && !options.new_store) {
        // The same experiment (then how much is left), or another.
        const Store existing(options.db, Store::Mode::kReadOnly);
        const auto recorded = existing.experiment();
        if (recorded && !same_experiment_text(recorded->file_text, spec.source_text)) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("run: {} holds the results of a different experiment file "
                                    "than {}",
                                    options.db.string(), options.experiment_file.string()),
                        "run with --new to move the old store aside and start afresh, or "
                        "give another --db");
        }
        std::size_t done = 0;
        for (const auto& rec : existing.runs({RunStatus::kDone})) {
            done += std::any_of(pf.plan.runs.begin(), pf.plan.runs.end(),
                                [&](const RunSpec& r) { return r.run_id == rec.run_id; });
        }
        fmt::print("{}: {} of these runs already done (a run would resume)\n",
                   options.db.string(), done);
    }
    fmt::print(
        "experiment {}: {} runs in this plan ({} in all), {} slot(s){}{}; everything checked, "
        "nothing run\n",
        spec.name, pf.plan.runs.size(), pf.plan.total_runs, pf.slots.size(),
        spec.gpus && spec.gpus->mode == GpuMode::kGang ? " in gang mode (every run on every slot)"
                                                       : "",
        pf.capping ? ", caps within every device's range" : "");
    for (const auto& r : pf.plan.runs) {
        fmt::print("{:>5}  {}  {}\n", r.plan_index, r.run_id, describe_run(r));
    }
    return summary;
}

// Replays what a crashed run left in the journal, then starts the guard: both before the first
// cap is written.
std::unique_ptr<CapGuard> secure_caps(const Preflight& pf, RunnerDependencies& deps) {
    if (!pf.capping) return nullptr;
    const auto replay = deps.cappers->restore_leftovers(*pf.journal);
    for (const auto& line : replay.restored)
        fmt::print(deps.progress, "joulebench: caps: left by a crashed run: {}\n", line);
    for (const auto& line : replay.failed) fmt::print(deps.progress, "warning: caps: {}\n", line);
    if (!replay.ok()) {
        throw Error(ErrorCategory::kIo, "run: restore the caps a crashed run left",
                    "run `joulebench caps restore`");
    }
    // The guard restores this process's caps if it dies without doing so (SIGKILL).
    return deps.guard ? deps.guard(!pf.gpu_caps.empty()) : nullptr;
}

// The runs still to do in pass `pass` (a retry pass takes failed and timed-out runs again), in
// plan order.
std::vector<const RunSpec*> pending_runs(const Store& store, const Plan& plan, unsigned pass) {
    std::map<std::string, const RunSpec*> by_id;
    for (const auto& r : plan.runs) by_id[r.run_id] = &r;
    std::vector<const RunSpec*> queue;
    for (const auto& id : store.pending_run_ids(pass > 0)) {
        if (const auto it = by_id.find(id); it != by_id.end()) queue.push_back(it->second);
    }
    return queue;
}

// Gang mode: the runs one after another, each on every slot at once.
void run_gang(const std::vector<std::unique_ptr<Slot>>& slots,
              const std::vector<const RunSpec*>& queue, RunExecutor& executor,
              const std::atomic<bool>& stop) {
    std::vector<Slot*> all;
    for (const auto& s : slots) all.push_back(s.get());
    bool first = true;
    for (const RunSpec* run : queue) {
        if (stop.load() || !executor.caps_ok()) return;
        executor.execute_gang(all, *run, first);
        first = false;
    }
}

}  // namespace

Runner::Runner(ExperimentSpec spec, RunnerOptions options, RunnerDependencies dependencies)
    : m_spec(std::move(spec)), m_options(std::move(options)), m_deps(std::move(dependencies)) {
    if (m_deps.stop == nullptr) m_deps.stop = &stop_requested();
}

Runner::~Runner() = default;

RunnerSummary Runner::run() {
    Preflight pf = preflight(m_spec, m_options, m_deps);
    if (m_options.dry_run) return print_dry_run(m_spec, m_options, pf);
    const std::atomic<bool>& stop = *m_deps.stop;

    const StoreLock store_lock(m_options.db);
    PreparedEnvironments prepared;  // torn down however this function ends
    prepared.prepare(pf);
    std::vector<std::string> interrupted;
    const std::unique_ptr<Store> store =
        open_store(m_spec, m_options, pf.plan, pf.logs_dir, interrupted, m_deps.progress);
    RunnerSummary summary;
    summary.planned = pf.plan.runs.size();
    for (const auto& rec : store->runs({RunStatus::kDone})) {
        summary.already_done += static_cast<std::size_t>(
            std::any_of(pf.plan.runs.begin(), pf.plan.runs.end(),
                        [&](const RunSpec& r) { return r.run_id == rec.run_id; }));
    }
    fs::create_directories(pf.logs_dir);

    // ---- the session ---------------------------------------------------------------------------
    const std::unique_ptr<CapGuard> guard = secure_caps(pf, m_deps);
    if (m_deps.arm_stop) m_deps.arm_stop();
    SessionInfo session;
    session.host_json = host_json(pf);
    session.command_line = m_options.command_line;
    session.shard = m_options.shard;
    session.started_at = unix_now();
    place_session(session, m_deps.slurm_job);
    const std::int64_t session_id = store->begin_session(session);
    std::vector<std::unique_ptr<Slot>> slots = make_slots(pf, *m_deps.sensors);

    // On a terminal the dashboard draws from a live state: the metrics' if they are served.
    const bool terminal = m_deps.terminal && !m_options.plain;
    std::shared_ptr<live::LiveState> live = m_options.live;
    if (!live && terminal) live = std::make_shared<live::LiveState>(live::node_name(), "run");
    Progress progress(m_deps.progress, terminal, pf.plan.runs.size(), summary.already_done,
                      slots.size());
    if (live) {
        live->set_experiment(m_spec.name);
        progress.set_live(live.get());
    }
    for (const auto& w : pf.plan.warnings) progress.message("warning: " + w);
    if (const auto shared = node_sharing(m_deps.slurm_job)) {
        progress.message(fmt::format("warning: {}: CPU package and DRAM energy include the other "
                                     "jobs' and are labelled shared",
                                     *shared));
    }
    if (!interrupted.empty()) {
        progress.message(fmt::format(
            "joulebench run: {} run(s) were interrupted last time and run again", interrupted.size()));
    }
    if (summary.already_done > 0) {
        progress.message(fmt::format("joulebench run: resuming: {} of {} runs already done",
                                     summary.already_done, pf.plan.runs.size()));
    }
    if (m_spec.rest.kind == RestSpec::Kind::kBaseline) {  // before any warm-up
        measure_idle_baselines(slots, *store, session_id, m_options.idle_baseline, stop, progress);
    }
    warm_up(m_spec, m_options, pf, slots, stop, progress);

    // ---- the runs: pass 0, then one pass per retry ---------------------------------------------
    RunExecutor executor({m_spec, m_options, *store, session_id, pf.environments, pf.workloads,
                          *m_deps.cappers, pf.journal ? &*pf.journal : nullptr, stop, progress,
                          pf.logs_dir, node_sharing(m_deps.slurm_job)});
    QueueScheduler scheduler;
    const bool gang = m_spec.gpus && m_spec.gpus->mode == GpuMode::kGang;
    std::optional<std::string> fatal;
    for (unsigned pass = 0; pass <= m_options.retries && !stop.load(); ++pass) {
        const std::vector<const RunSpec*> queue = pending_runs(*store, pf.plan, pass);
        // Nothing new to run: the retry passes still take the runs an earlier invocation left
        // failed or timed out (`run --retries N` on a finished store retries them).
        if (queue.empty() && pass == 0) continue;
        if (queue.empty()) break;
        if (pass > 0) {
            progress.message(fmt::format("joulebench run: retry {}: {} run(s)", pass, queue.size()));
            progress.retrying(queue.size());
        }
        progress.add_pending(queue.size());
        try {
            if (gang) {
                run_gang(slots, queue, executor, stop);
            } else {
                scheduler.run(
                    slots.size(), queue, [&] { return !stop.load() && executor.caps_ok(); },
                    [&](std::size_t slot, const RunSpec& run, bool first) {
                        executor.execute(*slots[slot], run, first);
                    });
            }
        } catch (const std::exception& e) {
            fatal = e.what();
            break;
        }
        if (!executor.caps_ok()) break;
    }
    finish_slots(pf, slots, *store, session_id, m_options.interval, progress);
    progress.close();
    store->end_session(session_id, unix_now());
    summary.executed = executor.executed();
    summary.caps_restored = executor.caps_ok();
    if (guard && summary.caps_restored) guard->done();
    summary.counts = store->status_counts();
    summary.stopped = stop.load();
    if (m_deps.stop_signal) summary.stopped_by_signal = m_deps.stop_signal();
    if (fatal) throw Error(ErrorCategory::kIo, fmt::format("run: stopped: {}", *fatal));
    return summary;
}

std::atomic<bool>& stop_requested() {
    return g_stop;
}

void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = stop_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

std::optional<int> stop_signal() {
    const int sig = g_stop_signal.load();
    if (sig == 0) return std::nullopt;
    return sig;
}

std::string file_tail(const fs::path& path, std::size_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::size_t>(std::max<std::streamoff>(in.tellg(), 0));
    const std::size_t start = size > max_bytes ? size - max_bytes : 0;
    // One byte before the window tells whether it starts at a line start.
    const std::size_t from = start > 0 ? start - 1 : 0;
    in.seekg(static_cast<std::streamoff>(from));
    std::string text(size - from, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
    if (start > 0 && !text.empty()) {
        const bool at_line_start = text.front() == '\n';
        text.erase(0, 1);
        // Starts mid-line: drop the partial first line when a later line exists.
        if (!at_line_start) {
            if (const auto nl = text.find('\n'); nl != std::string::npos && nl + 1 < text.size())
                text.erase(0, nl + 1);
        }
    }
    return text;
}

std::string last_json_object_line(const std::string& text) {
    std::size_t end = text.size();
    while (end > 0) {
        const std::size_t begin = text.rfind('\n', end - 1);
        const std::size_t from = begin == std::string::npos ? 0 : begin + 1;
        std::string line = text.substr(from, end - from);
        const auto first = line.find_first_not_of(" \t\r");
        if (first != std::string::npos && line[first] == '{') {
            const auto parsed = nlohmann::json::parse(line, nullptr, false);
            if (!parsed.is_discarded() && parsed.is_object()) return parsed.dump();
        }
        if (begin == std::string::npos) break;
        end = begin;
    }
    return {};
}

RunnerSummary run_experiment(const RunnerOptions& options) {
    ExperimentSpec spec = parse_experiment_file(options.experiment_file);
    return Runner(std::move(spec), options, production_dependencies()).run();
}

}  // namespace joulebench::runner
