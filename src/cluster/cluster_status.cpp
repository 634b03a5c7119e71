#include "cluster/cluster_status.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "cluster/batch_scripts.hpp"
#include "joulebench/experiment.hpp"
#include "joulebench/store.hpp"

namespace joulebench::cluster {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::optional<fs::file_time_type> mtime(const fs::path& path) {
    std::error_code ec;
    const auto t = fs::last_write_time(path, ec);
    if (ec) return std::nullopt;
    return t;
}

// results.db is missing or older than a shard store (or its write-ahead log, when that holds
// something: a reader's open may touch an empty one).
bool results_stale(const fs::path& dir, unsigned shards) {
    const auto results = mtime(dir / kResultsName);
    for (unsigned i = 1; i <= shards; ++i) {
        const fs::path store = dir / shard_store_name(i);
        const fs::path wal = dir / (shard_store_name(i) + "-wal");
        std::error_code ec;
        const auto wal_size = fs::file_size(wal, ec);
        for (const auto t : {mtime(store), !ec && wal_size > 0 ? mtime(wal) : std::nullopt}) {
            if (t && (!results || *t > *results)) return true;
        }
    }
    return !results.has_value();
}

void count_runs(const Store& store, const std::set<std::string>& plan_ids, ShardProgress& p) {
    for (const auto& run : store.runs()) {
        if (plan_ids.count(run.run_id) == 0) continue;
        if (run.status == RunStatus::kDone) {
            ++p.done;
            if (run.wall_s) {
                p.wall_sum_s += *run.wall_s;
                ++p.wall_count;
            }
        } else if (run.status == RunStatus::kFailed || run.status == RunStatus::kTimeout) {
            ++p.failed;
        }
    }
    p.ended = p.done + p.failed;
}

void estimate(ClusterStatus& s) {
    std::size_t remaining = 0;
    double wall_sum = 0.0;
    std::size_t wall_count = 0;
    for (const auto& shard : s.shards) {
        const auto& p = shard.progress;
        if (p.planned > p.ended) remaining += p.planned - p.ended;
        wall_sum += p.wall_sum_s;
        wall_count += p.wall_count;
    }
    if (remaining == 0) {
        s.eta_s = 0.0;
        s.eta_note = "every run has ended";
    } else if (wall_count == 0) {
        s.eta_note = "no estimate yet: no run is done";
    } else if (s.running_shards == 0) {
        s.eta_note = fmt::format("no estimate: {} runs left but no shard is running", remaining);
    } else {
        const double mean = wall_sum / static_cast<double>(wall_count);
        s.eta_s = mean * static_cast<double>(remaining) / static_cast<double>(s.running_shards);
        s.eta_note = fmt::format(
            "mean wall time of the {} done runs ({:.3g} s) x {} runs left / {} running shards; "
            "leaves out queue waits, warm-ups, rests and idle baselines",
            wall_count, mean, remaining, s.running_shards);
    }
}

std::string duration_text(double seconds) {
    const auto total = static_cast<long long>(seconds + 0.5);
    if (total < 60) return fmt::format("{} s", total);
    if (total < 3600) return fmt::format("{} min {} s", total / 60, total % 60);
    return fmt::format("{} h {} min", total / 3600, (total % 3600) / 60);
}

}  // namespace

ShardProgress read_shard_progress(const fs::path& dir, const ExperimentSpec& spec, unsigned index,
                                  unsigned count) {
    ShardProgress p;
    const Plan plan = make_plan(spec, Shard{index, count});
    p.planned = plan.runs.size();
    const fs::path path = dir / shard_store_name(index);
    std::error_code ec;
    if (!fs::exists(path, ec)) return p;
    p.exists = true;
    std::set<std::string> ids;
    for (const auto& run : plan.runs) ids.insert(run.run_id);
    try {
        const Store store(path, Store::Mode::kReadOnly);
        const auto experiment = store.experiment();
        if (experiment && !same_experiment_text(experiment->file_text, spec.source_text)) {
            p.error = "holds another experiment file";
            return p;
        }
        count_runs(store, ids, p);
    } catch (const Error& e) {
        p.error = e.what();
    }
    return p;
}

std::vector<std::string> jobs_to_query(const Manifest& manifest) {
    std::vector<std::string> ids;
    const auto add = [&](const SubmittedJob* job) {
        if (job && std::find(ids.begin(), ids.end(), job->job_id) == ids.end()) {
            ids.push_back(job->job_id);
        }
    };
    for (unsigned i = 1; i <= manifest.options.shards; ++i) add(manifest.latest_shard_job(i));
    add(manifest.latest_merge_job());
    return ids;
}

ClusterStatus compute_status(const Manifest& manifest, const fs::path& dir,
                             const ExperimentSpec& spec, const StateQuery& states) {
    ClusterStatus s;
    s.state_source = states.source;
    s.notes = states.notes;
    const unsigned n = manifest.options.shards;
    for (unsigned i = 1; i <= n; ++i) {
        ShardStatus shard;
        shard.index = i;
        if (const SubmittedJob* job = manifest.latest_shard_job(i)) {
            shard.slurm = find_task(states.tasks, job->job_id, i);
        }
        shard.progress = read_shard_progress(dir, spec, i, n);
        if (shard.slurm.state == JobState::kRunning) ++s.running_shards;
        s.planned += shard.progress.planned;
        s.done += shard.progress.done;
        s.failed += shard.progress.failed;
        s.shards.push_back(std::move(shard));
    }
    if (const SubmittedJob* merge = manifest.latest_merge_job()) {
        s.merge.slurm = find_task(states.tasks, merge->job_id, std::nullopt);
    }
    std::error_code ec;
    s.merge.results_exist = fs::exists(dir / kResultsName, ec);
    s.merge.results_stale = results_stale(dir, n);
    estimate(s);
    return s;
}

std::vector<unsigned> shards_to_resume(const ClusterStatus& status) {
    std::vector<unsigned> out;
    for (const auto& shard : status.shards) {
        if (!shard.finished() && !is_active(shard.slurm.state)) out.push_back(shard.index);
    }
    return out;
}

Table status_table(const ClusterStatus& s) {
    Table t{.title = "Shards",
            .headers = {"shard", "job", "slurm state", "runs done", "failed", "store"}};
    for (const auto& shard : s.shards) {
        const auto& p = shard.progress;
        const std::string job = shard.slurm.job_id.empty()
                                    ? "-"
                                    : fmt::format("{}_{}", shard.slurm.job_id, shard.index);
        const std::string store = !p.error.empty()   ? "unreadable: " + p.error
                                  : !p.exists        ? "not yet"
                                  : shard.finished() ? "finished"
                                                     : "in progress";
        std::string state(to_string(shard.slurm.state));
        // sacct did not answer (no accounting) and the controller forgot the job (MinJobAge).
        if (shard.slurm.state == JobState::kUnknown && s.state_source == "scontrol") {
            state += " (no accounting)";
        }
        t.rows.push_back({std::to_string(shard.index), job, state,
                          fmt::format("{}/{}", p.done, p.planned), std::to_string(p.failed),
                          store});
    }
    t.rows.push_back(
        {"total", "", "", fmt::format("{}/{}", s.done, s.planned), std::to_string(s.failed), ""});
    t.align = {Align::kLeft,  Align::kLeft,  Align::kLeft,
               Align::kRight, Align::kRight, Align::kLeft};
    t.note = "ETA: " + (s.eta_s ? duration_text(*s.eta_s) + " (" + s.eta_note + ")" : s.eta_note);
    return t;
}

json status_json(const ClusterStatus& s) {
    json shards = json::array();
    for (const auto& shard : s.shards) {
        const auto& p = shard.progress;
        shards.push_back(
            {{"shard", shard.index},
             {"job_id", shard.slurm.job_id.empty() ? json() : json(shard.slurm.job_id)},
             {"state", to_string(shard.slurm.state)},
             {"slurm_state", shard.slurm.slurm_text},
             {"planned", p.planned},
             {"done", p.done},
             {"failed", p.failed},
             {"finished", shard.finished()},
             {"store_exists", p.exists},
             {"store_error", p.error.empty() ? json() : json(p.error)}});
    }
    const auto& m = s.merge;
    return json{{"shards", shards},
                {"merge",
                 {{"job_id", m.slurm.job_id.empty() ? json() : json(m.slurm.job_id)},
                  {"state", to_string(m.slurm.state)},
                  {"slurm_state", m.slurm.slurm_text},
                  {"results_exist", m.results_exist},
                  {"results_stale", m.results_stale}}},
                {"total", {{"planned", s.planned}, {"done", s.done}, {"failed", s.failed}}},
                {"running_shards", s.running_shards},
                {"eta", {{"seconds", s.eta_s ? json(*s.eta_s) : json()}, {"how", s.eta_note}}},
                {"state_source", s.state_source},
                {"notes", s.notes}};
}

}  // namespace joulebench::cluster
