// scripts/gpu_validation.sh end to end against the fake libnvidia-ml.so.1: the real kit, the real
// joulebench and joulebench_nvml_cost binaries, the real matmul workload (CPU-only torch, or
// `sleep` without torch) and the real report script. nvidia-smi is either absent (NVIDIA_SMI
// points nowhere) or a fake shell script that logs its arguments and prints a known power.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* kCalls[] = {"nvmlDeviceGetTotalEnergyConsumption",
                        "nvmlDeviceGetPowerUsage",
                        "nvmlDeviceGetTemperature(GPU)",
                        "nvmlDeviceGetClockInfo(SM)",
                        "nvmlDeviceGetUtilizationRates",
                        "nvmlDeviceGetEnforcedPowerLimit",
                        "nvmlDeviceGetPowerManagementLimit",
                        "NvmlSensor::sample()",
                        "NvmlSensor::telemetry()"};
// Made NOT_SUPPORTED on the fake GPU: the table must say so instead of giving numbers.
const char* kUnsupportedCall = "nvmlDeviceGetCurrentClocksEventReasons";

std::string kit_script() {
    return std::string(JOULEBENCH_SOURCE_DIR) + "/scripts/gpu_validation.sh";
}

std::string nvml_cost_binary() {
#ifdef JOULEBENCH_NVML_COST_PATH
    return JOULEBENCH_NVML_COST_PATH;
#else
    return {};
#endif
}

bool debian_torch_importable() {
    if (!fs::exists("/usr/bin/python3")) return false;
    return run_process({"/usr/bin/python3", "-c", "import torch"}).exit_code == 0;
}

// The cells of the first markdown table row whose first cell is `first`, after the heading
// `section` when one is given; empty when there is none.
std::vector<std::string> table_row(const std::string& markdown, const std::string& first,
                                   const std::string& section = {}) {
    const auto from = section.empty() ? 0 : markdown.find(section);
    if (from == std::string::npos) return {};
    std::istringstream lines(markdown.substr(from));
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("| " + first + " |", 0) != 0) continue;
        std::vector<std::string> cells;
        std::string cell;
        for (std::size_t i = 1; i < line.size(); ++i) {
            if (line[i] == '|' && line[i - 1] != '\\') {
                const auto b = cell.find_first_not_of(' ');
                const auto e = cell.find_last_not_of(' ');
                cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
                cell.clear();
            } else {
                cell += line[i];
            }
        }
        return cells;
    }
    return {};
}

struct Kit {
    TempDir dir{"joulebench-gpu-validation"};
    FakeNvmlState state{dir.path() / "nvml.json", 1};
    fs::path out = dir.path() / "out";

    ProcessOptions options(const std::string& nvidia_smi, const std::string& python) const {
        ProcessOptions o;
        o.env = {
            {"JOULEBENCH_NVML_LIBRARY", FakeNvmlEnvironment::library_path()},
            {"JOULEBENCH_FAKE_NVML_STATE", state.path().string()},
            {"JOULEBENCH_POWERCAP_ROOT", (dir.path() / "no-powercap").string()},
            {"NVIDIA_SMI", nvidia_smi},
            {"PYTHON", python},
            // Even where a CUDA build of torch and a GPU exist, the workloads must not use them.
            {"CUDA_VISIBLE_DEVICES", ""},
            {"OMP_NUM_THREADS", "1"}};
        o.timeout = std::chrono::seconds(240);
        return o;
    }
    [[nodiscard]] json summary() const { return json::parse(read_file(out / "summary.json")); }
};

TEST(GpuValidation, MeasuresTheFakeGpuAndSaysWhatWasSkippedWithoutNvidiaSmiOrCuda) {
    const std::string cost = nvml_cost_binary();
    if (cost.empty())
        GTEST_SKIP() << "joulebench_nvml_cost is not built (JOULEBENCH_BUILD_BENCH=OFF)";
    Kit kit;
    kit.state.set_power_mw(0, 120000).set_supported(0, kUnsupportedCall, false);
    const bool torch = debian_torch_importable();
    auto r = run_process({"bash", kit_script(), "--joulebench", joulebench_binary(), "--nvml-cost",
                          cost, "--out", kit.out.string(), "--seconds", "1", "--idle", "0.5",
                          "--cost-calls", "200", "--matmul-args", "--size 64"},
                         kit.options("/nonexistent/nvidia-smi", "/usr/bin/python3"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(fs::exists(kit.out / "gpu.md")) << r.err;
    const std::string md = read_file(kit.out / "gpu.md");
    const json summary = kit.summary();
    const json& steps = summary.at("steps");

    // Skipped steps, each with its reason, in the steps table and in the sections.
    EXPECT_EQ(steps.at("nvidia-smi").at("status"), "skipped");
    EXPECT_NE(steps.at("nvidia-smi")
                  .at("reason")
                  .get<std::string>()
                  .find("nvidia-smi not found (looked for '/nonexistent/nvidia-smi'"),
              std::string::npos);
    EXPECT_EQ(steps.at("smi_power").at("status"), "skipped");
    const std::string cuda_reason =
        torch ? "torch.cuda.is_available() is false" : "torch cannot be imported";
    for (const char* step : {"cuda", "resnet50", "bert"}) {
        EXPECT_EQ(steps.at(step).at("status"), "skipped") << step;
        EXPECT_NE(steps.at(step).at("reason").get<std::string>().find(cuda_reason),
                  std::string::npos)
            << step;
    }
    EXPECT_NE(md.find("| nvidia-smi | skipped | nvidia-smi not found"), std::string::npos) << md;
    EXPECT_NE(md.find("| resnet50 | skipped | " + std::string(torch ? "torch " : "torch cannot")),
              std::string::npos)
        << md;
    EXPECT_NE(md.find("**The load did not run on the GPU**"), std::string::npos) << md;
    EXPECT_NE(md.find("nvidia-smi power samples: skipped. nvidia-smi not found"), std::string::npos)
        << md;

    // The call-cost table: numbers for every call the fake supports, NOT_SUPPORTED said as such.
    EXPECT_EQ(steps.at("nvml_cost").at("status"), "ok");
    const std::regex duration(R"(^[0-9]+(\.[0-9]+)? (ns|µs|ms)$)");
    for (const char* call : kCalls) {
        const auto row = table_row(md, std::string("`") + call + "`");
        ASSERT_GE(row.size(), 6U) << call << "\n" << md;
        EXPECT_EQ(row[2], "ok") << call;
        EXPECT_EQ(row[3], "200") << call;
        EXPECT_TRUE(std::regex_match(row[4], duration)) << call << ": median '" << row[4] << "'";
        EXPECT_TRUE(std::regex_match(row[5], duration)) << call << ": p99 '" << row[5] << "'";
    }
    const auto unsupported = table_row(md, std::string("`") + kUnsupportedCall + "`");
    ASSERT_GE(unsupported.size(), 5U) << md;
    EXPECT_EQ(unsupported[2], "not_supported");
    EXPECT_EQ(unsupported[4], "");  // no median for a call that never worked
    // The same figures in the raw document: p99 at least the median, both positive.
    const json cost_doc = json::parse(read_file(kit.out / "nvml_cost.json"));
    ASSERT_EQ(cost_doc.at("gpus").size(), 1U);
    for (const auto& call : cost_doc.at("gpus")[0].at("calls")) {
        if (call.at("status") != "ok") continue;
        EXPECT_GT(call.at("median_ns").get<double>(), 0.0) << call.dump();
        EXPECT_GE(call.at("p99_ns").get<double>(), call.at("median_ns").get<double>())
            << call.dump();
    }

    // Counter energy of the fake GPU over the run: it draws a constant 120 W.
    EXPECT_EQ(steps.at("matmul").at("status"), "ok") << steps.dump();
    ASSERT_EQ(summary.at("comparison").size(), 1U) << summary.dump();
    const json& gpu = summary.at("comparison")[0];
    EXPECT_EQ(gpu.at("gpu"), "gpu0");
    EXPECT_EQ(gpu.at("method"), "counter");
    EXPECT_GT(gpu.at("counter_j").get<double>(), 0.0);
    EXPECT_NEAR(gpu.at("avg_power_w").get<double>(), 120.0, 1.2);
    EXPECT_NEAR(gpu.at("idle_power_w").get<double>(), 120.0, 1.2);
    EXPECT_LT(std::abs(gpu.at("disagreement_pct").get<double>()), 1.0);
    EXPECT_TRUE(gpu.at("nvidia_smi").empty());
    const auto md_row = table_row(md, "gpu0", "## Counter vs integrated power vs nvidia-smi");
    ASSERT_GE(md_row.size(), 6U) << md;
    EXPECT_EQ(md_row[1], "counter");
    EXPECT_GT(std::stod(md_row[2]), 0.0);

    if (torch) {  // the matmul ran on the CPU and said what it did
        const json line = json::parse(read_file(kit.out / "matmul" / "workload.json"));
        EXPECT_EQ(line.at("workload"), "matmul_load");
        EXPECT_EQ(line.at("device"), "cpu");
        EXPECT_GT(line.at("iterations").get<long>(), 0);
        EXPECT_EQ(line.at("flops").get<double>(),
                  2.0 * 64 * 64 * 64 * line.at("iterations").get<double>());
    }
    // Read-only: no setter of the fake NVML was ever called.
    EXPECT_TRUE(kit.state.calls().empty());
}

TEST(GpuValidation, IntegratesAFakeNvidiaSmiOverTheMeasuredWindowAndOnlyQueriesIt) {
    Kit kit;
    kit.state.set_power_mw(0, 120000);
    // A fake nvidia-smi: answers the kit's queries, samples a constant 180 W in UTC every 100 ms,
    // and logs every invocation so the test can check that only queries were made.
    const fs::path smi = kit.dir.path() / "nvidia-smi";
    const fs::path log = kit.dir.path() / "smi.log";
    write_file(
        smi,
        "#!/bin/sh\n"
        "echo \"$*\" >> '" +
            log.string() +
            "'\n"
            "case \"$*\" in\n"
            "  *-lms*) while :; do\n"
            "      echo \"$(date -u +'%Y/%m/%d %H:%M:%S.%3N'), 0, 180.00, 180.00\"; sleep 0.1; "
            "done ;;\n"
            "  *--query-gpu=timestamp*) echo '2026/01/01 00:00:00.000, 0, 180.00, 180.00' ;;\n"
            "  *--query-gpu=*) echo 'index, name, power.limit [W]'; echo '0, Fake GPU, 400.00 W' "
            ";;\n"
            "  '') echo 'fake nvidia-smi' ;;\n"
            "  *) echo \"unexpected: $*\" >&2; exit 2 ;;\n"
            "esac\n");
    fs::permissions(smi, fs::perms::owner_all);
    // No interpreter for the workloads: the load is `sleep`, the report runs with python3.
    auto r = run_process({"bash", kit_script(), "--joulebench", joulebench_binary(), "--nvml-cost",
                          "/nonexistent/joulebench_nvml_cost", "--out", kit.out.string(),
                          "--seconds", "2", "--idle", "0.3", "--skip-inference"},
                         kit.options(smi.string(), "/nonexistent/python3"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json summary = kit.summary();
    const json& steps = summary.at("steps");
    EXPECT_EQ(steps.at("nvidia-smi").at("status"), "ok");
    EXPECT_EQ(steps.at("smi_power").at("status"), "ok");
    EXPECT_EQ(steps.at("nvml_cost").at("status"), "skipped");
    EXPECT_NE(
        steps.at("cuda").at("reason").get<std::string>().find("'/nonexistent/python3' not found"),
        std::string::npos)
        << steps.dump();
    EXPECT_EQ(steps.at("bert").at("reason"), "--skip-inference given");

    ASSERT_EQ(summary.at("comparison").size(), 1U) << summary.dump();
    const json& gpu = summary.at("comparison")[0];
    const double counter = gpu.at("counter_j").get<double>();
    EXPECT_NEAR(gpu.at("avg_power_w").get<double>(), 120.0, 1.2);
    // 180 W against the counter's 120 W over the same window: +50 %.
    for (const char* field : {"power.draw", "power.draw.instant"}) {
        const json& s = gpu.at("nvidia_smi").at(field);
        EXPECT_NEAR(s.at("mean_power_w").get<double>(), 180.0, 1e-9) << field;
        EXPECT_NEAR(s.at("diff_vs_counter_pct").get<double>(), 50.0, 2.0) << field;
        EXPECT_NEAR(s.at("energy_j").get<double>(), 1.5 * counter, 0.02 * counter) << field;
        EXPECT_GE(s.at("samples_in_window").get<int>(), 5) << field;
        EXPECT_GT(s.at("coverage_pct").get<double>(), 99.0) << field;
    }
    const std::string md = read_file(kit.out / "gpu.md");
    EXPECT_NE(md.find("nvidia-smi power.draw.instant J"), std::string::npos) << md;
    EXPECT_NE(md.find("| 0 | Fake GPU | 400.00 W |"), std::string::npos) << md;

    // Every nvidia-smi invocation was a query (or the plain status page).
    std::istringstream calls(read_file(log));
    std::string call;
    int invocations = 0;
    while (std::getline(calls, call)) {
        ++invocations;
        EXPECT_TRUE(call.empty() || call.rfind("--query-gpu=", 0) == 0) << "not a query: " << call;
    }
    EXPECT_GE(invocations, 3);
    EXPECT_TRUE(kit.state.calls().empty());
}

// nvidia-smi's time format, in UTC, for Unix time `t` (milliseconds).
std::string smi_time(double t) {
    const auto ms = static_cast<long long>(std::llround(t * 1000.0));
    const time_t seconds = static_cast<time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[64];
    std::strftime(text, sizeof text, "%Y/%m/%d %H:%M:%S", &tm);
    return std::string(text) + "." + fmt::format("{:03d}", ms % 1000);
}

TEST(GpuValidation, TheReportClipsNvidiaSmiSamplesToTheMeasuredWindow) {
    // A hand-made run folder: the report alone, against values computed here.
    TempDir dir{"joulebench-gpu-report"};
    fs::create_directories(dir.path() / "matmul");
    write_file(dir.path() / "steps.tsv", "matmul\tok\tcuda\nsmi_power\tok\t\n");
    write_file(dir.path() / "matmul" / "load.txt", "cuda\n");
    const double s0 = 1700000000.25;  // first nvidia-smi sample
    const double start = s0 + 1.05;   // the window starts between two samples ...
    const double wall = 2.0;          // ... and ends between two samples
    json m = {{"started_at", start}, {"wall_s", wall},        {"interval_ms", 100},
              {"samples", 21},       {"gpus", json::array()}, {"warnings", json::array()}};
    m["domains"] = json::array({{{"id", "gpu0"},
                                 {"kind", "gpu"},
                                 {"index", 0},
                                 {"method", "counter"},
                                 {"energy_j", 250.0},
                                 {"avg_power_w", 125.0},
                                 {"cross_check_energy_j", 249.0},
                                 {"disagreement_pct", 0.4}},
                                {{"id", "gpu1"},
                                 {"kind", "gpu"},
                                 {"index", 1},
                                 {"method", "counter"},
                                 {"energy_j", 100.0},
                                 {"avg_power_w", 50.0},
                                 {"cross_check_energy_j", 100.0},
                                 {"disagreement_pct", 0.0}}});
    write_file(dir.path() / "matmul" / "m.json", m.dump());
    write_file(dir.path() / "matmul" / "smi.csv.fields",
               "timestamp,index,power.draw,power.draw.instant\n");
    // GPU 0: power.draw ramps, 100 + 50 W/s from the window's start, and keeps ramping before and
    // after it (an unclipped integral would differ); power.draw.instant is reported only for
    // u = 0.45 ... 1.45 s into the window (11 samples, half the window), at 150 W, else [N/A].
    // GPU 1: a flat 50 W.
    std::string csv;
    for (int k = 0; k <= 40; ++k) {
        const double t = s0 + 0.1 * k;
        const double u = t - start;
        const double ramp = 100.0 + 50.0 * u;
        const bool instant = u > 0.4 && u < 1.5;
        csv += fmt::format("{}, 0, {:.3f}, {}\n", smi_time(t), ramp, instant ? "150.00" : "[N/A]");
        csv += fmt::format("{}, 1, 50.00, 50.00\n", smi_time(t));
    }
    csv += "2023/11/14 22:13:2";  // nvidia-smi killed mid-line
    write_file(dir.path() / "matmul" / "smi.csv", csv);

    auto r = run_process({"python3",
                          std::string(JOULEBENCH_SOURCE_DIR) + "/scripts/gpu_validation_report.py",
                          dir.path().string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json summary = json::parse(read_file(dir.path() / "summary.json"));
    ASSERT_EQ(summary.at("comparison").size(), 2U) << summary.dump();
    const json& g0 = summary.at("comparison")[0].at("nvidia_smi");
    // The integral of 100 + 50 u over u in [0, 2]: 300 J, exact for a linear ramp; vs 250 J: +20 %.
    EXPECT_NEAR(g0.at("power.draw").at("energy_j").get<double>(), 300.0,
                1e-4);  // Unix times: ulp 2e-7 s
    EXPECT_NEAR(g0.at("power.draw").at("diff_vs_counter_pct").get<double>(), 20.0, 1e-4);
    EXPECT_EQ(g0.at("power.draw").at("samples_in_window").get<int>(), 20);
    EXPECT_NEAR(g0.at("power.draw").at("coverage_pct").get<double>(), 100.0, 1e-6);
    // Samples at u = 0.45 ... 1.45 cover 1 s of the 2 s window at 150 W: 300 J by the mean power.
    EXPECT_NEAR(g0.at("power.draw.instant").at("coverage_pct").get<double>(), 50.0, 1e-6);
    EXPECT_NEAR(g0.at("power.draw.instant").at("mean_power_w").get<double>(), 150.0, 1e-9);
    EXPECT_NEAR(g0.at("power.draw.instant").at("energy_j").get<double>(), 300.0, 1e-6);
    const json& g1 = summary.at("comparison")[1].at("nvidia_smi");
    EXPECT_NEAR(g1.at("power.draw").at("energy_j").get<double>(), 100.0, 1e-6);
    EXPECT_NEAR(g1.at("power.draw").at("diff_vs_counter_pct").get<double>(), 0.0, 1e-6);
    const std::string md = read_file(dir.path() / "gpu.md");
    EXPECT_NE(
        md.find(
            "| gpu0 | counter | 250.0 | 125.0 | 249.0 | +0.40 % | 300.0 | +20.00 % | 20 (100 %) | "
            "300.0 | +20.00 % | 11 (50 %) |"),
        std::string::npos)
        << md;
    EXPECT_NE(md.find("1 nvidia-smi line(s) could not be read"), std::string::npos) << md;
}

TEST(GpuValidation, FailsWhenNothingCanBeMeasuredAndRefusesBadUsage) {
    Kit kit;
    auto none = run_process(
        {"bash", kit_script(), "--joulebench", "/nonexistent/joulebench", "--nvml-cost",
         "/nonexistent/joulebench_nvml_cost", "--out", kit.out.string(), "--seconds", "1"},
        kit.options("/nonexistent/nvidia-smi", "/nonexistent/python3"));
    EXPECT_EQ(none.exit_code, 1) << none.err;
    EXPECT_NE(none.err.find("error: gpu_validation: nothing could be measured"), std::string::npos)
        << none.err;
    // The page still says why.
    const std::string md = read_file(kit.out / "gpu.md");
    EXPECT_NE(md.find("| sensors | failed | joulebench binary /nonexistent/joulebench not found"),
              std::string::npos)
        << md;

    // The output folder now holds files: a second run into it is refused before anything runs.
    auto again = run_process({"bash", kit_script(), "--out", kit.out.string()},
                             kit.options("/nonexistent/nvidia-smi", "/nonexistent/python3"));
    EXPECT_EQ(again.exit_code, 2);
    EXPECT_NE(again.err.find("it exists and is not empty"), std::string::npos) << again.err;
    auto zero = run_process(
        {"bash", kit_script(), "--seconds", "0", "--out", (kit.dir.path() / "o2").string()},
        kit.options("/nonexistent/nvidia-smi", "/nonexistent/python3"));
    EXPECT_EQ(zero.exit_code, 2);
    EXPECT_NE(zero.err.find("--seconds 0: not a number above 0"), std::string::npos) << zero.err;
    EXPECT_FALSE(fs::exists(kit.dir.path() / "o2"));
    auto unknown = run_process({"bash", kit_script(), "--power-limit", "200"},
                               kit.options("/nonexistent/nvidia-smi", "/nonexistent/python3"));
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_NE(unknown.err.find("unknown option '--power-limit'"), std::string::npos) << unknown.err;
}

}  // namespace
}  // namespace joulebench::test
