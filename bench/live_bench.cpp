// What the live metrics cost (docs/live.md): a scrape's rendering, and a whole scrape over HTTP
// on loopback with the serving thread's own CPU time, for the state of a busy 8-GPU run (8 runs
// in flight, 3 domains each with GPU telemetry, 64 finished runs kept). The baseline in the same
// process is what the sampling threads pay per trace row to feed the state
// (BM_LiveTraceRow): the ratio says how many rows' worth one scrape costs. BENCHMARKS.md, "Live
// metrics", turns the per-scrape CPU into the share of a core at one scrape a second.

#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "fakes/still_sensor.hpp"
#include "live/live_state.hpp"
#include "live/metrics_server.hpp"
#include "live/prometheus_text.hpp"

namespace {

using namespace joulebench;
using test::StillSensor;

struct BusyRun {
    std::vector<std::unique_ptr<StillSensor>> sensors;
    std::vector<TraceDomainValue> values;
    std::vector<std::optional<GpuTelemetry>> telemetry;
};

// 8 runs in flight (gpu i, package0, dram0), rows arrived, 64 finished runs.
std::unique_ptr<live::LiveState> busy_state(std::vector<BusyRun>& runs) {
    auto state = std::make_unique<live::LiveState>("gpu-node-01", "run");
    state->set_experiment("bare-docker-kvm");
    state->plan(1800, 400, 8);
    state->add_pending(1400);
    for (int f = 0; f < 64; ++f) {
        live::RunLabels l;
        l.run_id = "done-" + std::to_string(f);
        l.workload = "resnet50-train";
        l.environment = "docker";
        l.gpu_cap_w = 200;
        l.repetition = f % 10 + 1;
        l.slot = f % 8;
        state->run_started(l);
        state->run_finished(l.run_id, RunStatus::kDone, 312.5, 80312.25, "");
    }
    runs.resize(8);
    for (int i = 0; i < 8; ++i) {
        live::RunLabels l;
        l.run_id = "run-" + std::to_string(i);
        l.workload = "bert-infer";
        l.environment = "kvm";
        l.gpu_cap_w = 260;
        l.repetition = 4;
        l.slot = i;
        state->run_started(l);
        const std::pair<std::string, DomainKind> domains[] = {
            {"gpu" + std::to_string(i), DomainKind::kGpu}, {"package0", DomainKind::kPackage}, {"dram0", DomainKind::kDram}};
        std::vector<const Sensor*> pointers;
        for (const auto& [id, kind] : domains) {
            SensorInfo info;
            info.id = id;
            info.kind = kind;
            runs[i].sensors.push_back(std::make_unique<StillSensor>(info));
            pointers.push_back(runs[i].sensors.back().get());
            TraceDomainValue v;
            v.energy_j = 12345.678;
            v.power_w = 243.25;
            v.valid = true;
            runs[i].values.push_back(v);
            GpuTelemetry t;
            t.utilisation_pct = 97;
            t.temperature_c = 66;
            t.sm_clock_mhz = 1755;
            t.throttle_reasons = 0x4;
            t.enforced_limit = Watts(260);
            runs[i].telemetry.push_back(kind == DomainKind::kGpu ? std::optional<GpuTelemetry>(t) : std::nullopt);
        }
        state->trace_begin(l.run_id, 0, pointers);
        state->trace_row(l.run_id, 0, runs[i].values, runs[i].telemetry);
    }
    return state;
}

// Baseline: one trace row into the state, as a sampling thread pays it.
void BM_LiveTraceRow(benchmark::State& st) {
    std::vector<BusyRun> runs;
    const auto state = busy_state(runs);
    for (auto _ : st) state->trace_row("run-3", 0, runs[3].values, runs[3].telemetry);
}
BENCHMARK(BM_LiveTraceRow);

// A scrape's work without the network: snapshot, /proc/self reads, text.
void BM_ScrapeRender(benchmark::State& st) {
    std::vector<BusyRun> runs;
    const auto state = busy_state(runs);
    std::size_t bytes = 0;
    for (auto _ : st) {
        const std::string text = live::prometheus_text(state->snapshot(), live::read_process_now());
        bytes = text.size();
        benchmark::DoNotOptimize(text.data());
    }
    st.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_ScrapeRender);

// Its parts: the snapshot copy, the /proc reads of the process metrics, the text.
void BM_ScrapeSnapshotOnly(benchmark::State& st) {
    std::vector<BusyRun> runs;
    const auto state = busy_state(runs);
    for (auto _ : st) benchmark::DoNotOptimize(state->snapshot().running.size());
}
BENCHMARK(BM_ScrapeSnapshotOnly);

void BM_ScrapeProcessMetricsOnly(benchmark::State& st) {
    for (auto _ : st) benchmark::DoNotOptimize(live::read_process_now().cpu_s);
}
BENCHMARK(BM_ScrapeProcessMetricsOnly);

std::string get(unsigned short port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        const std::string req = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
        if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
            char buf[65536];
            for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return out;
}

// A whole scrape over loopback HTTP (a new connection each, as Prometheus without keep-alive).
// server_cpu_us: the serving thread's CPU per scrape (what a scrape costs the measured machine
// beyond the client); share_at_1Hz_pct: that at one scrape a second, as a percentage of a core.
void BM_ScrapeHttp(benchmark::State& st) {
    std::vector<BusyRun> runs;
    const auto state = busy_state(runs);
    live::MetricsServer server(*state, live::ListenAddress{"127.0.0.1", 0}, false);
    const double cpu0 = state->snapshot().monitoring.serving_cpu_s;
    std::size_t n = 0;
    for (auto _ : st) {
        benchmark::DoNotOptimize(get(server.port()).size());
        ++n;
    }
    const double cpu = state->snapshot().monitoring.serving_cpu_s - cpu0;
    const double per_scrape_s = n > 0 ? cpu / static_cast<double>(n) : 0.0;
    st.counters["server_cpu_us"] = per_scrape_s * 1e6;
    st.counters["share_at_1Hz_pct"] = per_scrape_s * 100.0;
}
BENCHMARK(BM_ScrapeHttp)->UseRealTime();

}  // namespace
