#include "runner/progress.hpp"

#include <fmt/format.h>

#include <cmath>

#include "live/dashboard.hpp"

namespace joulebench::runner {
namespace {

live::RunLabels labels_of(const RunSpec& run, std::optional<int> gpu) {
    live::RunLabels labels;
    labels.run_id = run.run_id;
    labels.workload = run.workload;
    labels.environment = run.environment;
    labels.gpu_cap_w = run.gpu_cap_w;
    labels.cpu_cap_w = run.cpu_cap_w;
    labels.repetition = static_cast<int>(run.repetition);
    labels.slot = gpu;
    return labels;
}

}  // namespace

std::string describe_run(const RunSpec& run) { return live::run_text(labels_of(run, std::nullopt)); }

Progress::~Progress() { stop_ticker(); }

void Progress::stop_ticker() {
    {
        std::lock_guard lock(m_mutex);
        m_ticker_stop = true;
    }
    m_ticker_cv.notify_all();
    if (m_ticker.joinable()) m_ticker.join();
}

Progress::Progress(std::FILE* out, bool terminal, std::size_t total, std::size_t already_done,
                   std::size_t slots)
    : m_out(out),
      m_terminal(terminal),
      m_total(total),
      m_done(already_done),
      m_slots(slots == 0 ? 1 : slots) {}

std::string Progress::eta_text(std::size_t remaining, double mean_s, std::size_t slots) {
    if (remaining == 0) return "0s";
    const double seconds =
        mean_s * static_cast<double>(remaining) / static_cast<double>(slots == 0 ? 1 : slots);
    const auto ms = std::chrono::milliseconds(static_cast<long long>(std::llround(seconds)) * 1000);
    return format_duration_ms(ms);
}

void Progress::set_live(live::LiveState* live) {
    std::lock_guard lock(m_mutex);
    m_live = live;
    if (m_live == nullptr) return;
    m_live->plan(m_total, m_done, m_slots);
    if (!m_terminal || m_ticker.joinable()) return;
    // The dashboard's times, powers and ETA move between the runs' events: redrawn twice a second.
    m_ticker = std::thread([this] {
        std::unique_lock held(m_mutex);
        while (!m_ticker_cv.wait_for(held, std::chrono::milliseconds(500), [this] { return m_ticker_stop; })) {
            if (m_block_lines > 0) redraw_locked();
        }
    });
}

void Progress::message(const std::string& text) {
    if (m_live != nullptr) m_live->message(text);
    std::lock_guard lock(m_mutex);
    clear_locked();
    fmt::print(m_out, "{}\n", text);
    redraw_locked();
}

void Progress::add_pending(std::size_t runs) {
    if (m_live != nullptr) m_live->add_pending(runs);
    std::lock_guard lock(m_mutex);
    m_pending += runs;
}

void Progress::retrying(std::size_t runs) {
    if (m_live != nullptr) m_live->retrying(runs);
    std::lock_guard lock(m_mutex);
    m_failed -= std::min(runs, m_failed);
}

void Progress::started(const RunSpec& run, std::optional<int> gpu) {
    if (m_live != nullptr) m_live->run_started(labels_of(run, gpu));
    std::lock_guard lock(m_mutex);
    m_current[run.run_id] = {describe_run(run) + (gpu ? fmt::format(" on GPU {}", *gpu) : ""),
                             Clock::now()};
    redraw_locked();
}

void Progress::finished(const RunSpec& run, std::optional<int> gpu, RunStatus status, double wall_s,
                        std::optional<double> energy_j, const std::string& detail,
                        const std::string& energy_how) {
    if (m_live != nullptr) {
        m_live->run_finished(run.run_id, status, wall_s, energy_j, detail);
        if (status != RunStatus::kDone) {
            m_live->message(fmt::format("{} {} ({}){}", to_string(status), describe_run(run), run.run_id,
                                        detail.empty() ? "" : ": " + detail));
        }
    }
    std::lock_guard lock(m_mutex);
    if (const auto it = m_current.find(run.run_id); it != m_current.end()) {
        m_time_sum_s += seconds_between(it->second.second, Clock::now());
        ++m_timed;
        m_current.erase(it);
    }
    if (m_pending > 0) --m_pending;
    if (status == RunStatus::kDone) {
        ++m_done;
    } else if (status != RunStatus::kInterrupted) {
        ++m_failed;
    }
    clear_locked();
    std::string energy = energy_j ? fmt::format("  {:.1f} J", *energy_j) : "";
    if (energy_j && !energy_how.empty()) energy += " (" + energy_how + ")";
    const std::string where = gpu ? fmt::format("  GPU {}", *gpu) : "";
    if (!m_terminal || status != RunStatus::kDone) {
        // Terminal: failures keep a line of their own; the rest shows in the progress line.
        fmt::print(m_out, "[{}/{}] {:<11} {} ({}){}  {:.2f} s{}{}\n", m_done + m_failed, m_total,
                   to_string(status), describe_run(run), run.run_id, where, wall_s, energy,
                   detail.empty() ? "" : "  " + detail);
    }
    redraw_locked();
}

void Progress::close() {
    stop_ticker();
    std::lock_guard lock(m_mutex);
    clear_locked();
    m_closed = true;
    std::fflush(m_out);
}

void Progress::clear_locked() {
    if (m_terminal && m_block_lines > 0) {
        // Back to the first line of the block, then everything below it erased.
        if (m_block_lines > 1) fmt::print(m_out, "\033[{}A", m_block_lines - 1);
        fmt::print(m_out, "\r\033[J");
        m_block_lines = 0;
    }
}

void Progress::redraw_locked() {
    if (!m_terminal || m_closed) {
        std::fflush(m_out);
        return;
    }
    clear_locked();
    if (m_live != nullptr) {
        live::DashboardOptions o;
        o.width = live::terminal_width(::fileno(m_out));
        const std::vector<std::string> lines = live::dashboard_lines(m_live->snapshot(), o);
        fmt::print(m_out, "{}", fmt::join(lines, "\n"));
        std::fflush(m_out);
        m_block_lines = lines.size();
        return;
    }
    std::string current;
    for (const auto& [id, entry] : m_current) {
        if (!current.empty()) current += ", ";
        current += entry.first;
    }
    const std::string eta =
        m_timed > 0
            ? "  ETA " + eta_text(m_pending, m_time_sum_s / static_cast<double>(m_timed), m_slots)
            : "";
    std::string line = fmt::format("[{}/{}] {} failed{}{}", m_done + m_failed, m_total, m_failed,
                                   eta, current.empty() ? "" : "  running: " + current);
    // One line: cut to a width that fits common terminals rather than wrapping.
    constexpr std::size_t kWidth = 150;
    if (line.size() > kWidth) line = line.substr(0, kWidth - 3) + "...";
    fmt::print(m_out, "{}", line);
    std::fflush(m_out);
    m_block_lines = 1;
}

}  // namespace joulebench::runner
