// `joulebench exporter [--listen ADDR]`: serve this machine's energy sensors as Prometheus metrics
// without running anything (a node exporter for energy: idle power between experiments).

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "commands.hpp"
#include "joulebench/error.hpp"
#include "live/live_sink.hpp"
#include "live/live_state.hpp"
#include "live/metrics_server.hpp"
#include "measure/sampler.hpp"
#include "option_checks.hpp"
#include "sensors/registry.hpp"

namespace joulebench::cli {

namespace {

struct ExporterCliOptions {
    std::string listen = "127.0.0.1:9464";
    bool is_public = false;
    unsigned interval_ms = 1000;
    std::string gpus = "all";
    double cpu_tdp_w = 0.0;
};

void exporter(const ExporterCliOptions& opts, CommandContext& ctx) {
    const live::ListenAddress address = live::parse_listen_address(opts.listen);
    ProbeOptions probe;
    probe.nvml.gpus = nvml::GpuSelection::parse(opts.gpus);
    if (opts.cpu_tdp_w > 0) probe.cpu_tdp_w = opts.cpu_tdp_w;
    SensorSet sensors = probe_all(probe);
    if (sensors.selection_error) throw *sensors.selection_error;
    if (sensors.sensors.empty()) {
        throw Error(ErrorCategory::kNotFound, "exporter: no energy sensor can be read here",
                    "`joulebench sensors -v` says why");
    }

    // The signals that end it wait for sigtimedwait below, in every thread started from here on.
    sigset_t ending;
    sigemptyset(&ending);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&ending, sig);
    pthread_sigmask(SIG_BLOCK, &ending, nullptr);

    live::LiveState state(live::node_name(), "exporter");
    live::LiveTraceSink sink(&state, live::kMachine, 0, nullptr);
    Sampler sampler(sensors.pointers(), std::chrono::milliseconds(opts.interval_ms), &sink);
    live::MetricsServer server(state, address, opts.is_public);
    sampler.start();
    fmt::print(stderr, "joulebench exporter: {} domain(s) every {} ms at {} (Ctrl-C ends)\n",
               sensors.sensors.size(), opts.interval_ms, server.url());
    std::fflush(stderr);

    int signal = 0;
    while (signal <= 0) {
        // The sampler's own costs shown are at most a quarter of a second old.
        const timespec quarter{0, 250'000'000};
        signal = sigtimedwait(&ending, nullptr, &quarter);
        state.sampler_stats(sampler.stats_now(), /*running=*/true);
    }
    sampler.stop();
    fmt::print(stderr, "joulebench exporter: stopped by signal {}\n", signal);
    ctx.exit_code = 0;
}

}  // namespace

void add_exporter_command(CLI::App& app, CommandContext& ctx) {
    auto opts = std::make_shared<ExporterCliOptions>();
    auto* sub = app.add_subcommand(
        "exporter",
        "Serve this machine's energy sensors as Prometheus metrics, running nothing (idle power "
        "between experiments); Ctrl-C ends it");
    sub->add_option("--listen", opts->listen,
                    "Serve http://HOST:PORT/metrics (default 127.0.0.1:9464)");
    sub->add_flag("--public", opts->is_public,
                  "Allow --listen on an address other than loopback (the endpoint only reads)");
    sub->add_option("--interval", opts->interval_ms,
                    "How often the power and energy shown are updated, in milliseconds (default "
                    "1000; counters that need it are read more often)")
        ->check(number_range(10U, 3'600'000U));
    sub->add_option("--gpus", opts->gpus, "GPUs to read: all, none, or indices in PCI bus order (0,1)");
    sub->add_option("--cpu-tdp", opts->cpu_tdp_w,
                    "CPU package TDP in watts, for the CPU-time estimate when no CPU sensor exists")
        ->check(number_range(1.0, 5000.0));
    sub->callback([opts, &ctx] { exporter(*opts, ctx); });
}

}  // namespace joulebench::cli
