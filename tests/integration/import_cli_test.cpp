// `joulebench import energibridge` as a real process: exit statuses, the table, the JSON file and
// JSON on stdout, on synthetic traces and on real ones from the TU Delft data set.

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>
#include <string>

#include "fakes/test_support.hpp"

namespace {

namespace fs = std::filesystem;

using joulebench::test::read_file;
using joulebench::test::run_joulebench;
using Args = std::vector<std::string>;

std::string data(const std::string& name) {
    return std::string(JOULEBENCH_TEST_DATA_DIR) + "/energibridge/" + name;
}

TEST(ImportCli, SyntheticFilesWithOneBadFileExitOneAndKeepTheOthers) {
    joulebench::test::TempDir dir("import-cli");
    const fs::path json_path = dir.path() / "out.json";
    const auto r = run_joulebench({"import", "energibridge", data("minimal.csv"), data("malformed_value.csv"),
                                   data("two_wraps.csv"), "--json", json_path.string()});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.out.find("total: 3 files (1 failed)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("error: energibridge: import"), std::string::npos) << r.out;
    const auto j = nlohmann::json::parse(read_file(json_path));
    ASSERT_EQ(j.at("files").size(), 3U);
    EXPECT_DOUBLE_EQ(j["files"][0]["package_energy_j"].get<double>(), 30.0);
    EXPECT_DOUBLE_EQ(j["files"][0]["gpu_energy_j"].get<double>(), 85.0);
    const std::string error = j["files"][1]["error"].get<std::string>();
    EXPECT_NE(error.find("malformed_value.csv: line 4, column `PACKAGE_ENERGY (J)`"),
              std::string::npos)
        << error;
    EXPECT_EQ(j["files"][2]["package_wraps"], 2);
    EXPECT_DOUBLE_EQ(j["files"][2]["package_energy_j"].get<double>(), 262488.0);
    EXPECT_DOUBLE_EQ(j["files"][2]["energibridge_package_energy_j"].get<double>(), -261800.0);
    EXPECT_EQ(j["totals"]["failed"], 1);
    EXPECT_EQ(j["totals"]["package_wraps"], 2);
}

TEST(ImportCli, WrapOptionChangesTheUnwrapping) {
    joulebench::test::TempDir dir("import-cli");
    const auto r = run_joulebench({"import", "energibridge", "--wrap-j", "65536", "--json", "-", data("amd_cpu_energy.csv")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);  // stdout holds only the JSON
    EXPECT_EQ(j["files"][0]["package_column"], "CPU_ENERGY (J)");
    EXPECT_EQ(j["files"][0]["package_wraps"], 1);
    EXPECT_DOUBLE_EQ(j["files"][0]["package_energy_j"].get<double>(), 636.0);
    EXPECT_TRUE(j["files"][0]["dram_energy_j"].is_null());
    EXPECT_NE(r.err.find("total: 1 file (0 failed)"), std::string::npos) << r.err;  // table
}

TEST(ImportCli, BadUsageExitsTwo) {
    EXPECT_EQ(run_joulebench(Args{"import", "energibridge"}).exit_code, 2);
    EXPECT_EQ(run_joulebench(Args{"import"}).exit_code, 2);
    EXPECT_EQ(run_joulebench(Args{"import", "energibridge", "--wrap-j", "-5", data("minimal.csv")}).exit_code, 2);
    EXPECT_EQ(run_joulebench(Args{"import", "nosuchformat", "x.csv"}).exit_code, 2);
}

TEST(ImportCli, RealTracesIncludingAWrappedOne) {
    const fs::path raw(JOULEBENCH_SOURCE_DIR "/../shared/datasets/tudelft-docker-images/raw");
    if (!fs::is_directory(raw)) GTEST_SKIP() << "data set absent: " << raw.string();
    const auto ref = nlohmann::json::parse(read_file(
        std::string(JOULEBENCH_TEST_DATA_DIR) + "/energibridge/reference/reference.json"))["files"];
    const std::string names[] = {"cuda-base/energy_results_cuda-base_11.csv",
                                 "nvcr/energy_results_nvcr_0.csv",
                                 "ubuntu_idle/energy_results_ubuntu_28.csv"};
    Args args{"import", "energibridge", "--json", "-"};
    for (const auto& n : names) args.push_back((raw / n).string());
    const auto r = run_joulebench(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["files"].size(), 3U);
    int wraps = 0;
    for (std::size_t i = 0; i < 3; ++i) {
        const auto& f = j["files"][i];
        const auto& e = ref.at(names[i]);
        EXPECT_EQ(f["file"], (raw / names[i]).string());
        EXPECT_EQ(f["rows"], e["rows"]);
        EXPECT_NEAR(f["package_energy_j"].get<double>(), e["package_energy_j"].get<double>(), 1e-6);
        EXPECT_NEAR(f["gpu_energy_j"].get<double>(), e["gpu_energy_j"].get<double>(), 1e-6);
        EXPECT_EQ(f["gpu_count"], 1);
        wraps += f["package_wraps"].get<int>();
    }
    EXPECT_EQ(wraps, 2);  // cuda-base_11 and ubuntu_idle_28
    EXPECT_EQ(j["totals"]["package_wraps"], 2);
}

}  // namespace
