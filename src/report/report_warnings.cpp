// The warnings box of the report: the plan's warnings, the runs' warnings aggregated by kind, the
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

// A run warning with its numbers replaced by '#', so that "took 12.3 s" and "took 14 s" count as
// one kind. Digits glued to a name ("gpu0", "package1") are kept: they name a device.
std::string warning_kind(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        const bool glued = i > 0 && (std::isalnum(static_cast<unsigned char>(text[i - 1])) ||
                                     text[i - 1] == '_' || text[i - 1] == '-');
        if (std::isdigit(c) && !glued) {
            while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) ||
                                       (text[i] == '.' && i + 1 < text.size() &&
                                        std::isdigit(static_cast<unsigned char>(text[i + 1]))))) {
                ++i;
            }
            out += '#';
            continue;
        }
        out += text[i];
        ++i;
    }
    return out;
}

std::string plural(std::size_t n, const std::string& word) {
    return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

// Identical texts are counted once; texts that differ only in their numbers are one kind, shown
// with an example.
void add_run_warnings(ReportModel& m, const std::vector<RunRecord>& runs) {
    std::vector<std::string> kinds;
    std::map<std::string, std::pair<std::string, std::size_t>> seen;  // kind -> example, n
    std::map<std::string, bool> varies;
    for (const auto& r : runs) {
        if (r.warnings_json.empty()) continue;
        const auto j = nlohmann::json::parse(r.warnings_json, nullptr, false);
        if (!j.is_array()) continue;
        for (const auto& w : j) {
            if (!w.is_string()) continue;
            const std::string text = w.get<std::string>();
            const std::string kind = warning_kind(text);
            auto it = seen.find(kind);
            if (it == seen.end()) {
                kinds.push_back(kind);
                seen.emplace(kind, std::make_pair(text, std::size_t{1}));
            } else {
                ++it->second.second;
                if (it->second.first != text) varies[kind] = true;
            }
        }
    }
    for (const auto& k : kinds) {
        const auto& [example, n] = seen.at(k);
        m.warnings.push_back(WarningEntry{
            "runs", varies.count(k) != 0 ? k + " (e.g. \"" + example + "\")" : example, n});
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
    add_run_warnings(m, runs);
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
