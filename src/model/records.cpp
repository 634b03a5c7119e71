#include "joulebench/records.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <utility>

#include "joulebench/units.hpp"

namespace joulebench {

std::string_view to_string(RunStatus status) {
    switch (status) {
        case RunStatus::kPlanned:
            return "planned";
        case RunStatus::kRunning:
            return "running";
        case RunStatus::kDone:
            return "done";
        case RunStatus::kFailed:
            return "failed";
        case RunStatus::kTimeout:
            return "timeout";
        case RunStatus::kInterrupted:
            return "interrupted";
    }
    return "planned";
}

std::optional<RunStatus> run_status_from_string(std::string_view text) {
    for (const RunStatus s : {RunStatus::kPlanned, RunStatus::kRunning, RunStatus::kDone,
                              RunStatus::kFailed, RunStatus::kTimeout, RunStatus::kInterrupted}) {
        if (to_string(s) == text) return s;
    }
    return std::nullopt;
}

std::pair<double, double> instance_span(const InstanceOutcome& i) {
    double started = i.started_at;
    if (started == 0.0 && i.measure) started = i.measure->started_at;
    double ended = i.ended_at;
    if (ended == 0.0 && i.measure) ended = started + i.measure->wall_s;
    return {started, ended};
}

std::pair<double, double> instances_span(const std::vector<InstanceOutcome>& instances) {
    double first = 0.0;
    double last = 0.0;
    for (const auto& i : instances) {
        const auto [started, ended] = instance_span(i);
        if (started > 0.0 && (first == 0.0 || started < first)) first = started;
        last = std::max(last, ended);
    }
    return {first, last};
}

std::optional<double> instances_energy_j(const std::vector<InstanceOutcome>& instances) {
    double sum = 0.0;
    for (const auto& i : instances) {
        if (!i.measure) return std::nullopt;
        sum += i.measure->total_energy_j;
    }
    return sum;
}

std::vector<Warning> run_warnings(const RunOutcome& outcome) {
    std::vector<Warning> out;
    if (outcome.measure) out = outcome.measure->warnings;
    out.insert(out.end(), outcome.warnings.begin(), outcome.warnings.end());
    return out;
}

void StatusCounts::add(RunStatus status, std::size_t n) {
    switch (status) {
        case RunStatus::kPlanned:
            planned += n;
            break;
        case RunStatus::kRunning:
            running += n;
            break;
        case RunStatus::kDone:
            done += n;
            break;
        case RunStatus::kFailed:
            failed += n;
            break;
        case RunStatus::kTimeout:
            timeout += n;
            break;
        case RunStatus::kInterrupted:
            interrupted += n;
            break;
    }
}

std::string to_string(const StatusCounts& c) {
    return fmt::format("{} runs: {} done, {} failed, {} timeout, {} interrupted, {} not run",
                       c.total(), c.done, c.failed, c.timeout, c.interrupted, c.not_run());
}

ExperimentRecord experiment_record(const ExperimentSpec& spec) {
    ExperimentRecord record;
    record.name = spec.name;
    record.file_name = spec.source_name;
    record.file_text = spec.source_text;
    record.file_sha256 = spec.source_sha256;
    record.seed = spec.seed;
    record.seed_given = spec.seed_given;
    record.joulebench_version = JOULEBENCH_VERSION;
    record.created_at = unix_now();
    return record;
}

}  // namespace joulebench
