// The warnings box of the report: the plan's warnings, the runs' warnings aggregated by code, the
// runs that did not finish, and the warnings of the `analyze DB` analyses.

#include <fmt/core.h>

#include <cctype>
#include <map>
#include <set>
#include <utility>

#include "common/strings.hpp"
#include "joulebench/error.hpp"
#include "report/report_build.hpp"

namespace joulebench::report {

namespace {

// A failed run's stderr shows its last line, at most this long.
constexpr std::size_t kMaxTailChars = 200;

std::string plural(std::size_t n, const std::string& word) {
    return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

// One line per warning code (in order of first appearance, runs in plan order): how many warnings
// have it, and an example text; when the texts differ (other devices, other numbers), how many.
void add_run_warnings(ReportModel& m,
                      const std::vector<std::pair<std::string, Warning>>& warnings) {
    struct Kind {
        std::string example;
        std::size_t count = 0;
        std::set<std::string> texts;
    };
    std::vector<std::string> codes;
    std::map<std::string, Kind> kinds;
    for (const auto& [run_id, w] : warnings) {
        auto [it, added] = kinds.try_emplace(w.code);
        if (added) {
            codes.push_back(w.code);
            it->second.example = w.text;
        }
        ++it->second.count;
        it->second.texts.insert(w.text);
    }
    for (const auto& code : codes) {
        const Kind& k = kinds.at(code);
        const std::size_t others = k.texts.size() - 1;
        m.warnings.push_back(
            WarningEntry{"runs",
                         others == 0 ? k.example
                                     : fmt::format("{} (and {} other text{} of this kind)",
                                                   k.example, others, others == 1 ? "" : "s"),
                         k.count, code});
    }
}

// The last line of a failed run's stderr, shortened to kMaxTailChars.
std::string stderr_tail(const std::string& text) {
    std::string s = last_line(text);
    if (s.size() > kMaxTailChars) s = s.substr(0, kMaxTailChars - 3) + "...";
    return s;
}

void add_unfinished_runs(ReportModel& m, const std::vector<RunRecord>& runs,
                         const CapScheme& scheme, const ReportOptions& options) {
    std::size_t listed = 0;
    std::size_t unlisted = 0;
    for (const auto& r : runs) {
        if (r.status == RunStatus::kDone || r.status == RunStatus::kPlanned ||
            r.status == RunStatus::kRunning) {
            continue;
        }
        if (listed >= options.max_failed_listed) {
            ++unlisted;
            continue;
        }
        ++listed;
        std::string how(to_string(r.status));
        if (r.signal) {
            how += fmt::format(", signal {}", *r.signal);
        } else if (r.exit_code) {
            how += fmt::format(", exit code {}", *r.exit_code);
        }
        const std::string tail = stderr_tail(r.stderr_tail);
        m.warnings.push_back(WarningEntry{
            "failed run",
            fmt::format("run {} ({} / {} / {}, repetition {}): {}{}", r.run_id, r.workload,
                        r.environment, scheme.label(r.gpu_cap_w, r.cpu_cap_w), r.repetition, how,
                        tail.empty() ? "" : ": " + tail),
            1});
    }
    if (unlisted > 0) {
        m.warnings.push_back(WarningEntry{
            "failed run",
            fmt::format("and {} more runs that did not finish (see joulebench export DB)",
                        unlisted),
            unlisted});
    }
    if (m.status.not_run() > 0) {
        m.warnings.push_back(
            WarningEntry{"runs",
                         plural(m.status.not_run(), "run") +
                             " not run yet (planned, or running when the report was made)",
                         m.status.not_run()});
    }
}

}  // namespace

void add_warnings(ReportModel& m, const std::vector<RunRecord>& runs,
                  const std::vector<std::pair<std::string, Warning>>& run_warnings,
                  const std::optional<ExperimentSpec>& spec, const CapScheme& scheme,
                  const ReportOptions& options) {
    if (spec) {
        try {
            for (const auto& w : make_plan(*spec).warnings) {
                m.warnings.push_back(WarningEntry{"plan", w, 1});
            }
        } catch (const Error& e) {
            m.warnings.push_back(WarningEntry{"plan", e.what(), 1});
        }
    }
    add_run_warnings(m, run_warnings);
    add_unfinished_runs(m, runs, scheme, options);
    // The analyses of the three metrics share most warnings (excluded runs, cap tables).
    std::set<std::string> seen;
    for (const auto& a : m.analyses) {
        for (const auto& w : a.warnings) {
            if (seen.insert(w).second) m.warnings.push_back(WarningEntry{"analysis", w, 1});
        }
    }
}

}  // namespace joulebench::report
