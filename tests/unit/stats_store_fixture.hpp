#pragma once
// A real SQLite results store for the `analyze DB` tests, written through the Store API: 2
// workloads x 3 environments x 3 GPU caps x 5 repetitions with synthetic T and E that the tests
// know, three runs that did not finish (two failed, one timeout), and start times that follow the
// plan order (shuffled or blocked), one run every 20 s.

#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "joulebench/experiment.hpp"
#include "joulebench/store.hpp"
#include "unit/store_test_util.hpp"

namespace joulebench::test {

inline constexpr double kStoreT0 = 1.7e9;  ///< start of the first run (Unix seconds)
inline constexpr double kStoreStep = 20.0;

/// The experiment file; `order` is "shuffled" or "blocked".
inline std::string analyze_store_experiment(const std::string& order) {
    return "[experiment]\nname = \"analyze-db\"\nrepetitions = 5\nseed = 11\norder = \"" + order +
           "\"\n"
           "[[workload]]\nname = \"resnet\"\ncommand = [\"true\"]\n"
           "[[workload]]\nname = \"bert\"\ncommand = [\"true\"]\n"
           "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n"
           "[[environment]]\nname = \"docker\"\ntype = \"docker\"\nimage = \"img:1\"\n"
           "[[environment]]\nname = \"podman\"\ntype = \"podman\"\nimage = \"img:2\"\n"
           "[power_caps]\ngpu_w = [150, 200, 250]\n";
}

/// The centre of T (s) and E (J) of one (workload, environment, cap): chosen so that the optima
/// differ between workloads and the overheads of podman differ between caps.
struct Centre {
    double t;
    double e;
};

inline Centre synthetic_centre(const std::string& workload, const std::string& env, double cap) {
    // bare, per cap 150 / 200 / 250.
    static const std::map<std::pair<std::string, double>, Centre> kBare = {
        {{"resnet", 150}, {12.0, 1500.0}}, {{"resnet", 200}, {10.0, 1550.0}},
        {{"resnet", 250}, {9.5, 1800.0}},  {{"bert", 150}, {8.0, 700.0}},
        {{"bert", 200}, {6.0, 720.0}},     {{"bert", 250}, {5.0, 800.0}}};
    Centre c = kBare.at({workload, cap});
    if (env == "docker") {
        c.t *= 1.02;
        c.e *= 1.05;
    } else if (env == "podman") {
        const double k = cap == 150 ? 0 : (cap == 200 ? 1 : 2);
        c.t *= 1.01 + 0.02 * k;  // 1.01, 1.03, 1.05
        c.e *= 1.00 + 0.02 * k;  // 1.00, 1.02, 1.04
    }
    return c;
}

/// Relative deviation of repetition r (1-based) from the centre, the same for T and E.
inline double synthetic_deviation(unsigned repetition) {
    static constexpr std::array<double, 5> kD = {-0.02, -0.01, 0.0, 0.01, 0.02};
    return kD.at(repetition - 1);
}

/// The runs that do not finish: (workload, environment, cap, repetition) -> status.
inline RunStatus synthetic_status(const std::string& workload, const std::string& env, double cap,
                                  unsigned repetition) {
    if (workload == "resnet" && env == "docker" && cap == 200 && repetition == 5) {
        return RunStatus::kFailed;
    }
    if (workload == "bert" && env == "bare" && cap == 250 && repetition == 1) {
        return RunStatus::kFailed;
    }
    if (workload == "bert" && env == "docker" && cap == 150 && repetition == 3) {
        return RunStatus::kTimeout;
    }
    return RunStatus::kDone;
}

/// Writes the store at `path`; returns the plan that was used.
inline Plan write_analyze_store(const std::filesystem::path& path, const std::string& order) {
    const ExperimentSpec spec =
        parse_experiment_text(analyze_store_experiment(order), "analyze-db.toml");
    const Plan plan = make_plan(spec);
    Store store(path);
    store.record_experiment(experiment_record(spec));
    SessionInfo session;
    session.started_at = kStoreT0;
    const std::int64_t sid = store.begin_session(session);
    store.add_planned_runs(plan.runs);
    for (const RunSpec& r : plan.runs) {
        const double start = kStoreT0 + kStoreStep * static_cast<double>(r.plan_index);
        store.mark_running(r.run_id, sid, std::nullopt, start);
        const RunStatus status =
            synthetic_status(r.workload, r.environment, *r.gpu_cap_w, r.repetition);
        if (status != RunStatus::kDone) {
            RunOutcome o = outcome(r.run_id, status);
            o.started_at = start;
            o.ended_at = start + 5.0;
            o.exit_code = 1;
            store.finish_run(o);
            continue;
        }
        const Centre c = synthetic_centre(r.workload, r.environment, *r.gpu_cap_w);
        const double d = synthetic_deviation(r.repetition);
        MeasureResult m = example_measure(start);
        m.wall_s = c.t * (1.0 + d);
        m.total_energy_j = c.e * (1.0 + d);
        m.edp_js = m.total_energy_j * m.wall_s;
        m.ed2p_js2 = m.edp_js * m.wall_s;
        // GPU 70%, package 30% of the total (the core domain does not count in it).
        m.domains[0].energy_j = 0.7 * m.total_energy_j;
        m.domains[1].energy_j = 0.3 * m.total_energy_j;
        RunOutcome o = outcome(r.run_id, RunStatus::kDone, m);
        store.finish_run(o);
    }
    store.end_session(sid, kStoreT0 + kStoreStep * static_cast<double>(plan.runs.size()));
    return plan;
}

/// Median by sorting (the tests' own, independent of stats::median).
inline double plain_median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// The done values of one cell: T, E, E T, E T^2 per run.
struct CellValues {
    std::vector<double> t, e, edp, ed2p;
};

inline CellValues synthetic_cell(const std::string& workload, const std::string& env, double cap) {
    CellValues v;
    const Centre c = synthetic_centre(workload, env, cap);
    for (unsigned r = 1; r <= 5; ++r) {
        if (synthetic_status(workload, env, cap, r) != RunStatus::kDone) continue;
        const double d = synthetic_deviation(r);
        const double t = c.t * (1.0 + d);
        const double e = c.e * (1.0 + d);
        v.t.push_back(t);
        v.e.push_back(e);
        v.edp.push_back(e * t);
        v.ed2p.push_back(e * t * t);
    }
    return v;
}

}  // namespace joulebench::test
