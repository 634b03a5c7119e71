// The power-over-time chart of one run: the user's, or the done run of median energy; its stored
// trace thinned to bucket means, per domain and in total.

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "joulebench/error.hpp"
#include "report/report_build.hpp"

namespace joulebench::report {

TraceReport build_trace(const Store& store, const std::vector<RunRecord>& runs,
                        const std::vector<RunPoint>& points, const ReportOptions& options,
                        const std::string& err) {
    TraceReport tr;
    const RunRecord* chosen = nullptr;
    if (options.trace_run) {
        for (const auto& r : runs) {
            if (r.run_id == *options.trace_run) chosen = &r;
        }
        if (chosen == nullptr) {
            throw Error(ErrorCategory::kInvalidArgument,
                        err + "draw the trace of run '" + *options.trace_run +
                            "': no such run in the store",
                        "run ids are listed by `joulebench export DB`");
        }
        tr.chosen_by_user = true;
    } else {
        std::vector<const RunRecord*> done;
        for (const auto& r : runs) {
            if (r.status == RunStatus::kDone && r.energy_j && std::isfinite(*r.energy_j)) {
                done.push_back(&r);
            }
        }
        if (done.empty()) {
            tr.note = "no done run with an energy value: no trace to draw";
            return tr;
        }
        // The lower median: an actual run, never an average of two.
        std::stable_sort(done.begin(), done.end(), [](const RunRecord* a, const RunRecord* b) {
            return *a->energy_j < *b->energy_j;
        });
        chosen = done[(done.size() - 1) / 2];
    }
    tr.run_id = chosen->run_id;
    std::string variant;
    for (const auto& p : points) {
        if (p.run_id == chosen->run_id) variant = p.variant;
    }
    tr.title =
        fmt::format("run {} ({}, repetition {}, {}{})", chosen->run_id, variant, chosen->repetition,
                    to_string(chosen->status),
                    chosen->energy_j ? ", E = " + number_cell(*chosen->energy_j) + " J" : "");
    tr.idle_power_w = chosen->idle_power_w;
    if (chosen->instances > 0) {
        tr.title += fmt::format(", instance {} of {}{}", chosen->instance, chosen->instances,
                                chosen->gpu ? fmt::format(" on GPU {}", *chosen->gpu) : "");
    }
    const Trace trace = store.trace(chosen->run_id, chosen->instance);
    tr.rows = trace.times_s.size();
    if (tr.rows == 0) {
        tr.note = "no sample trace is stored for this run";
        return tr;
    }
    std::set<std::string> in_total;
    for (const auto& d : store.domains(chosen->run_id)) {
        if (d.counts_in_total && d.instance == chosen->instance) in_total.insert(d.domain);
    }
    std::vector<std::size_t> power_cols;
    for (std::size_t c = 0; c < trace.columns.size(); ++c) {
        if (trace.columns[c].quantity == "power_w") power_cols.push_back(c);
    }
    if (power_cols.empty()) {
        tr.note = "the stored trace has no power column";
        return tr;
    }
    const std::size_t max_points = std::max<std::size_t>(options.max_trace_points, 1);
    tr.bucket = (tr.rows + max_points - 1) / max_points;
    bool total_possible = !in_total.empty();
    for (const auto& d : in_total) {
        const bool present = std::any_of(power_cols.begin(), power_cols.end(),
                                         [&](auto c) { return trace.columns[c].domain == d; });
        total_possible = total_possible && present;
    }
    // Bucket means: each point is the mean of `bucket` consecutive rows' average power (the
    // rows are equally spaced by the sampler, so this is the mean power over the bucket).
    for (std::size_t start = 0; start < tr.rows; start += tr.bucket) {
        const std::size_t end = std::min(tr.rows, start + tr.bucket);
        double t_sum = 0.0;
        for (std::size_t i = start; i < end; ++i) t_sum += trace.times_s[i];
        const double t = t_sum / static_cast<double>(end - start);
        double total_sum = 0.0;
        std::size_t total_n = 0;
        for (const auto c : power_cols) {
            double sum = 0.0;
            std::size_t n = 0;
            for (std::size_t i = start; i < end; ++i) {
                const double v = trace.values[c][i];
                if (std::isfinite(v)) {
                    sum += v;
                    ++n;
                }
            }
            if (n == 0) continue;
            tr.points.push_back(
                TracePoint{t, trace.columns[c].domain, sum / static_cast<double>(n)});
        }
        if (total_possible) {
            for (std::size_t i = start; i < end; ++i) {
                double row = 0.0;
                bool complete = true;
                for (const auto c : power_cols) {
                    if (in_total.count(trace.columns[c].domain) == 0) continue;
                    const double v = trace.values[c][i];
                    if (!std::isfinite(v)) complete = false;
                    row += v;
                }
                if (complete) {
                    total_sum += row;
                    ++total_n;
                }
            }
            if (total_n > 0) {
                tr.points.push_back(
                    TracePoint{t, "total", total_sum / static_cast<double>(total_n)});
            }
        }
    }
    if (tr.bucket > 1) {
        tr.note = fmt::format("{} rows shown as {} points: each the mean of {} consecutive rows",
                              tr.rows, (tr.rows + tr.bucket - 1) / tr.bucket, tr.bucket);
    }
    return tr;
}

}  // namespace joulebench::report
