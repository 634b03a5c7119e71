// `joulebench measure [options] -- CMD ARGS...`: run a command while reading every energy sensor.

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "capping/cap_session.hpp"
#include "commands.hpp"
#include "live/live_sink.hpp"
#include "live_options.hpp"
#include "option_checks.hpp"
#include "common/atomic_file.hpp"
#include "joulebench/error.hpp"
#include "measure/measure.hpp"
#include "measure/process.hpp"
#include "model/measure_json.hpp"
#include "report/measure_summary.hpp"
#include "sensors/registry.hpp"

namespace joulebench::cli {

namespace {

struct MeasureCliOptions : LiveOptions {
    unsigned interval_ms = 100;
    std::string gpus = "all";
    std::string samples;
    std::string json;
    std::optional<int> json_fd;
    double idle_baseline_s = 0.0;
    bool quiet = false;
    double cpu_tdp_w = 0.0;
    std::string power_cap;
    double cpu_power_cap_w = 0.0;
    std::vector<std::string> command;
};

// --json-fd N: a descriptor the caller opened for writing (`3>out.json`). Kept from the command
// (close-on-exec), which would otherwise hold a pipe open or could write into it.
void check_json_fd(int fd) {
    const std::string what = fmt::format("measure: --json-fd {}", fd);
    const std::string hint =
        fmt::format("open it for writing where joulebench starts: --json-fd {0} {0}>out.json", fd);
    if (fd == STDIN_FILENO) {
        throw Error(ErrorCategory::kInvalidArgument, what + ": 0 is standard input", hint);
    }
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) {
        throw Error(ErrorCategory::kInvalidArgument, what + ": the descriptor is not open", hint);
    }
    if ((flags & O_ACCMODE) == O_RDONLY) {
        throw Error(ErrorCategory::kInvalidArgument, what + ": open for reading only", hint);
    }
    if (fd > STDERR_FILENO) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

// Fails before the run if the JSON or the trace could not be written after it.
void check_outputs(const MeasureCliOptions& opts) {
    const bool json_stdout = opts.json == "-" || opts.json_fd == STDOUT_FILENO;
    if (json_stdout && opts.samples == "-") {
        throw Error(ErrorCategory::kInvalidArgument,
                    "measure: --samples - and the JSON both go to standard output",
                    "write one of them elsewhere, e.g. --json-fd 3 3>out.json");
    }
    if (opts.json_fd) check_json_fd(*opts.json_fd);
    if (!opts.json.empty()) check_output(opts.json);
}

void write_json(const MeasureCliOptions& opts, const MeasureResult& result) {
    // The workload's argv need not be UTF-8: U+FFFD in place of a bad byte, where a strict dump
    // threw and the measurement was lost (docs/fuzzing.md).
    const std::string text =
        measure_to_json(result).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    if (!opts.json.empty()) write_output(opts.json, text);
    if (!opts.json_fd) return;
    if (*opts.json_fd == STDOUT_FILENO) {
        write_output("-", text);
    } else {
        write_all(*opts.json_fd, text, fmt::format("--json-fd {}", *opts.json_fd));
    }
}

// The live views of the one run `measure` makes (docs/live.md): the run "measure", its workload
// the command's name, its domains fed by the returned sink.
live::LiveTraceSink live_started(live::LiveState& state, const std::vector<std::string>& command) {
    live::RunLabels labels;
    labels.run_id = "measure";
    labels.workload = std::filesystem::path(command.front()).filename().string();
    labels.environment = "bare";
    state.run_started(std::move(labels));
    return live::LiveTraceSink(&state, "measure", 0, nullptr);
}

// Its end: the counters moved to the measured energies, its status, total and sampling costs.
void live_finished(live::LiveState& state, const MeasureResult& result) {
    for (const auto& d : result.domains) state.final_energy("measure", 0, d.info.id, d.energy_j);
    state.run_finished("measure", result.exit_code == 0 ? RunStatus::kDone : RunStatus::kFailed, result.wall_s,
                       result.total_energy_j,
                       result.exit_code == 0 ? "" : fmt::format("exit status {}", result.exit_code));
    SamplerStats stats;
    stats.thread_cpu_s = result.monitor_cpu_s;
    stats.ticks = result.polls;
    stats.late_ticks = result.late_ticks;
    state.sampler_stats(stats);
}

}  // namespace

void add_measure_command(CLI::App& app, CommandContext& ctx) {
    auto opts = std::make_shared<MeasureCliOptions>();
    auto* sub = app.add_subcommand(
        "measure", "Run a command while reading every energy sensor; report time, energy, EDP");
    sub->add_option("--interval", opts->interval_ms,
                    "Trace interval in milliseconds (sensors that need it are read more often)")
        ->check(number_range(1U, 3'600'000U));
    sub->add_option("--gpus", opts->gpus,
                    "GPUs to measure: all, none, or indices in PCI bus order (0,1)");
    sub->add_option("--samples", opts->samples,
                    "Write the trace (time, per-domain power and energy, GPU telemetry) to this "
                    "CSV file (- for standard output, shared with the command)");
    auto* json_opt = sub->add_option(
        "--json", opts->json,
        "Write the result as JSON to this file (- for standard output, shared with the command's "
        "own output: see --json-fd)");
    sub->add_option("--json-fd", opts->json_fd,
                    "Write the result as JSON to this open file descriptor (e.g. --json-fd 3 "
                    "3>out.json, or 3>&1 1>&2 to pipe it alone); not passed to the command")
        ->excludes(json_opt);
    sub->add_option(
           "--idle-baseline", opts->idle_baseline_s,
           "Measure idle power for SECONDS before the run; report gross, idle and net energy")
        ->check(number_range(0.0, 3600.0));
    sub->add_option("--cpu-tdp", opts->cpu_tdp_w,
                    "CPU package TDP in watts, for the CPU-time estimate when no CPU sensor exists")
        ->check(number_range(1.0, 5000.0));
    sub->add_option(
        "--power-cap", opts->power_cap,
        "Cap every measured GPU to W watts for the run (or per GPU: 0=250,1=300); restored after, "
        "even if joulebench is killed");
    sub->add_option("--cpu-power-cap", opts->cpu_power_cap_w,
                    "Cap every CPU package (powercap long-term limit) to W watts for the run; "
                    "restored after")
        ->check(positive_number());
    sub->add_flag("-q,--quiet", opts->quiet, "Print no summary");
    add_live_options(*sub, *opts, /*progress=*/false);
    sub->add_option("command", opts->command,
                    "The command and its arguments: options end at its first word, as for env and "
                    "timeout (`--` before it also works)");
    // `measure echo --interval 5` runs `echo --interval 5`: nothing after the command's first
    // word is read as joulebench's own option (issue 22, item 7).
    sub->positionals_at_end(true);
    sub->footer("Usage: joulebench measure [OPTIONS] [--] CMD [ARGS]...");
    sub->callback([opts, &ctx] {
        const std::vector<std::string>& command = opts->command;
        if (command.empty()) {
            throw Error(ErrorCategory::kInvalidArgument, "measure: no command given",
                        "usage: joulebench measure [OPTIONS] -- CMD [ARGS...]");
        }
        ProbeOptions probe;
        probe.nvml.gpus = nvml::GpuSelection::parse(opts->gpus);
        if (opts->cpu_tdp_w > 0) probe.cpu_tdp_w = opts->cpu_tdp_w;
        capping::CapRequest cap_request;
        if (!opts->power_cap.empty())
            capping::CapRequest::parse_gpu_caps(opts->power_cap, cap_request);
        if (opts->cpu_power_cap_w > 0) cap_request.cpu_packages = Watts(opts->cpu_power_cap_w);
        SensorSet sensors = probe_all(probe);
        if (sensors.selection_error) throw *sensors.selection_error;
        check_gpus_readable(fmt::format("measure: --gpus {}", opts->gpus), probe.nvml.gpus, sensors);

        // A command that may write caps first replays what a crashed run left in the journal.
        std::optional<capping::CapJournal> journal;
        try {
            journal.emplace(capping::CapJournal::open_default());
        } catch (const Error&) {
            if (!cap_request.empty()) throw;  // no state folder: caps cannot be journalled
        }
        if (journal) {
            capping::CapperFactory factory;
            const auto replay = capping::restore_journal(*journal, factory, {});
            for (const auto& line : replay.restored)
                fmt::print(stderr, "joulebench: caps: left by a crashed run: {}\n", line);
            for (const auto& line : replay.failed) fmt::print(stderr, "warning: caps: {}\n", line);
        }

        MeasureOptions mo;
        mo.command = command;
        mo.interval = std::chrono::milliseconds(opts->interval_ms);
        if (!opts->samples.empty()) mo.samples_csv = opts->samples;
        if (opts->idle_baseline_s > 0) mo.idle_baseline_s = opts->idle_baseline_s;
        check_outputs(*opts);
        LiveViews live(*opts, "measure");  // listening before any cap is set
        std::unique_ptr<capping::CapSession> caps;
        if (!cap_request.empty()) {
            // From the first cap until the signal forwarder is installed (run_measurement unblocks
            // them), SIGINT/SIGTERM/SIGHUP wait: they then end the command, the caps are restored
            // and joulebench exits 128+N. (SIGKILL is the guardian's case.)
            sigset_t forwarded;
            sigemptyset(&forwarded);
            for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&forwarded, sig);
            pthread_sigmask(SIG_BLOCK, &forwarded, nullptr);
            capping::CapEnvironment env;
            env.gpus = probe.nvml.gpus;
            env.powercap_root = probe.powercap_root;
            capping::GuardianOptions guardian;
            guardian.executable = capping::self_executable();
            guardian.nvml = cap_request.all_gpus || !cap_request.per_gpu.empty();
            // Before run_measurement makes this process a child subreaper: the guardian must not
            // be re-parented here.
            caps = std::make_unique<capping::CapSession>(capping::resolve_request(cap_request, env),
                                                         *journal, guardian);
            for (const auto& w : caps->warnings()) fmt::print(stderr, "warning: {}\n", w);
            for (const auto& c : caps->outcomes()) {
                fmt::print(stderr, "joulebench: caps: {} capped to {} (was {})\n", c.device.label,
                           format_watts(c.enforced.value_or(c.requested)),
                           format_watts(c.original));
            }
        }
        const std::shared_ptr<live::LiveState> state = live.state();
        std::optional<live::LiveTraceSink> live_sink;
        if (state) mo.observer = &live_sink.emplace(live_started(*state, command));
        MeasureResult result = run_measurement(mo, sensors);
        if (state) live_finished(*state, result);
        bool caps_restored = true;
        if (caps) {
            caps_restored = caps->restore_all();
            result.power_caps = capping::power_cap_results(caps->outcomes(), result.gpus);
            for (const auto& w : caps->warnings()) {
                result.warnings.push_back(make_warning(warning_code::kCapNotice, w));
            }
        }
        if (!opts->quiet) {
            std::fflush(stdout);
            fmt::print(stderr, "joulebench measure: {}\n{}", fmt::join(command, " "),
                       report::measure_summary(result));
        }
        write_json(*opts, result);
        live.finish();
        ctx.exit_code = result.exit_code;
        // SIGINT/SIGTERM/SIGHUP: forwarded to the command, caps restored above, then 128+N.
        if (const auto sig = process::SignalForwarder::received()) ctx.exit_code = 128 + *sig;
        if (!caps_restored) {
            std::fflush(stdout);
            for (const auto& c : result.power_caps) {
                if (!c.restored)
                    fmt::print(stderr, "error: caps: restore {}: {}\n", c.label, c.restore_error);
            }
            fmt::print(stderr, "hint: fix the cause, then run `joulebench caps restore`\n");
            ctx.exit_code = 1;
        }
    });
}

}  // namespace joulebench::cli
