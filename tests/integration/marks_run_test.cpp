// Marked phases under `joulebench run` (README "Markers"): a bare workload marks phases on its
// standard output and through $JOULEBENCH_MARKS; the store keeps them (run_marked_phases), the
// stdout log still has every line, `export` and the report show them. The fake NVML GPU draws
// 100 W, so each phase's GPU energy is its own wall time x 100 W.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/store.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(RunMarks, PhasesOfABareRunAreStoredExportedAndReported) {
    TempDir dir{"joulebench-run-marks"};
    FakeNvmlState state{dir.path() / "nvml.json", 1};
    const fs::path db = dir.path() / "results.db";
    const fs::path file = dir.path() / "experiment.toml";
    ProcessOptions o;
    o.env = {{"JOULEBENCH_NVML_LIBRARY", FakeNvmlEnvironment::library_path()},
             {"JOULEBENCH_FAKE_NVML_STATE", state.path().string()},
             {"JOULEBENCH_POWERCAP_ROOT", (dir.path() / "no-powercap").string()},
             {"JOULEBENCH_STATE_DIR", (dir.path() / "state").string()}};
    o.timeout = std::chrono::seconds(60);
    write_file(file, R"([experiment]
name = "marks"
repetitions = 2

[[workload]]
name = "w"
command = ["sh", "-c", 'M=JOULEBENCH_MARK; echo "$M begin warmup"; sleep 0.3; echo "$M end warmup"; echo "begin measured" > "$JOULEBENCH_MARKS"; sleep 0.4; echo "end measured" >> "$JOULEBENCH_MARKS"; echo "$M end nothing"; echo "{\"items\": 1}"']
metrics = "json-line"

[[environment]]
name = "bare"
type = "bare"
)");
    const auto r = run_joulebench({"run", file.string(), "--db", db.string(), "--interval", "20"}, o);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Store store(db, Store::Mode::kReadOnly);
    const auto runs = store.runs();
    ASSERT_EQ(runs.size(), 2U);
    for (const auto& run : runs) {
        EXPECT_EQ(run.status, RunStatus::kDone) << run.run_id;
        EXPECT_EQ(nlohmann::json::parse(run.metrics_json), nlohmann::json({{"items", 1}}));
        const auto phases = store.marked_phases(run.run_id);
        ASSERT_EQ(phases.size(), 2U) << run.run_id;
        EXPECT_EQ(phases[0].phase.name, "warmup");
        EXPECT_EQ(phases[1].phase.name, "measured");
        EXPECT_LE(phases[0].phase.end_s, phases[1].phase.begin_s);
        for (const auto& p : phases) {
            EXPECT_FALSE(p.phase.ended_by_run);
            ASSERT_FALSE(p.phase.domains.empty());
            EXPECT_EQ(p.phase.domains[0].id, "gpu0");
            ASSERT_TRUE(p.phase.domains[0].energy_j);
            EXPECT_NEAR(*p.phase.domains[0].energy_j, 100.0 * p.phase.wall_s, 10.0 * p.phase.wall_s)
                << p.phase.name;
            ASSERT_TRUE(p.phase.energy_j);
            EXPECT_GE(*p.phase.energy_j, *p.phase.domains[0].energy_j);
        }
        // The stray `end` is a warning of the run, not its failure.
        const auto warnings = store.warnings(run.run_id);
        EXPECT_TRUE(std::any_of(warnings.begin(), warnings.end(), [](const Warning& w) {
            return w.code == "marks" && w.text.find("'end nothing'") != std::string::npos;
        }));
    }
    // The stdout log has every line, the marker lines included.
    std::size_t logs = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir.path())) {
        if (e.path().extension() != ".stdout") continue;
        ++logs;
        const std::string text = read_file(e.path());
        EXPECT_THAT(text, HasSubstr("JOULEBENCH_MARK begin warmup\n"));
        EXPECT_THAT(text, HasSubstr("{\"items\": 1}\n"));
        EXPECT_THAT(text, ::testing::Not(HasSubstr("begin measured")));  // the marks file's
    }
    EXPECT_EQ(logs, 2U);
    EXPECT_TRUE(std::none_of(fs::recursive_directory_iterator(dir.path()), fs::recursive_directory_iterator(),
                             [](const fs::directory_entry& e) { return e.is_fifo(); }));

    const auto exported = run_joulebench({"export", db.string(), "--format", "json"}, o);
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    const auto doc = nlohmann::json::parse(exported.out);
    for (const auto& row : doc.at("runs")) {
        ASSERT_EQ(row.at("marked_phases").size(), 2U) << row.dump();
        EXPECT_EQ(row.at("marked_phases")[1].at("name"), "measured");
        EXPECT_TRUE(row.at("marked_phases")[1].at("domains").contains("gpu0"));
    }
    const fs::path md = dir.path() / "report.md";
    const auto report = run_joulebench({"report", db.string(), "-o", md.string(), "--format", "md"}, o);
    ASSERT_EQ(report.exit_code, 0) << report.err;
    const std::string text = read_file(md);
    EXPECT_THAT(text, HasSubstr("Marked phases"));
    EXPECT_THAT(text, HasSubstr("measured"));

    // analyze --phase: the same analysis of the phase instead of the whole run.
    const auto phase_wall = run_joulebench(
        {"analyze", db.string(), "--phase", "measured", "--metric", "wall_s", "--json", "-"}, o);
    ASSERT_EQ(phase_wall.exit_code, 0) << phase_wall.err;
    const auto a = nlohmann::json::parse(phase_wall.out);
    EXPECT_EQ(a["source"]["phase"], "measured");
    EXPECT_EQ(a["runs"]["used"], 2);
    const auto& group = a["blocks"][0]["analysis"]["groups"][0];
    EXPECT_EQ(group["n"], 2);
    const double phase_median = group["median"].get<double>();
    double phase_expected = 0.0;
    for (const auto& run : runs) phase_expected += store.marked_phases(run.run_id)[1].phase.wall_s / 2.0;
    EXPECT_NEAR(phase_median, phase_expected, 1e-9);
    EXPECT_GE(phase_median, 0.4);
    const auto whole = nlohmann::json::parse(
        run_joulebench({"analyze", db.string(), "--metric", "wall_s", "--json", "-"}, o).out);
    EXPECT_GT(whole["blocks"][0]["analysis"]["groups"][0]["median"].get<double>(), phase_median + 0.25);
    EXPECT_TRUE(whole["source"]["phase"].is_null());
    const auto phase_gpu = run_joulebench(
        {"analyze", db.string(), "--phase", "measured", "--metric", "gpu_energy_j"}, o);
    ASSERT_EQ(phase_gpu.exit_code, 0) << phase_gpu.err;
    EXPECT_THAT(phase_gpu.out, HasSubstr("gpu_energy_j of the marked phase 'measured' by environment"));
    const auto unknown = run_joulebench({"analyze", db.string(), "--phase", "inference"}, o);
    EXPECT_EQ(unknown.exit_code, 1) << unknown.err;
    EXPECT_THAT(unknown.err, HasSubstr("--phase 'inference': no done run marked it"));
    EXPECT_THAT(unknown.err, HasSubstr("phases marked in this store: 'measured', 'warmup'"));
}

}  // namespace
}  // namespace joulebench::test
