// The image that builds without any registry (containers/debian-cpu/build.sh), end to end: its
// cached root filesystem imported by the script into a private dockerd and a private Podman
// store, audited by `joulebench image inspect` (the real probe: Debian's Python and PyTorch), and
// ResNet-50 inference at a tiny scale run in it by `joulebench run`, its JSON metrics line stored.
//
// Building the root filesystem (debootstrap of python3-torch: about 8 minutes on 2 cores) is too
// slow for every test run, so the test uses the tar the script caches by content hash
// (${JOULEBENCH_CACHE_DIR:-/var/cache/joulebench}/debian-cpu/rootfs-HASH.tar) and skips, saying
// how to make it, when it is absent; with JOULEBENCH_BUILD_IMAGES=1 it builds it first.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "fakes/container_engine.hpp"
#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"
#include "images/image_inspect.hpp"
#include "joulebench/store.hpp"

namespace joulebench::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr const char* kDebianCpuImage = "joulebench/debian-cpu:latest";

fs::path build_script() {
    return fs::path(JOULEBENCH_SOURCE_DIR) / "containers" / "debian-cpu" / "build.sh";
}

fs::path cache_root() {
    const char* v = std::getenv("JOULEBENCH_CACHE_DIR");
    return v != nullptr && *v != '\0' ? fs::path(v) : fs::path("/var/cache/joulebench");
}

// One line printed by the script (`--print-hash`, `--print-tar`).
std::string script_says(const std::string& option) {
    test::ProcessOptions options;
    options.env.emplace_back("JOULEBENCH_CACHE_DIR", cache_root().string());
    const auto r = test::run_process({build_script().string(), option}, options);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string line = r.out;
    while (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
}

// The cached root filesystem, built here when JOULEBENCH_BUILD_IMAGES=1; empty with `skip`
// set otherwise.
fs::path rootfs_tar(std::string& skip) {
    const fs::path tar = script_says("--print-tar");
    if (tar.empty()) {
        skip = "build.sh --print-tar failed";
        return {};
    }
    if (fs::exists(tar)) return tar;
    const char* build = std::getenv("JOULEBENCH_BUILD_IMAGES");
    if (build == nullptr || std::string(build) != "1") {
        skip = fmt::format(
            "the debian-cpu root filesystem {} is not built (about 8 minutes): run `sudo {} "
            "--tar-only`, or set JOULEBENCH_BUILD_IMAGES=1",
            tar.string(), build_script().string());
        return {};
    }
    test::ProcessOptions options;
    options.env.emplace_back("JOULEBENCH_CACHE_DIR", cache_root().string());
    options.timeout = std::chrono::seconds(3600);
    const auto r = test::run_process({build_script().string(), "--tar-only"}, options);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, tar.string() + "\n") << r.err;
    return fs::exists(tar) ? tar : fs::path();
}

class DebianCpuImage : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        std::string skip;
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (private engines)";
        m_tar = rootfs_tar(skip);
        if (m_tar.empty()) GTEST_SKIP() << skip;
        if (GetParam() == "docker") {
            m_docker = DockerDaemon::start(skip);
            if (!m_docker) GTEST_SKIP() << skip;
            m_env = m_docker->env();
        } else {
            m_podman = PodmanStore::create(skip);
            if (!m_podman) GTEST_SKIP() << skip;
            m_env = m_podman->env();
        }
        for (const auto& [k, v] : m_env)
            m_scoped.push_back(std::make_unique<test::ScopedEnv>(k, v));
        m_powercap = std::make_unique<test::FakePowercapTree>(m_dir.path() / "powercap");
        m_powercap->add_typical_socket(0, 20.0, 12.0, 3.0);
        m_powercap->start();
    }

    test::ProcessOptions options(std::chrono::seconds timeout) const {
        test::ProcessOptions o;
        for (const auto& [k, v] : m_env) o.env.emplace_back(k, v);
        o.env.emplace_back("JOULEBENCH_CACHE_DIR", cache_root().string());
        o.env.emplace_back("JOULEBENCH_POWERCAP_ROOT", m_powercap->root().string());
        o.env.emplace_back("JOULEBENCH_NVML_LIBRARY", (m_dir.path() / "no-nvml.so").string());
        o.env.emplace_back("JOULEBENCH_STATE_DIR", (m_dir.path() / "state").string());
        o.timeout = timeout;
        return o;
    }

    test::TempDir m_dir{"jb-debian-cpu"};
    fs::path m_tar;
    std::unique_ptr<DockerDaemon> m_docker;
    std::unique_ptr<PodmanStore> m_podman;
    std::vector<std::pair<std::string, std::string>> m_env;
    std::vector<std::unique_ptr<test::ScopedEnv>> m_scoped;
    std::unique_ptr<test::FakePowercapTree> m_powercap;
};

TEST_P(DebianCpuImage, ImportsAuditsAndRunsResNet50InferenceStoringItsMetrics) {
    const std::string engine = GetParam();
    const std::string hash = script_says("--print-hash");

    // The script imports the cached tar (no debootstrap) and tags both names.
    const auto built = test::run_process({build_script().string(), "--engine", engine},
                                         options(std::chrono::seconds(900)));
    ASSERT_EQ(built.exit_code, 0) << built.err;
    EXPECT_EQ(built.out, std::string(kDebianCpuImage) + "\n");
    EXPECT_THAT(built.err, HasSubstr("reusing " + m_tar.string()));
    const auto again =
        test::run_process({build_script().string(), "--engine", engine, "--if-missing"},
                          options(std::chrono::seconds(300)));
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_THAT(again.err,
                HasSubstr("joulebench/debian-cpu:src-" + hash + " is already in " + engine));

    // The audit, with the real probe: Debian 12's Python 3.11 and its CPU-only PyTorch.
    images::InspectOptions inspect_options;
    inspect_options.probe_timeout = std::chrono::seconds(600);
    const images::ImageInfo info = images::inspect_image(engine, kDebianCpuImage, inspect_options);
    ASSERT_EQ(info.software.status, images::SoftwareProbe::Status::kOk) << info.software.message;
    ASSERT_TRUE(info.software.python.has_value());
    EXPECT_THAT(*info.software.python, ::testing::StartsWith("3.11."));
    ASSERT_TRUE(info.software.torch.has_value()) << info.software.torch_error;
    EXPECT_THAT(*info.software.torch, ::testing::StartsWith("1.13."));
    EXPECT_FALSE(info.software.torch_cuda.has_value()) << "Debian's torch is a CPU-only build";
    EXPECT_TRUE(info.software.torchvision.has_value()) << info.software.torchvision_error;
    EXPECT_FALSE(info.software.cuda_toolkit.has_value());
    EXPECT_EQ(info.base.name, "debian:bookworm");
    EXPECT_EQ(info.base.source, images::BaseSource::kBaseNameLabel);
    EXPECT_EQ(info.labels.at("org.joulebench.source-hash"), hash);
    EXPECT_EQ(info.working_dir, "/opt/joulebench");
    EXPECT_EQ(info.cmd, (std::vector<std::string>{"python3", "workloads/resnet50_infer.py"}));
    EXPECT_GT(info.size_bytes, fs::file_size(m_tar) / 2);  // the tar holds the whole image
    ASSERT_EQ(info.layers.size(), 1U);

    // A run through `joulebench run`: the workload's JSON line stored with the run.
    const fs::path file = m_dir.path() / "experiment.toml";
    const fs::path db = m_dir.path() / "results.db";
    test::write_file(file, fmt::format(R"([experiment]
name = "debian-cpu-{0}"
repetitions = 1

[[workload]]
name = "resnet50-infer"
command = ["/usr/bin/python3", "workloads/resnet50_infer.py", "--scale", "0.005", "--sizes", "256",
           "--device", "cpu", "--weights", "random"]
timeout = "10m"
metrics = "json-line"

[workload.env]
OMP_NUM_THREADS = "1"

[[environment]]
name = "{0}"
type = "{0}"
image = "{1}"
run_args = ["--network", "none"]
)",
                                       engine, kDebianCpuImage));
    const auto r = test::run_joulebench({"run", file.string(), "--db", db.string()},
                                        options(std::chrono::seconds(900)));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto runs = Store(db, Store::Mode::kReadOnly).runs();
    ASSERT_EQ(runs.size(), 1U);
    const RunRecord& run = runs[0];
    EXPECT_EQ(run.status, RunStatus::kDone) << run.stderr_tail;
    ASSERT_FALSE(run.metrics_json.empty()) << run.stderr_tail;
    const auto metrics = nlohmann::json::parse(run.metrics_json);
    EXPECT_EQ(metrics.at("workload"), "resnet50_infer");
    EXPECT_EQ(metrics.at("item"), "inference");
    EXPECT_EQ(metrics.at("items"), 2);  // ceil(400 x 0.005) at 256 px
    EXPECT_EQ(metrics.at("device"), "cpu");
    EXPECT_EQ(metrics.at("weights"), "random");
    EXPECT_EQ(metrics.at("torch"), *info.software.torch) << "the run used the audited PyTorch";
    EXPECT_EQ(metrics.at("python"), *info.software.python);
    EXPECT_EQ(metrics.at("threads"), 1);
    EXPECT_GT(metrics.at("phases").at("run_s").get<double>(), 0.0);
    ASSERT_TRUE(run.energy_j.has_value());
    EXPECT_GT(*run.energy_j, 0.0);
}

INSTANTIATE_TEST_SUITE_P(Engines, DebianCpuImage, ::testing::Values("docker", "podman"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace joulebench::testing
