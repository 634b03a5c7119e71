// The data behind every chart and table of `joulebench report`, checked against values the test
// computes itself from the runs it wrote (report_store_fixture.hpp): medians, overheads, best
// caps, overheads over caps, runs, the power trace, warnings, context; and the Markdown / LaTeX
// tables with their escaping.

#include "report/report_data.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "unit/report_store_fixture.hpp"

namespace joulebench::test {
namespace {

using report::ReportModel;

report::ReportOptions fast_options() {
    report::ReportOptions o;
    o.analysis.bootstrap.resamples = 500;
    return o;
}

ReportModel build(const std::filesystem::path& db, report::ReportOptions o = fast_options()) {
    const Store store(db, Store::Mode::kReadOnly);
    return report::build_report(store, o);
}

const report::CurvePoint* curve(const report::WorkloadReport& w, const std::string& env,
                                const std::string& cap, const std::string& metric) {
    for (const auto& c : w.curves) {
        if (c.environment == env && c.cap_label == cap && c.metric == metric) return &c;
    }
    return nullptr;
}

std::string pct2(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%+.2f", v);
    return buf;
}

class ReportData : public ::testing::Test {
protected:
    void SetUp() override { plan = write_report_store(db); }
    TempDir dir{"joulebench-report"};
    std::filesystem::path db = dir.path() / "report.db";
    Plan plan;
};

TEST_F(ReportData, CurvesAreTheMediansOfEachEnvironmentAndCapWithTheirIntervals) {
    const ReportModel m = build(db);
    ASSERT_EQ(m.workloads.size(), 1u);
    const auto& w = m.workloads[0];
    EXPECT_EQ(w.name, "w");
    EXPECT_EQ(w.cap_axis, "quantitative");
    EXPECT_EQ(w.cap_title, "GPU power cap (W)");
    EXPECT_EQ(w.cap_levels, (std::vector<std::string>{"100 W", "200 W"}));
    // 2 environments x 2 caps x 3 metrics.
    EXPECT_EQ(w.curves.size(), 12u);
    for (const std::string env : {"bare", "docker"}) {
        for (const double cap : {100.0, 200.0}) {
            for (const std::string metric : {"wall_s", "energy_j", "edp_js"}) {
                const auto label = cap == 100.0 ? "100 W" : "200 W";
                const auto* c = curve(w, env, label, metric);
                ASSERT_NE(c, nullptr) << env << " " << cap << " " << metric;
                const auto values = report_values(env, cap, metric);
                EXPECT_EQ(c->n, values.size());
                EXPECT_NEAR(c->median, report_median(values), 1e-9 * report_median(values));
                ASSERT_TRUE(c->cap_w.has_value());
                EXPECT_EQ(*c->cap_w, cap);
                const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
                EXPECT_LE(c->lo, c->median);
                EXPECT_GE(c->hi, c->median);
                EXPECT_GE(c->lo, *lo);
                EXPECT_LE(c->hi, *hi);
                // The box plots: numpy's default (linear, type 7) quartiles, min and max.
                std::vector<double> sorted = values;
                std::sort(sorted.begin(), sorted.end());
                const auto quantile = [&](double q) {
                    const double h = (static_cast<double>(sorted.size()) - 1.0) * q;
                    const auto k = static_cast<std::size_t>(std::floor(h));
                    if (k + 1 >= sorted.size()) return sorted.back();
                    return sorted[k] + (h - static_cast<double>(k)) * (sorted[k + 1] - sorted[k]);
                };
                EXPECT_NEAR(c->q1, quantile(0.25), 1e-9 * c->median);
                EXPECT_NEAR(c->q3, quantile(0.75), 1e-9 * c->median);
                EXPECT_DOUBLE_EQ(c->min, sorted.front());
                EXPECT_DOUBLE_EQ(c->max, sorted.back());
            }
        }
    }
}

TEST_F(ReportData, OverheadsAreAgainstTheFirstEnvironmentPerCap) {
    const ReportModel m = build(db);
    ASSERT_TRUE(m.baseline.has_value());
    EXPECT_EQ(*m.baseline, "bare");
    const auto& w = m.workloads[0];
    ASSERT_EQ(w.overheads.size(), 6u);  // docker x 2 caps x 3 metrics
    for (const auto& o : w.overheads) {
        EXPECT_EQ(o.environment, "docker");
        const double cap = *o.cap_w;
        const double env = report_median(report_values("docker", cap, o.metric));
        const double base = report_median(report_values("bare", cap, o.metric));
        EXPECT_NEAR(o.pct, 100.0 * (env - base) / base, 1e-9) << o.metric << " " << cap;
        EXPECT_LE(o.lo, o.pct);
        EXPECT_GE(o.hi, o.pct);
    }
}

// With the docker environment declared first, the default baseline is still the bare one, as
// `analyze DB` chooses, so the page's overheads and analyze's agree.
TEST(ReportDataBaseline, DefaultIsTheFirstBareEnvironmentAsAnalyzeChooses) {
    TempDir dir{"joulebench-report-baseline"};
    const auto db = dir.path() / "report.db";
    ReportStoreOptions so;
    so.docker_first = true;
    (void)write_report_store(db, so);
    const ReportModel m = build(db);
    ASSERT_EQ(m.environments.front(), "docker");  // declared order kept
    ASSERT_TRUE(m.baseline.has_value());
    EXPECT_EQ(*m.baseline, "bare");
    ASSERT_FALSE(m.workloads[0].overheads.empty());
    for (const auto& o : m.workloads[0].overheads) EXPECT_EQ(o.environment, "docker");
    // Every analysis behind the statistics, and the cap tables, used that baseline.
    ASSERT_FALSE(m.analyses.empty());
    for (const auto& a : m.analyses) {
        ASSERT_TRUE(a.baseline.has_value());
        EXPECT_EQ(*a.baseline, "bare");
    }
    ASSERT_FALSE(m.analyses.front().caps.empty());
    for (const auto& c : m.analyses.front().caps) EXPECT_EQ(c.baseline, "bare");
}

TEST_F(ReportData, BaselineCanBeChosenAndMustHaveDoneRuns) {
    auto o = fast_options();
    o.baseline = "docker";
    const ReportModel m = build(db, o);
    for (const auto& p : m.workloads[0].overheads) EXPECT_EQ(p.environment, "bare");
    o.baseline = "kvm";
    try {
        (void)build(db, o);
        FAIL() << "no error for an unknown baseline";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("'kvm'"), std::string::npos) << e.what();
        EXPECT_NE(e.hint().find("'bare', 'docker'"), std::string::npos) << e.hint();
    }
}

TEST_F(ReportData, BestCapsAndOverheadsOverCapsFollowTheMedians) {
    const ReportModel m = build(db);
    const auto& w = m.workloads[0];
    ASSERT_EQ(w.best_caps.rows.size(), 2u);
    for (const auto& row : w.best_caps.rows) {
        const std::string env = row[0];
        std::map<std::string, std::pair<double, double>> best;  // metric -> (cap, value)
        for (const double cap : {100.0, 200.0}) {
            const auto t = report_values(env, cap, "wall_s");
            const auto e = report_values(env, cap, "energy_j");
            std::vector<double> edp;
            std::vector<double> ed2p;
            for (std::size_t i = 0; i < t.size(); ++i) {
                edp.push_back(e[i] * t[i]);
                ed2p.push_back(e[i] * t[i] * t[i]);
            }
            const std::map<std::string, double> med = {{"E", report_median(e)},
                                                       {"EDP", report_median(edp)},
                                                       {"ED2P", report_median(ed2p)}};
            for (const auto& [k, v] : med) {
                if (!best.count(k) || v < best[k].second) best[k] = {cap, v};
            }
        }
        EXPECT_EQ(row[1], format_watts(best["E"].first)) << env;
        EXPECT_NEAR(std::stod(row[2]), best["E"].second, 1e-5 * best["E"].second);
        EXPECT_EQ(row[3], format_watts(best["EDP"].first)) << env;
        EXPECT_NEAR(std::stod(row[4]), best["EDP"].second, 1e-5 * best["EDP"].second);
        EXPECT_EQ(row[5], format_watts(best["ED2P"].first)) << env;
        EXPECT_NEAR(std::stod(row[6]), best["ED2P"].second, 1e-5 * best["ED2P"].second);
    }
    // bare is cheapest in energy at 100 W, in EDP at 200 W (10 s x 1000 J > 8 s x 1100 J).
    EXPECT_EQ(w.best_caps.rows[0][1], "100");
    EXPECT_EQ(w.best_caps.rows[0][3], "200");

    ASSERT_EQ(w.overhead_summary.rows.size(), 1u);
    const auto& s = w.overhead_summary.rows[0];
    EXPECT_EQ(s[0], "docker");
    EXPECT_EQ(s[1], "2");
    const std::vector<std::string> metrics = {"wall_s", "energy_j", "edp_js"};
    for (std::size_t k = 0; k < metrics.size(); ++k) {
        std::vector<double> per_cap;
        for (const double cap : {100.0, 200.0}) {
            const double env = report_median(report_values("docker", cap, metrics[k]));
            const double base = report_median(report_values("bare", cap, metrics[k]));
            per_cap.push_back(100.0 * (env - base) / base);
        }
        EXPECT_EQ(s[2 + 2 * k], pct2(0.5 * (per_cap[0] + per_cap[1]))) << metrics[k];
        EXPECT_EQ(s[3 + 2 * k], pct2(std::max(per_cap[0], per_cap[1]))) << metrics[k];
    }
}

TEST_F(ReportData, StatisticsAreThoseOfAnalyzePerBlockAndMetric) {
    const ReportModel m = build(db);
    const auto& w = m.workloads[0];
    ASSERT_EQ(w.statistics.size(), 6u);  // 2 caps x 3 metrics
    for (const auto& b : w.statistics) {
        ASSERT_EQ(b.analysis.groups.size(), 2u);
        EXPECT_EQ(b.analysis.groups[0].name, "bare");
        ASSERT_EQ(b.analysis.pairs.size(), 1u);
        ASSERT_EQ(b.verdicts.size(), 1u);
        EXPECT_NE(b.verdicts[0].find("bare"), std::string::npos);
        EXPECT_NE(b.verdicts[0].find("docker"), std::string::npos);
        // Every bare value is below every docker value: Cliff's delta of (bare, docker) is -1.
        EXPECT_DOUBLE_EQ(b.analysis.pairs[0].cliffs_delta, -1.0) << b.title << " " << b.metric;
    }
    EXPECT_EQ(w.statistics[0].title, "workload 'w', GPU cap 100 W");
}

TEST_F(ReportData, RunsCarryTheirVariantStatusAndStartTime) {
    const ReportModel m = build(db);
    ASSERT_EQ(m.runs.size(), plan.runs.size());
    EXPECT_EQ(m.status.done, 11u);
    EXPECT_EQ(m.status.failed, 1u);
    for (std::size_t i = 0; i < plan.runs.size(); ++i) {
        const auto& r = m.runs[i];
        const auto& p = plan.runs[i];  // store order is plan order
        EXPECT_EQ(r.run_id, p.run_id);
        EXPECT_EQ(r.plan_index, static_cast<std::int64_t>(p.plan_index));
        EXPECT_EQ(r.cap_label, format_watts(*p.gpu_cap_w) + " W");
        EXPECT_EQ(r.variant, p.workload + " / " + p.environment + " / " + r.cap_label);
        ASSERT_TRUE(r.start_s.has_value());
        EXPECT_DOUBLE_EQ(*r.start_s, kReportStep * static_cast<double>(p.plan_index));
        const bool failed = report_fails(p.environment, *p.gpu_cap_w, p.repetition);
        EXPECT_EQ(r.status, failed ? "failed" : "done");
        if (!failed) {
            const auto [t0, e0] = report_centre(p.environment, *p.gpu_cap_w);
            EXPECT_NEAR(*r.energy_j, e0 * (1.0 + report_deviation(p.repetition)), 1e-9);
            EXPECT_NEAR(*r.wall_s, t0 * (1.0 + report_deviation(p.repetition)), 1e-12);
        }
    }
}

TEST_F(ReportData, TraceIsTheMedianEnergyRunWithPerDomainAndTotalPower) {
    const ReportModel m = build(db);
    // The lower median of the 11 done runs' energies, found here by sorting.
    std::vector<std::pair<double, std::string>> done;
    for (const auto& p : plan.runs) {
        if (report_fails(p.environment, *p.gpu_cap_w, p.repetition)) continue;
        done.emplace_back(report_centre(p.environment, *p.gpu_cap_w).second *
                              (1.0 + report_deviation(p.repetition)),
                          p.run_id);
    }
    std::sort(done.begin(), done.end());
    EXPECT_EQ(m.trace.run_id, done[(done.size() - 1) / 2].second);
    EXPECT_FALSE(m.trace.chosen_by_user);
    EXPECT_EQ(m.trace.rows, kReportTraceRows);
    EXPECT_EQ(m.trace.bucket, 1u);
    ASSERT_TRUE(m.trace.idle_power_w.has_value());
    EXPECT_DOUBLE_EQ(*m.trace.idle_power_w, 42.5);
    // Row 0 has no power (NaN): 49 rows x (gpu0, package0, total).
    ASSERT_EQ(m.trace.points.size(), 3u * (kReportTraceRows - 1));
    for (const auto& p : m.trace.points) {
        const auto i = static_cast<std::size_t>(std::lround(p.t_s / 0.1));
        if (p.domain == "gpu0") {
            EXPECT_DOUBLE_EQ(p.power_w, report_trace_gpu_w(i));
        } else if (p.domain == "package0") {
            EXPECT_DOUBLE_EQ(p.power_w, report_trace_pkg_w(i));
        } else {
            EXPECT_EQ(p.domain, "total");
            EXPECT_DOUBLE_EQ(p.power_w, report_trace_gpu_w(i) + report_trace_pkg_w(i));
        }
    }
}

TEST_F(ReportData, LongTracesAreShownAsBucketMeans) {
    auto o = fast_options();
    o.trace_run = plan.runs[0].run_id;
    o.max_trace_points = 10;  // 50 rows -> buckets of 5
    const ReportModel m = build(db, o);
    EXPECT_TRUE(m.trace.chosen_by_user);
    EXPECT_EQ(m.trace.bucket, 5u);
    EXPECT_NE(m.trace.note.find("each the mean of 5"), std::string::npos) << m.trace.note;
    std::vector<report::TracePoint> gpu;
    for (const auto& p : m.trace.points) {
        if (p.domain == "gpu0") gpu.push_back(p);
    }
    ASSERT_EQ(gpu.size(), 10u);
    // Bucket 0: rows 0..4, row 0 without a value: mean of rows 1..4.
    EXPECT_DOUBLE_EQ(gpu[0].power_w, (101.0 + 102.0 + 103.0 + 104.0) / 4.0);
    EXPECT_DOUBLE_EQ(gpu[0].t_s, (0.0 + 0.1 + 0.2 + 0.3 + 0.4) / 5.0);
    // Bucket 3: rows 15..19.
    EXPECT_DOUBLE_EQ(gpu[3].power_w, 100.0 + 17.0);

    o.trace_run = "0000000000000000";
    try {
        (void)build(db, o);
        FAIL() << "no error for an unknown run";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("0000000000000000"), std::string::npos);
    }
}

TEST_F(ReportData, WarningsAggregateRunWarningsAndListFailedRuns) {
    const ReportModel m = build(db);
    std::map<std::string, std::size_t> counts;
    std::map<std::string, std::string> by_code;  // run warnings: code -> text
    bool failed_listed = false;
    for (const auto& w : m.warnings) {
        counts[w.text] = w.count;
        if (w.source == "runs" && !w.code.empty()) by_code[w.code] = w.text;
        if (w.source == "failed run") {
            failed_listed = true;
            EXPECT_NE(w.text.find("docker / 200 W, repetition 3"), std::string::npos) << w.text;
            EXPECT_NE(w.text.find("failed, exit code 2: boom: out of memory"), std::string::npos)
                << w.text;
        }
    }
    EXPECT_TRUE(failed_listed);
    // Run warnings aggregate by their code: one line each, with an example and how many texts.
    EXPECT_EQ(by_code["short-run"], "gpu0: short run");
    EXPECT_EQ(counts["gpu0: short run"], 11u);
    EXPECT_THAT(by_code["sampler-late"], ::testing::StartsWith("sampler: 2 late ticks (and "));
    EXPECT_THAT(by_code["sampler-late"], ::testing::EndsWith(" other texts of this kind)"));
    EXPECT_EQ(counts[by_code["sampler-late"]], 11u);
    EXPECT_EQ(by_code.size(), 2u);
    EXPECT_EQ(counts["1 failed run excluded"], 1u);  // from the analysis, once for 3 metrics
}

TEST_F(ReportData, ContextHasHostImagesSeedAndIdleBaselines) {
    const ReportModel m = build(db);
    ASSERT_EQ(m.context.size(), 4u);
    std::map<std::string, std::string> exp;
    for (const auto& r : m.context[0].rows) exp[r[0]] = r[1];
    EXPECT_EQ(exp["name"], "report-test");
    EXPECT_EQ(exp["seed"], "5 (given)");
    EXPECT_EQ(exp["order"], "shuffled");
    std::map<std::string, std::string> host;
    for (const auto& r : m.context[1].rows) host[r[0]] = r[1];
    EXPECT_EQ(host["cpu"], "Fake CPU 9000");
    EXPECT_EQ(host["gpus[0].name"], "Fake GPU");
    EXPECT_EQ(host["gpu_driver"], "550.1");
    EXPECT_EQ(host["kernel"], "Linux 6.1.0");
    const auto& envs = m.context[2];
    ASSERT_EQ(envs.rows.size(), 2u);
    EXPECT_EQ(envs.rows[1][0], "docker");
    EXPECT_EQ(envs.rows[1][1], "docker");
    EXPECT_EQ(envs.rows[1][2], "img:1");
    EXPECT_NE(envs.rows[1][3].find("image_size_bytes: 123456789 (117.7 MiB)"), std::string::npos)
        << envs.rows[1][3];
    // The audit is not flattened into the environment's line: it has its own table.
    EXPECT_EQ(envs.rows[1][3].find("audit"), std::string::npos) << envs.rows[1][3];
    // Energy beside image size: the docker image from its audit, and the median energy of the
    // done docker runs per workload, computed here from the store.
    const auto& images = m.context[3];
    EXPECT_EQ(images.title, "Images");
    ASSERT_EQ(images.rows.size(), 1u);  // bare has no image
    const auto& row = images.rows[0];
    EXPECT_EQ(row[0], "docker");
    EXPECT_EQ(row[1], "img:1");
    EXPECT_EQ(row[2], "117.7 MiB");
    EXPECT_EQ(row[3], "2");
    EXPECT_EQ(row[4], "debian:bookworm");
    EXPECT_EQ(row[5], "3.11.2");
    EXPECT_EQ(row[6], "1.13.0a0");
    EXPECT_EQ(row[7], "-");
    std::map<std::string, std::vector<double>> docker_energy;
    std::vector<std::string> order;
    for (const auto& r : Store(db, Store::Mode::kReadOnly).runs({RunStatus::kDone})) {
        if (std::find(order.begin(), order.end(), r.workload) == order.end())
            order.push_back(r.workload);
        if (r.environment == "docker") docker_energy[r.workload].push_back(*r.energy_j);
    }
    ASSERT_EQ(images.headers.size(), 8u + order.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
        EXPECT_EQ(images.headers[8 + i], "median E " + order[i] + " (J)");
        EXPECT_EQ(row[8 + i], fmt::format("{:.4g}", report_median(docker_energy[order[i]])));
    }
    ASSERT_EQ(m.idle_baselines.rows.size(), 1u);
    EXPECT_EQ(m.idle_baselines.rows[0][1], "total");
    EXPECT_EQ(m.idle_baselines.rows[0][4], "42.5");
}

TEST_F(ReportData, JsonHasEveryChartsDataAndIsSafeInAScript) {
    const ReportModel m = build(db);
    const nlohmann::json j = report::to_json(m);
    EXPECT_EQ(j["schema"], "joulebench.report/1");
    EXPECT_EQ(j["workloads"][0]["curves"].size(), 12u);
    EXPECT_EQ(j["workloads"][0]["overheads"].size(), 6u);
    EXPECT_EQ(j["runs"]["run_id"].size(), plan.runs.size());
    EXPECT_EQ(j["runs"]["energy_j"].size(), plan.runs.size());
    EXPECT_EQ(j["trace"]["points"].size(), 3u * (kReportTraceRows - 1));
    const nlohmann::json evil = {{"name", "</script><script>alert(1)</script><!--"}};
    const std::string text = report::json_for_script(evil);
    EXPECT_EQ(text.find('<'), std::string::npos) << text;
    EXPECT_EQ(nlohmann::json::parse(text), evil);
}

TEST(ReportDataErrors, EmptyStoreAndStoreWithoutDoneRunsAreRefused) {
    TempDir dir{"joulebench-report"};
    const auto db = dir.path() / "empty.db";
    {
        Store store(db);
        store.record_experiment(
            experiment_record(parse_experiment_text(report_experiment({}), "report-test.toml")));
    }
    try {
        (void)build(db);
        FAIL() << "no error for a store without runs";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
        EXPECT_NE(std::string(e.what()).find("holds no runs"), std::string::npos) << e.what();
    }
    {
        Store store(db);
        store.add_planned_runs(
            make_plan(parse_experiment_text(report_experiment({}), "report-test.toml")).runs);
    }
    try {
        (void)build(db);
        FAIL() << "no error for a store without done runs";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
        EXPECT_NE(std::string(e.what()).find("no done run"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("12 not run"), std::string::npos) << e.what();
    }
}

TEST(ReportDataUncapped, OneLevelCollapsesTheCapAxis) {
    TempDir dir{"joulebench-report"};
    const auto db = dir.path() / "uncapped.db";
    ReportStoreOptions o;
    o.capped = false;
    o.order = "blocked";
    (void)write_report_store(db, o);
    const ReportModel m = build(db);
    ASSERT_EQ(m.workloads.size(), 1u);
    const auto& w = m.workloads[0];
    EXPECT_EQ(w.cap_axis, "single");
    EXPECT_EQ(w.cap_levels, (std::vector<std::string>{"uncapped"}));
    const auto* c = curve(w, "docker", "uncapped", "energy_j");
    ASSERT_NE(c, nullptr);
    EXPECT_FALSE(c->cap_w.has_value());
    EXPECT_NEAR(c->median, report_median(report_values("docker", 0.0, "energy_j")), 1e-9);
    EXPECT_TRUE(w.best_caps.rows.empty());
    EXPECT_NE(w.best_caps.note.find("Only one cap level (uncapped)"), std::string::npos);
    ASSERT_EQ(w.overhead_summary.rows.size(), 1u);
    const double e = report_median(report_values("docker", 0.0, "energy_j"));
    const double b = report_median(report_values("bare", 0.0, "energy_j"));
    EXPECT_EQ(w.overhead_summary.rows[0][4], pct2(100.0 * (e - b) / b));
    EXPECT_EQ(w.overhead_summary.rows[0][5], pct2(100.0 * (e - b) / b));
    // The blocked order's bias warning comes from the plan.
    bool plan_warning = false;
    for (const auto& wn : m.warnings) {
        if (wn.source == "plan" && wn.text == blocked_order_warning()) plan_warning = true;
    }
    EXPECT_TRUE(plan_warning);
}

TEST(ReportDataBothCaps, GpuAndCpuCapsMakeAnOrdinalAxisOfCombinedLevels) {
    TempDir dir{"joulebench-report"};
    const auto db = dir.path() / "both.db";
    ReportStoreOptions o;
    o.cpu_caps = true;
    (void)write_report_store(db, o);
    const ReportModel m = build(db);
    const auto& w = m.workloads[0];
    EXPECT_EQ(w.cap_axis, "ordinal");
    EXPECT_EQ(w.cap_title, "GPU / CPU power cap");
    EXPECT_EQ(w.cap_levels,
              (std::vector<std::string>{"GPU 100 W / CPU 50 W", "GPU 100 W / CPU 60 W",
                                        "GPU 200 W / CPU 50 W", "GPU 200 W / CPU 60 W"}));
    const auto* c = curve(w, "bare", "GPU 200 W / CPU 60 W", "energy_j");
    ASSERT_NE(c, nullptr);
    EXPECT_FALSE(c->cap_w.has_value());
    EXPECT_NEAR(c->median, report_median(report_values("bare", 200.0, "energy_j")), 1e-9);
    // analyze's cap tables: GPU caps at each CPU cap and CPU caps at each GPU cap.
    std::size_t gpu_rows = 0;
    for (const auto& row : w.best_caps.rows) {
        if (row[0].find("(CPU cap") != std::string::npos) ++gpu_rows;
    }
    EXPECT_EQ(gpu_rows, 4u);  // 2 environments x 2 CPU caps
}

TEST(ReportTables, MarkdownAndLatexHoldTheTablesEscaped) {
    TempDir dir{"joulebench-report"};
    const auto db = dir.path() / "special.db";
    ReportStoreOptions o;
    o.workload = "w_1 & 50% #{x}~^$|";
    (void)write_report_store(db, o);
    const ReportModel m = build(db);
    const std::string md = report::render_tables(m, stats::TableFormat::kMarkdown);
    EXPECT_NE(md.find("## Workload 'w\\_1 & 50% \\#{x}~^$\\|'"), std::string::npos) << md;
    EXPECT_NE(md.find("**Best power cap per environment (medians over runs)**"), std::string::npos);
    EXPECT_NE(md.find("| environment | cap min E (W) | E (J) |"), std::string::npos);
    EXPECT_NE(md.find("| bare | 100 |"), std::string::npos);
    EXPECT_NE(md.find("| docker | 2 |"), std::string::npos);  // overheads over 2 caps
    EXPECT_NE(md.find("**Verdicts**"), std::string::npos);
    EXPECT_NE(md.find("Kruskal-Wallis"), std::string::npos);
    EXPECT_NE(md.find("| cpu | Fake CPU 9000 |"), std::string::npos);
    EXPECT_NE(md.find("gpu0: short run"), std::string::npos);

    const std::string tex = report::render_tables(m, stats::TableFormat::kLatex);
    EXPECT_NE(tex.find("\\begin{tabular}"), std::string::npos);
    EXPECT_NE(tex.find("\\toprule"), std::string::npos);
    EXPECT_NE(tex.find("\\midrule"), std::string::npos);
    EXPECT_NE(tex.find("\\bottomrule"), std::string::npos);
    EXPECT_NE(tex.find("E (J) & cap min EDP (W)"), std::string::npos);
    EXPECT_NE(tex.find("image\\_size\\_bytes: 123456789 (117.7 MiB)"), std::string::npos);
    EXPECT_NE(tex.find("w\\_1 \\& 50\\% \\#\\{x\\}\\textasciitilde{}\\textasciicircum{}\\$|"),
              std::string::npos);
    // Outside comments, no special character is left unescaped.
    std::istringstream lines(tex);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '%' || line.starts_with("\\")) continue;
        for (std::size_t i = 0; i < line.size(); ++i) {
            const char c = line[i];
            if (c == '~' || c == '^') ADD_FAILURE() << "raw " << c << " in: " << line;
            if (c == '%' || c == '#' || c == '$' || c == '_' || c == '&') {
                // '&' separates cells: " & "; escaped it is "\&".
                const bool separator = c == '&' && i > 0 && line[i - 1] == ' ';
                EXPECT_TRUE(separator || (i > 0 && line[i - 1] == '\\'))
                    << "unescaped " << c << " in: " << line;
            }
        }
    }
    EXPECT_THROW((void)report::render_tables(m, stats::TableFormat::kCsv), Error);
}

}  // namespace
}  // namespace joulebench::test
