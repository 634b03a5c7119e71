// A real containerised ResNet-50 run at a tiny scale, in every test run, against a private
// dockerd and a private Podman store: `joulebench run` starts resnet50_infer.py in a container,
// and the workload's JSON line is parsed and stored with the run.
//
// The image is NOT the full Debian CPU image. Building that one (containers/debian-cpu/build.sh:
// debootstrap + python3-torch) takes about 8 minutes, so it is tested only when its tar is cached
// (debian_cpu_image_test.cpp). Here the image is a tiny root filesystem, imported with
// `docker import` / `podman import`, holding only what Debian 12's merged /usr needs around /usr
// (/bin, /lib, /lib64 and /sbin as symlinks into /usr; /etc with passwd, group and hosts; empty
// /tmp, /proc, /dev and /sys), and the HOST's /usr is bind-mounted read-only into the container
// (`-v /usr:/usr:ro` in the environment's run_args), with the host's /etc/alternatives (where
// Debian's BLAS and LAPACK libraries are chosen) and the repository's workloads/ folder, also
// read-only. So the host's Debian python3-torch runs inside a real container: same engines,
// same container life cycle and phases as the full image, without building it. The test skips,
// saying why, when the host has no python3-torch/torchvision or the engine is missing.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fakes/container_engine.hpp"
#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/store.hpp"

namespace joulebench::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHostUsrImage = "joulebench-test/host-usr:latest";
constexpr const char* kPython = "/usr/bin/python3";

// Empty when the host's Debian Python has torch and torchvision, else why not.
std::string host_torch_missing() {
    std::error_code ec;
    if (!fs::exists(kPython, ec)) return fmt::format("{} is not installed", kPython);
    const auto r = test::run_process({kPython, "-c", "import torch, torchvision"});
    if (r.exit_code != 0)
        return fmt::format(
            "{} cannot import torch and torchvision (apt-get install python3-torch "
            "python3-torchvision): {}",
            kPython, r.err);
    return {};
}

// The image's root filesystem: a merged-/usr skeleton whose /usr comes from the host at run time.
void import_host_usr_image(const std::vector<std::string>& client,
                           const std::vector<std::pair<std::string, std::string>>& env,
                           const fs::path& work) {
    const fs::path root = work / "rootfs";
    for (const char* dir : {"usr", "etc", "tmp", "proc", "dev", "sys", "root"})
        fs::create_directories(root / dir);
    fs::permissions(root / "tmp", fs::perms::all | fs::perms::sticky_bit);
    for (const char* link : {"bin", "lib", "lib64", "sbin"})
        fs::create_symlink(fs::path("usr") / link, root / link);
    test::write_file(root / "etc" / "passwd",
                     "root:x:0:0:root:/root:/bin/sh\n"
                     "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    test::write_file(root / "etc" / "group", "root:x:0:\nnogroup:x:65534:\n");
    test::write_file(root / "etc" / "hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n");
    const fs::path tar = work / "rootfs.tar";
    const auto t = test::run_process({"tar", "-C", root.string(), "-cf", tar.string(), "."});
    ASSERT_EQ(t.exit_code, 0) << "tar of the image's root filesystem failed: " << t.err;
    const auto [rc, out] = engine_command(client, {"import", tar.string(), kHostUsrImage}, env);
    ASSERT_EQ(rc, 0) << "import of " << kHostUsrImage << " failed: " << out;
}

class ContainerisedWorkload : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        if (const std::string missing = host_torch_missing(); !missing.empty())
            GTEST_SKIP() << missing;
        std::string skip;
        if (GetParam() == "docker") {
            m_docker = DockerDaemon::start(skip);
            if (!m_docker) GTEST_SKIP() << skip;
            m_env = m_docker->env();
            m_client = m_docker->client();
        } else {
            m_podman = PodmanStore::create(skip);
            if (!m_podman) GTEST_SKIP() << skip;
            m_env = m_podman->env();
            m_client = m_podman->client();
        }
        ASSERT_NO_FATAL_FAILURE(import_host_usr_image(m_client, m_env, m_dir.path()));
        m_powercap = std::make_unique<test::FakePowercapTree>(m_dir.path() / "powercap");
        m_powercap->add_typical_socket(0, 20.0, 12.0, 3.0);
        m_powercap->start();
    }

    test::ProcessOptions options() const {
        test::ProcessOptions o;
        for (const auto& [k, v] : m_env) o.env.emplace_back(k, v);
        o.env.emplace_back("JOULEBENCH_POWERCAP_ROOT", m_powercap->root().string());
        o.env.emplace_back("JOULEBENCH_NVML_LIBRARY", (m_dir.path() / "no-nvml.so").string());
        o.env.emplace_back("JOULEBENCH_STATE_DIR", (m_dir.path() / "state").string());
        o.timeout = std::chrono::seconds(300);
        return o;
    }

    // Every container of the engine, running or not.
    std::vector<std::string> containers() const {
        const auto [rc, out] = engine_command(m_client, {"ps", "-a", "-q"}, m_env);
        EXPECT_EQ(rc, 0) << out;
        std::vector<std::string> ids;
        std::istringstream in(out);
        for (std::string line; std::getline(in, line);)
            if (!line.empty()) ids.push_back(line);
        return ids;
    }

    test::TempDir m_dir{"jb-ctr-workload"};
    std::unique_ptr<DockerDaemon> m_docker;
    std::unique_ptr<PodmanStore> m_podman;
    std::vector<std::pair<std::string, std::string>> m_env;
    std::vector<std::string> m_client;
    std::unique_ptr<test::FakePowercapTree> m_powercap;
};

TEST_P(ContainerisedWorkload, RunsResNet50InferenceInAContainerAndStoresItsJsonLine) {
    const std::string engine = GetParam();
    const fs::path workloads = fs::path(JOULEBENCH_SOURCE_DIR) / "workloads";
    const fs::path file = m_dir.path() / "experiment.toml";
    const fs::path db = m_dir.path() / "results.db";
    test::write_file(file, fmt::format(R"([experiment]
name = "containerised-{0}"
repetitions = 1

[[workload]]
name = "resnet50-infer"
command = ["{1}", "/workloads/resnet50_infer.py", "--scale", "0.005", "--sizes", "256",
           "--device", "cpu", "--weights", "random"]
timeout = "4m"
metrics = "json-line"

[workload.env]
OMP_NUM_THREADS = "1"

[[environment]]
name = "{0}"
type = "{0}"
image = "{2}"
run_args = ["--network", "none", "-v", "/usr:/usr:ro",
            "-v", "/etc/alternatives:/etc/alternatives:ro", "-v", "{3}:/workloads:ro"]
)",
                                       engine, kPython, kHostUsrImage, workloads.string()));
    const auto r = test::run_joulebench({"run", file.string(), "--db", db.string()}, options());
    ASSERT_EQ(r.exit_code, 0) << r.err;

    const auto runs = Store(db, Store::Mode::kReadOnly).runs();
    ASSERT_EQ(runs.size(), 1U) << r.err;
    const RunRecord& run = runs[0];
    EXPECT_EQ(run.environment, engine);
    EXPECT_EQ(run.status, RunStatus::kDone) << run.stderr_tail;
    EXPECT_EQ(run.exit_code, 0);

    // The workload's JSON line, as resnet50_infer.py printed it inside the container.
    ASSERT_FALSE(run.metrics_json.empty()) << run.stderr_tail;
    const auto metrics = nlohmann::json::parse(run.metrics_json);
    EXPECT_EQ(metrics.at("schema_version"), 1);
    EXPECT_EQ(metrics.at("workload"), "resnet50_infer");
    EXPECT_EQ(metrics.at("item"), "inference");
    EXPECT_EQ(metrics.at("items"), 2);  // ceil(400 x 0.005) at 256 px
    EXPECT_EQ(metrics.at("per_size").at("256").at("items"), 2);
    EXPECT_EQ(metrics.at("device"), "cpu");
    EXPECT_EQ(metrics.at("weights"), "random");
    EXPECT_EQ(metrics.at("threads"), 1) << "OMP_NUM_THREADS from [workload.env] reached it";
    EXPECT_EQ(metrics.at("batch_size"), 1);
    EXPECT_EQ(metrics.at("params").at("sizes"), nlohmann::json::array({256}));
    const auto& phases = metrics.at("phases");
    for (const char* phase : {"import_s", "load_s", "run_s"})
        EXPECT_GT(phases.at(phase).get<double>(), 0.0) << phase;
    EXPECT_GE(phases.at("warmup_s").get<double>(), 0.0);
    EXPECT_GT(metrics.at("items_per_s").get<double>(), 0.0);

    // Energy of the run from the fake package (20 W), and the container life cycle kept apart.
    ASSERT_TRUE(run.energy_j.has_value());
    EXPECT_GT(*run.energy_j, 0.0);
    const auto container_phases =
        nlohmann::json::parse(run.phases_json.empty() ? "[]" : run.phases_json);
    std::set<std::string> names;
    for (const auto& p : container_phases) {
        names.insert(p.at("name").get<std::string>());
        EXPECT_GT(p.at("wall_s").get<double>(), 0.0) << p.dump();
    }
    EXPECT_EQ(names,
              (std::set<std::string>{"container-create", "container-start", "container-remove"}))
        << "phases_json: " << run.phases_json;

    EXPECT_TRUE(containers().empty()) << "joulebench left a container behind";
}

INSTANTIATE_TEST_SUITE_P(Engines, ContainerisedWorkload, ::testing::Values("docker", "podman"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace joulebench::testing
