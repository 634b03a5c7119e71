// The results store: inserting 10 000 finished runs with their traces (each run marked running,
// its trace written through the StoreTraceSink, then finished in one transaction, as the runner
// does), exporting them as CSV and JSON, and the trace layout chosen (BLOB chunks) against the
// alternative (one SQL row per sample per column). Figures in BENCHMARKS.md ("## Store").

#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <filesystem>
#include <memory>

#include "fakes/test_support.hpp"
#include "joulebench/store.hpp"
#include "runner/store_trace_sink.hpp"
#include "unit/store_test_util.hpp"

namespace joulebench {
namespace {

constexpr std::size_t kRuns = 10000;
constexpr std::size_t kTraceRows = 100;  // 10 s at the default 100 ms interval

class BenchSensor final : public Sensor {
public:
    BenchSensor(std::string id, DomainKind kind) {
        m_info.id = std::move(id);
        m_info.kind = kind;
    }
    const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override { return std::nullopt; }
    SensorHealth health() const override { return {}; }

private:
    SensorInfo m_info;
};

ExperimentSpec bench_spec() {
    // 4 workloads x 2 environments x 5 caps = 40 variants x 250 repetitions = 10 000 runs.
    return parse_experiment_text(
        "[experiment]\nname = \"bench\"\nrepetitions = 250\n"
        "[[workload]]\nname = \"a\"\ncommand = [\"true\"]\n[[workload]]\nname = \"b\"\ncommand = "
        "[\"true\"]\n"
        "[[workload]]\nname = \"c\"\ncommand = [\"true\"]\n[[workload]]\nname = \"d\"\ncommand = "
        "[\"true\"]\n"
        "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n"
        "[[environment]]\nname = \"docker\"\ntype = \"docker\"\nimage = \"x\"\n"
        "[power_caps]\ngpu_w = { from = 150, to = 350, step = 50 }\n",
        "bench.toml");
}

/// Fills `path` with every run of the bench plan done, each with a kTraceRows-row trace of a GPU
/// and a package (2 x 2 energy/power columns + 5 GPU telemetry columns).
void fill(const std::filesystem::path& path) {
    const ExperimentSpec spec = bench_spec();
    const Plan plan = make_plan(spec);
    Store store(path);
    store.record_experiment(experiment_record(spec));
    store.add_planned_runs(plan.runs);
    const auto session = store.begin_session(SessionInfo{});
    BenchSensor gpu("gpu0", DomainKind::kGpu);
    BenchSensor package("package0", DomainKind::kPackage);
    const std::vector<const Sensor*> sensors = {&gpu, &package};
    std::vector<TraceDomainValue> values(2);
    std::vector<std::optional<GpuTelemetry>> telemetry(2);
    GpuTelemetry g;
    g.utilisation_pct = 95;
    g.temperature_c = 65.0;
    g.sm_clock_mhz = 1400;
    g.throttle_reasons = 0;
    g.enforced_limit = Watts(250.0);
    telemetry[0] = g;
    double t0 = 1700000000.0;
    for (const RunSpec& run : plan.runs) {
        store.mark_running(run.run_id, session, 0, t0);
        StoreTraceSink sink(store, run.run_id);
        sink.begin(sensors);
        for (std::size_t i = 0; i < kTraceRows; ++i) {
            const double t = 0.1 * static_cast<double>(i);
            values[0] = TraceDomainValue{25.0 * t, 250.0, true};
            values[1] = TraceDomainValue{8.0 * t, 80.0, true};
            sink.row(t, values, telemetry);
        }
        sink.end();
        RunOutcome outcome;
        outcome.run_id = run.run_id;
        outcome.measure = test::example_measure(t0);
        store.finish_run(outcome);
        t0 += 10.0;
    }
}

void BM_StoreInsert10kRunsWithTraces(benchmark::State& state) {
    for (auto _ : state) {
        test::TempDir dir("joulebench-bench");
        fill(dir.path() / "bench.db");
        state.PauseTiming();
        state.counters["file_MB"] =
            static_cast<double>(std::filesystem::file_size(dir.path() / "bench.db")) / 1e6;
        state.ResumeTiming();
    }
    state.counters["runs_per_s"] =
        benchmark::Counter(static_cast<double>(kRuns) * static_cast<double>(state.iterations()),
                           benchmark::Counter::kIsRate);
}
BENCHMARK(BM_StoreInsert10kRunsWithTraces)->Unit(benchmark::kMillisecond)->Iterations(1);

/// One filled store shared by the export benchmarks.
const std::filesystem::path& filled_store() {
    static const auto dir = std::make_unique<test::TempDir>("joulebench-bench");
    static const std::filesystem::path path = [] {
        const auto p = dir->path() / "export.db";
        fill(p);
        return p;
    }();
    return path;
}

void BM_StoreExportCsv10kRuns(benchmark::State& state) {
    const Store store(filled_store(), Store::Mode::kReadOnly);
    std::size_t bytes = 0;
    for (auto _ : state) {
        const std::string csv = export_csv(store);
        bytes = csv.size();
        benchmark::DoNotOptimize(csv.data());
    }
    state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_StoreExportCsv10kRuns)->Unit(benchmark::kMillisecond);

void BM_StoreExportJson10kRuns(benchmark::State& state) {
    const Store store(filled_store(), Store::Mode::kReadOnly);
    for (auto _ : state) {
        const std::string json = export_json(store);
        benchmark::DoNotOptimize(json.data());
    }
}
BENCHMARK(BM_StoreExportJson10kRuns)->Unit(benchmark::kMillisecond);

// --- trace layout: BLOB chunks (chosen) against one SQL row per sample per column -----------

constexpr std::size_t kLayoutRuns = 100;
constexpr std::size_t kLayoutRows = 600;  // a minute at 100 ms
constexpr std::size_t kLayoutColumns = 9;

void BM_TraceAsBlobChunks(benchmark::State& state) {
    for (auto _ : state) {
        test::TempDir dir("joulebench-bench");
        {
            Store store(dir.path() / "t.db");
            std::vector<RunSpec> runs(kLayoutRuns);
            for (std::size_t r = 0; r < kLayoutRuns; ++r)
                runs[r].run_id = "run" + std::to_string(r);
            store.add_planned_runs(runs);
            for (std::size_t r = 0; r < kLayoutRuns; ++r) {
                TraceChunk chunk;
                chunk.run_id = runs[r].run_id;
                for (std::size_t c = 0; c < kLayoutColumns; ++c)
                    chunk.columns.push_back({"d", std::to_string(c)});
                chunk.rows = kLayoutRows;
                chunk.data.assign(kLayoutRows * (kLayoutColumns + 1), 1.5);
                store.append_trace_chunk(chunk);
            }
        }
        state.counters["file_MB"] =
            static_cast<double>(std::filesystem::file_size(dir.path() / "t.db")) / 1e6;
    }
}
BENCHMARK(BM_TraceAsBlobChunks)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_TraceAsRowPerSample(benchmark::State& state) {
    for (auto _ : state) {
        test::TempDir dir("joulebench-bench");
        {
            Store store(dir.path() / "t.db");
            sqlite3* db = store.handle();
            sqlite3_exec(db,
                         "CREATE TABLE samples (run_id TEXT NOT NULL, t_s REAL NOT NULL, "
                         "column_index INTEGER NOT NULL, "
                         "value REAL, PRIMARY KEY (run_id, t_s, column_index)) WITHOUT ROWID",
                         nullptr, nullptr, nullptr);
            sqlite3_stmt* insert = nullptr;
            sqlite3_prepare_v2(db, "INSERT INTO samples VALUES (?, ?, ?, ?)", -1, &insert, nullptr);
            for (std::size_t r = 0; r < kLayoutRuns; ++r) {
                const std::string id = "run" + std::to_string(r);
                sqlite3_exec(db, "BEGIN", nullptr, nullptr,
                             nullptr);  // one transaction per run, as the chunks
                for (std::size_t i = 0; i < kLayoutRows; ++i) {
                    for (std::size_t c = 0; c < kLayoutColumns; ++c) {
                        sqlite3_bind_text(insert, 1, id.c_str(), -1, SQLITE_STATIC);
                        sqlite3_bind_double(insert, 2, 0.1 * static_cast<double>(i));
                        sqlite3_bind_int64(insert, 3, static_cast<sqlite3_int64>(c));
                        sqlite3_bind_double(insert, 4, 1.5);
                        sqlite3_step(insert);
                        sqlite3_reset(insert);
                    }
                }
                sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
            }
            sqlite3_finalize(insert);
        }
        state.counters["file_MB"] =
            static_cast<double>(std::filesystem::file_size(dir.path() / "t.db")) / 1e6;
    }
}
BENCHMARK(BM_TraceAsRowPerSample)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace joulebench
