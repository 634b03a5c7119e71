#pragma once
// Helpers for the store tests: a parsed example experiment, a MeasureResult with known numbers,
// and a store filled with a plan.

#include <string>

#include "joulebench/experiment.hpp"
#include "joulebench/measure_result.hpp"
#include "joulebench/store.hpp"

namespace joulebench::test {

inline ExperimentSpec store_example_spec() {
    return parse_experiment_text(
        "[experiment]\nname = \"store-test\"\nrepetitions = 2\nseed = 3\n"
        "[[workload]]\nname = \"w\"\ncommand = [\"true\"]\n"
        "[[workload]]\nname = \"v, \\\"quoted\\\"\"\ncommand = [\"false\"]\n"
        "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n"
        "[power_caps]\ngpu_w = [150, 250]\n",
        "store-test.toml");
}

/// A measurement with one GPU (100 J), a package (40 J) and a core domain (30 J, inside the
/// package, not in the total), 2 s of wall time: total 140 J, EDP 280 J s.
inline MeasureResult example_measure(double started_at, double scale = 1.0) {
    MeasureResult m;
    m.command = {"true"};
    m.exit_code = 0;
    m.started_at = started_at;
    m.wall_s = 2.0;
    m.cpu_user_s = 1.5;
    m.cpu_system_s = 0.25;
    DomainResult gpu;
    gpu.info.id = "gpu0";
    gpu.info.kind = DomainKind::kGpu;
    gpu.info.index = 0;
    gpu.info.method = Method::kCounter;
    gpu.info.backend = "nvml";
    gpu.info.name = "Fake GPU";
    gpu.energy_j = 100.0 * scale;
    gpu.avg_power_w = 50.0 * scale;
    gpu.peak_power_w = 80.0;
    gpu.counts_in_total = true;
    DomainResult package;
    package.info.id = "package0";
    package.info.kind = DomainKind::kPackage;
    package.info.index = 0;
    package.info.backend = "powercap";
    package.info.name = "package-0";
    package.energy_j = 40.0 * scale;
    package.avg_power_w = 20.0 * scale;
    package.counts_in_total = true;
    package.health.wraps = 2;
    DomainResult core;
    core.info.id = "package0-core";
    core.info.kind = DomainKind::kCore;
    core.info.backend = "powercap";
    core.info.name = "core";
    core.energy_j = 30.0 * scale;
    core.avg_power_w = 15.0 * scale;
    core.counts_in_total = false;
    m.domains = {gpu, package, core};
    GpuResult g;
    g.index = 0;
    g.id = "gpu0";
    g.uuid = "GPU-1234";
    g.mean_utilisation_pct = 97.5;
    g.max_temperature_c = 71.0;
    m.gpus = {g};
    m.total_energy_j = 140.0 * scale;
    m.edp_js = m.total_energy_j * m.wall_s;
    m.ed2p_js2 = m.edp_js * m.wall_s;
    m.warnings = {make_warning(warning_code::kShortRun, "gpu0: short run")};
    m.samples = 20;
    return m;
}

/// A RunOutcome with the fields the tests vary (designated initializers would trip
/// -Wmissing-field-initializers).
inline RunOutcome outcome(std::string run_id, RunStatus status = RunStatus::kDone,
                          std::optional<MeasureResult> measure = std::nullopt) {
    RunOutcome o;
    o.run_id = std::move(run_id);
    o.status = status;
    o.measure = std::move(measure);
    return o;
}

}  // namespace joulebench::test
