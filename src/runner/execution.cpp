#include "runner/execution.hpp"

#include <fmt/format.h>

#include "environments/gpu_visibility.hpp"
#include "joulebench/error.hpp"
#include "joulebench/units.hpp"
#include "measure/sampler.hpp"
#include "model/cpu_energy_marks.hpp"
#include "runner/host_cpu.hpp"
#include "runner/measurement.hpp"
#include "runner/run_marks.hpp"
#include "runner/rest.hpp"
#include "live/live_sink.hpp"
#include "runner/store_trace_sink.hpp"

namespace joulebench::runner {

namespace {

using environments::InstanceResult;

constexpr std::size_t kStderrTailBytes = 4096;

// A not-started result for an environment that threw.
InstanceResult not_started(const std::string& why) {
    InstanceResult ir;
    ir.end = InstanceResult::End::kNotStarted;
    ir.start_error = why;
    ir.exit_code = 1;
    return ir;
}

// The run's status, and the reason shown beside a run that is not done.
// `overlapped`: another run ran on the same machine meanwhile; `busy_cpu_s`: the machine's busy
// CPU time over the run, when known (local runs).
// `stopping`: joulebench was asked to stop (a signal) by the time the instance ended.
void conclude(const InstanceResult& ir, bool overlapped, std::optional<double> busy_cpu_s,
              bool stopping, const WorkloadSpec& workload,
              const environments::WorkloadInstance& inst, RunOutcome& outcome,
              std::string& detail) {
    outcome.stderr_tail = file_tail(inst.stderr_file, kStderrTailBytes);
    if (ir.end == InstanceResult::End::kNotStarted) {
        outcome.status = RunStatus::kFailed;
        outcome.exit_code = ir.exit_code;
        outcome.stderr_tail += ir.start_error;
        outcome.started_at = ir.started_at;
        detail = ir.start_error;
        return;
    }
    if (ir.measured) {
        outcome.measure = ir.measured;
        if (overlapped) attribute_cpu_energy(*outcome.measure, busy_cpu_s);
    } else {
        // A remote measurement that did not come back (connection lost, killed).
        outcome.exit_code = ir.exit_code;
        outcome.started_at = ir.started_at;
        outcome.warnings.push_back(make_warning(warning_code::kNoMeasurement,
                                                "no measurement came back from the environment"));
    }
    switch (ir.end) {
        case InstanceResult::End::kTimedOut:
            outcome.status = RunStatus::kTimeout;
            detail = fmt::format("timed out after {}", format_duration_ms(*workload.timeout));
            break;
        case InstanceResult::End::kInterrupted:
            outcome.status = RunStatus::kInterrupted;
            detail = "interrupted";
            break;
        default:
            outcome.status =
                ir.exit_code == 0 && outcome.measure ? RunStatus::kDone : RunStatus::kFailed;
            if (outcome.status == RunStatus::kFailed && stopping) {
                // Ended while joulebench was being stopped: a batch system that cancels,
                // preempts or times out a job signals every process of it, the workload too,
                // which may then end before joulebench ends it. Not the workload's failure: a
                // resume runs it again.
                outcome.status = RunStatus::kInterrupted;
                detail = "interrupted";
                break;
            }
            if (ir.exit_code != 0) {
                detail = ir.signal ? fmt::format("killed by signal {}", *ir.signal)
                                   : fmt::format("exit status {}", ir.exit_code);
            } else if (!outcome.measure) {
                detail = "no measurement came back from the environment";
            }
    }
    if (workload.metrics == MetricsFormat::kJsonLine) {
        // Reading the tail bounds memory for chatty workloads; the metrics line is last.
        outcome.metrics_json = last_json_object_line(file_tail(inst.stdout_file, 1U << 20));
        if (outcome.metrics_json.empty() && outcome.status == RunStatus::kDone) {
            outcome.warnings.push_back(
                make_warning(warning_code::kNoMetrics,
                             "metrics: the workload printed no JSON object line on stdout"));
        }
    }
}

// The last line of the run's stderr beside the reason of a run that is not done.
void add_last_stderr_line(const RunOutcome& outcome, std::string& detail) {
    if (outcome.status == RunStatus::kDone || outcome.stderr_tail.empty() ||
        detail == "interrupted") {
        return;
    }
    std::string last = outcome.stderr_tail;
    while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.pop_back();
    if (const auto nl = last.rfind('\n'); nl != std::string::npos) last = last.substr(nl + 1);
    // A run that could not start has its start error both as the reason and as its stderr's
    // last line: said once ("X", not "X: X").
    const bool said = detail.size() >= last.size() && detail.compare(detail.size() - last.size(), last.size(), last) == 0;
    if (!last.empty() && !said) detail += ": " + last;
}

}  // namespace

// How run_instance went, for what follows the restore of the caps.
struct RunExecutor::InstanceRun {
    InstanceResult result;
    bool overlapped = false;           // another run ran on the same machine meanwhile
    std::optional<double> busy_cpu_s;  // the machine's busy CPU time over the run (local runs)
    std::optional<std::string> trace_error;
};

bool RunExecutor::caps_ok() const {
    std::lock_guard lock(m_mutex);
    return m_caps_ok;
}

std::size_t RunExecutor::executed() const {
    std::lock_guard lock(m_mutex);
    return m_executed;
}

RunExecutor::Caps RunExecutor::apply_caps(const Slot& slot, const RunSpec& run, bool remote,
                                          std::string& error) {
    Caps caps;
    if (remote) return caps;  // set where the workload runs
    try {
        if (run.gpu_cap_w) {
            for (const auto& gpu : slot.cap_gpus) {
                caps.push_back(std::make_unique<capping::ScopedCap>(
                    m_ctx.cappers.gpu_capper(gpu), Watts(*run.gpu_cap_w), *m_ctx.journal));
            }
        }
        if (run.cpu_cap_w) {
            std::vector<std::string> skipped;
            for (auto& c : m_ctx.cappers.cpu_cappers(skipped)) {
                caps.push_back(std::make_unique<capping::ScopedCap>(
                    std::move(c), Watts(*run.cpu_cap_w), *m_ctx.journal));
            }
        }
    } catch (const Error& e) {
        error = e.what();
    }
    return caps;
}

environments::WorkloadInstance RunExecutor::instance(const Slot& slot, const RunSpec& run,
                                                     const WorkloadSpec& workload, bool remote,
                                                     int instance) const {
    environments::WorkloadInstance inst;
    inst.run_id = run.run_id;
    inst.instance = instance;
    inst.command = workload.command;
    inst.env = workload.env;
    inst.env.emplace_back("JOULEBENCH_RUN_ID", run.run_id);
    inst.env.emplace_back("JOULEBENCH_REPETITION", std::to_string(run.repetition));
    if (m_ctx.spec.gpus && m_ctx.spec.gpus->mode == GpuMode::kGang) {
        inst.env.emplace_back("JOULEBENCH_INSTANCE", std::to_string(instance));
    }
    inst.env.emplace_back("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
    for (auto& kv : environments::gpu_visibility_env(slot.gpu, slot.device)) {
        inst.env.push_back(std::move(kv));
    }
    inst.gpu = slot.gpu;
    inst.gpu_device = slot.device;
    inst.timeout = workload.timeout;
    inst.stdout_file = m_ctx.logs_dir / (inst.key() + ".stdout");
    inst.stderr_file = m_ctx.logs_dir / (inst.key() + ".stderr");
    inst.stop = &m_ctx.stop;
    inst.kill_grace = m_ctx.options.kill_grace;
    inst.interval = m_ctx.options.interval;
    if (remote) {
        inst.gpu_cap_w = run.gpu_cap_w;
        inst.cpu_cap_w = run.cpu_cap_w;
    }
    return inst;
}

RunExecutor::InstanceRun RunExecutor::run_instance(Slot& slot, environments::Environment& env,
                                                   environments::WorkloadInstance& inst,
                                                   RunOutcome& outcome, StartGate& gate) {
    InstanceRun out;
    const bool remote = env.measures_itself();
    const std::vector<Sensor*> sensors = slot.sensors.pointers();
    StoreTraceSink store_sink(m_ctx.store, inst.run_id, inst.instance, 600);
    live::LiveState* const live = m_ctx.progress.live();
    live::LiveTraceSink sink(live, inst.run_id, inst.instance, &store_sink);  // the live views see the rows
    if (remote) inst.trace = &sink;  // the remote measure's trace comes back into it
    // A local guest's phases (vm boot, shutdown) are measured by this machine's CPU counters.
    const bool on_host = remote && env.host_measures_cpu();
    PhaseSampler phases(on_host  ? host_cpu_sensors(slot.sensors)
                        : remote ? std::vector<Sensor*>{}
                                 : sensors,
                        m_ctx.options.interval);
    // A local run's sampler exists before the environment begins, so that the workload's marks
    // (read from its output from then on) can read it.
    std::optional<Sampler> sampler;
    std::optional<RunMarks> marks;
    std::vector<Warning> mark_warnings;
    if (!remote) {
        sampler.emplace(sensors, m_ctx.options.interval, &sink);
        marks.emplace(inst, *sampler, sensors, mark_warnings);
    }
    std::string begin_error;
    try {
        env.begin_instance(inst, phases);
    } catch (const std::exception& e) {
        begin_error = e.what();
    }
    if (!begin_error.empty()) {
        gate.leave();
        out.result = not_started(begin_error);
    } else if (remote) {
        // Runs overlapping on the remote host share its CPU counters too; without its busy CPU
        // time their machine-wide CPU energy is labelled shared, not attributed.
        // A local guest's runs share this machine's CPU counters with every local run.
        const std::string machine =
            on_host ? "" : fmt::format("{}:{}", env.spec().host, env.spec().port.value_or(0));
        HostCpuMeasurement host(on_host ? host_cpu_sensors(slot.sensors) : std::vector<Sensor*>{},
                                m_ctx.options.interval);
        gate.pass();
        m_overlaps.begin(inst.key(), machine);
        host.start(env.host_process(inst));
        try {
            out.result = env.execute(inst, nullptr);
        } catch (const Error& e) {
            out.result = not_started(e.what());
        }
        host.stop();
        out.overlapped = m_overlaps.end(inst.key(), machine);
        // The remote measure's domains were measured there (a vm environment says "guest"
        // itself).
        if (out.result.measured) {
            for (auto& d : out.result.measured->domains) {
                if (d.measured_on == Location::kHost) d.measured_on = Location::kRemote;
            }
        }
        // A local guest's CPU domains are this machine's, measured here (labelled "host").
        if (out.result.measured && !host.empty()) {
            host.apply(*out.result.measured, out.overlapped);  // shared by QEMU's CPU time
            out.overlapped = false;
        }
    } else {
        ClockObserver observer(slot.sensors.cpu_clock.get());
        gate.pass();
        m_overlaps.begin(inst.key(), "");
        const std::optional<double> busy_before = machine_busy_cpu_s();
        sampler->start();
        try {
            out.result = env.execute(inst, &observer);
        } catch (const Error& e) {
            out.result = not_started(e.what());
        }
        sampler->stop();
        const std::optional<double> busy_after = machine_busy_cpu_s();
        out.overlapped = m_overlaps.end(inst.key(), "");
        if (busy_before && busy_after) out.busy_cpu_s = *busy_after - *busy_before;
        if (out.result.end != InstanceResult::End::kNotStarted) {
            out.result.measured =
                measurement_of(inst, out.result, slot.sensors, *sampler, m_ctx.options.interval);
        }
    }
    if (live != nullptr) {
        // The live counters end at the energies the run records (the last reading came after the
        // last trace row), before attribution (a counter never goes down).
        if (out.result.measured) {
            for (const auto& d : out.result.measured->domains) {
                live->final_energy(inst.run_id, inst.instance, d.info.id,
                                   d.measured_energy_j.value_or(d.energy_j));
            }
        }
        if (sampler) live->sampler_stats(sampler->stats());
    }
    std::vector<Warning> env_warnings;
    env.end_instance(inst, phases, env_warnings);
    if (marks) {
        marks->stop();
        if (out.result.measured) {
            marks->finish(out.result.start_time, out.result.end_time, *out.result.measured);
        }
    }
    for (auto& w : mark_warnings) outcome.warnings.push_back(std::move(w));
    outcome.phases = phases.results();
    for (auto& w : out.result.warnings) outcome.warnings.push_back(std::move(w));
    for (auto& w : env_warnings) outcome.warnings.push_back(std::move(w));
    out.result.warnings.clear();
    out.trace_error = store_sink.error();
    return out;
}

void RunExecutor::restore_caps(Caps& caps, RunOutcome& outcome) {
    for (auto it = caps.rbegin(); it != caps.rend(); ++it) {
        if ((*it)->restore()) continue;
        const auto& o = (*it)->outcome();
        {
            std::lock_guard lock(m_mutex);
            m_caps_ok = false;
        }
        outcome.warnings.push_back(
            make_warning(warning_code::kCapNotRestored,
                         fmt::format("caps: restore {}: {}", o.device.label, o.restore_error)));
        m_ctx.progress.message(
            fmt::format("error: caps: restore {}: {}", o.device.label, o.restore_error));
    }
}

void RunExecutor::record(const RunSpec& run, std::optional<int> gpu, const RunOutcome& outcome,
                         const std::string& detail) {
    try {
        m_ctx.store.finish_run(outcome);
    } catch (const Error& e) {
        m_ctx.progress.message(fmt::format("error: {}", e.what()));
        throw;
    }
    std::optional<double> energy;
    double wall = 0.0;
    std::string energy_how;
    if (outcome.measure) {
        energy = outcome.measure->total_energy_j;
        wall = outcome.measure->wall_s;
        energy_how = describe(cpu_energy_marks(*outcome.measure));
    } else if (!outcome.instances.empty()) {
        // Gang mode: the energy of every instance together, over the time all of them took.
        energy = instances_energy_j(outcome.instances);
        const auto [first, last] = instances_span(outcome.instances);
        wall = last > first ? last - first : 0.0;
        for (const auto& i : outcome.instances) {
            if (i.measure && energy_how.empty()) energy_how = describe(cpu_energy_marks(*i.measure));
        }
    }
    m_ctx.progress.finished(run, gpu, outcome.status, wall, energy, detail, energy_how);
    std::lock_guard lock(m_mutex);
    ++m_executed;
}

RunExecutor::SlotRun RunExecutor::run_on_slot(Slot& slot, const RunSpec& run, int number,
                                              StartGate& gate) {
    const WorkloadSpec& workload = *m_ctx.workloads.at(run.workload);
    environments::Environment& env = *m_ctx.environments.at(run.environment);
    SlotRun out;
    RunOutcome& outcome = out.outcome;
    outcome.run_id = run.run_id;
    outcome.gpu = slot.gpu;
    outcome.warnings = std::move(slot.pending_warnings);
    slot.pending_warnings.clear();

    // Caps for this run, journalled, verified; restored right after it.
    const bool remote = env.measures_itself();
    std::string cap_error;
    Caps caps = apply_caps(slot, run, remote, cap_error);
    for (const auto& c : caps) {
        const auto& o = c->outcome();
        AppliedCap applied;
        applied.domain = o.device.id;
        applied.requested_w = o.requested.value();
        if (o.enforced) applied.applied_w = o.enforced->value();
        outcome.caps.push_back(applied);
    }
    environments::WorkloadInstance inst = instance(slot, run, workload, remote, number);

    if (!cap_error.empty()) {
        gate.leave();
        caps.clear();  // ScopedCap restored what it set before throwing; the rest now
        outcome.status = RunStatus::kFailed;
        outcome.stderr_tail = cap_error;
        outcome.warnings.push_back(
            make_warning(warning_code::kCapNotSet,
                         "the workload did not run: its power cap could not be set: " + cap_error));
        out.detail = cap_error;
        return out;
    }
    const InstanceRun ran = run_instance(slot, env, inst, outcome, gate);
    restore_caps(caps, outcome);
    if (ran.trace_error) {
        outcome.warnings.push_back(make_warning(warning_code::kTrace, *ran.trace_error));
    }
    conclude(ran.result, ran.overlapped, ran.busy_cpu_s, m_ctx.stop.load(), workload, inst,
             outcome, out.detail);
    if (outcome.measure && m_ctx.node_shared) mark_node_shared(*outcome.measure, *m_ctx.node_shared);
    add_last_stderr_line(outcome, out.detail);
    if (ran.result.end != InstanceResult::End::kNotStarted) out.started_at = ran.result.started_at;
    return out;
}

void RunExecutor::execute(Slot& slot, const RunSpec& run, bool first_on_slot) {
    // Rest before every run but the slot's first (never measured).
    if (!first_on_slot) {
        rest_before_run(slot, m_ctx.spec.rest, m_ctx.options.baseline_timeout, m_ctx.stop);
    }
    if (m_ctx.stop.load()) return;

    m_ctx.store.mark_running(run.run_id, m_ctx.session_id, slot.gpu, unix_now());
    m_ctx.progress.started(run, slot.gpu);
    StartGate no_gate(nullptr);
    SlotRun ran = run_on_slot(slot, run, 0, no_gate);
    ran.outcome.ended_at = 0.0;
    record(run, slot.gpu, ran.outcome, ran.detail);
}


}  // namespace joulebench::runner
