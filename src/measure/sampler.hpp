#pragma once
// The sampler reads every sensor on one thread at a fixed period and keeps, per domain, the
// first and last reading, the peak power over trace intervals and the failures; trace rows go to
// an optional sink (CSV file, later the store) as they are made, so memory does not grow with
// run length.
//
// Two periods: the trace interval the user asks for (--interval), and the poll period, which is
// the smaller of the trace interval and every sensor's max_poll_interval(), so that a RAPL counter
// is read often enough never to miss a wrap and integrated GPU power is integrated finely enough,
// whatever the trace interval. Deadlines are absolute (no drift); a tick that starts more than a
// whole period late is counted as late.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "joulebench/sensor.hpp"

namespace joulebench {

/// One domain's values in a trace row.
struct TraceDomainValue {
    double energy_j = 0.0;               ///< cumulative since the start of the measurement
    std::optional<double> power_w;       ///< average since the previous trace row
    bool valid = false;                  ///< false: the read failed (a gap)
};

/// Receives trace rows. Called from the sampler thread; must not throw.
class TraceSink {
public:
    virtual ~TraceSink() = default;
    virtual void begin(const std::vector<const Sensor*>& sensors) = 0;
    virtual void row(double t_s, const std::vector<TraceDomainValue>& domains,
                     const std::vector<std::optional<GpuTelemetry>>& telemetry) noexcept = 0;
    virtual void end() noexcept = 0;
};

/// What the sampler learnt about one domain.
struct DomainSamples {
    std::optional<EnergySample> first;
    std::optional<EnergySample> last;
    std::optional<Watts> peak_power;  ///< highest average power over one trace interval
    std::uint64_t failed_reads = 0;
    /// The sensor's cross-check energy (cumulative since it was opened) at the first and the last
    /// successful reading, so the cross-check covers the same window as the energy.
    std::optional<Joules> cross_first;
    std::optional<Joules> cross_last;
};

/// Aggregated GPU telemetry over the trace rows.
struct GpuTelemetrySummary {
    std::uint64_t rows = 0;
    double utilisation_sum = 0.0;
    std::uint64_t utilisation_rows = 0;
    std::optional<unsigned> utilisation_max;
    std::optional<double> temperature_max;
    double sm_clock_sum = 0.0;
    std::uint64_t sm_clock_rows = 0;
    std::uint64_t throttle_mask = 0;       ///< OR of every reason seen
    std::optional<Watts> enforced_limit;   ///< the last one seen
    std::optional<Watts> enforced_limit_min;
};

struct SamplerStats {
    std::uint64_t ticks = 0;
    std::uint64_t trace_rows = 0;
    std::uint64_t late_ticks = 0;
    std::chrono::nanoseconds max_lateness{0};
    std::chrono::nanoseconds poll_period{0};
    /// CPU time (user + system) the sampling thread itself used: the monitoring overhead.
    double thread_cpu_s = 0.0;
};

/// What a sampler learnt over a span of time: its whole run (Sampler::whole) or a window between
/// two marks (window_between). complete_measurement reads a measurement from it.
struct SamplerWindow {
    std::vector<DomainSamples> domains;     ///< per sensor, in order
    std::vector<GpuTelemetrySummary> gpus;  ///< per sensor, in order (rows 0 for non-GPUs)
    SamplerStats stats;
    Clock::time_point start{};
    Clock::time_point stop{};
};

/// The sampler's state at one instant (Sampler::mark): every sensor read once more, on the
/// caller's thread, and the counters at that time. Two marks make a window.
struct SamplerMark {
    Clock::time_point time{};
    std::vector<DomainSamples> domains;  ///< `last` is the reading of this mark
    std::vector<GpuTelemetrySummary> gpus;
    SamplerStats stats;  ///< thread_cpu_s: the sampling thread's CPU time so far
};

/// The window from `begin` to `end` (marks of the same sampler, begin first): per domain, the
/// readings of the two marks (first, last, cross-check) and the failed reads in between; the GPU
/// telemetry rows in between (sums and counts; the maxima, enforced-limit minimum and peak power
/// over the window, the throttle reasons and the enforced-limit minimum are not known from two
/// marks and stay unset; the enforced limit is the last one seen); ticks, trace rows, late ticks and the sampling thread's CPU time in between.
[[nodiscard]] SamplerWindow window_between(const SamplerMark& begin, const SamplerMark& end);

class Sampler {
public:
    /// Sensors must outlive the sampler. `sink` may be null.
    Sampler(std::vector<Sensor*> sensors, std::chrono::nanoseconds trace_interval, TraceSink* sink = nullptr);
    Sampler(const Sampler&) = delete;
    Sampler& operator=(const Sampler&) = delete;
    ~Sampler();

    /// Takes the first reading of every sensor on the calling thread, then starts the thread,
    /// unless `defer_thread`: then the thread starts only with start_thread(). `measure` defers
    /// it until the command has outlived the first poll period, so a command that ends sooner
    /// (the thread would not have ticked yet) costs no thread creation, wake-up and join, and is
    /// measured, as it would be anyway, by the first and the last readings.
    void start(bool defer_thread = false);
    /// Starts the deferred thread; it ticks at start_time() + k x poll_period() as if started
    /// with start() (a first tick already due fires at once). No-op when running or stopped.
    void start_thread();
    /// Stops the thread, then takes the last reading of every sensor on the calling thread.
    /// Idempotent and noexcept (called from destructors and signal paths).
    void stop() noexcept;

    /// Reads every sensor once on the calling thread (serialised with the sampling thread, the
    /// reading counts as a poll) and returns the state now: the two ends of a window cost two
    /// such reads, and no thread. Only between start() and stop(). Never throws but bad_alloc.
    [[nodiscard]] SamplerMark mark();
    /// The whole run (after stop()) as a window.
    [[nodiscard]] SamplerWindow whole() const;
    /// Reads every sensor now, from any thread, serialised with the sampler's own reads (a mark
    /// of a phase, README "Markers"): one reading per domain, unset where the read failed or
    /// the sampler is not running. Does not change the run's first and last readings.
    std::vector<std::optional<EnergySample>> read_now() noexcept;

    [[nodiscard]] const std::vector<DomainSamples>& domains() const { return m_domains; }
    [[nodiscard]] const std::vector<GpuTelemetrySummary>& gpus() const { return m_gpus; }
    [[nodiscard]] SamplerStats stats() const;
    /// stats() while the thread runs, from any thread: serialised with the sampler's reads (it
    /// waits for a read in progress, reads no sensor), thread_cpu_s the thread's CPU time so far.
    [[nodiscard]] SamplerStats stats_now();
    [[nodiscard]] Clock::time_point start_time() const { return m_start; }
    [[nodiscard]] Clock::time_point stop_time() const { return m_stop; }
    [[nodiscard]] std::chrono::nanoseconds poll_period() const { return m_poll; }

private:
    void run() noexcept;
    void read_all(Clock::time_point now, bool trace_due) noexcept;

    std::vector<Sensor*> m_sensors;
    std::chrono::nanoseconds m_trace_interval;
    std::chrono::nanoseconds m_poll;
    TraceSink* m_sink;

    std::vector<DomainSamples> m_domains;
    std::vector<GpuTelemetrySummary> m_gpus;
    std::vector<std::optional<EnergySample>> m_last_trace;  // reading at the previous trace row
    std::vector<TraceDomainValue> m_row;                    // reused, no allocation per row
    std::vector<std::optional<GpuTelemetry>> m_telemetry;   // reused

    Clock::time_point m_start{};
    Clock::time_point m_stop{};
    Clock::time_point m_next_trace{};
    SamplerStats m_stats;

    // Held while the sensors are read and the state above changes: the thread, start(), stop()
    // mark() and read_now() read the same sensors, which are not thread-safe.
    std::mutex m_read_mutex;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_stop_requested = false;
    bool m_running = false;
    std::thread m_thread;
};

}  // namespace joulebench
