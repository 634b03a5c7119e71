// `joulebench measure [options] -- CMD ARGS...`: run a command while reading every energy sensor.

#include <fmt/format.h>

#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "common/atomic_file.hpp"
#include "joulebench/error.hpp"
#include "measure/measure.hpp"
#include "report/measure_report.hpp"
#include "sensors/registry.hpp"

namespace joulebench::cli {

void add_measure_command(CLI::App& app, CommandContext& ctx) {
    struct Options {
        unsigned interval_ms = 100;
        std::string gpus = "all";
        std::string samples;
        std::string json;
        double idle_baseline_s = 0.0;
        bool quiet = false;
        double cpu_tdp_w = 0.0;
        std::vector<std::string> command;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand("measure", "Run a command while reading every energy sensor; report time, energy, EDP");
    sub->add_option("--interval", opts->interval_ms, "Trace interval in milliseconds (sensors that need it are read more often)")
        ->check(CLI::Range(1U, 3'600'000U));
    sub->add_option("--gpus", opts->gpus, "GPUs to measure: all, none, or indices in PCI bus order (0,1)");
    sub->add_option("--samples", opts->samples, "Write the trace (time, per-domain power and energy, GPU telemetry) to this CSV file");
    sub->add_option("--json", opts->json, "Write the result as JSON to this file (- for standard output)");
    sub->add_option("--idle-baseline", opts->idle_baseline_s, "Measure idle power for SECONDS before the run; report gross, idle and net energy")
        ->check(CLI::Range(0.0, 3600.0));
    sub->add_option("--cpu-tdp", opts->cpu_tdp_w, "CPU package TDP in watts, for the CPU-time estimate when no CPU sensor exists")
        ->check(CLI::Range(1.0, 5000.0));
    sub->add_flag("-q,--quiet", opts->quiet, "Print no summary");
    sub->add_option("command", opts->command, "The command and its arguments (after --)");
    sub->callback([opts, &ctx] {
        const std::vector<std::string>& command = opts->command;
        if (command.empty()) {
            throw Error(ErrorCategory::kInvalidArgument, "measure: no command given",
                        "usage: joulebench measure [OPTIONS] -- CMD [ARGS...]");
        }
        ProbeOptions probe;
        probe.nvml.gpus = nvml::GpuSelection::parse(opts->gpus);
        if (opts->cpu_tdp_w > 0) probe.cpu_tdp_w = opts->cpu_tdp_w;
        SensorSet sensors = probe_all(probe);
        if (sensors.selection_error) throw *sensors.selection_error;

        MeasureOptions mo;
        mo.command = command;
        mo.interval = std::chrono::milliseconds(opts->interval_ms);
        if (!opts->samples.empty()) mo.samples_csv = opts->samples;
        if (opts->idle_baseline_s > 0) mo.idle_baseline_s = opts->idle_baseline_s;
        // Fail before the run if the JSON cannot be written later.
        if (!opts->json.empty() && opts->json != "-") {
            std::FILE* probe_file = std::fopen(opts->json.c_str(), "a");
            if (probe_file == nullptr) throw system_error(fmt::format("measure: open {}", opts->json), errno);
            std::fclose(probe_file);
        }
        const MeasureResult result = run_measurement(mo, sensors);
        if (!opts->quiet) {
            std::fflush(stdout);
            fmt::print(stderr, "joulebench measure: {}\n{}", fmt::join(command, " "), report::measure_summary(result));
        }
        if (!opts->json.empty()) {
            const std::string text = report::measure_to_json(result).dump(2) + "\n";
            if (opts->json == "-") {
                std::fwrite(text.data(), 1, text.size(), stdout);
                std::fflush(stdout);
            } else {
                write_file_atomically(opts->json, text);
            }
        }
        ctx.exit_code = result.exit_code;
    });
}

}  // namespace joulebench::cli
