// The live state and its Prometheus text (src/live, docs/live.md): counters that never go down,
// the plan and its ETA, the finished runs kept, and an exposition whose families are whole, typed
// and escaped. (promtool and a real Prometheus check the served text in metrics_test.cpp.)

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "live/dashboard.hpp"
#include "fakes/still_sensor.hpp"
#include "live/live_state.hpp"
#include "live/prometheus_text.hpp"

namespace joulebench::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

StillSensor gpu_sensor(int index) {
    SensorInfo i;
    i.id = "gpu" + std::to_string(index);
    i.kind = DomainKind::kGpu;
    i.index = index;
    return StillSensor(i);
}

StillSensor package_sensor() {
    SensorInfo i;
    i.id = "package0";
    i.kind = DomainKind::kPackage;
    return StillSensor(i);
}

TraceDomainValue value(double energy_j, double power_w) {
    TraceDomainValue v;
    v.energy_j = energy_j;
    v.power_w = power_w;
    v.valid = true;
    return v;
}

live::RunLabels labels(const std::string& id) {
    live::RunLabels l;
    l.run_id = id;
    l.workload = "resnet \"50\"";
    l.environment = "docker";
    l.gpu_cap_w = 250.0;
    l.repetition = 3;
    l.slot = 0;
    return l;
}

// The families of an exposition in order, and whether each one's samples came together after
// its HELP and TYPE lines.
struct Parsed {
    std::vector<std::string> families;
    std::map<std::string, std::string> types;
    std::vector<std::string> problems;
};

Parsed parse(const std::string& text) {
    Parsed p;
    std::istringstream in(text);
    std::string current;
    std::set<std::string> seen;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("# HELP ", 0) == 0) {
            current = line.substr(7, line.find(' ', 7) - 7);
            if (!seen.insert(current).second) p.problems.push_back("family twice: " + current);
            p.families.push_back(current);
        } else if (line.rfind("# TYPE ", 0) == 0) {
            std::istringstream w(line.substr(7));
            std::string name, type;
            w >> name >> type;
            if (name != current) p.problems.push_back("TYPE without its HELP: " + line);
            p.types[name] = type;
        } else {
            const std::string name = line.substr(0, line.find_first_of("{ "));
            if (name != current) p.problems.push_back("sample outside its family: " + line);
        }
    }
    return p;
}

TEST(LiveState, CountersNeverGoDownAndEndAtTheMeasuredEnergy) {
    live::LiveState state("n1", "run");
    state.run_started(labels("r1"));
    StillSensor g = gpu_sensor(0);
    state.trace_begin("r1", 0, {&g});
    state.trace_row("r1", 0, {value(10.0, 100.0)}, {std::nullopt});
    state.trace_row("r1", 0, {value(9.0, 90.0)}, {std::nullopt});  // never below 10
    EXPECT_EQ(state.snapshot().running.at(0).domains.at(0).energy_j, 10.0);
    state.final_energy("r1", 0, "gpu0", 10.4);
    state.run_finished("r1", RunStatus::kDone, 0.1, 10.4, "");
    const auto s = state.snapshot();
    ASSERT_EQ(s.finished.size(), 1U);
    EXPECT_EQ(s.finished[0].domains.at(0).energy_j, 10.4);
    EXPECT_EQ(s.finished[0].energy_j, 10.4);
    EXPECT_TRUE(s.running.empty());
}

TEST(LiveState, ThePlanCountsRunsAndItsEtaComesFromTheirMeanTime) {
    live::LiveState state("n1", "run");
    state.plan(10, 2, 2);
    state.add_pending(8);
    state.run_started(labels("a"));
    state.run_finished("a", RunStatus::kDone, 1.0, 5.0, "");
    state.run_started(labels("b"));
    state.run_finished("b", RunStatus::kFailed, 1.0, std::nullopt, "exit status 1");
    state.run_started(labels("c"));
    state.run_finished("c", RunStatus::kInterrupted, 1.0, std::nullopt, "");
    const auto p = *state.snapshot().plan;
    EXPECT_EQ(p.planned, 10U);
    EXPECT_EQ(p.done, 3U);    // 2 before, 1 now
    EXPECT_EQ(p.failed, 1U);  // interrupted runs are not failures
    EXPECT_EQ(p.pending, 5U);
    ASSERT_TRUE(p.mean_run_s && p.eta_s);
    EXPECT_NEAR(*p.eta_s, *p.mean_run_s * 5.0 / 2.0, 1e-9);
    state.retrying(1);
    EXPECT_EQ(state.snapshot().plan->failed, 0U);
}

TEST(LiveState, AFixedPlanIsKeptWhileOneRunnerAfterAnotherRuns) {
    live::LiveState state("n1", "run");
    state.fix_plan(12, 3, 1);
    state.plan(1, 0, 1);  // each of tune's runners plans one run
    state.add_pending(1);
    const auto p = *state.snapshot().plan;
    EXPECT_EQ(p.planned, 12U);
    EXPECT_EQ(p.done, 3U);
    EXPECT_EQ(p.pending, 9U);
}

TEST(LiveState, KeepsTheLastFinishedRunsAndMessagesOnly) {
    live::LiveState state("n1", "run");
    for (int i = 0; i < 70; ++i) {
        state.run_started(labels("r" + std::to_string(i)));
        state.run_finished("r" + std::to_string(i), RunStatus::kDone, 1.0, 1.0, "");
        state.message("m" + std::to_string(i));
    }
    const auto s = state.snapshot();
    ASSERT_EQ(s.finished.size(), live::LiveState::kKeepFinished);
    EXPECT_EQ(s.finished.back().labels.run_id, "r69");
    EXPECT_EQ(s.finished.front().labels.run_id, "r6");
    ASSERT_EQ(s.messages.size(), live::LiveState::kKeepMessages);
    EXPECT_EQ(s.messages.back(), "m69");
    EXPECT_EQ(s.runs_by_status.at("done"), 70U);
}

TEST(PrometheusText, EveryFamilyIsWholeTypedAndItsLabelsEscaped) {
    live::LiveState state("node \\ 1", "run");
    state.set_experiment("study\nA");
    state.plan(4, 0, 1);
    state.add_pending(4);
    StillSensor g = gpu_sensor(0);
    StillSensor p = package_sensor();
    state.run_started(labels("r1"));
    state.trace_begin("r1", 0, {&g, &p});
    GpuTelemetry t;
    t.utilisation_pct = 87;
    t.temperature_c = 61.0;
    t.sm_clock_mhz = 1410;
    t.throttle_reasons = 0x4;  // sw_power_cap
    t.enforced_limit = Watts(250.0);
    state.trace_row("r1", 0, {value(12.0, 240.0), value(3.0, 30.0)}, {t, std::nullopt});
    state.run_started(labels("r0"));
    state.run_finished("r0", RunStatus::kTimeout, 7.5, 50.0, "timed out after 7s");
    const std::string text = live::prometheus_text(state.snapshot(), live::ProcessNow{1.5, 1e6, 1.7e9});

    const Parsed parsed = parse(text);
    EXPECT_THAT(parsed.problems, ::testing::IsEmpty()) << text;
    EXPECT_EQ(parsed.types.at("joulebench_energy_joules_total"), "counter");
    EXPECT_EQ(parsed.types.at("joulebench_power_watts"), "gauge");
    EXPECT_EQ(parsed.types.at("joulebench_runs_total"), "counter");
    EXPECT_EQ(parsed.types.at("process_cpu_seconds_total"), "counter");
    // Labels escaped as the format says: backslash, double quote, line feed.
    EXPECT_THAT(text, HasSubstr(R"(node="node \\ 1")"));
    EXPECT_THAT(text, HasSubstr(R"(experiment="study\nA")"));
    EXPECT_THAT(text, HasSubstr(R"(workload="resnet \"50\"")"));
    EXPECT_THAT(text, HasSubstr(R"(gpu_cap_watts="250",repetition="3",gpu_slot="0",domain="gpu0",kind="gpu",method="counter"} 12)"));
    EXPECT_THAT(text, HasSubstr("domain=\"package0\",kind=\"package\",method=\"counter\"} 30\n"));
    EXPECT_THAT(text, HasSubstr("joulebench_gpu_utilisation_ratio{"));
    EXPECT_THAT(text, HasSubstr("} 0.87\n"));
    EXPECT_THAT(text, HasSubstr("} 1410000000\n"));
    EXPECT_THAT(text, HasSubstr("reason=\"sw_power_cap\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("reason=\"gpu_idle\"} 0\n"));
    // The CPU package has no GPU telemetry: one temperature, of the GPU.
    std::size_t temperatures = 0;
    for (auto at = text.find("joulebench_gpu_temperature_celsius{"); at != std::string::npos;
         at = text.find("joulebench_gpu_temperature_celsius{", at + 1))
        ++temperatures;
    EXPECT_EQ(temperatures, 1U);
    // The finished run: its status, duration and energy; counted by status, 0 for the others.
    EXPECT_THAT(text, HasSubstr("status=\"timeout\"} 7.5\n"));
    EXPECT_THAT(text, HasSubstr("status=\"timeout\"} 50\n"));
    EXPECT_THAT(text, HasSubstr("joulebench_runs_total{node=\"node \\\\ 1\",status=\"timeout\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("joulebench_runs_total{node=\"node \\\\ 1\",status=\"done\"} 0\n"));
    EXPECT_THAT(text, HasSubstr("state=\"running\"} 1\n"));
    EXPECT_THAT(text, HasSubstr("state=\"pending\"} 3\n"));
    EXPECT_THAT(text, HasSubstr("process_resident_memory_bytes 1000000\n"));
}

TEST(PrometheusText, TheExporterShowsTheMachineWithoutRunLabelsOrPlan) {
    live::LiveState state("n1", "exporter");
    StillSensor g = gpu_sensor(1);
    state.trace_begin(live::kMachine, 0, {&g});
    state.trace_row(live::kMachine, 0, {value(1234.5, 75.0)}, {std::nullopt});
    const std::string text = live::prometheus_text(state.snapshot(), {});
    EXPECT_THAT(text, HasSubstr("joulebench_energy_joules_total{node=\"n1\",domain=\"gpu1\",kind=\"gpu\",method=\"counter\"} 1234.5\n"));
    EXPECT_THAT(text, HasSubstr("joulebench_power_watts{node=\"n1\",domain=\"gpu1\",kind=\"gpu\",method=\"counter\"} 75\n"));
    EXPECT_THAT(text, Not(HasSubstr("run=")));
    EXPECT_THAT(text, Not(HasSubstr("joulebench_plan_runs")));
    EXPECT_THAT(text, Not(HasSubstr("joulebench_runs_total")));
    EXPECT_THAT(parse(text).problems, ::testing::IsEmpty());
}

TEST(DashboardLines, ShowTheBarTheRunsInFlightWithPowerAndTheLastFinishedCutToTheWidth) {
    live::LiveState state("n1", "run");
    state.set_experiment("study");
    state.plan(8, 2, 1);
    state.add_pending(6);
    for (const char* id : {"a", "b", "c", "d"}) {
        state.run_started(labels(id));
        state.run_finished(id, RunStatus::kDone, 2.5, 1500.0, "");
    }
    state.run_started(labels("e"));
    StillSensor g = gpu_sensor(0);
    StillSensor core = [] {
        SensorInfo i;
        i.id = "package0-core";
        i.kind = DomainKind::kCore;  // overlaps the package: not in the sums
        return StillSensor(i);
    }();
    state.trace_begin("e", 0, {&g, &core});
    state.trace_row("e", 0, {value(12345.0, 240.0), value(500.0, 50.0)}, {std::nullopt, std::nullopt});
    live::DashboardOptions o;
    o.width = 200;
    const auto lines = live::dashboard_lines(state.snapshot(), o);
    ASSERT_EQ(lines.size(), 5U);  // head, one in flight, three finished
    EXPECT_THAT(lines[0], ::testing::StartsWith("joulebench run: study  [" + std::string(15, '#') +
                                                std::string(5, '.') + "] 6/8  0 failed  ETA "));
    EXPECT_THAT(lines[1], ::testing::MatchesRegex(R"(  GPU 0  resnet "50"/docker/250 W/#3  [0-9.]+s  240\.0 W  12\.3 kJ)"));
    EXPECT_THAT(lines[2], HasSubstr("done   resnet \"50\"/docker/250 W/#3  2.50 s  1500 J"));
    o.width = 30;
    for (const auto& line : live::dashboard_lines(state.snapshot(), o)) EXPECT_LE(line.size(), 29U) << line;
    // An estimated domain in the sums is said, as run's lines say it.
    SensorInfo est;
    est.id = "cpu-estimated";
    est.kind = DomainKind::kEstimatedCpu;
    est.method = Method::kEstimated;
    StillSensor cpu(est);
    state.trace_begin("e", 1, {&cpu});
    state.trace_row("e", 1, {value(10.0, 5.0)}, {std::nullopt});
    EXPECT_THAT(live::dashboard_lines(state.snapshot(), live::DashboardOptions{})[1], HasSubstr("kJ (CPU estimated)"));
    EXPECT_EQ(live::progress_bar(0.5, 6), "[##..]");
    EXPECT_EQ(live::progress_bar(2.0, 4), "[##]");
    EXPECT_EQ(live::energy_text(4.07e6), "4.07 MJ");
}

TEST(PrometheusText, ProcessMetricsAreReadFromProc) {
    const live::ProcessNow p = live::read_process_now();
    ASSERT_TRUE(p.cpu_s && p.resident_bytes && p.start_time_s);
    EXPECT_GT(*p.resident_bytes, 0.0);
    EXPECT_GT(*p.start_time_s, 1.6e9);  // after 2020
}

}  // namespace
}  // namespace joulebench::test
