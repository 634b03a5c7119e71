// Gang mode ([gpus] mode = "gang"): every run of the plan as one instance per GPU slot, all
// prepared first and started together, recorded once when all have ended (docs/runner.md).

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <thread>

#include "joulebench/units.hpp"
#include "runner/execution.hpp"
#include "runner/rest.hpp"

namespace joulebench::runner {

namespace {

// The run's status from its instances': done only when every instance is; otherwise the one
// that says most about why (interrupted, then timeout, then failed).
RunStatus gang_status(const std::vector<InstanceOutcome>& instances) {
    const auto any = [&](RunStatus s) {
        return std::any_of(instances.begin(), instances.end(),
                           [&](const InstanceOutcome& i) { return i.status == s; });
    };
    if (any(RunStatus::kInterrupted)) return RunStatus::kInterrupted;
    if (any(RunStatus::kTimeout)) return RunStatus::kTimeout;
    if (any(RunStatus::kFailed)) return RunStatus::kFailed;
    return RunStatus::kDone;
}

// "instance 1 (GPU 3): "
std::string instance_label(int instance, std::optional<int> gpu) {
    return gpu ? fmt::format("instance {} (GPU {}): ", instance, *gpu)
               : fmt::format("instance {}: ", instance);
}

}  // namespace

void StartGate::pass() {
    if (m_barrier == nullptr || m_passed) return;
    m_passed = true;
    m_barrier->arrive_and_wait();
}

void StartGate::leave() noexcept {
    if (m_barrier == nullptr || m_passed) return;
    m_passed = true;
    m_barrier->arrive_and_drop();
}

void RunExecutor::execute_gang(const std::vector<Slot*>& slots, const RunSpec& run, bool first) {
    const auto on_every_slot = [&](const std::function<void(std::size_t)>& body) {
        std::vector<std::thread> threads;
        threads.reserve(slots.size());
        for (std::size_t i = 0; i < slots.size(); ++i) threads.emplace_back(body, i);
        for (auto& t : threads) t.join();
    };
    // Rest on every slot at once before every run but the first (never measured).
    if (!first) {
        on_every_slot([&](std::size_t i) {
            rest_before_run(*slots[i], m_ctx.spec.rest, m_ctx.options.baseline_timeout,
                            m_ctx.stop);
        });
    }
    if (m_ctx.stop.load()) return;

    m_ctx.store.mark_running(run.run_id, m_ctx.session_id, std::nullopt, unix_now());
    m_ctx.progress.started(run, std::nullopt);
    std::vector<SlotRun> ran(slots.size());
    std::vector<std::exception_ptr> failures(slots.size());
    std::barrier<> start_line(static_cast<std::ptrdiff_t>(slots.size()));
    on_every_slot([&](std::size_t i) {
        StartGate gate(&start_line);
        try {
            ran[i] = run_on_slot(*slots[i], run, static_cast<int>(i), gate);
        } catch (...) {
            gate.leave();
            failures[i] = std::current_exception();
        }
    });
    for (const auto& f : failures) {
        if (f) std::rethrow_exception(f);
    }

    RunOutcome outcome;
    outcome.run_id = run.run_id;
    std::string detail;
    double first_start = 0.0;
    double last_start = 0.0;
    for (std::size_t i = 0; i < slots.size(); ++i) {
        RunOutcome& one = ran[i].outcome;
        InstanceOutcome inst;
        inst.instance = static_cast<int>(i);
        inst.gpu = slots[i]->gpu;
        inst.status = one.status;
        inst.measure = std::move(one.measure);
        inst.exit_code = one.exit_code;
        inst.signal = one.signal;
        inst.started_at = one.started_at;
        inst.stderr_tail = std::move(one.stderr_tail);
        const std::string label = instance_label(inst.instance, inst.gpu);
        // The instance's warnings (its measurement's too) are the run's, each naming it.
        if (inst.measure) {
            for (const auto& w : inst.measure->warnings)
                outcome.warnings.push_back(make_warning(w.code, label + w.text));
        }
        for (const auto& w : one.warnings)
            outcome.warnings.push_back(make_warning(w.code, label + w.text));
        for (auto& c : one.caps) outcome.caps.push_back(std::move(c));
        for (auto& p : one.phases) {
            p.instance = inst.instance;
            outcome.phases.push_back(std::move(p));
        }
        if (detail.empty() && inst.status != RunStatus::kDone && !ran[i].detail.empty())
            detail = label + ran[i].detail;
        if (const double s = ran[i].started_at; s > 0.0) {
            first_start = first_start == 0.0 ? s : std::min(first_start, s);
            last_start = std::max(last_start, s);
        }
        if (outcome.metrics_json.empty()) outcome.metrics_json = std::move(one.metrics_json);
        outcome.instances.push_back(std::move(inst));
    }
    outcome.status = gang_status(outcome.instances);
    if (first_start > 0.0) outcome.start_skew_s = last_start - first_start;
    record(run, std::nullopt, outcome, detail);
}

}  // namespace joulebench::runner
