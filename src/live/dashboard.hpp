#pragma once
// The terminal dashboard of `joulebench run` (on a terminal) and `joulebench top DB`
// (docs/live.md, "Terminal dashboard"): a few lines drawn from a LiveSnapshot, redrawn in place:
// the plan's progress bar with done, failed and ETA; one line per run in flight (its GPU slot,
// run, time so far, power and energy); the last finished runs. Failures and warnings are printed
// above it as lines of their own, so they stay on the screen.

#include <cstddef>
#include <string>
#include <vector>

#include "live/live_state.hpp"

namespace joulebench::live {

struct DashboardOptions {
    std::string title = "joulebench run";
    std::size_t width = 100;     ///< the terminal's columns: no line is longer than width - 1
    std::size_t finished = 3;    ///< finished runs shown
};

[[nodiscard]] std::vector<std::string> dashboard_lines(const LiveSnapshot& snapshot,
                                                       const DashboardOptions& options);

/// "resnet50/bare/250 W/#3": a run as progress lines and the dashboard name it.
[[nodiscard]] std::string run_text(const RunLabels& run);

/// "[#######.............]" of `width` characters (brackets included), `fraction` in 0..1.
[[nodiscard]] std::string progress_bar(double fraction, std::size_t width);

/// "850 J", "31.2 kJ", "4.07 MJ".
[[nodiscard]] std::string energy_text(double joules);

/// The columns of the terminal behind `fd`, or `fallback` when it is not one.
[[nodiscard]] std::size_t terminal_width(int fd, std::size_t fallback = 100);

}  // namespace joulebench::live
