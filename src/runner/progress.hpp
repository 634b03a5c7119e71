#pragma once
// What `joulebench run` shows while it runs. On a terminal: with a live state (set_live), the
// dashboard (live/dashboard.hpp: progress bar, ETA, the runs in flight with their power, the last
// finished runs), redrawn in place twice a second; without one, one line rewritten in place
// with done/total, failures, the runs going on and an ETA. Failures and messages are printed
// above either as lines of their own. Otherwise (a log file, CI, Slurm, --plain): one line per
// finished run. Thread-safe: GPU slots report concurrently.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "joulebench/experiment.hpp"
#include "joulebench/store.hpp"
#include "live/live_state.hpp"

namespace joulebench::runner {

/// "resnet50/bare/250 W/#3": a run as progress lines name it.
[[nodiscard]] std::string describe_run(const RunSpec& run);

class Progress {
public:
    /// `out` is written to (normally stderr); `terminal` selects the one-line display.
    /// `total` runs are in this invocation's plan, `already_done` of them were done before.
    Progress(std::FILE* out, bool terminal, std::size_t total, std::size_t already_done,
             std::size_t slots);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    /// Shows everything from now on in `live` too (the metrics endpoint, the dashboard), starting
    /// with the plan. May be null (nothing more is shown); must outlive this Progress.
    void set_live(live::LiveState* live);
    [[nodiscard]] live::LiveState* live() const { return m_live; }

    /// A line of its own (a warning, a note), printed above the progress line.
    void message(const std::string& text);
    /// Runs to do in this pass (a retry pass adds its runs again).
    void add_pending(std::size_t runs);
    /// A retry pass takes `runs` failed runs back (they are counted again when they finish).
    void retrying(std::size_t runs);
    void started(const RunSpec& run, std::optional<int> gpu);
    /// `detail`: for failures, the reason and the last stderr line. `energy_how`: how the
    /// total was obtained when not purely measured ("CPU estimated", "CPU attributed"),
    /// printed beside it.
    void finished(const RunSpec& run, std::optional<int> gpu, RunStatus status, double wall_s,
                  std::optional<double> energy_j, const std::string& detail,
                  const std::string& energy_how = {});
    /// Ends the display (the terminal line is completed with a newline).
    void close();

    /// The ETA text for `remaining` runs at `mean_s` per run over `slots` slots ("3m 20s").
    [[nodiscard]] static std::string eta_text(std::size_t remaining, double mean_s,
                                              std::size_t slots);

private:
    void redraw_locked();
    void clear_locked();
    void stop_ticker();

    std::mutex m_mutex;
    std::FILE* m_out;
    bool m_terminal;
    std::size_t m_total;
    std::size_t m_done;
    std::size_t m_failed = 0;   // failed, timed out (finished, not done) in this invocation
    std::size_t m_pending = 0;  // runs still to finish in this invocation
    std::size_t m_slots;
    double m_time_sum_s = 0.0;  // start to finish of each run finished here (rests included)
    std::size_t m_timed = 0;
    std::map<std::string, std::pair<std::string, Clock::time_point>>
        m_current;  // run id -> text, start
    std::size_t m_block_lines = 0;  // lines of the progress line or dashboard on the screen
    bool m_closed = false;
    live::LiveState* m_live = nullptr;
    std::thread m_ticker;  // terminal with a live state: redraws the dashboard
    std::condition_variable m_ticker_cv;
    bool m_ticker_stop = false;
};

}  // namespace joulebench::runner
