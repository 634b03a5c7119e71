// `joulebench import energibridge` as a real process: exit statuses, the table, the JSON file and
// JSON on stdout, on synthetic traces and on real ones from the TU Delft data set.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "fakes/test_support.hpp"

namespace {

namespace fs = std::filesystem;

struct CliRun {
    int status = -1;
    std::string out;  // stdout
    std::string err;  // stderr
};

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Runs the built binary with `args` (already quoted), capturing stdout and stderr.
CliRun run(const std::string& args, const fs::path& dir) {
    const fs::path err = dir / "stderr.txt";
    const std::string cmd =
        quote(JOULEBENCH_BINARY_PATH) + " " + args + " 2>" + quote(err.string());
    CliRun r;
    FILE* pipe = popen(cmd.c_str(), "r");
    if (pipe == nullptr) return r;
    char buf[4096];
    std::size_t n = 0;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
    const int status = pclose(pipe);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.err = read_file(err);
    return r;
}

std::string data(const std::string& name) {
    return quote(std::string(JOULEBENCH_TEST_DATA_DIR) + "/energibridge/" + name);
}

TEST(ImportCli, SyntheticFilesWithOneBadFileExitOneAndKeepTheOthers) {
    joulebench::test::TempDir dir("import-cli");
    const fs::path json_path = dir.path() / "out.json";
    const CliRun r = run("import energibridge " + data("minimal.csv") + " " +
                          data("malformed_value.csv") + " " + data("two_wraps.csv") +
                          " --json " + quote(json_path.string()),
                      dir.path());
    EXPECT_EQ(r.status, 1) << r.err;
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
    const CliRun r = run("import energibridge --wrap-j 65536 --json - " + data("amd_cpu_energy.csv"),
                      dir.path());
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);  // stdout holds only the JSON
    EXPECT_EQ(j["files"][0]["package_column"], "CPU_ENERGY (J)");
    EXPECT_EQ(j["files"][0]["package_wraps"], 1);
    EXPECT_DOUBLE_EQ(j["files"][0]["package_energy_j"].get<double>(), 636.0);
    EXPECT_TRUE(j["files"][0]["dram_energy_j"].is_null());
    EXPECT_NE(r.err.find("total: 1 file (0 failed)"), std::string::npos) << r.err;  // table
}

TEST(ImportCli, BadUsageExitsTwo) {
    joulebench::test::TempDir dir("import-cli");
    EXPECT_EQ(run("import energibridge", dir.path()).status, 2);
    EXPECT_EQ(run("import", dir.path()).status, 2);
    EXPECT_EQ(run("import energibridge --wrap-j -5 " + data("minimal.csv"), dir.path()).status, 2);
    EXPECT_EQ(run("import nosuchformat x.csv", dir.path()).status, 2);
}

TEST(ImportCli, RealTracesIncludingAWrappedOne) {
    const fs::path raw(JOULEBENCH_SOURCE_DIR "/../shared/datasets/tudelft-docker-images/raw");
    if (!fs::is_directory(raw)) GTEST_SKIP() << "data set absent: " << raw.string();
    const auto ref = nlohmann::json::parse(read_file(
        std::string(JOULEBENCH_TEST_DATA_DIR) + "/energibridge/reference/reference.json"))["files"];
    const std::string names[] = {"cuda-base/energy_results_cuda-base_11.csv",
                                 "nvcr/energy_results_nvcr_0.csv",
                                 "ubuntu_idle/energy_results_ubuntu_28.csv"};
    std::string args = "import energibridge --json -";
    for (const auto& n : names) args += " " + quote((raw / n).string());
    joulebench::test::TempDir dir("import-cli");
    const CliRun r = run(args, dir.path());
    ASSERT_EQ(r.status, 0) << r.err;
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
