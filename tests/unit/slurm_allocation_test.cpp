// Inside a Slurm job: the job read from its environment, and the GPUs it holds matched to NVML's
// devices through the real dlopen path of the fake libnvidia-ml.so.1 (docs/slurm.md).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "common/slurm_job.hpp"
#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"
#include "sensors/nvml/nvml_backend.hpp"

namespace joulebench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::optional<SlurmJob> job_of(const std::map<std::string, std::string>& env) {
    return slurm_job_from([&](const char* name) -> const char* {
        const auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    });
}

TEST(SlurmJob, NoneOutsideSlurm) {
    EXPECT_FALSE(job_of({}).has_value());
    EXPECT_FALSE(job_of({{"SLURM_JOB_ID", ""}, {"CUDA_VISIBLE_DEVICES", "0"}}).has_value());
}

TEST(SlurmJob, ReadsIdsNodeCpusAndTheStepsGpusBeforeTheJobs) {
    const auto job = job_of({{"SLURM_JOB_ID", "1234"},
                             {"SLURM_ARRAY_JOB_ID", "1230"},
                             {"SLURM_ARRAY_TASK_ID", "4"},
                             {"SLURMD_NODENAME", "gpu07"},
                             {"SLURM_CPUS_ON_NODE", "16"},
                             {"SLURM_JOB_GPUS", "2,3"},
                             {"SLURM_STEP_GPUS", "3"},
                             {"CUDA_VISIBLE_DEVICES", "0"}});
    ASSERT_TRUE(job.has_value());
    EXPECT_EQ(job->job_id, "1234");
    EXPECT_EQ(job->display_id(), "1230_4");
    EXPECT_EQ(job->label(), "Slurm job 1234 (array task 1230_4)");
    EXPECT_EQ(job->node, "gpu07");
    EXPECT_EQ(job->cpus_on_node, 16u);
    ASSERT_TRUE(job->gpu_minors.has_value());
    EXPECT_THAT(*job->gpu_minors, ElementsAre(3u));
    EXPECT_EQ(job->gpu_source, "SLURM_STEP_GPUS=3");
    ASSERT_TRUE(job->visible_devices.has_value());
    EXPECT_THAT(*job->visible_devices, ElementsAre("0"));
}

TEST(SlurmJob, AMalformedGpuListIsUnknownAndSaysWhy) {
    const auto job = job_of({{"SLURM_JOB_ID", "7"}, {"SLURM_JOB_GPUS", "gpu:0"}});
    ASSERT_TRUE(job.has_value());
    EXPECT_FALSE(job->gpu_minors.has_value());
    EXPECT_THAT(job->gpu_source, HasSubstr("ignored"));
    EXPECT_EQ(job->display_id(), "7");
}

class SlurmAllocationTest : public ::testing::Test {
protected:
    SlurmAllocationTest() {
        // Minor numbers that differ from the PCI order, as on some AMD hosts: /dev/nvidia0 is the
        // second GPU in bus order.
        m_state.set_minor_number(0, 1).set_minor_number(1, 0);
    }
    nvml::NvmlSystem open(const std::map<std::string, std::string>& env) const {
        return nvml::NvmlSystem(nvml::NvmlLibrary::load({}), job_of(env));
    }

    test::TempDir m_dir{"joulebench-slurm-allocation"};
    std::filesystem::path m_state_path = m_dir.path() / "state.json";
    test::FakeNvmlState m_state{m_state_path, 3};
    test::FakeNvmlEnvironment m_env{m_state_path};
};

TEST_F(SlurmAllocationTest, OutsideSlurmEveryGpuIsUsed) {
    const nvml::NvmlSystem system(nvml::NvmlLibrary::load({}), std::nullopt);
    EXPECT_FALSE(system.allocation().has_value());
    EXPECT_EQ(system.select(nvml::GpuSelection::all()).size(), 3u);
}

TEST_F(SlurmAllocationTest, JobGpusAreMatchedByMinorNumberNotIndex) {
    const auto system = open({{"SLURM_JOB_ID", "42"}, {"SLURM_JOB_GPUS", "0"}});
    ASSERT_TRUE(system.allocation().has_value());
    EXPECT_THAT(system.allocation()->held, ElementsAre(1));  // /dev/nvidia0 is GPU 1
    const auto all = system.select(nvml::GpuSelection::all());
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].index(), 1);
    EXPECT_THAT(system.allocation()->describe(), HasSubstr("SLURM_JOB_GPUS=0, by device minor number"));
    try {
        (void)system.select(nvml::GpuSelection::list({0}));
        ADD_FAILURE() << "GPU 0 is not the job's";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_THAT(e.what(), HasSubstr("select GPU 0: Slurm job 42 does not hold it; it holds GPU 1"));
    }
    EXPECT_THROW(system.check_held(2, "cap GPU 2"), Error);
    EXPECT_NO_THROW(system.check_held(1, "cap GPU 1"));
}

TEST_F(SlurmAllocationTest, UuidsInCudaVisibleDevicesAreMatchedByUuid) {
    m_state.set_uuid(2, "GPU-aaaaaaaa-0000-4000-8000-000000000002");
    const auto system = open({{"SLURM_JOB_ID", "43"},
                              {"CUDA_VISIBLE_DEVICES", "GPU-aaaaaaaa-0000-4000-8000-000000000002"}});
    ASSERT_TRUE(system.allocation().has_value());
    EXPECT_THAT(system.allocation()->held, ElementsAre(2));
}

TEST_F(SlurmAllocationTest, IndicesAloneNeverNameTheJobsGpus) {
    // Three GPUs listed, one index given: which one is the job's cannot be told.
    const auto system = open({{"SLURM_JOB_ID", "44"}, {"CUDA_VISIBLE_DEVICES", "0"}});
    ASSERT_TRUE(system.allocation().has_value());
    EXPECT_TRUE(system.allocation()->held.empty());
    EXPECT_TRUE(system.select(nvml::GpuSelection::all()).empty());
    EXPECT_THAT(system.allocation()->how, HasSubstr("cannot be told"));
    const BackendProbe probe = nvml::probe_nvml(system, nvml::GpuSelection::all());
    EXPECT_TRUE(probe.sensors.empty());
    ASSERT_FALSE(probe.skipped.empty());
    EXPECT_THAT(probe.skipped[0], HasSubstr("Slurm job 44 holds no GPU"));
}

TEST_F(SlurmAllocationTest, AJobGivenNoGpusHoldsNone) {
    const auto system = open({{"SLURM_JOB_ID", "45"}});
    ASSERT_TRUE(system.allocation().has_value());
    EXPECT_TRUE(system.select(nvml::GpuSelection::all()).empty());
    EXPECT_THAT(system.allocation()->how, HasSubstr("no GPUs"));
}

TEST_F(SlurmAllocationTest, NoMinorNumbersMeansNoMatchByIndex) {
    m_state.inject_error("nvmlDeviceGetMinorNumber", 3);  // NVML_ERROR_NOT_SUPPORTED
    const auto system = open({{"SLURM_JOB_ID", "46"}, {"SLURM_JOB_GPUS", "0"}});
    ASSERT_TRUE(system.allocation().has_value());
    EXPECT_TRUE(system.allocation()->held.empty());
    EXPECT_THAT(system.allocation()->how, HasSubstr("no device minor numbers"));
}

TEST_F(SlurmAllocationTest, IgnoreTurnsTheCheckOff) {
    const test::ScopedEnv ignore("JOULEBENCH_SLURM_GPUS", std::string("ignore"));
    const auto system = open({{"SLURM_JOB_ID", "47"}, {"SLURM_JOB_GPUS", "0"}});
    EXPECT_FALSE(system.allocation().has_value());
    EXPECT_EQ(system.select(nvml::GpuSelection::all()).size(), 3u);
}

}  // namespace
}  // namespace joulebench
