// `joulebench submit --slurm` and `status` against a real single-node Slurm cluster started for
// this suite (tests/fakes/slurm_cluster.hpp): sbatch, the array job and the merge job really
// run; the jobs' measurements read the fake NVML (two GPUs) and an empty powercap root. Also the
// fixture's job helper, proven on what Slurm hands a job holding one of the two GPUs.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "common/shell_words.hpp"
#include "fakes/fake_nvml_builder.hpp"
#include "fakes/slurm_cluster.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/experiment.hpp"
#include "joulebench/store.hpp"

namespace joulebench {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

class SlurmSubmit : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        s_skip = testing::SlurmCluster::unavailable_reason();
        if (s_skip) return;
        try {
            s_cluster = std::make_unique<testing::SlurmCluster>(2);
        } catch (const std::exception& e) {
            s_start_error = e.what();
        }
    }
    static void TearDownTestSuite() { s_cluster.reset(); }

    void SetUp() override {
        if (s_skip) GTEST_SKIP() << *s_skip;
        ASSERT_TRUE(s_cluster) << s_start_error;
    }
    void TearDown() override {
        if (s_cluster && HasFailure()) {
            fmt::print(stderr, "{}\n", s_cluster->log_tails());
            for (const auto& f : {"shard-1.out", "shard-2.out", "shard-3.out", "merge.out"}) {
                std::error_code ec;
                if (fs::exists(m_out / f, ec)) {
                    fmt::print(stderr, "--- {} ---\n{}\n", f, test::read_file(m_out / f));
                }
            }
        }
        if (s_cluster) s_cluster->cancel_all();
    }

    test::ProcessOptions options() const {
        test::ProcessOptions o;
        o.env = s_cluster->env();
        o.env.emplace_back("JOULEBENCH_NVML_LIBRARY", test::FakeNvmlEnvironment::library_path());
        o.env.emplace_back("JOULEBENCH_FAKE_NVML_STATE", m_nvml.path().string());
        o.env.emplace_back("JOULEBENCH_POWERCAP_ROOT", (m_tmp.path() / "no-powercap").string());
        o.env.emplace_back("JOULEBENCH_STATE_DIR", (m_tmp.path() / "state").string());
        o.timeout = 120s;
        return o;
    }
    test::ProcessResult jb(const std::vector<std::string>& args) const {
        return test::run_joulebench(args, options());
    }
    void write_experiment(const std::string& name, const std::string& command, unsigned reps) {
        test::write_file(m_file, fmt::format(R"([experiment]
name = "{}"
repetitions = {}
seed = 7

[[workload]]
name = "first"
command = {}

[[workload]]
name = "second"
command = ["true"]

[[environment]]
name = "bare"
type = "bare"
)",
                                             name, reps, command));
    }
    // Waits for every job of the submission to leave the queue, and the merge to have written.
    void wait_for_completion() const {
        ASSERT_TRUE(s_cluster->wait_until_queue_empty(150s)) << "jobs still queued";
        ASSERT_TRUE(fs::exists(m_out / "results.db")) << test::read_file(m_out / "merge.out");
    }
    // Every run of the plan, each once and done, in the merged store.
    void expect_every_run_once(const fs::path& db) const {
        const ExperimentSpec spec = parse_experiment_file(m_file);
        std::set<std::string> planned;
        for (const auto& run : make_plan(spec).runs) planned.insert(run.run_id);
        const Store store(db, Store::Mode::kReadOnly);
        const auto runs = store.runs();
        std::multiset<std::string> ids;
        for (const auto& run : runs) {
            ids.insert(run.run_id);
            EXPECT_EQ(run.status, RunStatus::kDone) << run.run_id;
        }
        EXPECT_EQ(runs.size(), planned.size());
        EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), planned);
        for (const auto& id : planned) EXPECT_EQ(ids.count(id), 1U) << id;
        // Every run's session says where it ran: the node, and the array task of its shard.
        std::map<std::int64_t, SessionRecord> sessions;
        for (const auto& s : store.sessions()) sessions[s.id] = s;
        for (const auto& run : runs) {
            ASSERT_TRUE(run.session_id.has_value()) << run.run_id;
            const SessionRecord& s = sessions.at(*run.session_id);
            EXPECT_EQ(s.node, std::optional<std::string>(s_cluster->node_name())) << run.run_id;
            EXPECT_TRUE(s.slurm_job_id.has_value()) << run.run_id;
            EXPECT_TRUE(s.slurm_array_job_id.has_value()) << run.run_id;
            ASSERT_TRUE(s.slurm_array_task_id.has_value()) << run.run_id;
            // The array task I ran shard I/N.
            ASSERT_TRUE(s.shard.has_value()) << run.run_id;
            EXPECT_EQ(s.shard->rfind(*s.slurm_array_task_id + "/", 0), 0U) << *s.shard;
            EXPECT_TRUE(s.allocation_json.has_value()) << run.run_id;
        }
    }
    nlohmann::json status_json() const {
        const auto r = jb({"status", m_out.string(), "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return nlohmann::json::parse(r.out);
    }

    static inline std::optional<std::string> s_skip;
    static inline std::string s_start_error;
    static inline std::unique_ptr<testing::SlurmCluster> s_cluster;

    test::TempDir m_tmp{"joulebench-slurm-submit"};
    test::FakeNvmlState m_nvml{m_tmp.path() / "nvml.json", 2};
    fs::path m_file = m_tmp.path() / "my experiment.toml";
    fs::path m_out = m_tmp.path() / "sub 'mission'";
};

TEST_F(SlurmSubmit, ThreeShardsRunThroughSbatchAndTheMergeJobHoldsEveryRunOnce) {
    write_experiment("slurm-three", R"(["sleep", "0.2"])", 3);  // 6 runs, 2 per shard
    const auto r = jb({"submit", m_file.string(), "--slurm", "--shards", "3", "--out",
                       m_out.string(), "--sbatch-arg=--comment=joulebench test"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("as array job"));
    // Quoted as a shell needs it (the folder holds a space and a quote): pasteable.
    EXPECT_THAT(r.out, HasSubstr("joulebench status " + shell_word(m_out.string()) + "\n"));
    wait_for_completion();
    expect_every_run_once(m_out / "results.db");
    EXPECT_TRUE(fs::exists(m_out / "report.html"));
    for (const char* f : {"shards.sbatch", "merge.sbatch", "submission.json", "shard-1.out"}) {
        EXPECT_TRUE(fs::exists(m_out / f)) << f;
    }
    const auto status = status_json();
    ASSERT_EQ(status["shards"].size(), 3U);
    for (const auto& shard : status["shards"]) {
        EXPECT_EQ(shard["state"], "completed") << shard.dump();
        EXPECT_EQ(shard["done"], 2) << shard.dump();
        EXPECT_TRUE(shard["finished"].get<bool>());
    }
    EXPECT_EQ(status["total"]["done"], 6);
    EXPECT_EQ(status["merge"]["state"], "completed");
    EXPECT_FALSE(status["merge"]["results_stale"].get<bool>());
    const auto text = jb({"status", m_out.string()});
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_THAT(text.out, HasSubstr("completed"));
    EXPECT_THAT(text.out, HasSubstr("6/6"));
    // Everything done: a resume submits nothing.
    const auto again = jb({"submit", "--resume", m_out.string()});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_THAT(again.out, HasSubstr("nothing to submit"));
    EXPECT_TRUE(s_cluster->queued_jobs().empty());
}

std::size_t done_runs(const fs::path& db) {
    std::error_code ec;
    if (!fs::exists(db, ec)) return 0;
    try {
        return Store(db, Store::Mode::kReadOnly).status_counts().done;
    } catch (const Error&) {
        return 0;  // being created
    }
}

TEST_F(SlurmSubmit, ACancelledShardIsResumedAndNothingIsLostOrDuplicated) {
    write_experiment("slurm-resume", R"(["sleep", "1"])", 4);  // 8 runs, 4 per shard
    const auto r =
        jb({"submit", m_file.string(), "--slurm", "--shards", "2", "--out", m_out.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto manifest = nlohmann::json::parse(test::read_file(m_out / "submission.json"));
    const std::string array = manifest["jobs"][0]["job_id"];
    // Shard 2 cancelled once it has a done run (and before it has them all).
    ASSERT_TRUE(test::eventually([&] { return done_runs(m_out / "shard-2.db") >= 1; }, 90s, 250ms));
    const auto cancel = s_cluster->client({"scancel", array + "_2"});
    ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
    wait_for_completion();
    const std::size_t kept = done_runs(m_out / "shard-2.db");
    ASSERT_LT(kept, 4U) << "shard 2 ended before the cancel: the test did not cancel anything";
    auto status = status_json();
    EXPECT_EQ(status["shards"][1]["state"], "cancelled") << status.dump();
    EXPECT_EQ(status["shards"][0]["state"], "completed") << status.dump();
    EXPECT_FALSE(status["shards"][1]["finished"].get<bool>());

    const auto resume = jb({"submit", "--resume", m_out.string()});
    ASSERT_EQ(resume.exit_code, 0) << resume.err;
    EXPECT_THAT(resume.out, HasSubstr("unfinished shards, in no active job: 2"));
    ASSERT_TRUE(s_cluster->wait_until_queue_empty(150s));
    expect_every_run_once(m_out / "results.db");
    status = status_json();
    EXPECT_EQ(status["shards"][1]["state"], "completed") << status.dump();
    EXPECT_EQ(status["total"]["done"], 8);
    EXPECT_FALSE(status["merge"]["results_stale"].get<bool>()) << status.dump();
    // The runs done before the cancel were kept, not run again.
    const Store shard2(m_out / "shard-2.db", Store::Mode::kReadOnly);
    std::size_t first_attempts = 0;
    for (const auto& run : shard2.runs()) first_attempts += run.attempt == 1 ? 1U : 0U;
    EXPECT_GE(first_attempts, kept);
    // The history keeps both array jobs and both merge jobs.
    const auto after = nlohmann::json::parse(test::read_file(m_out / "submission.json"));
    EXPECT_EQ(after["jobs"].size(), 4U) << after.dump(2);
}

TEST_F(SlurmSubmit, DryRunWritesAndPrintsTheScriptsAndSubmitsNothing) {
    write_experiment("slurm-dry", R"(["true"])", 1);
    const auto r = jb({"submit", m_file.string(), "--slurm", "--shards", "2", "--out",
                       m_out.string(), "--dry-run", "--gpus-per-shard", "1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("#SBATCH --array=1-2"));
    EXPECT_THAT(r.out, HasSubstr("#SBATCH --gres=gpu:1"));
    EXPECT_THAT(r.out, HasSubstr("submitted nothing"));
    EXPECT_TRUE(fs::exists(m_out / "shards.sbatch"));
    EXPECT_TRUE(fs::exists(m_out / "merge.sbatch"));
    EXPECT_FALSE(fs::exists(m_out / "submission.json"));
    EXPECT_TRUE(s_cluster->queued_jobs().empty());
}

TEST_F(SlurmSubmit, AnSbatchFailureSaysSlurmsOwnMessageAndSubmitsNothing) {
    write_experiment("slurm-bad", R"(["true"])", 1);
    const auto r = jb({"submit", m_file.string(), "--slurm", "--shards", "2", "--out",
                       m_out.string(), "--partition", "nosuch"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("sbatch failed"));
    EXPECT_THAT(r.err, HasSubstr("invalid partition"));
    EXPECT_FALSE(fs::exists(m_out / "submission.json"));
    EXPECT_TRUE(s_cluster->queued_jobs().empty());
    // And the usage errors: no --slurm, no file.
    EXPECT_EQ(jb({"submit", m_file.string(), "--out", m_out.string()}).exit_code, 2);
    EXPECT_EQ(jb({"submit", "--slurm"}).exit_code, 2);
    const auto no_submission = jb({"status", m_tmp.path().string()});
    EXPECT_EQ(no_submission.exit_code, 1);
    EXPECT_THAT(no_submission.err, HasSubstr("no submission"));
}

std::map<std::string, std::string> variables(const std::string& out) {
    std::map<std::string, std::string> vars;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return vars;
}

TEST_F(SlurmSubmit, AJobHoldingOneOfTheTwoGpusIsHandedExactlyOne) {
    const std::vector<std::string> print{
        "sh", "-c",
        "echo SLURM_JOB_GPUS=$SLURM_JOB_GPUS; echo CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES; "
        "echo MARK=$JOULEBENCH_TEST_MARK"};
    const auto one = s_cluster->run_in_job(print, 1, {{"JOULEBENCH_TEST_MARK", "it's here"}});
    ASSERT_EQ(one.exit_code, 0) << one.err;
    auto vars = variables(one.out);
    EXPECT_THAT(vars["SLURM_JOB_GPUS"], ::testing::MatchesRegex("[01]")) << one.out;
    EXPECT_THAT(vars["CUDA_VISIBLE_DEVICES"], ::testing::MatchesRegex("[01]")) << one.out;
    EXPECT_EQ(vars["MARK"], "it's here");  // the environment of sbatch reaches the job
    const auto two = s_cluster->run_in_job(print, 2);
    ASSERT_EQ(two.exit_code, 0) << two.err;
    vars = variables(two.out);
    EXPECT_EQ(vars["SLURM_JOB_GPUS"], "0,1") << two.out;
    EXPECT_EQ(vars["CUDA_VISIBLE_DEVICES"], "0,1") << two.out;
}

// Inside a job holding one of the node's two GPUs, `measure` measures that GPU alone, found by
// the minor number of its device file (here /dev/nvidia0 is the second GPU in bus order, as on
// some hosts), and a cap on the other GPU is refused naming the job; a cap on its own is set.
TEST_F(SlurmSubmit, InsideAJobMeasureSeesTheJobsGpuAndCapsNoOther) {
    m_nvml.set_minor_number(0, 1).set_minor_number(1, 0);
    const std::string bin = JOULEBENCH_BINARY_PATH;
    const auto in_job = [&](const std::string& script) {
        return s_cluster->run_in_job({"sh", "-c", script}, 1, options().env);
    };
    const auto seen = in_job("echo GPUS=$SLURM_JOB_GPUS; '" + bin +
                             "' measure -q --json - -- true");
    ASSERT_EQ(seen.exit_code, 0) << seen.out << seen.err;
    const auto line = seen.out.find("GPUS=");
    ASSERT_NE(line, std::string::npos) << seen.out;
    const int minor = seen.out[line + 5] - '0';
    ASSERT_TRUE(minor == 0 || minor == 1) << seen.out;
    const int held = 1 - minor;  // the GPU whose device file is /dev/nvidia<minor>
    const auto json = nlohmann::json::parse(seen.out.substr(seen.out.find('{')));
    std::vector<std::string> gpus;
    for (const auto& d : json["domains"]) {
        if (d["kind"] == "gpu") gpus.push_back(d["id"].get<std::string>());
    }
    EXPECT_EQ(gpus, std::vector<std::string>{fmt::format("gpu{}", held)}) << seen.out;

    const auto other = in_job(fmt::format("'{}' measure -q --power-cap {}=150 -- true", bin, 1 - held));
    EXPECT_NE(other.exit_code, 0);
    EXPECT_THAT(other.out + other.err, HasSubstr("does not hold it"));
    EXPECT_THAT(other.out + other.err, HasSubstr("Slurm job"));
    const auto own = in_job(fmt::format("'{}' measure -q --power-cap {}=150 -- true", bin, held));
    EXPECT_EQ(own.exit_code, 0) << own.out << own.err;
}

}  // namespace
}  // namespace joulebench
