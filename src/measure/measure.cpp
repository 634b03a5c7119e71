#include "measure/measure.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <thread>

#include "joulebench/error.hpp"
#include "joulebench/units.hpp"
#include "measure/csv_trace.hpp"
#include "measure/marks.hpp"
#include "measure/output_relay.hpp"
#include "measure/process.hpp"
#include "measure/sampler.hpp"
#include "sensors/estimate/cpu_estimate.hpp"

namespace joulebench {

namespace {

constexpr double kCrossCheckTolerancePct = 5.0;
constexpr double kIdleGpuMeanPct = 1.0;
constexpr unsigned kIdleGpuMaxPct = 5;

// A domain's energy between its first and its last successful reading, and the average power over
// that span (0 W when both were taken at the same time).
struct ReadingSpan {
    double energy_j = 0.0;
    double avg_power_w = 0.0;
};

// nullopt when the domain was never read successfully.
std::optional<ReadingSpan> reading_span(const DomainSamples& d) {
    if (!d.first || !d.last) return std::nullopt;
    ReadingSpan span;
    span.energy_j = (d.last->energy - d.first->energy).value();
    const double dt = seconds_between(d.first->time, d.last->time);
    span.avg_power_w = dt > 0 ? span.energy_j / dt : 0.0;
    return span;
}

// Nothing to run, or a trace interval the sampler cannot keep, is refused before anything else.
void check_options(const MeasureOptions& options) {
    if (options.command.empty()) {
        throw Error(ErrorCategory::kInvalidArgument, "measure: no command given",
                    "usage: joulebench measure [options] -- CMD ARGS...");
    }
    if (options.interval.count() <= 0) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("measure: --interval {} ms: must be at least 1 ms",
                                options.interval.count()));
    }
}

// The idle baseline: each domain's average power over an idle period before the run.
struct IdleBaseline {
    std::optional<IdleResult> idle;  // nullopt without --idle-baseline
    std::vector<double> power_w;     // per domain, in sensor order; empty without a baseline
};

IdleBaseline idle_baseline(const std::vector<Sensor*>& sensors, double seconds) {
    Sampler sampler(sensors, std::chrono::milliseconds(100));
    sampler.start();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    sampler.stop();
    IdleBaseline baseline;
    IdleResult& idle = baseline.idle.emplace();
    baseline.power_w.assign(sensors.size(), 0.0);
    idle.duration_s = seconds_between(sampler.start_time(), sampler.stop_time());
    for (std::size_t i = 0; i < sensors.size(); ++i) {
        if (const auto span = reading_span(sampler.domains()[i])) {
            baseline.power_w[i] = span->avg_power_w;
        }
        idle.domain_power_w.emplace_back(sensors[i]->info().id, baseline.power_w[i]);
    }
    return baseline;
}

process::SpawnOptions command_spawn_options(const MeasureOptions& options) {
    process::SpawnOptions spawn_options;
    spawn_options.argv = options.command;
    spawn_options.set_env = options.set_env;
    if (std::getenv("CUDA_DEVICE_ORDER") == nullptr) {
        // joulebench's GPU indices are PCI bus order; make CUDA number them the same way.
        spawn_options.set_env.emplace_back("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
    }
    return spawn_options;
}

// A sampling thread that cannot start costs the trace between the first and the last reading
// (the peak power is then the run's average), not the measurement.
void start_sampling_thread(Sampler& sampler, std::vector<Warning>& warnings) {
    try {
        sampler.start_thread();
    } catch (const std::exception& e) {
        warnings.push_back(make_warning(
            warning_code::kSamplerThread,
            fmt::format(
                "the sampling thread could not be started ({}): energy is from the first and last "
                "readings only, the trace has just those two rows, the peak power is the run's "
                "average, and a counter wrap during the run would go unnoticed",
                e.what())));
    }
}

// When the command was started (its wall time counts from there) and how it ended.
struct CommandRun {
    Clock::time_point spawn_time;
    process::ExitStatus status;
};

// Takes the first readings, starts the command, starts the sampling thread once the command has
// outlived the first poll period, waits for the command's tree and takes the last readings. Sets
// result.started_at and adds a warning when the sampling thread cannot start. Throws Error (the
// sampler stopped) when the command cannot be started.
CommandRun run_command(const process::SpawnOptions& spawn_options, SensorSet& set, Sampler& sampler,
                       UniqueFd& child_stdout, MeasureResult& result) {
    // The thread starts once the command has outlived the first poll period (below).
    sampler.start(/*defer_thread=*/true);
    CommandRun run;
    run.spawn_time = Clock::now();
    result.started_at = unix_now();
    // SIGINT/SIGTERM/SIGHUP wait from just before the command starts until the forwarder is in
    // place: one arriving in between would otherwise end joulebench by its default action,
    // leaving the command running and no result written.
    sigset_t forwarded;
    sigemptyset(&forwarded);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&forwarded, sig);
    pthread_sigmask(SIG_BLOCK, &forwarded, nullptr);
    pid_t pid = -1;
    try {
        pid = process::spawn(spawn_options);
        child_stdout.reset();  // the child has it: its end of file is the child's
    } catch (...) {
        pthread_sigmask(SIG_UNBLOCK, &forwarded, nullptr);
        sampler.stop();
        throw;
    }
    if (set.cpu_clock) set.cpu_clock->attach(pid);
    {
        process::SignalForwarder forwarder(pid);
        // Blocked above (and, by a caller holding power caps, since it set them up): any that
        // arrived is delivered now, to the forwarder (the command itself starts with an empty
        // mask).
        pthread_sigmask(SIG_UNBLOCK, &forwarded, nullptr);
        if (!process::ends_within(pid, sampler.poll_period())) {
            start_sampling_thread(sampler, result.warnings);
        }
        run.status = process::wait_for(pid, set.cpu_clock.get());
    }
    sampler.stop();
    return run;
}

// How long the output relay reads on after the command ended (output still in the pipe).
constexpr std::chrono::milliseconds kOutputDrain{2000};

// A trace that cannot be completed (disk full) costs the trace, never the measurement: what went
// wrong is returned, as the text of a warning.
std::optional<std::string> close_trace(CsvTraceSink* csv, const MeasureOptions& options) {
    if (csv == nullptr) return std::nullopt;
    try {
        csv->close();
    } catch (const Error& e) {
        return fmt::format("the trace --samples {} is incomplete: {}",
                           options.samples_csv->string(), e.what());
    }
    return std::nullopt;
}

// A domain whose sensor also integrates power: the two energies should agree.
void cross_check(const DomainSamples& d, DomainResult& r, std::vector<Warning>& warnings) {
    if (!d.cross_first || !d.cross_last) return;
    // Both cumulative since the sensor was opened: difference them over the same window.
    const double cross = (*d.cross_last - *d.cross_first).value();
    r.cross_check_energy_j = cross;
    if (cross <= 0) return;
    r.disagreement_pct = (r.energy_j - cross) / cross * 100.0;
    if (std::fabs(*r.disagreement_pct) > kCrossCheckTolerancePct) {
        warnings.push_back(make_warning(
            warning_code::kCrossCheck,
            fmt::format("{}: energy counter ({:.3f} J) and integrated power ({:.3f} J) disagree "
                        "by {:+.1f}% (more than {:.0f}%)",
                        r.info.id, r.energy_j, cross, *r.disagreement_pct,
                        kCrossCheckTolerancePct)));
    }
}

void health_warnings(const DomainResult& r, std::vector<Warning>& warnings) {
    if (r.failed_reads > 0) {
        warnings.push_back(make_warning(
            warning_code::kFailedReads,
            fmt::format("{}: {} failed reads: the trace has gaps (energy spans the readings that "
                        "succeeded)",
                        r.info.id, r.failed_reads)));
    }
    if (r.health.resets > 0) {
        warnings.push_back(make_warning(
            warning_code::kCounterReset,
            fmt::format("{}: energy counter went backwards {} time(s) (driver reload or counter "
                        "reset): its energy is a lower bound",
                        r.info.id, r.health.resets)));
    }
}

// A GPU that stayed idle through the run is most often one the workload was not given.
void idle_gpu_warning(const GpuResult& gpu, std::vector<Warning>& warnings) {
    if (gpu.mean_utilisation_pct && *gpu.mean_utilisation_pct < kIdleGpuMeanPct &&
        gpu.max_utilisation_pct.value_or(0) < kIdleGpuMaxPct) {
        warnings.push_back(make_warning(
            warning_code::kGpuUnused,
            fmt::format("GPU {} ({}): utilisation stayed near 0% (mean {:.1f}%, max {}%): the "
                        "workload may not "
                        "be using the GPU (check CUDA_VISIBLE_DEVICES, and --gpus for containers)",
                        gpu.index, gpu.name, *gpu.mean_utilisation_pct,
                        gpu.max_utilisation_pct.value_or(0))));
    }
}

// The estimate's model goes into the result, and the user is told that CPU energy is not measured.
void note_estimate(const estimate::CpuEstimateSensor& sensor, MeasureResult& result) {
    const auto& m = sensor.model();
    result.estimate =
        EstimateModel{m.cpu_model, m.tdp_w, m.threads_per_package, m.watts_per_cpu(), m.source};
    result.warnings.push_back(make_warning(
        warning_code::kCpuEstimated,
        fmt::format(
            "CPU energy is estimated, not measured: no CPU energy sensor is readable here; {:.3f} "
            "CPU-seconds x {:.2f} W per busy CPU (TDP {:.0f} W from {}){}",
            result.cpu_user_s + result.cpu_system_s, m.watts_per_cpu(), m.tdp_w, m.source,
            m.source == "default" ? "; give --cpu-tdp W for a better estimate" : "")));
}

// The slowest-updating domain: a run shorter than a few of its update periods is coarse.
struct LongestUpdate {
    double seconds = 0.0;
    std::string id;
};

// Appends each domain's result to result.domains in sensor order, with its idle power (where
// `idle_power_w`, per domain, is not empty), its GPU summary and the warnings it calls for, and
// adds the domains that count into the total.
LongestUpdate add_domain_results(const std::vector<Sensor*>& sensors, const SamplerWindow& sampler,
                                 const std::vector<double>& idle_power_w, MeasureResult& result) {
    auto& warnings = result.warnings;
    LongestUpdate longest;
    for (std::size_t i = 0; i < sensors.size(); ++i) {
        Sensor* s = sensors[i];
        const auto& d = sampler.domains[i];
        DomainResult r = domain_result(*s, d, warnings);
        cross_check(d, r, warnings);
        health_warnings(r, warnings);
        const double update_s = std::chrono::duration<double>(r.info.update_period).count();
        if (update_s > longest.seconds) {
            longest.seconds = update_s;
            longest.id = r.info.id;
        }
        if (!idle_power_w.empty()) {
            r.idle_power_w = idle_power_w[i];
            r.net_energy_j = r.energy_j - idle_power_w[i] * result.wall_s;
        }
        if (r.counts_in_total) {
            result.total_energy_j += r.energy_j;
            if (r.info.kind == DomainKind::kEstimatedCpu) result.total_includes_estimate = true;
        }
        if (r.info.kind == DomainKind::kGpu) {
            GpuResult gpu = gpu_result(r.info, sampler.gpus[i]);
            idle_gpu_warning(gpu, warnings);
            result.gpus.push_back(std::move(gpu));
        }
        if (auto* est = dynamic_cast<estimate::CpuEstimateSensor*>(s)) note_estimate(*est, result);
        result.domains.push_back(std::move(r));
    }
    return longest;
}

// The estimate's final value comes from the exact rusage of the reaped tree.
void settle_estimate(const SamplerWindow& sampler, MeasureResult& result) {
    for (auto& r : result.domains) {
        if (r.info.kind == DomainKind::kEstimatedCpu && result.estimate) {
            const double exact =
                (result.cpu_user_s + result.cpu_system_s) * result.estimate->watts_per_cpu;
            if (exact > r.energy_j) {
                result.total_energy_j += exact - r.energy_j;
                r.energy_j = exact;
                const double dt = seconds_between(sampler.start, sampler.stop);
                r.avg_power_w = dt > 0 ? exact / dt : 0.0;
                if (r.idle_power_w) r.net_energy_j = r.energy_j - *r.idle_power_w * result.wall_s;
            }
        }
    }
}

// What concerns the run as a whole: CPU sensors that exist but cannot be read, a run too short for
// the slowest domain, a sampler that fell behind, processes left running.
void run_warnings(const SensorSet& set, const LongestUpdate& longest, const SamplerStats& stats,
                  std::size_t orphans_alive, MeasureResult& result) {
    auto& warnings = result.warnings;
    for (const auto& b : set.backends) {
        for (const auto& why : b.skipped) {
            if (why.find("CVE-2020-8694") != std::string::npos) {
                warnings.push_back(
                    make_warning(warning_code::kCpuSensorUnreadable,
                                 "CPU energy sensors exist but are not readable: " + why));
            }
        }
    }
    if (longest.seconds > 0 && result.wall_s < kMinUpdatePeriods * longest.seconds) {
        warnings.push_back(make_warning(
            warning_code::kShortRun,
            fmt::format("the run lasted {:.3f} s, less than {} update periods of {} ({:.0f} ms): "
                        "its energy is "
                        "coarse; lengthen the run or repeat the work inside it",
                        result.wall_s, kMinUpdatePeriods, longest.id, longest.seconds * 1000)));
    }
    if (result.late_ticks > 0) {
        warnings.push_back(make_warning(
            warning_code::kSamplerLate,
            fmt::format("sampler: {} reads started more than one period late (up to {:.1f} ms): "
                        "the machine "
                        "was overloaded or suspended",
                        result.late_ticks,
                        std::chrono::duration<double, std::milli>(stats.max_lateness).count())));
    }
    if (orphans_alive > 0) {
        warnings.push_back(make_warning(
            warning_code::kLeftProcesses,
            fmt::format("{} process(es) started by the command were still running when it ended; "
                        "their energy after that is not included",
                        orphans_alive)));
    }
}

// The idle baseline's share of the run: the idle power of the domains that count in the total,
// over the run's wall time.
void settle_idle(IdleBaseline baseline, MeasureResult& result) {
    IdleResult& idle = *baseline.idle;
    for (std::size_t i = 0; i < result.domains.size(); ++i) {
        if (result.domains[i].counts_in_total) idle.power_w += baseline.power_w[i];
    }
    idle.energy_j = idle.power_w * result.wall_s;
    idle.net_energy_j = result.total_energy_j - idle.energy_j;
    result.idle = std::move(baseline.idle);
}

}  // namespace

void complete_measurement(const SensorSet& set, const Sampler& sampler,
                          const std::vector<double>& idle_power_w, std::size_t orphans_alive,
                          MeasureResult& result) {
    complete_measurement(set, sampler.whole(), idle_power_w, orphans_alive, result);
}

void complete_measurement(const SensorSet& set, const SamplerWindow& sampler,
                          const std::vector<double>& idle_power_w, std::size_t orphans_alive,
                          MeasureResult& result) {
    const auto& stats = sampler.stats;
    apply_sampler_stats(result, stats);
    const LongestUpdate longest = add_domain_results(set.pointers(), sampler, idle_power_w, result);
    settle_estimate(sampler, result);
    run_warnings(set, longest, stats, orphans_alive, result);
    result.edp_js = energy_delay_product(result.total_energy_j, result.wall_s);
    result.ed2p_js2 = energy_delay_squared_product(result.total_energy_j, result.wall_s);
}

// GPUs asked for by index where no GPU can be read are bad usage, not a run without GPUs (issue
// 22, item 5: `measure --gpus 3` without NVML measured no GPU and exited 0). The runner does not
// ask this: an ssh environment's GPU slots name the remote host's GPUs.
void check_gpus_readable(const std::string& what, const nvml::GpuSelection& gpus, const SensorSet& sensors) {
    if (gpus.mode != nvml::GpuSelection::Mode::kList || gpus.indices.empty()) return;
    for (const auto& s : sensors.sensors) {
        if (s->info().kind == DomainKind::kGpu) return;  // a selected GPU of some vendor is read
    }
    std::string why = "no GPU backend reports one";
    for (const auto& b : sensors.backends) {
        if ((b.backend == "nvml" || b.backend == "rocm") && !b.skipped.empty()) {
            why = b.skipped.front();
            break;
        }
    }
    throw Error(ErrorCategory::kInvalidArgument, fmt::format("{}: no GPU can be read here: {}", what, why),
                "`joulebench sensors -v` says why; leave out --gpus to measure without GPUs");
}

void apply_sampler_stats(MeasureResult& result, const SamplerStats& stats) {
    result.samples = stats.trace_rows;
    result.polls = stats.ticks;
    result.poll_interval_ms = std::chrono::duration<double, std::milli>(stats.poll_period).count();
    result.late_ticks = stats.late_ticks;
    result.monitor_cpu_s = stats.thread_cpu_s;
    result.monitor_overhead_pct =
        result.wall_s > 0 ? stats.thread_cpu_s / result.wall_s * 100.0 : 0.0;
}

DomainResult domain_result(const Sensor& sensor, const DomainSamples& d,
                           std::vector<Warning>& warnings) {
    DomainResult r;
    r.info = sensor.info();
    r.health = sensor.health();
    r.failed_reads = d.failed_reads;
    r.counts_in_total = counts_in_total(r.info.kind);
    if (const auto span = reading_span(d)) {
        r.energy_j = span->energy_j;
        r.avg_power_w = span->avg_power_w;
    } else {
        warnings.push_back(make_warning(
            warning_code::kNoReading,
            fmt::format("{}: no successful reading: its energy is unknown and reported as 0",
                        r.info.id)));
    }
    if (d.peak_power) r.peak_power_w = d.peak_power->value();
    return r;
}

GpuResult gpu_result(const SensorInfo& info, const GpuTelemetrySummary& g) {
    GpuResult gpu;
    gpu.index = info.index;
    gpu.id = info.id;
    gpu.name = info.name;
    gpu.uuid = info.source;
    gpu.pci_bus_id = info.pci_bus_id;
    if (g.utilisation_rows > 0) {
        gpu.mean_utilisation_pct = g.utilisation_sum / static_cast<double>(g.utilisation_rows);
    }
    gpu.max_utilisation_pct = g.utilisation_max;
    gpu.max_temperature_c = g.temperature_max;
    if (g.sm_clock_rows > 0) {
        gpu.mean_sm_clock_mhz = g.sm_clock_sum / static_cast<double>(g.sm_clock_rows);
    }
    gpu.throttle_mask = g.throttle_mask;
    gpu.throttle_reasons = throttle_reason_names(g.throttle_mask);
    if (g.enforced_limit) gpu.enforced_limit_w = g.enforced_limit->value();
    return gpu;
}

namespace {

/// The rows to the --samples file and to the observer (either may be null).
class TeeTraceSink final : public TraceSink {
public:
    TeeTraceSink(TraceSink* a, TraceSink* b) : m_a(a), m_b(b) {}
    void begin(const std::vector<const Sensor*>& sensors) override {
        if (m_a != nullptr) m_a->begin(sensors);
        if (m_b != nullptr) m_b->begin(sensors);
    }
    void row(double t_s, const std::vector<TraceDomainValue>& domains,
             const std::vector<std::optional<GpuTelemetry>>& telemetry) noexcept override {
        if (m_a != nullptr) m_a->row(t_s, domains, telemetry);
        if (m_b != nullptr) m_b->row(t_s, domains, telemetry);
    }
    void end() noexcept override {
        if (m_a != nullptr) m_a->end();
        if (m_b != nullptr) m_b->end();
    }

private:
    TraceSink* m_a;
    TraceSink* m_b;
};

}  // namespace

MeasureResult run_measurement(const MeasureOptions& options, SensorSet& set) {
    check_options(options);
    // Everything that can be checked is checked before anything runs.
    process::resolve_command(options.command.front());
    std::unique_ptr<CsvTraceSink> csv;
    if (options.samples_csv) csv = std::make_unique<CsvTraceSink>(*options.samples_csv);

    process::become_subreaper();
    const std::vector<Sensor*> sensors = set.pointers();
    MeasureResult result;
    result.command = options.command;
    result.interval_ms = static_cast<double>(options.interval.count());

    IdleBaseline idle;
    if (options.idle_baseline_s && *options.idle_baseline_s > 0) {
        idle = idle_baseline(sensors, *options.idle_baseline_s);
    }

    process::SpawnOptions spawn_options = command_spawn_options(options);
    TeeTraceSink tee(csv.get(), options.observer);
    Sampler sampler(sensors, options.interval, csv || options.observer != nullptr ? &tee : nullptr);
    // The command's standard output passes through joulebench, which reads its marks there and
    // in $JOULEBENCH_MARKS (README "Markers").
    MarkRecorder marks(sampler, std::vector<const Sensor*>(sensors.begin(), sensors.end()));
    OutputRelay relay(STDOUT_FILENO, &marks);
    UniqueFd child_stdout = relay.stdout_pipe();
    const MarksFolder marks_folder("measure");
    relay.fifo(marks_folder.file(), /*is_stdout=*/false);
    spawn_options.stdout_fd = child_stdout.get();
    spawn_options.set_env.emplace_back(kMarksVariable, marks_folder.file().string());
    relay.start();
    const CommandRun run = run_command(spawn_options, set, sampler, child_stdout, result);
    relay.stop(kOutputDrain);
    const std::optional<std::string> trace_error = close_trace(csv.get(), options);

    result.exit_code = run.status.exit_code;
    result.signal = run.status.signal;
    result.wall_s = seconds_between(run.spawn_time, run.status.end_time);
    result.cpu_user_s = run.status.cpu_user_s;
    result.cpu_system_s = run.status.cpu_system_s;
    if (trace_error) result.warnings.push_back(make_warning(warning_code::kTrace, *trace_error));
    complete_measurement(set, sampler, idle.power_w, run.status.orphans_alive.size(), result);
    marks.finish(run.spawn_time, run.status.end_time, result);
    if (idle.idle) settle_idle(std::move(idle), result);
    return result;
}

}  // namespace joulebench
