// The docker/podman environment without an engine: the `create` argv (GPU flags, environment,
// mounts, labels, run_args, entrypoint), the cgroup CPU accounting on fake /proc and mount
// tables (v1 usage, v1 stat, v2, hybrid), the crash-leftover ownership test, and validation
// against fake engine executables (missing engine, missing helper, engine down, missing image,
// the image looked up once for all workloads).

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "environments/container_cgroup.hpp"
#include "environments/container_engine.hpp"
#include "environments/container_environment.hpp"
#include "environments/container_owner.hpp"
#include "environments/factory.hpp"
#include "environments/gpu_visibility.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"

namespace joulebench::environments {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

ContainerCreateRequest request(EnvironmentType engine) {
    ContainerCreateRequest r;
    r.engine = engine;
    r.binary = engine == EnvironmentType::kPodman ? "podman" : "docker";
    r.name = "joulebench-0123456789abcdef-deadbeef";
    r.run_id = "0123456789abcdef";
    r.environment = "ctr";
    r.owner = "host/boot/42/1000";
    r.image = "busybox:test";
    r.run_args = {"--network", "none"};
    r.entrypoint = {"/entry", "--flag"};
    r.command = {"sh", "-c", "echo hi"};
    r.env = {{"A", "1"}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}, {"A", "2"}};
    r.hold = "/opt/jb/joulebench-hold";
    r.run_dir = "/tmp/jb/run";
    return r;
}

// Index of `value` in argv, or npos.
std::size_t index_of(const std::vector<std::string>& argv, const std::string& value) {
    const auto it = std::find(argv.begin(), argv.end(), value);
    return it == argv.end() ? std::string::npos : static_cast<std::size_t>(it - argv.begin());
}

// The values following each occurrence of `flag`.
std::vector<std::string> values_of(const std::vector<std::string>& argv, const std::string& flag) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == flag) out.push_back(argv[i + 1]);
    }
    return out;
}

TEST(ContainerArgv, DockerWithoutGpuHasNoGpuFlagsAndKeepsTheOrder) {
    const auto argv = container_create_argv(request(EnvironmentType::kDocker));
    ASSERT_GE(argv.size(), 4U);
    EXPECT_EQ(argv[0], "docker");
    EXPECT_EQ(argv[1], "create");
    EXPECT_THAT(values_of(argv, "--name"), ElementsAre("joulebench-0123456789abcdef-deadbeef"));
    EXPECT_THAT(values_of(argv, "--label"),
                ElementsAre("joulebench.run_id=0123456789abcdef", "joulebench.environment=ctr",
                            "joulebench.owner=host/boot/42/1000"));
    EXPECT_THAT(values_of(argv, "--entrypoint"), ElementsAre("/.joulebench-hold"));
    EXPECT_THAT(values_of(argv, "-v"), ElementsAre("/opt/jb/joulebench-hold:/.joulebench-hold:ro",
                                                   "/tmp/jb/run:/.joulebench"));
    EXPECT_EQ(index_of(argv, "--gpus"), std::string::npos);
    EXPECT_EQ(index_of(argv, "--device"), std::string::npos);
    // A repeated variable is passed once, with its last value, at its first position.
    EXPECT_THAT(values_of(argv, "-e"), ElementsAre("A=2", "CUDA_DEVICE_ORDER=PCI_BUS_ID"));
    // run_args, then the image, then the helper's socket, the image's entrypoint, the command.
    const std::size_t image = index_of(argv, "busybox:test");
    ASSERT_NE(image, std::string::npos);
    EXPECT_EQ(argv[image - 2], "--network");
    EXPECT_EQ(argv[image - 1], "none");
    const std::vector<std::string> tail(argv.begin() + static_cast<long>(image) + 1, argv.end());
    EXPECT_THAT(tail, ElementsAre("/.joulebench/ctl", "/entry", "--flag", "sh", "-c", "echo hi"));
    // Every option comes before the image: nothing after it is parsed by the engine.
    EXPECT_LT(index_of(argv, "-e"), image);
}

TEST(ContainerArgv, DockerGpuIsPassedWithGpusAndSeenAsDeviceZero) {
    auto r = request(EnvironmentType::kDocker);
    r.gpu = 3;
    r.env.emplace_back("CUDA_VISIBLE_DEVICES", "3");  // what the runner sets for bare runs
    const auto argv = container_create_argv(r);
    EXPECT_THAT(values_of(argv, "--gpus"), ElementsAre("device=3"));
    EXPECT_EQ(index_of(argv, "--device"), std::string::npos);
    EXPECT_THAT(values_of(argv, "-e"),
                ElementsAre("A=2", "CUDA_DEVICE_ORDER=PCI_BUS_ID", "CUDA_VISIBLE_DEVICES=0"));
    EXPECT_LT(index_of(argv, "--gpus"), index_of(argv, "busybox:test"));
}

TEST(ContainerArgv, PodmanGpuIsACdiDeviceAndCudaVisibleDevicesIsAddedWhenAbsent) {
    auto r = request(EnvironmentType::kPodman);
    r.gpu = 1;
    const auto argv = container_create_argv(r);
    EXPECT_EQ(argv[0], "podman");
    EXPECT_THAT(values_of(argv, "--device"), ElementsAre("nvidia.com/gpu=1"));
    EXPECT_EQ(index_of(argv, "--gpus"), std::string::npos);
    EXPECT_THAT(values_of(argv, "-e"),
                ElementsAre("A=2", "CUDA_DEVICE_ORDER=PCI_BUS_ID", "CUDA_VISIBLE_DEVICES=0"));
}

// An AMD GPU (the machine's GPU 3, the second AMD GPU, render node renderD129 under a fake
// /sys/bus/pci/devices).
GpuIdentity amd_gpu() {
    GpuIdentity g;
    g.index = 3;
    g.name = "AMD Instinct MI210";
    g.pci_bus_id = "0000:23:00.0";
    g.vendor = GpuVendor::kAmd;
    g.vendor_index = 1;
    g.backend = "rocm";
    g.mixed = true;
    return g;
}

TEST(ContainerArgv, DockerAmdGpuGetsKfdItsRenderNodeAndTheVideoGroup) {
    test::TempDir dir;
    std::filesystem::create_directories(dir.path() / "0000:23:00.0" / "drm" / "renderD129");
    std::filesystem::create_directories(dir.path() / "0000:23:00.0" / "drm" / "card1");
    auto r = request(EnvironmentType::kDocker);
    r.gpu = 3;
    r.gpu_device = amd_gpu();
    r.pci_root = dir.path();
    r.env.emplace_back("ROCR_VISIBLE_DEVICES", "1");  // what the runner sets for bare runs
    r.env.emplace_back("HIP_VISIBLE_DEVICES", "0");
    r.env.emplace_back("CUDA_VISIBLE_DEVICES", "-1");
    const auto argv = container_create_argv(r);
    EXPECT_THAT(values_of(argv, "--device"), ElementsAre("/dev/kfd", "/dev/dri/renderD129"));
    EXPECT_THAT(values_of(argv, "--group-add"), ElementsAre("video"));
    EXPECT_EQ(index_of(argv, "--gpus"), std::string::npos);
    // Inside, the GPU is device 0 of ROCr and HIP; no NVIDIA GPU is there to hide.
    EXPECT_THAT(values_of(argv, "-e"), ElementsAre("A=2", "CUDA_DEVICE_ORDER=PCI_BUS_ID",
                                                   "ROCR_VISIBLE_DEVICES=0", "HIP_VISIBLE_DEVICES=0"));
}

TEST(ContainerArgv, DockerAmdGpuWithoutRenderNodeNamesTheFolder) {
    test::TempDir dir;
    auto r = request(EnvironmentType::kDocker);
    r.gpu = 3;
    r.gpu_device = amd_gpu();
    r.pci_root = dir.path();
    try {
        (void)container_create_argv(r);
        FAIL();
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), ::testing::HasSubstr((dir.path() / "0000:23:00.0" / "drm").string()));
    }
}

TEST(ContainerArgv, PodmanAmdGpuIsTheAmdCdiDeviceByItsAmdIndex) {
    auto r = request(EnvironmentType::kPodman);
    r.gpu = 3;
    r.gpu_device = amd_gpu();
    const auto argv = container_create_argv(r);
    EXPECT_THAT(values_of(argv, "--device"), ElementsAre("amd.com/gpu=1"));
    EXPECT_THAT(values_of(argv, "-e"), ElementsAre("A=2", "CUDA_DEVICE_ORDER=PCI_BUS_ID",
                                                   "ROCR_VISIBLE_DEVICES=0", "HIP_VISIBLE_DEVICES=0"));
}

TEST(ContainerArgv, NvidiaGpuOfAMixedMachineIsNamedByItsNvidiaIndex) {
    auto r = request(EnvironmentType::kDocker);
    GpuIdentity g;
    g.index = 2;  // GPU 2 of the machine, the first NVIDIA GPU
    g.vendor_index = 0;
    g.mixed = true;
    r.gpu = 2;
    r.gpu_device = g;
    const auto argv = container_create_argv(r);
    EXPECT_THAT(values_of(argv, "--gpus"), ElementsAre("device=0"));
}

TEST(GpuVisibility, BareRunsGetTheVendorsVariablesAndHideTheOtherVendor) {
    GpuIdentity nvidia;
    nvidia.index = 2;
    nvidia.vendor_index = 0;
    nvidia.mixed = true;
    EXPECT_THAT(gpu_visibility_env(2, nvidia),
                ElementsAre(std::pair<std::string, std::string>("CUDA_VISIBLE_DEVICES", "0"),
                            std::pair<std::string, std::string>("HIP_VISIBLE_DEVICES", "-1")));
    EXPECT_THAT(gpu_visibility_env(3, amd_gpu()),
                ElementsAre(std::pair<std::string, std::string>("ROCR_VISIBLE_DEVICES", "1"),
                            std::pair<std::string, std::string>("HIP_VISIBLE_DEVICES", "0"),
                            std::pair<std::string, std::string>("CUDA_VISIBLE_DEVICES", "-1")));
    // An NVIDIA-only machine: as before vendors were told apart.
    GpuIdentity alone;
    alone.index = 1;
    EXPECT_THAT(gpu_visibility_env(1, alone),
                ElementsAre(std::pair<std::string, std::string>("CUDA_VISIBLE_DEVICES", "1")));
    EXPECT_THAT(gpu_visibility_env(4, std::nullopt),
                ElementsAre(std::pair<std::string, std::string>("CUDA_VISIBLE_DEVICES", "4")));
}

TEST(ContainerArgv, WithoutGpuTheWorkloadsOwnCudaVisibleDevicesIsKept) {
    auto r = request(EnvironmentType::kPodman);
    r.env.emplace_back("CUDA_VISIBLE_DEVICES", "1,2");
    const auto argv = container_create_argv(r);
    EXPECT_THAT(values_of(argv, "-e"),
                ElementsAre("A=2", "CUDA_DEVICE_ORDER=PCI_BUS_ID", "CUDA_VISIBLE_DEVICES=1,2"));
}

TEST(ContainerArgv, NoImageEntrypointMeansTheCommandFollowsTheSocket) {
    auto r = request(EnvironmentType::kDocker);
    r.entrypoint.clear();
    r.run_args.clear();
    const auto argv = container_create_argv(r);
    const std::size_t image = index_of(argv, "busybox:test");
    const std::vector<std::string> tail(argv.begin() + static_cast<long>(image) + 1, argv.end());
    EXPECT_THAT(tail, ElementsAre("/.joulebench/ctl", "sh", "-c", "echo hi"));
}

TEST(ContainerArgv, MountPathsTheVolumeSyntaxCannotExpressAreRefused) {
    auto r = request(EnvironmentType::kDocker);
    r.run_dir = "/tmp/a:b/run";
    try {
        (void)container_create_argv(r);
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_THAT(e.what(), HasSubstr("/tmp/a:b/run"));
    }
    r = request(EnvironmentType::kDocker);
    r.hold = "/opt/x,y/joulebench-hold";
    EXPECT_THROW((void)container_create_argv(r), Error);
    r = request(EnvironmentType::kDocker);
    r.env.emplace_back("BAD=NAME", "1");
    EXPECT_THROW((void)container_create_argv(r), Error);
}

TEST(ContainerEngineBinary, EnvironmentVariablesOverrideTheDefaults) {
    {
        test::ScopedEnv d("JOULEBENCH_DOCKER", std::nullopt);
        test::ScopedEnv p("JOULEBENCH_PODMAN", std::nullopt);
        EXPECT_EQ(container_engine_binary(EnvironmentType::kDocker), "docker");
        EXPECT_EQ(container_engine_binary(EnvironmentType::kPodman), "podman");
    }
    test::ScopedEnv d("JOULEBENCH_DOCKER", "/opt/docker");
    test::ScopedEnv p("JOULEBENCH_PODMAN", "/opt/podman");
    EXPECT_EQ(container_engine_binary(EnvironmentType::kDocker), "/opt/docker");
    EXPECT_EQ(container_engine_binary(EnvironmentType::kPodman), "/opt/podman");
}

TEST(ContainerHoldPath, IsNextToTheExecutableUnlessOverridden) {
    {
        test::ScopedEnv h("JOULEBENCH_HOLD", std::nullopt);
        const fs::path self = fs::read_symlink("/proc/self/exe");
        EXPECT_EQ(container_hold_path(), self.parent_path() / "joulebench-hold");
    }
    test::ScopedEnv h("JOULEBENCH_HOLD", "/x/hold");
    EXPECT_EQ(container_hold_path(), fs::path("/x/hold"));
}

// ---- cgroups --------------------------------------------------------------------------------

class CgroupFiles : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-cgroup"};
    fs::path proc() const { return m_dir.path() / "proc"; }
    fs::path mountinfo() const { return m_dir.path() / "mountinfo"; }
    fs::path cg() const { return m_dir.path() / "cg"; }
    void process_cgroup(const std::string& text) const {
        fs::create_directories(proc() / "4242");
        write_file(proc() / "4242" / "cgroup", text);
    }
};

TEST_F(CgroupFiles, V1UsageFilesInNanoseconds) {
    process_cgroup("3:cpu,cpuacct:/docker/abc\n2:memory:/docker/abc\n0::/docker/abc\n");
    write_file(mountinfo(),
               fmt::format("30 25 0:26 / {0}/unified rw - cgroup2 cgroup2 rw\n"
                           "31 25 0:27 / {0}/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup "
                           "rw,cpu,cpuacct\n",
                           cg().string()));
    const fs::path dir = cg() / "cpu,cpuacct" / "docker" / "abc";
    fs::create_directories(dir);
    write_file(dir / "cpuacct.usage_user", "1500000000\n");
    write_file(dir / "cpuacct.usage_sys", "250000000\n");
    write_file(dir / "cpuacct.stat", "user 1\nsystem 1\n");
    const auto files = find_cgroup_cpu(4242, proc(), mountinfo());
    ASSERT_TRUE(files.has_value());
    EXPECT_EQ(files->kind, CgroupCpuFiles::Kind::kV1Usage);  // v1 preferred on a hybrid host
    EXPECT_EQ(files->dir, dir);
    auto cpu = read_cgroup_cpu(*files);
    ASSERT_TRUE(cpu.has_value());
    EXPECT_DOUBLE_EQ(cpu->user_s, 1.5);  // without the exact total: the sampled values
    EXPECT_DOUBLE_EQ(cpu->system_s, 0.25);
    // With cpuacct.usage (2.1 s exact), split 1.5 : 0.25 = 6 : 1 -> 1.8 s and 0.3 s.
    write_file(dir / "cpuacct.usage", "2100000000\n");
    cpu = read_cgroup_cpu(*files);
    ASSERT_TRUE(cpu.has_value());
    EXPECT_NEAR(cpu->user_s, 1.8, 1e-12);
    EXPECT_NEAR(cpu->system_s, 0.3, 1e-12);
}

TEST_F(CgroupFiles, V1StatInClockTicksWhenUsageFilesAreAbsent) {
    process_cgroup("2:cpuacct:/docker/abc\n");
    write_file(mountinfo(), fmt::format("31 25 0:27 / {}/cpuacct rw - cgroup cgroup rw,cpuacct\n",
                                        cg().string()));
    const fs::path dir = cg() / "cpuacct" / "docker" / "abc";
    fs::create_directories(dir);
    const long hz = ::sysconf(_SC_CLK_TCK);
    write_file(dir / "cpuacct.stat", fmt::format("user {}\nsystem {}\n", 3 * hz, hz / 2));
    const auto files = find_cgroup_cpu(4242, proc(), mountinfo());
    ASSERT_TRUE(files.has_value());
    EXPECT_EQ(files->kind, CgroupCpuFiles::Kind::kV1Stat);
    const auto cpu = read_cgroup_cpu(*files);
    ASSERT_TRUE(cpu.has_value());
    EXPECT_DOUBLE_EQ(cpu->user_s, 3.0);
    EXPECT_DOUBLE_EQ(cpu->system_s, static_cast<double>(hz / 2) / static_cast<double>(hz));
}

TEST_F(CgroupFiles, V2CpuStatInMicrosecondsWithAMountRootAndEscapedPath) {
    // joulebench in a cgroup namespace: the mount's root is a sub-folder of the hierarchy, and
    // the mount point has a space (escaped as \040 in mountinfo).
    process_cgroup("0::/system.slice/docker-abc.scope\n");
    const fs::path point = m_dir.path() / "cg two";
    write_file(mountinfo(), fmt::format("30 25 0:26 /system.slice {}/cg\\040two rw - cgroup2 "
                                        "cgroup2 rw,nsdelegate\n",
                                        m_dir.path().string()));
    const fs::path dir = point / "docker-abc.scope";
    fs::create_directories(dir);
    write_file(dir / "cpu.stat",
               "usage_usec 4000000\nuser_usec 3000000\nsystem_usec 1000000\n"
               "nr_periods 0\n");
    const auto files = find_cgroup_cpu(4242, proc(), mountinfo());
    ASSERT_TRUE(files.has_value());
    EXPECT_EQ(files->kind, CgroupCpuFiles::Kind::kV2);
    EXPECT_EQ(files->dir, dir);
    const auto cpu = read_cgroup_cpu(*files);
    ASSERT_TRUE(cpu.has_value());
    EXPECT_DOUBLE_EQ(cpu->user_s, 3.0);
    EXPECT_DOUBLE_EQ(cpu->system_s, 1.0);
}

TEST_F(CgroupFiles, NothingWhenTheProcessOrTheCgroupIsGone) {
    write_file(mountinfo(), fmt::format("31 25 0:27 / {}/cpuacct rw - cgroup cgroup rw,cpuacct\n",
                                        cg().string()));
    EXPECT_FALSE(find_cgroup_cpu(4242, proc(), mountinfo()).has_value());  // no such process
    process_cgroup("2:cpuacct:/docker/gone\n");
    EXPECT_FALSE(find_cgroup_cpu(4242, proc(), mountinfo()).has_value());  // no such folder
    const CgroupCpuFiles gone{CgroupCpuFiles::Kind::kV2, cg() / "gone"};
    EXPECT_FALSE(read_cgroup_cpu(gone).has_value());
}

TEST(CgroupCpuReal, ThisProcessHasReadableCpuTime) {
    const auto files = find_cgroup_cpu(::getpid());
    if (!files) GTEST_SKIP() << "no cgroup CPU accounting visible on this machine";
    const auto cpu = read_cgroup_cpu(*files);
    ASSERT_TRUE(cpu.has_value());
    EXPECT_GT(cpu->user_s + cpu->system_s, 0.0);
}

// ---- leftovers ---------------------------------------------------------------------------------

TEST(ContainerOwner, OnlyDeadOwnersOfThisMachineAreStale) {
    const std::string mine = container_owner_label();
    EXPECT_FALSE(container_owner_is_stale(mine));
    const auto parts = [&] {
        std::vector<std::string> p;
        std::string part;
        std::istringstream in(mine);
        while (std::getline(in, part, '/')) p.push_back(part);
        return p;
    }();
    ASSERT_EQ(parts.size(), 4U);
    // Another machine's containers are never touched.
    EXPECT_FALSE(container_owner_is_stale(
        fmt::format("other-host-{}/{}/{}/{}", parts[0], parts[1], parts[2], parts[3])));
    // This machine before a reboot.
    EXPECT_TRUE(container_owner_is_stale(fmt::format(
        "{}/00000000-0000-0000-0000-000000000000/{}/{}", parts[0], parts[2], parts[3])));
    // A process that has ended (a reaped child's pid).
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ASSERT_GT(child, 0);
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(container_owner_is_stale(fmt::format("{}/{}/{}/1", parts[0], parts[1], child)));
    // A live pid that now belongs to another process (different start time).
    EXPECT_TRUE(
        container_owner_is_stale(fmt::format("{}/{}/{}/{}", parts[0], parts[1], ::getppid(), "1")));
    // Labels joulebench did not write are not judged.
    EXPECT_FALSE(container_owner_is_stale("garbage"));
    EXPECT_FALSE(container_owner_is_stale(""));
}

// ---- validation with fake engines ---------------------------------------------------------------

class ContainerValidate : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-ctr-validate"};
    EnvironmentSpec spec(EnvironmentType type = EnvironmentType::kDocker) const {
        EnvironmentSpec s;
        s.name = "ctr";
        s.type = type;
        s.image = "missing:1";
        s.where = SourceLocation{"exp.toml", 12, 1};
        return s;
    }
    WorkloadSpec workload() const {
        WorkloadSpec w;
        w.name = "w";
        w.command = {"true"};
        return w;
    }
    // An engine that answers `version` with `version_rc` and `image inspect` with `image_rc`.
    fs::path fake_engine(int version_rc, int image_rc) const {
        const fs::path p = m_dir.path() / "engine";
        write_file(p, fmt::format("#!/bin/sh\n"
                                  "case \"$1\" in\n"
                                  "  version) echo 'cannot connect to the daemon' >&2; exit {};;\n"
                                  "  image) echo 'Error: No such image: missing:1' >&2; exit {};;\n"
                                  "esac\nexit 3\n",
                                  version_rc, image_rc));
        ::chmod(p.c_str(), 0755);
        return p;
    }
    fs::path fake_hold() const {
        const fs::path p = m_dir.path() / "joulebench-hold";
        write_file(p, "#!/bin/sh\nexit 0\n");
        ::chmod(p.c_str(), 0755);
        return p;
    }
    static Error validate_error(const EnvironmentSpec& s, const WorkloadSpec& w) {
        ContainerEnvironment env(s);
        try {
            env.validate(w);
        } catch (const Error& e) {
            return e;
        }
        return Error(ErrorCategory::kInternal, "no error");
    }
};

TEST_F(ContainerValidate, MissingEngineNamesTheFileLineAndHowToInstall) {
    test::ScopedEnv d("JOULEBENCH_DOCKER", (m_dir.path() / "no-such-docker").string());
    const Error e = validate_error(spec(), workload());
    EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
    EXPECT_THAT(e.what(), HasSubstr("exp.toml:12: environment 'ctr'"));
    EXPECT_THAT(e.hint(), HasSubstr("docker.io"));
}

TEST_F(ContainerValidate, MissingHelperIsReported) {
    test::ScopedEnv d("JOULEBENCH_DOCKER", fake_engine(0, 0).string());
    test::ScopedEnv h("JOULEBENCH_HOLD", (m_dir.path() / "no-hold").string());
    const Error e = validate_error(spec(), workload());
    EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
    EXPECT_THAT(e.what(), HasSubstr("no-hold"));
    EXPECT_THAT(e.hint(), HasSubstr("JOULEBENCH_HOLD"));
}

TEST_F(ContainerValidate, MissingImageIsRefusedWithAPullHint) {
    test::ScopedEnv p("JOULEBENCH_PODMAN", fake_engine(0, 125).string());
    test::ScopedEnv h("JOULEBENCH_HOLD", fake_hold().string());
    const Error e = validate_error(spec(EnvironmentType::kPodman), workload());
    EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
    EXPECT_THAT(e.what(), HasSubstr("exp.toml:12: environment 'ctr': image 'missing:1' is not "
                                    "in podman's local store"));
    EXPECT_THAT(e.what(), HasSubstr("No such image"));
    EXPECT_THAT(e.hint(), HasSubstr("podman pull missing:1"));
}

TEST_F(ContainerValidate, AnEngineThatDoesNotAnswerIsNotCalledAMissingImage) {
    test::ScopedEnv d("JOULEBENCH_DOCKER", fake_engine(1, 1).string());
    test::ScopedEnv h("JOULEBENCH_HOLD", fake_hold().string());
    const Error e = validate_error(spec(), workload());
    EXPECT_EQ(e.category(), ErrorCategory::kIo);
    EXPECT_THAT(e.what(), HasSubstr("docker does not answer: cannot connect to the daemon"));
    EXPECT_THAT(e.hint(), HasSubstr("DOCKER_HOST"));
}

TEST_F(ContainerValidate, PresentImagePasses) {
    test::ScopedEnv d("JOULEBENCH_DOCKER", fake_engine(0, 0).string());
    test::ScopedEnv h("JOULEBENCH_HOLD", fake_hold().string());
    ContainerEnvironment env(spec());
    EXPECT_NO_THROW(env.validate(workload()));
}

TEST_F(ContainerValidate, TheImageIsLookedUpOnceForAllWorkloads) {
    const fs::path log = m_dir.path() / "calls";
    const fs::path engine = m_dir.path() / "logging-engine";
    write_file(engine, fmt::format("#!/bin/sh\necho \"$*\" >> {}\nexit 0\n", log.string()));
    ::chmod(engine.c_str(), 0755);
    test::ScopedEnv d("JOULEBENCH_DOCKER", engine.string());
    test::ScopedEnv h("JOULEBENCH_HOLD", fake_hold().string());
    ContainerEnvironment env(spec());
    EXPECT_NO_THROW(env.validate(workload()));
    EXPECT_NO_THROW(env.validate(workload()));
    std::ifstream in(log);
    const std::string calls{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    EXPECT_EQ(calls, "image inspect missing:1\n");
}

TEST(ContainerFactory, DockerAndPodmanSpecsMakeContainerEnvironments) {
    for (const auto type : {EnvironmentType::kDocker, EnvironmentType::kPodman}) {
        EnvironmentSpec s;
        s.name = "c";
        s.type = type;
        s.image = "img";
        const auto env = make_environment(s);
        EXPECT_NE(dynamic_cast<ContainerEnvironment*>(env.get()), nullptr);
        EXPECT_EQ(env->spec().image, "img");
    }
}

}  // namespace
}  // namespace joulebench::environments
