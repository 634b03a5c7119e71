#include "joulebench/records.hpp"

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
