#include "live_options.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <unistd.h>

#include "joulebench/error.hpp"
#include "live/metrics_server.hpp"
#include "runner/runner.hpp"
#include "option_checks.hpp"

namespace joulebench::cli {

void add_live_options(CLI::App& sub, LiveOptions& o, bool progress) {
    if (progress) {
        sub.add_flag("--plain", o.plain,
                     "One line per finished run even on a terminal, instead of the live dashboard");
    }
    sub.add_option("--metrics-listen", o.metrics_listen,
                   "Serve Prometheus metrics (power, energy, GPU telemetry, progress) at "
                   "http://HOST:PORT/metrics while it runs, e.g. 127.0.0.1:9464");
    sub.add_flag("--metrics-public", o.metrics_public,
                 "Allow --metrics-listen on an address other than loopback (anyone who reaches it "
                 "can read the metrics; the endpoint only reads)");
    sub.add_option("--metrics-linger", o.metrics_linger_s,
                   "Keep serving the metrics this many seconds after the end, so that a last scrape "
                   "sees it (default 0)")
        ->check(number_range(0.0, 86400.0));
}

LiveViews::LiveViews(const LiveOptions& options, const std::string& mode)
    : m_options(options),
      m_state(std::make_shared<live::LiveState>(live::node_name(), mode)),
      m_dashboard(mode == "run" && !options.plain && ::isatty(STDERR_FILENO) == 1) {
    if (options.metrics_listen.empty()) {
        if (options.metrics_public || options.metrics_linger_s > 0) {
            throw Error(ErrorCategory::kInvalidArgument,
                        "--metrics-public and --metrics-linger need --metrics-listen",
                        "add --metrics-listen 127.0.0.1:9464");
        }
        return;
    }
    m_server = std::make_unique<live::MetricsServer>(*m_state, live::parse_listen_address(options.metrics_listen),
                                                     options.metrics_public);
    fmt::print(stderr, "joulebench: metrics at {}\n", m_server->url());
    std::fflush(stderr);
}

LiveViews::~LiveViews() = default;

void LiveViews::finish() {
    if (!m_server || m_options.metrics_linger_s <= 0) return;
    fmt::print(stderr, "joulebench: serving the metrics for {} s more (--metrics-linger)\n",
               m_options.metrics_linger_s);
    std::fflush(stderr);
    // In steps, so that SIGINT (the runner's stop handlers) ends the wait.
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(m_options.metrics_linger_s);
    while (std::chrono::steady_clock::now() < until && !runner::stop_requested().load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace joulebench::cli
