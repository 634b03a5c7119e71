// Writes a large results store through the Store API for bench/report_render.sh: 2 workloads x 2
// environments x 5 GPU caps x R repetitions (R = runs / 20, so 10 000 runs by default), every run
// done with synthetic T and E (2% normal noise, fixed seed), warnings on some, and a 120-row power
// trace per run. Not a test helper: the numbers only need to look like an experiment.
// Usage: report_store_gen DB [RUNS]

#include <fmt/core.h>
#include <sqlite3.h>

#include <cmath>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <random>
#include <string>

#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"
#include "joulebench/store.hpp"

namespace {

int generate(const std::filesystem::path& db, std::size_t runs) {
    using namespace joulebench;
    const std::size_t reps = std::max<std::size_t>(1, runs / 20);
    const std::string file = fmt::format(
        "[experiment]\nname = \"report-bench\"\nrepetitions = {}\nseed = 42\n"
        "[[workload]]\nname = \"resnet50-infer\"\ncommand = [\"true\"]\n"
        "[[workload]]\nname = \"bert-infer\"\ncommand = [\"true\"]\n"
        "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n"
        "[[environment]]\nname = \"docker\"\ntype = \"docker\"\nimage = \"pytorch:2.1\"\n"
        "[power_caps]\ngpu_w = [150, 200, 250, 300, 350]\n",
        reps);
    const ExperimentSpec spec = parse_experiment_text(file, "report-bench.toml");
    const Plan plan = make_plan(spec);
    std::filesystem::remove(db);
    Store store(db);
    // A benchmark fixture, not a measurement: durability is not needed while writing it.
    sqlite3_exec(store.handle(), "PRAGMA synchronous = OFF", nullptr, nullptr, nullptr);
    store.record_experiment(experiment_record(spec));
    SessionInfo session;
    session.started_at = 1.75e9;
    session.host_json =
        R"({"hostname":"bench","cpu":"Synthetic CPU","cpus":64,"kernel":"Linux 6.1.0",)"
        R"("gpus":[{"index":0,"name":"Synthetic GPU","uuid":"GPU-0"}],"gpu_driver":"550.54",)"
        R"("environments":{"docker":{"runtime":"docker 24.0.7","image":"pytorch:2.1",)"
        R"("image_size_bytes":8123456789}}})";
    const auto sid = store.begin_session(session);
    store.add_planned_runs(plan.runs);
    std::mt19937_64 rng(42);
    std::normal_distribution<double> noise(0.0, 0.02);
    double t = session.started_at;
    for (const RunSpec& r : plan.runs) {
        const double cap = *r.gpu_cap_w;
        const double base_t = (r.workload == "bert-infer" ? 6.0 : 10.0) * std::sqrt(250.0 / cap);
        const double power = 0.8 * cap;
        const double env = r.environment == "docker" ? 1.03 : 1.0;
        store.mark_running(r.run_id, sid, 0, t);
        MeasureResult m;
        m.command = {"true"};
        m.started_at = t;
        m.wall_s = base_t * env * (1.0 + noise(rng));
        m.total_energy_j = m.wall_s * power * (1.0 + noise(rng));
        m.edp_js = m.total_energy_j * m.wall_s;
        m.ed2p_js2 = m.edp_js * m.wall_s;
        DomainResult gpu;
        gpu.info.id = "gpu0";
        gpu.info.kind = DomainKind::kGpu;
        gpu.energy_j = 0.8 * m.total_energy_j;
        gpu.avg_power_w = gpu.energy_j / m.wall_s;
        gpu.counts_in_total = true;
        DomainResult pkg;
        pkg.info.id = "package0";
        pkg.info.kind = DomainKind::kPackage;
        pkg.energy_j = 0.2 * m.total_energy_j;
        pkg.avg_power_w = pkg.energy_j / m.wall_s;
        pkg.counts_in_total = true;
        m.domains = {gpu, pkg};
        if (r.plan_index % 7 == 0)
            m.warnings.push_back(
                make_warning(warning_code::kShortRun, "gpu0: run shorter than 100 samples"));
        TraceChunk chunk;
        chunk.run_id = r.run_id;
        chunk.columns = {{"gpu0", "power_w"}, {"package0", "power_w"}};
        chunk.rows = 120;
        for (std::size_t i = 0; i < chunk.rows; ++i) {
            const double ti = m.wall_s * static_cast<double>(i) / 120.0;
            chunk.data.push_back(ti);
            chunk.data.push_back(gpu.avg_power_w * (1.0 + 0.05 * std::sin(ti)));
            chunk.data.push_back(pkg.avg_power_w * (1.0 + 0.05 * std::cos(ti)));
        }
        store.append_trace_chunk(chunk);
        RunOutcome o;
        o.run_id = r.run_id;
        o.status = RunStatus::kDone;
        o.measure = m;
        o.gpu = 0;
        store.finish_run(o);
        t += m.wall_s + 2.0;
    }
    store.end_session(sid, t);
    fmt::print("{}: {} runs\n", db.string(), plan.runs.size());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        fmt::print(stderr, "usage: report_store_gen DB [RUNS]\n");
        return 2;
    }
    try {
        const std::size_t runs = argc == 3 ? std::stoul(argv[2]) : 10000;
        return generate(argv[1], runs);
    } catch (const std::exception& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return 1;
    }
}
