// measure_from_json is the exact inverse of measure_to_json (what the ssh environment relies on
// to turn the remote `joulebench measure --json` document back into a MeasureResult), and a
// malformed document is a clear error naming where it is wrong.

#include "model/measure_json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "joulebench/error.hpp"

namespace joulebench {
namespace {

using ::testing::HasSubstr;
using ordered = nlohmann::ordered_json;

MeasureResult fully_populated() {
    MeasureResult r;
    r.command = {"python3", "-c", "print('hé \"x\"')", ""};
    r.exit_code = 137;
    r.signal = 9;
    r.started_at = 1763740000.123456;
    r.wall_s = 12.345678901234;
    r.cpu_user_s = 3.25;
    r.cpu_system_s = 0.125;

    DomainResult gpu;
    gpu.info.id = "gpu0";
    gpu.info.kind = DomainKind::kGpu;
    gpu.info.index = 0;
    gpu.info.method = Method::kCounter;
    gpu.info.backend = "nvml";
    gpu.info.name = "NVIDIA A100-SXM4-40GB";
    gpu.info.update_period = std::chrono::microseconds(20'000);
    gpu.info.wrap_range = Joules(18446744073709.551);
    gpu.energy_j = 1234.5678;
    gpu.avg_power_w = 100.0001;
    gpu.peak_power_w = 250.5;
    gpu.health.wraps = 2;
    gpu.health.resets = 1;
    gpu.failed_reads = 3;
    gpu.counts_in_total = true;
    gpu.cross_check_energy_j = 1230.0;
    gpu.disagreement_pct = 0.3713;
    gpu.idle_power_w = 55.5;
    gpu.net_energy_j = 549.2;
    r.domains.push_back(gpu);

    DomainResult core;
    core.info.id = "package0-core";
    core.info.kind = DomainKind::kCore;
    core.info.index = 0;
    core.info.method = Method::kIntegrated;
    core.info.backend = "powercap";
    core.info.name = "core";
    core.info.update_period = std::chrono::microseconds(1'001);
    core.energy_j = 0.0;
    core.avg_power_w = 0.0;
    core.counts_in_total = false;
    core.sharing = Sharing::kAttributed;
    core.cpu_time_share = 0.375;
    core.measured_energy_j = 0.0;
    r.domains.push_back(core);

    DomainResult est;
    est.info.id = "cpu-estimated";
    est.info.kind = DomainKind::kEstimatedCpu;
    est.info.index = -1;
    est.info.method = Method::kEstimated;
    est.info.backend = "estimate";
    est.info.name = "CPU time x TDP";
    est.energy_j = 7.5;
    est.avg_power_w = 0.61;
    est.counts_in_total = true;
    est.idle_power_w = 1.5;  // net energy absent: the document holds null
    r.domains.push_back(est);

    GpuResult g;
    g.index = 0;
    g.id = "gpu0";
    g.name = "NVIDIA A100-SXM4-40GB";
    g.uuid = "GPU-1234";
    g.pci_bus_id = "00000000:17:00.0";
    g.mean_utilisation_pct = 87.25;
    g.max_utilisation_pct = 100;
    g.max_temperature_c = 71.0;
    g.mean_sm_clock_mhz = 1410.5;
    g.throttle_mask = 0x4 | 0x40 | 0x10000;  // sw_power_cap, hw_thermal_slowdown, an unnamed bit
    g.throttle_reasons = throttle_reason_names(g.throttle_mask);
    g.enforced_limit_w = 150.0;
    r.gpus.push_back(g);
    GpuResult bare;
    bare.index = 1;
    bare.id = "gpu1";
    r.gpus.push_back(bare);

    PowerCapResult cap;
    cap.id = "gpu0";
    cap.kind = "gpu";
    cap.index = 0;
    cap.label = "GPU 0 (NVIDIA A100-SXM4-40GB, 00000000:17:00.0)";
    cap.key = "GPU-1234";
    cap.requested_w = 150.0;
    cap.enforced_w = 150.0;
    cap.original_w = 400.0;
    cap.default_w = 400.0;
    cap.restored = false;
    cap.restore_error = "nvml: set power limit: GPU is lost";
    cap.throttled = true;
    r.power_caps.push_back(cap);
    PowerCapResult cpu;
    cpu.id = "package0";
    cpu.kind = "package";
    cpu.index = 0;
    cpu.label = "package-0";
    cpu.key = "intel-rapl:0";
    cpu.requested_w = 137.5;
    cpu.original_w = 200.0;
    cpu.restored = true;
    r.power_caps.push_back(cpu);

    r.total_energy_j = 1242.0678;
    r.total_includes_estimate = true;
    r.edp_js = 15333.3;
    r.ed2p_js2 = 189289.0;
    IdleResult idle;
    idle.duration_s = 5.0;
    idle.power_w = 57.0;
    idle.energy_j = 703.7;
    idle.net_energy_j = 538.3;
    // Not in key order: the ordered reader keeps the document's order.
    idle.domain_power_w = {{"package0", 1.5}, {"gpu0", 55.5}};
    r.idle = idle;
    r.estimate = EstimateModel{"Intel(R) Xeon(R)", 205.0, 48, 4.27, "cpuinfo"};
    r.warnings = {make_warning(warning_code::kFailedReads, "gpu0: 3 failed reads"),
                  make_warning(warning_code::kOther, "ünïcode \"quoted\"")};
    r.samples = 124;
    r.polls = 620;
    r.interval_ms = 100.0;
    r.poll_interval_ms = 20.0;
    r.late_ticks = 2;
    r.monitor_cpu_s = 0.0123;
    r.monitor_overhead_pct = 0.0996;
    return r;
}

void expect_same(const DomainResult& a, const DomainResult& b) {
    EXPECT_EQ(a.info.id, b.info.id);
    EXPECT_EQ(a.info.kind, b.info.kind);
    EXPECT_EQ(a.info.index, b.info.index);
    EXPECT_EQ(a.info.method, b.info.method);
    EXPECT_EQ(a.info.backend, b.info.backend);
    EXPECT_EQ(a.info.name, b.info.name);
    EXPECT_EQ(a.info.update_period, b.info.update_period);
    ASSERT_EQ(a.info.wrap_range.has_value(), b.info.wrap_range.has_value());
    if (a.info.wrap_range) {
        EXPECT_EQ(a.info.wrap_range->value(), b.info.wrap_range->value());
    }
    EXPECT_EQ(a.energy_j, b.energy_j);
    EXPECT_EQ(a.avg_power_w, b.avg_power_w);
    EXPECT_EQ(a.peak_power_w, b.peak_power_w);
    EXPECT_EQ(a.health.wraps, b.health.wraps);
    EXPECT_EQ(a.health.resets, b.health.resets);
    EXPECT_EQ(a.failed_reads, b.failed_reads);
    EXPECT_EQ(a.counts_in_total, b.counts_in_total);
    EXPECT_EQ(a.cross_check_energy_j, b.cross_check_energy_j);
    EXPECT_EQ(a.disagreement_pct, b.disagreement_pct);
    EXPECT_EQ(a.idle_power_w, b.idle_power_w);
    EXPECT_EQ(a.net_energy_j, b.net_energy_j);
    EXPECT_EQ(a.sharing, b.sharing);
    EXPECT_EQ(a.cpu_time_share, b.cpu_time_share);
    EXPECT_EQ(a.measured_energy_j, b.measured_energy_j);
}

void expect_same(const MeasureResult& a, const MeasureResult& b) {
    EXPECT_EQ(a.command, b.command);
    EXPECT_EQ(a.exit_code, b.exit_code);
    EXPECT_EQ(a.signal, b.signal);
    EXPECT_EQ(a.started_at, b.started_at);
    EXPECT_EQ(a.wall_s, b.wall_s);
    EXPECT_EQ(a.cpu_user_s, b.cpu_user_s);
    EXPECT_EQ(a.cpu_system_s, b.cpu_system_s);
    ASSERT_EQ(a.domains.size(), b.domains.size());
    for (std::size_t i = 0; i < a.domains.size(); ++i) expect_same(a.domains[i], b.domains[i]);
    ASSERT_EQ(a.gpus.size(), b.gpus.size());
    for (std::size_t i = 0; i < a.gpus.size(); ++i) {
        const auto& x = a.gpus[i];
        const auto& y = b.gpus[i];
        EXPECT_EQ(x.index, y.index);
        EXPECT_EQ(x.id, y.id);
        EXPECT_EQ(x.name, y.name);
        EXPECT_EQ(x.uuid, y.uuid);
        EXPECT_EQ(x.pci_bus_id, y.pci_bus_id);
        EXPECT_EQ(x.mean_utilisation_pct, y.mean_utilisation_pct);
        EXPECT_EQ(x.max_utilisation_pct, y.max_utilisation_pct);
        EXPECT_EQ(x.max_temperature_c, y.max_temperature_c);
        EXPECT_EQ(x.mean_sm_clock_mhz, y.mean_sm_clock_mhz);
        EXPECT_EQ(x.throttle_mask, y.throttle_mask);
        EXPECT_EQ(x.throttle_reasons, y.throttle_reasons);
        EXPECT_EQ(x.enforced_limit_w, y.enforced_limit_w);
    }
    ASSERT_EQ(a.power_caps.size(), b.power_caps.size());
    for (std::size_t i = 0; i < a.power_caps.size(); ++i) {
        const auto& x = a.power_caps[i];
        const auto& y = b.power_caps[i];
        EXPECT_EQ(x.id, y.id);
        EXPECT_EQ(x.kind, y.kind);
        EXPECT_EQ(x.index, y.index);
        EXPECT_EQ(x.label, y.label);
        EXPECT_EQ(x.key, y.key);
        EXPECT_EQ(x.requested_w, y.requested_w);
        EXPECT_EQ(x.enforced_w, y.enforced_w);
        EXPECT_EQ(x.original_w, y.original_w);
        EXPECT_EQ(x.default_w, y.default_w);
        EXPECT_EQ(x.restored, y.restored);
        EXPECT_EQ(x.restore_error, y.restore_error);
        EXPECT_EQ(x.throttled, y.throttled);
    }
    EXPECT_EQ(a.total_energy_j, b.total_energy_j);
    EXPECT_EQ(a.total_includes_estimate, b.total_includes_estimate);
    EXPECT_EQ(a.edp_js, b.edp_js);
    EXPECT_EQ(a.ed2p_js2, b.ed2p_js2);
    ASSERT_EQ(a.idle.has_value(), b.idle.has_value());
    if (a.idle) {
        EXPECT_EQ(a.idle->duration_s, b.idle->duration_s);
        EXPECT_EQ(a.idle->power_w, b.idle->power_w);
        EXPECT_EQ(a.idle->energy_j, b.idle->energy_j);
        EXPECT_EQ(a.idle->net_energy_j, b.idle->net_energy_j);
        EXPECT_EQ(a.idle->domain_power_w, b.idle->domain_power_w);
    }
    ASSERT_EQ(a.estimate.has_value(), b.estimate.has_value());
    if (a.estimate) {
        EXPECT_EQ(a.estimate->cpu_model, b.estimate->cpu_model);
        EXPECT_EQ(a.estimate->tdp_w, b.estimate->tdp_w);
        EXPECT_EQ(a.estimate->threads_per_package, b.estimate->threads_per_package);
        EXPECT_EQ(a.estimate->watts_per_cpu, b.estimate->watts_per_cpu);
        EXPECT_EQ(a.estimate->source, b.estimate->source);
    }
    EXPECT_EQ(a.warnings, b.warnings);
    EXPECT_EQ(a.samples, b.samples);
    EXPECT_EQ(a.polls, b.polls);
    EXPECT_EQ(a.interval_ms, b.interval_ms);
    EXPECT_EQ(a.poll_interval_ms, b.poll_interval_ms);
    EXPECT_EQ(a.late_ticks, b.late_ticks);
    EXPECT_EQ(a.monitor_cpu_s, b.monitor_cpu_s);
    EXPECT_EQ(a.monitor_overhead_pct, b.monitor_overhead_pct);
}

TEST(MeasureJson, RoundTripOfAFullyPopulatedResultThroughText) {
    const MeasureResult original = fully_populated();
    // Through the text, as it crosses ssh: doubles must survive dump and parse exactly.
    const std::string text = measure_to_json(original).dump(2);
    const MeasureResult back = measure_from_json(ordered::parse(text));
    expect_same(original, back);
    EXPECT_EQ(measure_to_json(back).dump(2), text);
    EXPECT_EQ(back.gpus[0].throttle_mask, 0x4U | 0x40U | 0x10000U);
}

TEST(MeasureJson, UnorderedDocumentReadsTheSameButIdleDomainsInKeyOrder) {
    const MeasureResult original = fully_populated();
    const MeasureResult back =
        measure_from_json(nlohmann::json::parse(measure_to_json(original).dump()));
    ASSERT_TRUE(back.idle.has_value());
    const std::vector<std::pair<std::string, double>> sorted{{"gpu0", 55.5}, {"package0", 1.5}};
    EXPECT_EQ(back.idle->domain_power_w, sorted);
    MeasureResult expected = original;
    expected.idle->domain_power_w = sorted;
    expect_same(expected, back);
}

TEST(MeasureJson, MinimalResultRoundTrips) {
    MeasureResult r;
    r.command = {"true"};
    const auto j = measure_to_json(r);
    const MeasureResult back = measure_from_json(j);
    expect_same(r, back);
    EXPECT_FALSE(back.idle.has_value());
    EXPECT_FALSE(back.estimate.has_value());
    EXPECT_FALSE(back.signal.has_value());
}

TEST(MeasureJson, WarningTextsStayStringsWithTheirCodesBeside) {
    const auto j = measure_to_json(fully_populated());
    EXPECT_EQ(j["warnings"], ordered({"gpu0: 3 failed reads", "ünïcode \"quoted\""}));
    EXPECT_EQ(j["warning_codes"], ordered({"failed-reads", "other"}));
    // A document written before codes existed: each text's code from its words.
    auto old = j;
    old.erase("warning_codes");
    old["warnings"] = {"package0: shared: other runs ran at the same time",
                       "gpu0: 2 failed reads: x", "something new"};
    const auto back = measure_from_json(old);
    ASSERT_EQ(back.warnings.size(), 3U);
    EXPECT_EQ(back.warnings[0].code, "cpu-shared");
    EXPECT_EQ(back.warnings[1].code, "failed-reads");
    EXPECT_EQ(back.warnings[2].code, "other");
    // Codes that do not pair with the texts are an error, not a guess.
    auto bad = j;
    bad["warning_codes"] = {"failed-reads"};
    try {
        (void)measure_from_json(bad);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(std::string(e.what()), HasSubstr("warning_codes: 1 codes for 2 warnings"));
    }
}

TEST(MeasureJson, NewerKeysAreIgnored) {
    auto j = measure_to_json(fully_populated());
    j["from_the_future"] = {1, 2, 3};
    j["domains"][0]["new_field"] = "x";
    EXPECT_NO_THROW((void)measure_from_json(j));
}

std::string error_of(const ordered& j) {
    try {
        (void)measure_from_json(j);
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        return e.what();
    }
    ADD_FAILURE() << "no error for " << j.dump();
    return {};
}

TEST(MeasureJson, MalformedDocumentsNameWhatIsWrongAndWhere) {
    const ordered good = measure_to_json(fully_populated());
    EXPECT_THAT(error_of(ordered::array()), HasSubstr("must be an object, not array"));
    EXPECT_THAT(error_of(ordered("text")), HasSubstr("must be an object"));

    auto j = good;
    j["schema_version"] = 2;
    EXPECT_THAT(error_of(j),
                HasSubstr("schema_version: 2 is not the version this joulebench reads (1)"));

    j = good;
    j.erase("wall_s");
    EXPECT_THAT(error_of(j), HasSubstr("measure: read the JSON result: key 'wall_s' is missing"));

    j = good;
    j["exit_code"] = "0";
    EXPECT_THAT(error_of(j), HasSubstr("exit_code: must be an integer, not string"));

    j = good;
    j["domains"][1]["kind"] = "flux-capacitor";
    EXPECT_THAT(error_of(j), HasSubstr("domains[1].kind: unknown domain kind 'flux-capacitor'"));

    j = good;
    j["domains"][0]["method"] = "guess";
    EXPECT_THAT(error_of(j), HasSubstr("domains[0].method: unknown method 'guess'"));

    j = good;
    j["domains"][2].erase("energy_j");
    EXPECT_THAT(error_of(j), HasSubstr("domains[2]: key 'energy_j' is missing"));

    j = good;
    j["gpus"][0]["throttle_reasons"][0] = 4;
    EXPECT_THAT(error_of(j),
                HasSubstr("gpus[0].throttle_reasons[0]: must be a string, not number"));

    j = good;
    j["gpus"][0]["throttle_reasons"] = {"other(0xzz)"};
    EXPECT_THAT(error_of(j), HasSubstr("gpus[0].throttle_reasons[0]: bad reason 'other(0xzz)'"));

    j = good;
    j["power_caps"][0]["restored"] = "yes";
    EXPECT_THAT(error_of(j), HasSubstr("power_caps[0].restored: must be true or false"));

    j = good;
    j["samples"] = -1;
    EXPECT_THAT(error_of(j), HasSubstr("samples: must be a non-negative integer, not -1"));

    j = good;
    j["idle"]["domain_power_w"]["gpu0"] = nullptr;
    EXPECT_THAT(error_of(j), HasSubstr("idle.domain_power_w.gpu0: must be a number, not null"));

    j = good;
    j["estimate"] = 3;
    EXPECT_THAT(error_of(j), HasSubstr("estimate: must be an object, not number"));

    j = good;
    j["domains"] = ordered::object();
    EXPECT_THAT(error_of(j), HasSubstr("domains: must be an array, not object"));

    j = good;
    j["domains"][0]["update_period_ms"] = -1.0;
    EXPECT_THAT(error_of(j), HasSubstr("domains[0].update_period_ms: -1 is out of range"));
}

}  // namespace
}  // namespace joulebench
