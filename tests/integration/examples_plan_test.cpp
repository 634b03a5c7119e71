// Every experiment file in examples/ is valid (`joulebench plan --json`, which validates the
// file without touching the machine) and expands to the run count its header promises. A new
// example without an expected count here fails, so none goes untested.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fakes/test_support.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;

struct Expected {
    std::size_t variants;
    std::size_t runs;
    std::set<std::string> workloads;
    std::set<std::string> environments;
    std::set<double> gpu_caps;  // empty: none
};

std::set<double> cap_range(double from, double to, double step) {
    std::set<double> caps;
    for (double c = from; c <= to; c += step) caps.insert(c);
    return caps;
}

const std::map<std::string, Expected>& expected() {
    static const std::map<std::string, Expected> kExpected{
        {"quickstart.toml",
         {2, 2 * 3, {"resnet50-infer", "resnet50-infer-autograd"}, {"bare"}, {}}},
        {"quickstart-docker.toml", {2, 2 * 3, {"resnet50-infer"}, {"bare", "docker"}, {}}},
        {"quickstart-podman.toml", {2, 2 * 3, {"resnet50-infer"}, {"bare", "podman"}, {}}},
        {"docker-images.toml",
         {5,
          5 * 30,
          {"resnet50-infer"},
          {"ubuntu-pip", "python-pip", "cuda-pip", "pytorch", "ngc-pytorch"},
          {}}},
        // 3 workloads x 3 environments x 20 caps (108..260 step 8) x 10 repetitions.
        {"containers-almost-free.toml",
         {3 * 3 * 20,
          3 * 3 * 20 * 10,
          {"ssd-infer", "resnet50-train", "bert-infer"},
          {"bare", "docker", "kvm"},
          cap_range(108, 260, 8)}},
    };
    return kExpected;
}

fs::path examples_dir() {
    return fs::path(JOULEBENCH_SOURCE_DIR) / "examples";
}

TEST(Examples, EveryFileHasAnExpectedCount) {
    std::set<std::string> files;
    for (const auto& entry : fs::directory_iterator(examples_dir())) {
        if (entry.path().extension() == ".toml") files.insert(entry.path().filename().string());
    }
    std::set<std::string> known;
    for (const auto& [name, e] : expected()) known.insert(name);
    EXPECT_EQ(files, known) << "add new examples to tests/integration/examples_plan_test.cpp";
}

class ExamplePlan : public ::testing::TestWithParam<std::string> {};

TEST_P(ExamplePlan, ValidatesAndExpandsToTheExpectedRuns) {
    const Expected& e = expected().at(GetParam());
    const fs::path file = examples_dir() / GetParam();
    ASSERT_TRUE(fs::exists(file)) << file;
    const ProcessResult r = run_joulebench({"plan", "--json", file.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "") << "an example plans without warnings";
    const auto doc = nlohmann::json::parse(r.out);
    EXPECT_EQ(doc.at("variants").get<std::size_t>(), e.variants);
    EXPECT_EQ(doc.at("total_runs").get<std::size_t>(), e.runs);
    ASSERT_EQ(doc.at("runs").size(), e.runs);
    std::set<std::string> workloads;
    std::set<std::string> environments;
    std::set<double> caps;
    std::map<std::string, int> per_variant;
    for (const auto& run : doc.at("runs")) {
        workloads.insert(run.at("workload").get<std::string>());
        environments.insert(run.at("environment").get<std::string>());
        if (!run.at("power_cap_w").is_null()) caps.insert(run.at("power_cap_w").get<double>());
        ++per_variant[fmt::format("{}/{}/{}", run.at("workload").get<std::string>(),
                                  run.at("environment").get<std::string>(),
                                  run.at("power_cap_w").dump())];
    }
    EXPECT_EQ(workloads, e.workloads);
    EXPECT_EQ(environments, e.environments);
    EXPECT_EQ(caps, e.gpu_caps);
    EXPECT_EQ(per_variant.size(), e.variants);
    const auto repetitions = doc.at("experiment").at("repetitions").get<int>();
    for (const auto& [variant, n] : per_variant) EXPECT_EQ(n, repetitions) << variant;
    EXPECT_EQ(doc.at("experiment").at("order"), "shuffled");
    EXPECT_TRUE(doc.at("experiment").at("seed_given").get<bool>()) << "examples fix their seed";
}

INSTANTIATE_TEST_SUITE_P(Files, ExamplePlan,
                         ::testing::Values("quickstart.toml", "quickstart-docker.toml",
                                           "quickstart-podman.toml", "docker-images.toml",
                                           "containers-almost-free.toml"),
                         [](const auto& param_info) {
                             std::string name = param_info.param;
                             for (char& c : name)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return name;
                         });

// The workloads' flags used by the examples exist (argparse exits 2 on an unknown one), checked
// with --help of each script rather than by running it.
TEST(Examples, WorkloadFlagsExist) {
    const std::map<std::string, std::vector<std::string>> flags{
        {"resnet50_infer.py", {"--scale", "--sizes", "--no-inference-mode"}},
        {"ssd_infer.py", {"--device"}},
        {"resnet50_train.py", {"--device"}},
        {"bert_infer.py", {"--device"}},
    };
    for (const auto& [script, options] : flags) {
        const ProcessResult r = run_process(
            {"/usr/bin/python3", (fs::path(JOULEBENCH_SOURCE_DIR) / "workloads" / script).string(),
             "--help"});
        ASSERT_EQ(r.exit_code, 0) << script << ": " << r.err;
        for (const auto& o : options) EXPECT_THAT(r.out, ::testing::HasSubstr(o)) << script;
    }
}

}  // namespace
}  // namespace joulebench::test
