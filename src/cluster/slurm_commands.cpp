#include "cluster/slurm_commands.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "common/strings.hpp"
#include "joulebench/error.hpp"

namespace joulebench::cluster {

namespace {

std::optional<unsigned> to_unsigned(std::string_view text) {
    unsigned value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
    return value;
}

bool is_job_id(std::string_view text) {
    return to_unsigned(text).has_value();
}

// One "ID", "ID_TASK" or "ID_[RANGES]" of sacct's JobID column, with its state.
void add_sacct_job(std::string_view id, std::string_view state_text, std::vector<TaskState>& out) {
    const JobState state = job_state_from_slurm(state_text);
    const std::string text = trim(state_text);
    const auto underscore = id.find('_');
    if (underscore == std::string_view::npos) {
        if (is_job_id(id)) out.push_back({std::string(id), std::nullopt, state, text});
        return;
    }
    const std::string_view job = id.substr(0, underscore);
    std::string_view tasks = id.substr(underscore + 1);
    if (!is_job_id(job)) return;
    if (tasks.size() >= 2 && tasks.front() == '[' && tasks.back() == ']') {
        tasks = tasks.substr(1, tasks.size() - 2);
    }
    try {
        for (const unsigned t : parse_task_ids(tasks))
            out.push_back({std::string(job), t, state, text});
    } catch (const Error&) {
        // A form this version does not know: skipped, the task then reads unknown.
    }
}

// The value of KEY= in a `scontrol show job -o` line ("" when absent).
std::string scontrol_field(std::string_view line, std::string_view key) {
    std::size_t pos = 0;
    const std::string needle = std::string(key) + "=";
    while ((pos = line.find(needle, pos)) != std::string_view::npos) {
        if (pos == 0 || line[pos - 1] == ' ') {
            const std::size_t start = pos + needle.size();
            const std::size_t end = line.find(' ', start);
            return std::string(
                line.substr(start, end == std::string_view::npos ? end : end - start));
        }
        pos += needle.size();
    }
    return {};
}

}  // namespace

std::vector<unsigned> parse_task_ids(std::string_view text) {
    const auto bad = [&] {
        return Error(ErrorCategory::kInvalidArgument,
                     fmt::format("slurm: read array task ids \"{}\"", text));
    };
    std::string_view body = text.substr(0, text.find('%'));
    std::set<unsigned> ids;
    for (const std::string_view part : split(body, ',')) {
        std::string_view range = part;
        unsigned step = 1;
        if (const auto colon = part.find(':'); colon != std::string_view::npos) {
            const auto s = to_unsigned(part.substr(colon + 1));
            if (!s || *s == 0) throw bad();
            step = *s;
            range = part.substr(0, colon);
        }
        const auto dash = range.find('-');
        const auto first = to_unsigned(range.substr(0, dash));
        const auto last =
            dash == std::string_view::npos ? first : to_unsigned(range.substr(dash + 1));
        if (!first || !last || *last < *first || *last - *first > 1000000) throw bad();
        for (unsigned t = *first; t <= *last; t += step) ids.insert(t);
    }
    return {ids.begin(), ids.end()};
}

std::string format_task_ids(std::vector<unsigned> tasks) {
    std::sort(tasks.begin(), tasks.end());
    tasks.erase(std::unique(tasks.begin(), tasks.end()), tasks.end());
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < tasks.size();) {
        std::size_t j = i;
        while (j + 1 < tasks.size() && tasks[j + 1] == tasks[j] + 1) ++j;
        parts.push_back(j == i ? std::to_string(tasks[i])
                               : fmt::format("{}-{}", tasks[i], tasks[j]));
        i = j + 1;
    }
    return join(parts, ",");
}

std::vector<TaskState> parse_sacct(std::string_view text) {
    std::vector<TaskState> out;
    for (const std::string_view raw : split(text, '\n')) {
        const std::string line = trim(raw);
        const auto bar = line.find('|');
        if (bar == std::string::npos) continue;
        const std::string_view id = std::string_view(line).substr(0, bar);
        std::string_view state = std::string_view(line).substr(bar + 1);
        state = state.substr(0, state.find('|'));
        if (id.find('.') != std::string_view::npos) continue;  // a step: ID.batch, ID.extern
        add_sacct_job(id, state, out);
    }
    return out;
}

std::vector<TaskState> parse_scontrol(std::string_view text) {
    std::vector<TaskState> out;
    for (const std::string_view line : split(text, '\n')) {
        const std::string job = scontrol_field(line, "JobId");
        const std::string state_text = scontrol_field(line, "JobState");
        if (!is_job_id(job) || state_text.empty()) continue;
        const JobState state = job_state_from_slurm(state_text);
        const std::string array = scontrol_field(line, "ArrayJobId");
        const std::string tasks = scontrol_field(line, "ArrayTaskId");
        if (array.empty() || tasks.empty()) {
            out.push_back({job, std::nullopt, state, state_text});
            continue;
        }
        try {
            for (const unsigned t : parse_task_ids(tasks))
                out.push_back({array, t, state, state_text});
        } catch (const Error&) {
            // A form this version does not know: the tasks then read unknown.
        }
    }
    return out;
}

std::string parse_sbatch_job_id(std::string_view out) {
    const std::string line = last_line(out);
    const std::string id = line.substr(0, line.find(';'));
    if (!is_job_id(id)) {
        throw Error(ErrorCategory::kIo,
                    fmt::format("slurm: read the job id that sbatch printed: \"{}\"", line));
    }
    return id;
}

std::string submit_batch(const CommandRunner& run, const std::filesystem::path& script,
                         const std::vector<std::string>& args) {
    std::vector<std::string> argv{"sbatch", "--parsable"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(script.string());
    const CommandResult r = run(argv);
    if (r.exit_code != 0) {
        std::string message = trim(r.err);
        if (message.empty()) message = trim(r.out);
        if (message.empty()) message = fmt::format("exit status {}", r.exit_code);
        throw Error(ErrorCategory::kIo,
                    fmt::format("slurm: submit {}: sbatch failed: {}", script.string(), message),
                    "check the options given to sbatch (--partition, --account, --time, "
                    "--sbatch-arg) against `sinfo` and your site's documentation");
    }
    return parse_sbatch_job_id(r.out);
}

namespace {

// sacct's answer, or a note saying why there is none.
bool query_sacct(const CommandRunner& run, const std::vector<std::string>& job_ids,
                 StateQuery& query) {
    CommandResult r;
    try {
        r = run({"sacct", "--jobs=" + join(job_ids, ","), "--parsable2", "--noheader",
                 "--allocations", "--format=JobID,State"});
    } catch (const Error& e) {
        if (e.category() != ErrorCategory::kNotFound) throw;
        query.notes.emplace_back("sacct: not found on PATH");
        return false;
    }
    if (r.exit_code != 0) {
        const std::string why = last_line(r.err.empty() ? r.out : r.err);
        query.notes.push_back("sacct: " + (why.empty() ? "failed" : why));
        return false;
    }
    const auto tasks = parse_sacct(r.out);
    query.tasks.insert(query.tasks.end(), tasks.begin(), tasks.end());
    return true;
}

// `scontrol show job -o ID` for each job; false when scontrol is missing.
bool query_scontrol(const CommandRunner& run, const std::vector<std::string>& job_ids,
                    StateQuery& query) {
    for (const auto& id : job_ids) {
        CommandResult r;
        try {
            r = run({"scontrol", "show", "job", "-o", id});
        } catch (const Error& e) {
            if (e.category() != ErrorCategory::kNotFound) throw;
            query.notes.emplace_back("scontrol: not found on PATH");
            return false;
        }
        // "Invalid job id specified": the controller forgot it (MinJobAge); it reads unknown.
        if (r.exit_code != 0) continue;
        const auto tasks = parse_scontrol(r.out);
        query.tasks.insert(query.tasks.end(), tasks.begin(), tasks.end());
    }
    return true;
}

}  // namespace

StateQuery query_states(const CommandRunner& run, const std::vector<std::string>& job_ids) {
    StateQuery query;
    if (job_ids.empty()) return query;
    const bool sacct = query_sacct(run, job_ids, query);
    std::vector<std::string> missing;
    for (const auto& id : job_ids) {
        const bool known = std::any_of(query.tasks.begin(), query.tasks.end(),
                                       [&](const TaskState& t) { return t.job_id == id; });
        if (!known) missing.push_back(id);
    }
    if (missing.empty()) {
        query.source = "sacct";
        return query;
    }
    if (!query_scontrol(run, missing, query)) {
        if (!sacct) {
            throw Error(ErrorCategory::kNotFound,
                        "slurm: read the state of jobs " + join(job_ids, ",") +
                            ": neither sacct nor scontrol is on PATH",
                        "run `joulebench status` on a login node of the cluster");
        }
        query.source = "sacct";
        return query;
    }
    query.source = sacct ? "sacct+scontrol" : "scontrol";
    return query;
}

TaskState find_task(const std::vector<TaskState>& tasks, std::string_view job_id,
                    std::optional<unsigned> task) {
    for (const auto& t : tasks) {
        if (t.job_id == job_id && t.task == task) return t;
    }
    return {std::string(job_id), task, JobState::kUnknown, ""};
}

}  // namespace joulebench::cluster
