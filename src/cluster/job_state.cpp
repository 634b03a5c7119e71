#include "cluster/job_state.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace joulebench::cluster {

namespace {

constexpr std::array<std::pair<std::string_view, JobState>, 24> kWords{{
    {"PENDING", JobState::kPending},           {"RUNNING", JobState::kRunning},
    {"CONFIGURING", JobState::kRunning},       {"RESIZING", JobState::kRunning},
    {"SIGNALING", JobState::kRunning},         {"COMPLETING", JobState::kCompleting},
    {"STAGE_OUT", JobState::kCompleting},      {"SUSPENDED", JobState::kSuspended},
    {"STOPPED", JobState::kSuspended},         {"REQUEUED", JobState::kRequeued},
    {"REQUEUE_HOLD", JobState::kRequeued},     {"REQUEUE_FED", JobState::kRequeued},
    {"COMPLETED", JobState::kCompleted},       {"FAILED", JobState::kFailed},
    {"SPECIAL_EXIT", JobState::kFailed},       {"CANCELLED", JobState::kCancelled},
    {"REVOKED", JobState::kCancelled},         {"TIMEOUT", JobState::kTimeout},
    {"PREEMPTED", JobState::kPreempted},       {"NODE_FAIL", JobState::kNodeFail},
    {"OUT_OF_MEMORY", JobState::kOutOfMemory}, {"BOOT_FAIL", JobState::kBootFail},
    {"DEADLINE", JobState::kDeadline},         {"UNKNOWN", JobState::kUnknown},
}};

}  // namespace

JobState job_state_from_slurm(std::string_view text) {
    // sacct: "CANCELLED by 1000"; a column too narrow ends in '+'.
    std::string word;
    for (const char c : text) {
        if (c == ' ' || c == '+' || c == '\t' || c == '\n' || c == '\r') {
            if (word.empty()) continue;
            break;
        }
        word += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    const auto* it = std::find_if(kWords.begin(), kWords.end(),
                                  [&](const auto& entry) { return entry.first == word; });
    return it == kWords.end() ? JobState::kUnknown : it->second;
}

std::string_view to_string(JobState state) {
    switch (state) {
        case JobState::kUnknown:
            return "unknown";
        case JobState::kPending:
            return "pending";
        case JobState::kRunning:
            return "running";
        case JobState::kCompleting:
            return "completing";
        case JobState::kSuspended:
            return "suspended";
        case JobState::kRequeued:
            return "requeued";
        case JobState::kCompleted:
            return "completed";
        case JobState::kFailed:
            return "failed";
        case JobState::kCancelled:
            return "cancelled";
        case JobState::kTimeout:
            return "timeout";
        case JobState::kPreempted:
            return "preempted";
        case JobState::kNodeFail:
            return "node_fail";
        case JobState::kOutOfMemory:
            return "out_of_memory";
        case JobState::kBootFail:
            return "boot_fail";
        case JobState::kDeadline:
            return "deadline";
    }
    return "unknown";
}

bool is_active(JobState state) {
    switch (state) {
        case JobState::kPending:
        case JobState::kRunning:
        case JobState::kCompleting:
        case JobState::kSuspended:
        case JobState::kRequeued:
            return true;
        default:
            return false;
    }
}

}  // namespace joulebench::cluster
