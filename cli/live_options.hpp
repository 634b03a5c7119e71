#pragma once
// The live-view options of the commands that run workloads (`run`, `measure`, `sweep`, `tune`):
// --metrics-listen, --metrics-public, --metrics-linger (docs/live.md). One definition, so the four
// commands spell and explain them alike.

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "live/live_state.hpp"

namespace joulebench::live {
class MetricsServer;
}

namespace joulebench::cli {

struct LiveOptions {
    std::string metrics_listen;
    bool metrics_public = false;
    double metrics_linger_s = 0.0;
    bool plain = false;  ///< --plain: no dashboard on a terminal
};

/// `progress`: the command shows runs' progress (run, sweep, tune), which --plain turns into one
/// line per run on a terminal too.
void add_live_options(CLI::App& sub, LiveOptions& o, bool progress = true);

/// The live state of one command and, with --metrics-listen, its /metrics server (started by the
/// constructor, which throws Error when it cannot listen, before anything runs).
class LiveViews {
public:
    /// `mode`: "run", "measure", "tune-online" (LiveSnapshot::mode); only "run" draws a dashboard.
    LiveViews(const LiveOptions& options, const std::string& mode);
    ~LiveViews();
    LiveViews(const LiveViews&) = delete;
    LiveViews& operator=(const LiveViews&) = delete;

    /// Null when no live view is on (no server; not a terminal's dashboard, or --plain).
    [[nodiscard]] std::shared_ptr<live::LiveState> state() const { return m_server || m_dashboard ? m_state : nullptr; }
    /// The work is over: keeps serving for --metrics-linger, so that a last scrape sees the end.
    void finish();

private:
    LiveOptions m_options;
    std::shared_ptr<live::LiveState> m_state;
    std::unique_ptr<live::MetricsServer> m_server;
    bool m_dashboard = false;
};

}  // namespace joulebench::cli
