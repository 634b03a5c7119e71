#pragma once
// A real results store for the report tests, written through the Store API with numbers the tests
// know: one workload (optionally a second, uncapped store), environments "bare" (first: the
// default baseline) and "docker", GPU caps 100 and 200 W, 3 repetitions, one failed run, a
// session whose host JSON describes the docker image, an idle baseline and the sample trace of
// every done run.

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/experiment.hpp"
#include "joulebench/store.hpp"
#include "unit/store_test_util.hpp"

namespace joulebench::test {

inline constexpr double kReportT0 = 1.75e9;  ///< start of plan index 0 (Unix seconds)
inline constexpr double kReportStep = 30.0;  ///< seconds between two runs' starts
inline constexpr std::size_t kReportTraceRows = 50;

struct ReportStoreOptions {
    std::string workload = "w";
    bool capped = true;     ///< false: no [power_caps], every run uncapped
    bool cpu_caps = false;  ///< also CPU caps 50 and 60 W: both cap domains vary
    std::string order = "shuffled";
    bool docker_first = false;  ///< declare the docker environment before the bare one
};

inline std::string report_experiment(const ReportStoreOptions& o) {
    std::string s = "[experiment]\nname = \"report-test\"\nrepetitions = 3\nseed = 5\norder = \"" +
                    o.order + "\"\n[[workload]]\nname = \"" + o.workload +
                    "\"\ncommand = [\"true\"]\n";
    const std::string bare = "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n";
    const std::string docker =
        "[[environment]]\nname = \"docker\"\ntype = \"docker\"\nimage = \"img:1\"\n";
    s += o.docker_first ? docker + bare : bare + docker;
    if (o.capped) s += "[power_caps]\ngpu_w = [100, 200]\n";
    if (o.capped && o.cpu_caps) s += "cpu_w = [50, 60]\n";
    return s;
}

/// Centre of T (s) and E (J) of (environment, cap); cap 0 stands for uncapped.
inline std::pair<double, double> report_centre(const std::string& env, double cap) {
    double t = cap == 200 ? 8.0 : 10.0;
    double e = cap == 200 ? 1100.0 : 1000.0;
    if (env == "docker") {
        t *= 1.05;
        e *= 1.10;
    }
    return {t, e};
}

/// Relative deviation of repetition r (1-based), the same for T and E.
inline double report_deviation(unsigned repetition) {
    static constexpr std::array<double, 3> kD = {-0.01, 0.0, 0.02};
    return kD.at(repetition - 1);
}

inline bool report_fails(const std::string& env, double cap, unsigned repetition) {
    return env == "docker" && (cap == 200 || cap == 0) && repetition == 3;
}

/// Power of row i of a run's trace: GPU and package columns (W).
inline double report_trace_gpu_w(std::size_t i) {
    return 100.0 + static_cast<double>(i);
}
inline double report_trace_pkg_w(std::size_t i) {
    return 20.0 + 0.5 * static_cast<double>(i);
}

inline Plan write_report_store(const std::filesystem::path& path,
                               const ReportStoreOptions& o = {}) {
    const ExperimentSpec spec = parse_experiment_text(report_experiment(o), "report-test.toml");
    const Plan plan = make_plan(spec);
    Store store(path);
    store.record_experiment(experiment_record(spec));
    SessionInfo session;
    session.started_at = kReportT0 - 60.0;
    session.command_line = "joulebench run report-test.toml --db report.db";
    session.host_json =
        R"({"hostname":"lab-1","cpu":"Fake CPU 9000","cpus":16,"kernel":"Linux 6.1.0",)"
        R"("gpus":[{"index":0,"name":"Fake GPU","uuid":"GPU-1234"}],"gpu_driver":"550.1",)"
        R"("environments":{"docker":{"runtime":"docker 24.0.7","image":"img:1",)"
        R"("image_size_bytes":123456789,"audit":{"schema":"joulebench.image/1",)"
        R"("reference":"img:1","size_bytes":123456789,"layers":[{"size_bytes":1},{"size_bytes":2}],)"
        R"("base":{"name":"debian:bookworm"},"software":{"status":"ok","python":"3.11.2",)"
        R"("torch":"1.13.0a0","torch_cuda":null,"cuda_toolkit":null}}}}})";
    const std::int64_t sid = store.begin_session(session);
    store.record_idle_baseline(
        IdleBaselineRecord{sid, "total", kReportT0 - 30.0, 10.0, 42.5, 35.0, "start"});
    store.add_planned_runs(plan.runs);
    for (const RunSpec& r : plan.runs) {
        const double cap = r.gpu_cap_w.value_or(0.0);
        const double start = kReportT0 + kReportStep * static_cast<double>(r.plan_index);
        store.mark_running(r.run_id, sid, std::nullopt, start);
        if (report_fails(r.environment, cap, r.repetition)) {
            RunOutcome f = outcome(r.run_id, RunStatus::kFailed);
            f.started_at = start;
            f.ended_at = start + 3.0;
            f.exit_code = 2;
            f.stderr_tail = "loading model\nboom: out of memory\n";
            store.finish_run(f);
            continue;
        }
        TraceChunk chunk;
        chunk.run_id = r.run_id;
        chunk.columns = {{"gpu0", "power_w"}, {"package0", "power_w"}, {"gpu0", "energy_j"}};
        chunk.rows = kReportTraceRows;
        for (std::size_t i = 0; i < kReportTraceRows; ++i) {
            chunk.data.push_back(0.1 * static_cast<double>(i));
            chunk.data.push_back(i == 0 ? NAN : report_trace_gpu_w(i));
            chunk.data.push_back(i == 0 ? NAN : report_trace_pkg_w(i));
            chunk.data.push_back(10.0 * static_cast<double>(i));
        }
        store.append_trace_chunk(chunk);
        const auto [t0, e0] = report_centre(r.environment, cap);
        const double d = report_deviation(r.repetition);
        MeasureResult m = example_measure(start);
        m.wall_s = t0 * (1.0 + d);
        m.total_energy_j = e0 * (1.0 + d);
        m.edp_js = m.total_energy_j * m.wall_s;
        m.ed2p_js2 = m.edp_js * m.wall_s;
        m.domains[0].energy_j = 0.7 * m.total_energy_j;
        m.domains[1].energy_j = 0.3 * m.total_energy_j;
        m.warnings = {make_warning(warning_code::kShortRun, "gpu0: short run"),
                      make_warning(warning_code::kSamplerLate,
                                   "sampler: " + std::to_string(r.repetition + 1) + " late ticks")};
        IdleResult idle;
        idle.duration_s = 10.0;
        idle.power_w = 42.5;
        idle.energy_j = idle.power_w * m.wall_s;
        idle.net_energy_j = m.total_energy_j - idle.energy_j;
        m.idle = idle;
        store.finish_run(outcome(r.run_id, RunStatus::kDone, m));
    }
    store.end_session(sid, kReportT0 + kReportStep * static_cast<double>(plan.runs.size()));
    return plan;
}

/// The test's own median (sorting), independent of stats::median.
inline double report_median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// The done values of (environment, cap) for a metric: "wall_s", "energy_j" or "edp_js".
inline std::vector<double> report_values(const std::string& env, double cap,
                                         const std::string& metric) {
    std::vector<double> out;
    const auto [t0, e0] = report_centre(env, cap);
    for (unsigned r = 1; r <= 3; ++r) {
        if (report_fails(env, cap, r)) continue;
        const double d = report_deviation(r);
        const double t = t0 * (1.0 + d);
        const double e = e0 * (1.0 + d);
        out.push_back(metric == "wall_s" ? t : (metric == "energy_j" ? e : e * t));
    }
    return out;
}

}  // namespace joulebench::test
