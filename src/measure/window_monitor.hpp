#pragma once
// Measurement windows inside a running program (the Python package, docs/python.md): one
// sampler thread per monitor, shared by every window; a window is two marks of that sampler
// (Sampler::mark: every sensor read once on the caller's thread), so windows may nest and
// overlap and cost two readings each, no thread. A window's result is measure's own
// (complete_measurement), so it carries the same domains, methods and warnings as `measure`.

#include <sys/resource.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "joulebench/measure_result.hpp"
#include "measure/sampler.hpp"
#include "sensors/registry.hpp"

namespace joulebench {

class WindowMonitor {
public:
    /// Probes the sensors `probe` selects (the CPU-time estimate, when used, follows this
    /// process) and starts the sampling thread at `interval`. Throws Error: kInvalidArgument for
    /// an interval under 1 ms, a GPU selection that does not exist (the probe's message), or
    /// GPUs asked for by index when none can be read (check_gpus_readable; `gpus_text` is the
    /// selection as the caller wrote it, for that message).
    WindowMonitor(ProbeOptions probe, std::chrono::milliseconds interval,
                  const std::string& gpus_text = "all");
    WindowMonitor(const WindowMonitor&) = delete;
    WindowMonitor& operator=(const WindowMonitor&) = delete;
    /// Stops the sampling thread (close()).
    ~WindowMonitor();

    /// Opens the window `name` now. Throws Error kInvalidArgument when a window of that name is
    /// open, or the monitor is closed.
    void begin(const std::string& name);
    /// Closes the window `name` now and returns its measurement: `command` is {name}, exit_code
    /// 0, wall time between the two marks, CPU times of this whole process over the window
    /// (getrusage), every domain, the GPUs, the total, warnings, EDP. Throws Error
    /// kInvalidArgument naming the open windows when `name` is not one of them.
    MeasureResult end(const std::string& name);
    /// The open windows' names, sorted.
    [[nodiscard]] std::vector<std::string> open_windows() const;
    /// Stops the sampling thread; later begin() calls throw. Idempotent.
    void close() noexcept;

    [[nodiscard]] const SensorSet& sensors() const { return m_set; }
    [[nodiscard]] std::chrono::milliseconds interval() const { return m_interval; }
    [[nodiscard]] std::chrono::nanoseconds poll_period() const { return m_sampler->poll_period(); }

private:
    struct Open {
        SamplerMark mark;
        double started_at = 0.0;
        rusage usage{};
    };

    SensorSet m_set;
    std::chrono::milliseconds m_interval;
    std::unique_ptr<Sampler> m_sampler;
    mutable std::mutex m_mutex;
    std::map<std::string, Open> m_open;
    bool m_closed = false;
};

}  // namespace joulebench
