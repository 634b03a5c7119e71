// `joulebench burn`: the built-in CPU workload used by `make demo`, the tests and the benchmarks.
// It keeps N threads busy for a given time with floating-point work the compiler cannot remove,
// so its CPU time (and so its estimated energy) is known: threads x seconds.

#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "option_checks.hpp"
#include "joulebench/error.hpp"

namespace joulebench::cli {

namespace {

double spin_until(std::chrono::steady_clock::time_point end) {
    double x = 1.0;
    while (std::chrono::steady_clock::now() < end) {
        for (int i = 0; i < 10000; ++i) x = std::sqrt(x * 1.000001 + 1.0);
    }
    return x;
}

}  // namespace

void add_burn_command(CLI::App& app, CommandContext& ctx) {
    struct Options {
        double seconds = 3.0;
        unsigned threads = 1;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand(
        "burn", "Built-in CPU workload: keep THREADS threads busy for SECONDS (for demos and tests)");
    sub->add_option("--seconds", opts->seconds, "How long to run, in seconds")
        ->check(number_range(0.0, 86400.0));
    sub->add_option("--threads", opts->threads, "How many busy threads")->check(number_range(1U, 1024U));
    sub->callback([opts, &ctx] {
        const auto end = std::chrono::steady_clock::now() +
                         std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                             std::chrono::duration<double>(opts->seconds));
        std::atomic<double> sink{0.0};
        std::vector<std::thread> workers;
        workers.reserve(opts->threads);
        for (unsigned t = 0; t < opts->threads; ++t) {
            workers.emplace_back([end, &sink] {
                const double v = spin_until(end);
                double cur = sink.load();
                while (!sink.compare_exchange_weak(cur, cur + v)) {
                }
            });
        }
        for (auto& w : workers) w.join();
        fmt::print("{{\"workload\":\"burn\",\"threads\":{},\"seconds\":{},\"checksum\":{:.3f}}}\n",
                   opts->threads, opts->seconds, sink.load());
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
