// The online method's driver (online.hpp): checks, caps, the command, the segments.
//
// One thread drives the run: it waits for the command's output (poll, at most `interval` at a
// time), passes each line through to joulebench's standard output, counts the lines that match,
// reads the GPUs' energy counters at the ends of the segments (Sampler::read_now, serialised with
// the sampler's own thread, which reads them every interval for the live views and the sensors
// that integrate power), gives marker lines to a MarkRecorder, and changes the cap when a segment
// is over. Caps go through capping::ScopedCap as
// the runner's do: each change restores the previous cap (original written back, journal entry
// cleared) and journals and writes the next one, under the guard (the guardian process) started
// before the first cap, so a SIGKILL of joulebench at any moment leaves the original limits to
// the guardian.

#include "tune/online.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "capping/scoped_cap.hpp"
#include "joulebench/error.hpp"
#include "joulebench/power_capper.hpp"
#include "live/live_sink.hpp"
#include "measure/marks.hpp"
#include "measure/output_relay.hpp"
#include "measure/process.hpp"
#include "measure/sampler.hpp"
#include "sensors/nvml/nvml_backend.hpp"

namespace joulebench::tune {

namespace {

Error bad_option(const std::string& message, std::string hint = {}) {
    return {ErrorCategory::kInvalidArgument, "tune: " + message, std::move(hint)};
}

void check_options(const OnlineOptions& o) {
    if (o.command.empty()) {
        throw bad_option("no command given",
                         "usage: joulebench tune --method online --caps "
                         "150:450:50 --progress-regex REGEX -- CMD [ARGS...]");
    }
    if (o.caps_w.size() < 2) {
        throw bad_option("--caps: the online method needs at least 2 caps",
                         "give a range such as --caps 150:450:50");
    }
    if (!std::is_sorted(o.caps_w.begin(), o.caps_w.end()) ||
        std::adjacent_find(o.caps_w.begin(), o.caps_w.end()) != o.caps_w.end()) {
        throw bad_option("--caps: the caps must be ascending and distinct");
    }
    if (o.progress_regex.empty()) {
        throw bad_option("--method online needs --progress-regex REGEX",
                         "a regex matching the line the command prints per unit of work, e.g. "
                         "--progress-regex '^step [0-9]+'");
    }
    if (o.segment.count() <= 0 || o.progress_timeout.count() <= 0 || o.interval.count() <= 0 ||
        o.settle.count() < 0) {
        throw bad_option(
            "--segment, --progress-timeout and --interval must be above 0, "
            "--settle at least 0");
    }
    if (o.passes < 1) throw bad_option("at least one pass over the caps is needed");
    if (!(o.confidence > 0.5 && o.confidence < 1.0)) {
        throw bad_option(
            fmt::format("--confidence {:g}: must lie between 0.5 and 1", o.confidence));
    }
}

std::regex compile_regex(const std::string& text) {
    try {
        return std::regex(text, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
        throw bad_option(
            fmt::format("--progress-regex '{}': not a valid regex: {}", text, e.what()),
            "ECMAScript syntax, as in JavaScript: '^step [0-9]+'");
    }
}

// A GPU under tuning: what it is and the sensor of its energy.
struct TunedGpu {
    runner::GpuDevice device;
    std::string label;
    Sensor* sensor = nullptr;
};

struct Machine {
    std::vector<TunedGpu> gpus;
    std::vector<SensorSet> sensor_sets;  // own the sensors of `gpus`
};

// The tuned GPUs' energy, summed, from readings on the calling thread: the last good reading of
// each counter stands in for a failed read (counted, and a warning of the outcome).
struct EnergyReader {
    Sampler& sampler;
    std::vector<double> last;
    std::size_t failed = 0;

    EnergyReader(Sampler& s, std::size_t sensors) : sampler(s), last(sensors, 0.0) {}
    /// Joules since the sensors were opened. Only while the sampler runs. Never throws.
    double read() noexcept {
        const std::vector<std::optional<EnergySample>> now = sampler.read_now();
        double sum = 0.0;
        for (std::size_t i = 0; i < last.size(); ++i) {
            if (i < now.size() && now[i]) {
                last[i] = now[i]->energy.value();
            } else {
                ++failed;
            }
            sum += last[i];
        }
        return sum;
    }
};

std::vector<runner::GpuDevice> list_gpus(const OnlineOptions& o, runner::CapperRegistry& cappers) {
    std::optional<std::vector<int>> indices;
    if (!o.gpus.empty() && o.gpus != "all") {
        const auto selection = nvml::GpuSelection::parse(o.gpus);
        if (selection.mode != nvml::GpuSelection::Mode::kList) {
            throw bad_option(fmt::format("--gpus {}: the online method needs GPUs", o.gpus));
        }
        indices = selection.indices;
    }
    std::vector<runner::GpuDevice> devices;
    try {
        devices = cappers.gpus(indices);
    } catch (const Error& e) {
        const bool bad_index = indices && e.category() == ErrorCategory::kInvalidArgument;
        throw Error(bad_index ? ErrorCategory::kInvalidArgument : ErrorCategory::kNotFound,
                    fmt::format("tune: no GPU to tune: {}", e.what()),
                    e.hint().empty() ? "the online method needs an NVIDIA GPU that NVML reports "
                                       "(`joulebench sensors -v` says why none is)"
                                     : e.hint());
    }
    if (devices.empty()) {
        const std::string scope = cappers.gpu_scope();
        throw Error(
            ErrorCategory::kNotFound,
            fmt::format("tune: no GPU to tune: {}", scope.empty() ? "no GPU backend (NVML, ROCm SMI, hwmon) lists one" : scope),
            "the online method needs an NVIDIA GPU that NVML reports");
    }
    return devices;
}

// The GPUs, every cap checked against every GPU's range, and each GPU's energy sensor.
Machine prepare_machine(const OnlineOptions& o, runner::RunnerDependencies& deps) {
    Machine m;
    for (const auto& device : list_gpus(o, *deps.cappers)) {
        const auto capper = deps.cappers->gpu_capper(device);
        for (const double w : o.caps_w) {
            try {
                check_cap_range(*capper, Watts(w));
            } catch (const Error& e) {
                throw Error(ErrorCategory::kInvalidArgument,
                            fmt::format("tune: --caps {:g}: {}", w, e.what()),
                            e.hint().empty() ? "give caps within every tuned GPU's range "
                                               "(`joulebench caps show` lists them)"
                                             : e.hint());
            }
        }
        SensorSet set = deps.sensors->probe(device.index);
        if (set.selection_error) throw *set.selection_error;
        TunedGpu gpu{device, capper->info().label, nullptr};
        for (const auto& s : set.sensors) {
            if (s->info().kind == DomainKind::kGpu && s->info().index == device.index) {
                gpu.sensor = s.get();
            }
        }
        if (gpu.sensor == nullptr) {
            throw Error(ErrorCategory::kNotFound,
                        fmt::format("tune: read the energy of {}: no sensor for it", gpu.label),
                        "`joulebench sensors -v` says why");
        }
        m.sensor_sets.push_back(std::move(set));
        m.gpus.push_back(std::move(gpu));
    }
    return m;
}

// The caps of every tuned GPU at one value at a time, each through a ScopedCap.
class CapHolder {
public:
    CapHolder(runner::CapperRegistry& cappers, const capping::CapJournal& journal,
              const std::vector<TunedGpu>& gpus)
        : m_cappers(cappers), m_journal(journal), m_gpus(gpus) {}
    CapHolder(const CapHolder&) = delete;
    CapHolder& operator=(const CapHolder&) = delete;
    ~CapHolder() { (void)restore(); }

    /// Restores the current cap, then caps every GPU to `watts`. Throws Error (then what was
    /// set is restored).
    void set(double watts) {
        if (!restore()) {
            throw Error(ErrorCategory::kIo,
                        fmt::format("tune: restore before capping to {}: {}",
                                    format_watts(Watts(watts)), m_errors.back()),
                        "fix the cause, then run `joulebench caps restore`");
        }
        for (const auto& gpu : m_gpus) {
            m_caps.push_back(std::make_unique<capping::ScopedCap>(m_cappers.gpu_capper(gpu.device),
                                                                  Watts(watts), m_journal));
        }
    }

    /// Every original back (reverse order). Never throws; false when one failed (errors()).
    bool restore() noexcept {
        bool ok = true;
        for (auto it = m_caps.rbegin(); it != m_caps.rend(); ++it) {
            if ((*it)->restore()) continue;
            ok = false;
            try {
                m_errors.push_back(fmt::format("caps: restore {}: {}",
                                               (*it)->outcome().device.label,
                                               (*it)->outcome().restore_error));
            } catch (...) {
            }
        }
        m_caps.clear();
        return ok && m_errors.empty();
    }
    [[nodiscard]] const std::vector<std::string>& errors() const { return m_errors; }

private:
    runner::CapperRegistry& m_cappers;
    const capping::CapJournal& m_journal;
    const std::vector<TunedGpu>& m_gpus;
    std::vector<std::unique_ptr<capping::ScopedCap>> m_caps;
    std::vector<std::string> m_errors;
};

// The variables the command gets: CUDA numbers GPUs as joulebench does, and Python flushes each
// line (a block-buffered pipe would deliver the progress in bursts, and units would be timed
// wrong). As with `measure`, --gpus does not hide GPUs from the command (docs/nvml.md).
std::vector<std::pair<std::string, std::string>> command_env() {
    std::vector<std::pair<std::string, std::string>> env;
    if (std::getenv("CUDA_DEVICE_ORDER") == nullptr)
        env.emplace_back("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
    if (std::getenv("PYTHONUNBUFFERED") == nullptr) env.emplace_back("PYTHONUNBUFFERED", "1");
    return env;
}

// How much of a line --progress-regex is searched in.
constexpr std::size_t kMatchedPrefix = 4096;

enum class Phase { kSettling, kWaitingFirst, kMeasuring, kDone };

// The loop of one run: the schedule of segments, the command's output, the energy readings.
class OnlineRun {
public:
    OnlineRun(const OnlineOptions& options, OnlineDependencies& deps, EnergyReader& energy,
              CapHolder& caps, OnlineWorkload& workload, MarkRecorder& marks)
        : m_o(options),
          m_deps(deps),
          m_energy(energy),
          m_caps(caps),
          m_workload(workload),
          m_marks(marks),
          m_regex(compile_regex(options.progress_regex)),
          m_schedule(online_schedule(options.caps_w, options.passes)) {}

    /// Runs until the command's output closes, joulebench is asked to stop, or no unit comes
    /// within progress_timeout (Error, after the command was stopped and the caps restored).
    void run(OnlineOutcome& out);

private:
    double read_energy() noexcept { return m_energy.read(); }
    void on_unit(Clock::time_point t, OnlineOutcome& out);
    void start_segment(std::size_t index, Clock::time_point t);
    void finish_profile(OnlineOutcome& out);
    void pass_through(const std::vector<std::string>& lines, OnlineOutcome& out);
    void tell(const std::string& text);
    [[noreturn]] void no_progress(const OnlineOutcome& out);
    [[nodiscard]] Clock::time_point next_wake(Clock::time_point now) const;

    const OnlineOptions& m_o;
    OnlineDependencies& m_deps;
    EnergyReader& m_energy;
    CapHolder& m_caps;
    OnlineWorkload& m_workload;
    MarkRecorder& m_marks;
    std::regex m_regex;
    std::vector<std::pair<double, unsigned>> m_schedule;

    std::size_t m_index = 0;
    Phase m_phase = Phase::kSettling;
    Clock::time_point m_settle_until{};
    Clock::time_point m_last_progress{};
    Clock::time_point m_first_time{};
    double m_first_energy = 0.0;
    std::size_t m_segment_units = 0;
    std::size_t m_lines = 0;
    std::string m_last_line;
};

void OnlineRun::start_segment(std::size_t index, Clock::time_point t) {
    m_index = index;
    const double cap = m_schedule[index].first;
    if (index > 0 && m_schedule[index - 1].first == cap) {
        // The turn of the passes: the same cap again, already settled; the unit that closed the
        // previous segment opens this one.
        m_phase = Phase::kMeasuring;
        m_first_time = t;
        m_first_energy = read_energy();
        m_segment_units = 0;
        return;
    }
    m_caps.set(cap);
    m_phase = Phase::kSettling;
    m_settle_until = Clock::now() + m_o.settle;
}

void OnlineRun::finish_profile(OnlineOutcome& out) {
    m_phase = Phase::kDone;
    out.result = online_result(out.segments, m_o);
    if (!out.result.best_cap_w) return;
    // The last cap profiled may be the best: it is in force already.
    if (*out.result.best_cap_w != m_schedule[m_index].first) m_caps.set(*out.result.best_cap_w);
    out.final_cap_w = out.result.best_cap_w;
    tell(fmt::format("profile done; {} set for the rest of the run",
                     format_watts(Watts(*out.result.best_cap_w))));
}

// A line of progress on joulebench's progress stream, and a message of the live views.
void OnlineRun::tell(const std::string& text) {
    fmt::print(m_deps.machine.progress, "joulebench tune: {}\n", text);
    std::fflush(m_deps.machine.progress);
    if (m_deps.live) m_deps.live->message("tune: " + text);
}

void OnlineRun::on_unit(Clock::time_point t, OnlineOutcome& out) {
    ++out.units;
    m_last_progress = t;
    // Lines read in one batch may span the end of the settle time.
    if (m_phase == Phase::kSettling && t >= m_settle_until) m_phase = Phase::kWaitingFirst;
    if (m_phase == Phase::kWaitingFirst) {
        m_phase = Phase::kMeasuring;
        m_first_time = t;
        m_first_energy = read_energy();
        m_segment_units = 0;
        return;
    }
    if (m_phase != Phase::kMeasuring) return;
    ++m_segment_units;
    if (t - m_first_time < m_o.segment) return;
    const double energy = read_energy();
    OnlineSegment seg;
    seg.cap_w = m_schedule[m_index].first;
    seg.pass = m_schedule[m_index].second;
    seg.seconds = seconds_between(m_first_time, t);
    seg.energy_j = energy - m_first_energy;
    seg.units = m_segment_units;
    out.segments.push_back(seg);
    tell(fmt::format("{} (pass {}): {} units, {:.4g} s and {:.4g} J per unit",
                     format_watts(Watts(seg.cap_w)), seg.pass + 1, seg.units,
                     seg.time_per_unit_s(), seg.energy_per_unit_j()));
    if (m_index + 1 < m_schedule.size()) {
        start_segment(m_index + 1, t);
    } else {
        finish_profile(out);
    }
}

void OnlineRun::pass_through(const std::vector<std::string>& lines, OnlineOutcome& out) {
    for (const auto& line : lines) {
        const auto t = Clock::now();
        std::fwrite(line.data(), 1, line.size(), m_deps.output);
        std::fputc('\n', m_deps.output);
        ++m_lines;
        m_last_line = line;
        m_marks.line(line, /*from_file=*/false);
        // Only a line's start is searched: libstdc++'s regex recurses once per character, and a
        // progress line is short (the whole line is passed through all the same).
        const auto end =
            line.begin() + static_cast<std::ptrdiff_t>(std::min(line.size(), kMatchedPrefix));
        if (std::regex_search(line.begin(), end, m_regex)) on_unit(t, out);
    }
    if (!lines.empty()) std::fflush(m_deps.output);
}

Clock::time_point OnlineRun::next_wake(Clock::time_point now) const {
    Clock::time_point wake = now + m_o.interval;  // the stop flag is checked as often
    if (m_phase != Phase::kDone) wake = std::min(wake, m_last_progress + m_o.progress_timeout);
    if (m_phase == Phase::kSettling) wake = std::min(wake, m_settle_until);
    return wake;
}

void OnlineRun::no_progress(const OnlineOutcome& out) {
    const auto seconds = static_cast<double>(m_o.progress_timeout.count()) / 1000.0;
    if (out.units > 0) {
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("tune: no progress for {:g} s: --progress-regex '{}' matched no "
                                "line since unit {}; the command was stopped",
                                seconds, m_o.progress_regex, out.units),
                    "give a longer --progress-timeout when units of work can take longer");
    }
    Error e(m_lines > 0 ? ErrorCategory::kInvalidArgument : ErrorCategory::kNotFound,
            fmt::format("tune: --progress-regex '{}' matched no line of the command's output "
                        "within --progress-timeout {:g} s ({} lines read{}); the command was "
                        "stopped",
                        m_o.progress_regex, seconds, m_lines,
                        m_lines > 0 ? fmt::format(", the last: '{}'", m_last_line.substr(0, 200))
                                    : std::string()),
            "the regex is searched in each line of standard output (ECMAScript syntax); a "
            "command that buffers its output prints in bursts (flush each line)");
    throw e;
}

void OnlineRun::run(OnlineOutcome& out) {
    m_last_progress = Clock::now();
    start_segment(0, m_last_progress);
    const std::atomic<bool>& stop = *m_deps.machine.stop;
    while (!m_workload.output_closed()) {
        if (stop.load()) {
            if (m_deps.machine.stop_signal) out.stopped_by = m_deps.machine.stop_signal();
            if (!out.stopped_by) out.stopped_by = 15;
            break;
        }
        pass_through(m_workload.read_lines(next_wake(Clock::now())), out);
        const auto now = Clock::now();
        if (m_phase == Phase::kSettling && now >= m_settle_until) m_phase = Phase::kWaitingFirst;
        // Only while profiling: what the command does once the best cap is set is its own.
        if (m_phase != Phase::kDone && !m_workload.output_closed() &&
            now - m_last_progress >= m_o.progress_timeout) {
            no_progress(out);
        }
    }
    if (m_phase != Phase::kDone) {
        out.warnings.push_back(fmt::format(
            "the command ended after {} of {} segments: the profile is incomplete (not "
            "confident); a longer run, or a shorter --segment or --settle, profiles every cap",
            out.segments.size(), m_schedule.size()));
        out.result = online_result(out.segments, m_o);
    }
}

// The caps a crashed run left, restored; then the guard, before the first cap.
std::unique_ptr<runner::CapGuard> secure_caps(runner::RunnerDependencies& deps,
                                              const capping::CapJournal& journal) {
    const auto replay = deps.cappers->restore_leftovers(journal);
    for (const auto& line : replay.restored)
        fmt::print(deps.progress, "joulebench: caps: left by a crashed run: {}\n", line);
    for (const auto& line : replay.failed) fmt::print(deps.progress, "warning: caps: {}\n", line);
    if (!replay.ok()) {
        throw Error(ErrorCategory::kIo, "tune: restore the caps a crashed run left",
                    "run `joulebench caps restore`");
    }
    return deps.guard ? deps.guard(true) : nullptr;
}

// The live views' run "online" (docs/live.md): the command, on every tuned GPU.
constexpr const char* kLiveRun = "online";

void live_started(live::LiveState& state, const OnlineOptions& o, const Machine& m) {
    state.plan(1, 0, 1);
    live::RunLabels labels;
    labels.run_id = kLiveRun;
    labels.workload = std::filesystem::path(o.command.front()).filename().string();
    labels.environment = "bare";
    if (m.gpus.size() == 1) labels.slot = m.gpus.front().device.index;
    state.run_started(std::move(labels));
}

// Its end: the counters moved to the run's energies (first to last reading of each GPU), its
// status and total, the sampling thread's costs.
void live_finished(live::LiveState& state, const Sampler& sampler,
                   const std::vector<Sensor*>& sensors, const OnlineOutcome& out) {
    const auto& domains = sampler.domains();
    for (std::size_t i = 0; i < domains.size(); ++i) {
        if (domains[i].first && domains[i].last) {
            state.final_energy(kLiveRun, 0, sensors[i]->info().id,
                               domains[i].last->energy.value() - domains[i].first->energy.value());
        }
    }
    const RunStatus status = out.stopped_by       ? RunStatus::kInterrupted
                             : out.exit_code == 0 ? RunStatus::kDone
                                                  : RunStatus::kFailed;
    state.run_finished(kLiveRun, status, out.wall_s, out.energy_j,
                       out.exit_code == 0 ? "" : fmt::format("exit status {}", out.exit_code));
    state.sampler_stats(sampler.stats());
}

// The command's marks in $JOULEBENCH_MARKS: a FIFO read by a relay thread. When it cannot be made
// the run goes on with the marks of standard output only, and a warning says so.
struct MarksChannel {
    std::optional<MarksFolder> folder;
    std::unique_ptr<OutputRelay> relay;

    MarksChannel(MarkRecorder& marks, std::vector<std::pair<std::string, std::string>>& env,
                 std::vector<std::string>& warnings) {
        try {
            folder.emplace("tune");
            auto r = std::make_unique<OutputRelay>(STDOUT_FILENO, &marks);
            r->fifo(folder->file(), /*is_stdout=*/false);
            r->start();
            relay = std::move(r);
            env.emplace_back(kMarksVariable, folder->file().string());
        } catch (const std::exception& e) {
            relay.reset();
            folder.reset();
            warnings.push_back(std::string("marks: no $JOULEBENCH_MARKS (marks on standard output "
                                           "still count): ") + e.what());
        }
    }
    void stop() noexcept {
        if (relay) relay->stop(std::chrono::milliseconds(2000));
    }
};

}  // namespace

OnlineOutcome run_online(const OnlineOptions& options, OnlineDependencies& deps) {
    check_options(options);
    (void)compile_regex(options.progress_regex);  // refused before anything else
    if (deps.check_command) deps.check_command(options.command.front());
    runner::RunnerDependencies& machine_deps = deps.machine;
    const Machine machine = prepare_machine(options, machine_deps);
    const capping::CapJournal journal = machine_deps.journal();
    OnlineOutcome out;
    for (const auto& g : machine.gpus) out.gpus.push_back(g.label);

    // Destroyed in reverse: the command ends first, then the marks' relay and the sampler stop,
    // then the caps are restored, then the guard (which restores only what is still journalled)
    // is released.
    const std::unique_ptr<runner::CapGuard> guard = secure_caps(machine_deps, journal);
    CapHolder caps(*machine_deps.cappers, journal, machine.gpus);
    if (machine_deps.arm_stop) machine_deps.arm_stop();
    std::vector<Sensor*> sensors;
    for (const auto& g : machine.gpus) sensors.push_back(g.sensor);
    live::LiveState* const state = deps.live.get();
    std::optional<live::LiveTraceSink> live_sink;
    if (state != nullptr) {
        live_started(*state, options, machine);
        live_sink.emplace(state, kLiveRun, 0, nullptr);
    }
    Sampler sampler(sensors, options.interval, live_sink ? &*live_sink : nullptr);
    sampler.start();
    MarkRecorder marks(sampler, std::vector<const Sensor*>(sensors.begin(), sensors.end()));
    std::vector<std::pair<std::string, std::string>> env = command_env();
    MarksChannel marks_file(marks, env, out.warnings);
    EnergyReader energy(sampler, sensors.size());
    const double energy_start = energy.read();
    const auto start = Clock::now();
    std::unique_ptr<OnlineWorkload> workload = deps.start(options.command, env);
    OnlineRun run(options, deps, energy, caps, *workload, marks);
    try {
        run.run(out);
    } catch (...) {
        workload->terminate(options.kill_grace);
        std::optional<int> signal;
        (void)workload->wait(signal);
        marks_file.stop();
        sampler.stop();
        if (caps.restore() && guard) guard->done();
        if (state != nullptr) {
            state->run_finished(kLiveRun, RunStatus::kFailed, seconds_between(start, Clock::now()),
                                std::nullopt, "the online method stopped with an error");
        }
        throw;
    }
    if (out.stopped_by) workload->terminate(options.kill_grace);
    out.exit_code = workload->wait(out.signal);
    const auto end = Clock::now();
    out.wall_s = seconds_between(start, end);
    out.energy_j = energy.read() - energy_start;
    marks_file.stop();
    sampler.stop();
    MeasureResult marked;
    marks.finish(start, end, marked);
    out.phases = std::move(marked.phases);
    for (auto& w : marked.warnings) out.warnings.push_back(std::move(w.text));
    if (energy.failed > 0) {
        out.warnings.push_back(fmt::format(
            "{} reads of the GPU energy counters failed: their last good values were used",
            energy.failed));
    }
    const bool restored = caps.restore();
    if (restored && guard) guard->done();
    for (const auto& e : caps.errors()) out.warnings.push_back("error: " + e);
    if (state != nullptr) {
        live_finished(*state, sampler, sensors, out);
        for (const auto& w : out.warnings) state->message("warning: " + w);
    }
    if (!restored) {
        throw Error(ErrorCategory::kIo, "tune: " + caps.errors().front(),
                    "fix the cause, then run `joulebench caps restore`");
    }
    if (out.result.evaluated.size() < 2 && !out.stopped_by) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("tune: the command ended (exit status {}) after profiling {} "
                                "cap(s); the online method compares at least 2",
                                out.exit_code, out.result.evaluated.size()),
                    "run a longer workload, or give a shorter --segment and --settle");
    }
    return out;
}

OnlineDependencies production_online_dependencies() {
    OnlineDependencies d;
    d.machine = runner::production_dependencies();
    d.start = start_online_workload;
    d.check_command = [](const std::string& program) {
        try {
            (void)process::resolve_command(program);
        } catch (const Error& e) {
            // resolve_command speaks as `measure`; here the user ran `tune`.
            std::string message = e.what();
            if (message.rfind("measure: ", 0) == 0) message.replace(0, 9, "tune: ");
            Error out(e.category(), message, e.hint());
            out.set_exit_code(e.exit_code());
            throw out;
        }
    };
    return d;
}

}  // namespace joulebench::tune
