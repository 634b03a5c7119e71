// Writes the seeds of the fuzz targets that no file of the repository holds as it is (`make
// fuzz` runs it; docs/fuzzing.md): a measurement's JSON and the ssh stream that carries it with
// its trace, written by the real measure_to_json; a power-cap journal entry written by
// entry_to_json; stores: the schema-1 fixtures of tests/data/store (SQL text) loaded into SQLite
// files, and a store of the current schema written through the Store API.
//
//   joulebench_fuzz_seeds SOURCE_DIR OUT_DIR   (writes OUT_DIR/<target>/...)

#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "capping/cap_journal.hpp"
#include "environments/ssh_remote.hpp"
#include "joulebench/experiment.hpp"
#include "joulebench/store.hpp"
#include "model/measure_json.hpp"

namespace fs = std::filesystem;
using namespace joulebench;

namespace {

void write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// A measurement of one GPU and one package, with a cap, an idle baseline and warnings (the
// store tests' and measure_json tests' shapes).
MeasureResult measurement(double started_at) {
    MeasureResult m;
    m.command = {"python3", "-c", "print('x')"};
    m.exit_code = 0;
    m.started_at = started_at;
    m.wall_s = 2.0;
    m.cpu_user_s = 1.5;
    m.cpu_system_s = 0.25;
    DomainResult gpu;
    gpu.info.id = "gpu0";
    gpu.info.kind = DomainKind::kGpu;
    gpu.info.index = 0;
    gpu.info.method = Method::kCounter;
    gpu.info.backend = "nvml";
    gpu.info.name = "Fake GPU";
    gpu.info.update_period = std::chrono::microseconds(20000);
    gpu.energy_j = 100.0;
    gpu.avg_power_w = 50.0;
    gpu.peak_power_w = 80.0;
    gpu.counts_in_total = true;
    gpu.idle_power_w = 20.0;
    gpu.net_energy_j = 60.0;
    DomainResult package;
    package.info.id = "package0";
    package.info.kind = DomainKind::kPackage;
    package.info.index = 0;
    package.info.method = Method::kCounter;
    package.info.backend = "powercap";
    package.info.name = "package-0";
    package.info.wrap_range = Joules(262143.99);
    package.energy_j = 40.0;
    package.avg_power_w = 20.0;
    package.counts_in_total = true;
    package.sharing = Sharing::kAttributed;
    package.cpu_time_share = 0.5;
    package.measured_energy_j = 80.0;
    package.health.wraps = 1;
    m.domains = {gpu, package};
    GpuResult g;
    g.index = 0;
    g.id = "gpu0";
    g.name = "Fake GPU";
    g.uuid = "GPU-1234";
    g.mean_utilisation_pct = 97.5;
    g.max_utilisation_pct = 100;
    g.max_temperature_c = 71.0;
    g.mean_sm_clock_mhz = 1410.0;
    g.throttle_mask = 0x4;
    g.throttle_reasons = throttle_reason_names(g.throttle_mask);
    g.enforced_limit_w = 150.0;
    m.gpus = {g};
    PowerCapResult cap;
    cap.id = "gpu0";
    cap.kind = "gpu";
    cap.index = 0;
    cap.label = "GPU 0 (Fake GPU)";
    cap.key = "GPU-1234";
    cap.requested_w = 150.0;
    cap.enforced_w = 150.0;
    cap.original_w = 250.0;
    cap.default_w = 250.0;
    cap.restored = true;
    m.power_caps = {cap};
    m.total_energy_j = 140.0;
    m.edp_js = 280.0;
    m.ed2p_js2 = 560.0;
    IdleResult idle;
    idle.duration_s = 5.0;
    idle.power_w = 22.0;
    idle.energy_j = 44.0;
    idle.net_energy_j = 96.0;
    idle.domain_power_w = {{"gpu0", 20.0}, {"package0", 2.0}};
    m.idle = idle;
    m.warnings = {make_warning(warning_code::kShortRun, "gpu0: short run")};
    m.samples = 3;
    m.polls = 15;
    m.interval_ms = 100.0;
    m.poll_interval_ms = 20.0;
    return m;
}

// What `measure --samples` writes for measurement()'s domains (csv_trace.hpp).
const std::string kTrace =
    "time_s,gpu0_power_w,gpu0_energy_j,package0_power_w,package0_energy_j,"
    "gpu0_utilisation_pct,gpu0_temperature_c,gpu0_sm_clock_mhz,gpu0_throttle_reasons,"
    "gpu0_enforced_limit_w\n"
    "0.000000,,0.000000,,0.000000,90,40,1410,0x0,150.000\n"
    "0.100000,50,5.000000,20,2.000000,95,41.5,1410,0x4,150.000\n"
    "0.200000,55,10.500000,,,100,42,1395,0x4,150.000\n";

void measure_seeds(const fs::path& out) {
    const std::string json = measure_to_json(measurement(1763740000.5)).dump(2);
    write(out / "fuzz_measure_json" / "measurement.json", json);
    const std::string nonce = "0123456789abcdef0123456789abcdef";
    // The first byte is the chunk size selector of fuzz_ssh_output.
    const std::string start = environments::ssh::start_line(nonce) + "\n";
    const std::string end = "\n" + environments::ssh::end_line_prefix(nonce);
    write(out / "fuzz_ssh_output" / "with-trace",
          std::string(1, '\x03') + "login banner\n" + start + "workload output\n" + end +
              "0:" + std::to_string(json.size()) + ":" + std::to_string(kTrace.size()) + "\n" +
              json + kTrace);
    write(out / "fuzz_ssh_output" / "without-trace", std::string(1, '\x00') + start + "out" + end +
                                                         "0:" + std::to_string(json.size()) + "\n" +
                                                         json);
}

void journal_seed(const fs::path& out) {
    CapDeviceInfo device;
    device.target = CapTarget::kGpu;
    device.index = 0;
    device.id = "gpu0";
    device.key = "GPU-1234";
    device.backend = "nvml";
    device.source = "GPU-1234";
    device.name = "Fake GPU";
    device.label = "GPU 0 (Fake GPU)";
    auto entry = capping::new_journal_entry(device, Watts(250.0), Watts(300.0), Watts(150.0));
    write(out / "fuzz_cap_journal" / "nvml-GPU-1234.json", capping::entry_to_json(entry));
}

void sql_store(const fs::path& sql, const fs::path& db) {
    fs::remove(db);
    sqlite3* handle = nullptr;
    if (sqlite3_open(db.c_str(), &handle) != SQLITE_OK ||
        sqlite3_exec(handle, read(sql).c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
        const std::string message = handle != nullptr ? sqlite3_errmsg(handle) : "out of memory";
        sqlite3_close(handle);
        throw std::runtime_error("load " + sql.string() + ": " + message);
    }
    sqlite3_close(handle);
}

void store_seeds(const fs::path& source, const fs::path& out) {
    const fs::path dir = out / "fuzz_store";
    fs::create_directories(dir);
    for (const auto& file : fs::directory_iterator(source / "tests" / "data" / "store")) {
        if (file.path().extension() != ".sql") continue;
        sql_store(file.path(), dir / (file.path().stem().string() + ".db"));
    }
    const fs::path db = dir / "current.db";
    fs::remove(db);
    const auto spec = parse_experiment_text(
        "[experiment]\nname = \"seed\"\nrepetitions = 2\nseed = 3\n"
        "[[workload]]\nname = \"w\"\ncommand = [\"true\"]\n"
        "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n"
        "[[environment]]\nname = \"docker\"\ntype = \"docker\"\nimage = \"debian:12\"\n",
        "seed.toml");
    {
        Store store(db, Store::Mode::kCreate);
        store.record_experiment(experiment_record(spec));
        SessionInfo session;
        session.command_line = "joulebench run seed.toml";
        session.started_at = 1763740000.0;
        const auto session_id = store.begin_session(session);
        const auto plan = make_plan(spec);
        store.add_planned_runs(plan.runs);
        double at = 1763740001.0;
        for (const auto& run : plan.runs) {
            store.mark_running(run.run_id, session_id, 0, at);
            RunOutcome outcome;
            outcome.run_id = run.run_id;
            outcome.measure = measurement(at);
            outcome.measure->domains[0].energy_j += at - 1763740000.0;
            outcome.stderr_tail = "done\n";
            outcome.metrics_json = "{\"images_per_s\": 12.5}";
            store.finish_run(outcome);
            TraceChunk chunk;
            chunk.run_id = run.run_id;
            chunk.columns = {{"gpu0", "energy_j"}, {"gpu0", "power_w"}};
            chunk.rows = 2;
            chunk.data = {0.0, 0.0, 0.0, 0.1, 5.0, 50.0};
            store.append_trace_chunk(chunk);
            at += 10.0;
        }
        store.end_session(session_id, at);
    }
    for (const char* suffix : {"-wal", "-shm"}) fs::remove(db.string() + suffix);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: joulebench_fuzz_seeds SOURCE_DIR OUT_DIR\n";
        return 2;
    }
    try {
        const fs::path source = argv[1];
        const fs::path out = argv[2];
        measure_seeds(out);
        journal_seed(out);
        store_seeds(source, out);
    } catch (const std::exception& e) {
        std::cerr << "joulebench_fuzz_seeds: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
