// Every experiment file in examples/ is valid (`joulebench plan --json`, which validates the
// file without touching the machine) and expands to the run count its header promises. A new
// example without an expected count here fails, so none goes untested.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <vector>
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

// The workload commands in the TOML of README.md and docs/*.md give only arguments their script
// accepts (docs/runner.md's warm-up passed `--iterations 50`, which resnet50_infer.py has not:
// issue 22, item 12). Each script's own parser checks them, without running the workload.
TEST(Examples, WorkloadArgumentsInTheDocsAreAcceptedByTheirScripts) {
    const fs::path root(JOULEBENCH_SOURCE_DIR);
    std::vector<fs::path> pages{root / "README.md"};
    for (const auto& e : fs::directory_iterator(root / "docs")) {
        if (e.path().extension() == ".md") pages.push_back(e.path());
    }
    // ["python3", "workloads/NAME.py", "ARG", ...] inside a ```toml block.
    const std::regex command(R"re(\[\s*"python3"\s*,\s*"workloads/(\w+)\.py"((?:\s*,\s*"[^"]*")*)\s*\])re");
    const std::regex word(R"re("([^"]*)")re");
    std::size_t checked = 0;
    for (const auto& page : pages) {
        const std::string text = read_file(page);
        std::size_t at = 0;
        while ((at = text.find("```toml", at)) != std::string::npos) {
            const std::size_t end = text.find("```", at + 7);
            const std::string block = text.substr(at, end - at);
            at = end;
            for (std::sregex_iterator m(block.begin(), block.end(), command), last; m != last; ++m) {
                std::string args = "[";
                const std::string words = (*m)[2];
                for (std::sregex_iterator w(words.begin(), words.end(), word); w != last; ++w) {
                    args += nlohmann::json((*w)[1].str()).dump() + ",";
                }
                args += "]";
                const std::string script = (*m)[1];
                const ProcessResult r = run_process(
                    {"/usr/bin/python3", "-c",
                     fmt::format("import sys; sys.path.insert(0, {}); import {} as w; "
                                 "w.build_parser().parse_args({})",
                                 nlohmann::json((root / "workloads").string()).dump(), script, args)});
                EXPECT_EQ(r.exit_code, 0) << page.filename() << ": workloads/" << script << ".py " << args
                                          << ": " << r.err;
                ++checked;
            }
        }
    }
    EXPECT_GT(checked, 0U) << "no workload command found in the docs' TOML";
}

}  // namespace
}  // namespace joulebench::test
