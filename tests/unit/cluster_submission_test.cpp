// The cluster part's decisions: the manifest (round trip, refusals), each shard's progress read
// from real stores, which shards a resume submits again, and what submit and resume hand to
// sbatch (a stand-in CommandRunner answers as Slurm would).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "cluster/batch_scripts.hpp"
#include "cluster/cluster_status.hpp"
#include "cluster/manifest.hpp"
#include "cluster/submission.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"

namespace joulebench::cluster {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const char* const kExperiment =
    "[experiment]\nname = \"cluster-unit\"\nrepetitions = 3\nseed = 5\n"
    "[[workload]]\nname = \"a\"\ncommand = [\"true\"]\n"
    "[[workload]]\nname = \"b\"\ncommand = [\"true\"]\n"
    "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n";

// A stand-in for Slurm: sbatch hands out ids 100, 101, ...; sacct answers from `states`.
struct FakeSlurm {
    std::vector<std::vector<std::string>> sbatch_calls;
    std::map<std::string, std::string> sacct_lines;  // job id -> "ID_T|STATE\n..." lines
    int next_id = 100;
    bool fail_merge = false;

    CommandRunner runner() {
        return [this](const std::vector<std::string>& argv) {
            if (argv[0] == "sbatch") {
                sbatch_calls.push_back(argv);
                const bool merge = argv.back().find("merge") != std::string::npos;
                if (merge && fail_merge) {
                    return CommandResult{1, "", "sbatch: error: QOSMaxSubmitJobPerUserLimit\n"};
                }
                return CommandResult{0, std::to_string(next_id++) + "\n", ""};
            }
            if (argv[0] == "sacct") {
                std::string out;
                for (const auto& [id, lines] : sacct_lines) out += lines;
                return CommandResult{0, out, ""};
            }
            return CommandResult{1, "", "unexpected"};
        };
    }
};

class ClusterSubmission : public ::testing::Test {
protected:
    test::TempDir m_tmp{"joulebench-cluster-unit"};
    fs::path m_file = m_tmp.path() / "my experiment.toml";
    fs::path m_dir = m_tmp.path() / "out dir";
    FakeSlurm m_slurm;

    void SetUp() override { test::write_file(m_file, kExperiment); }
    [[nodiscard]] ExperimentSpec spec() const { return parse_experiment_file(m_file); }

    SubmitRequest request(unsigned shards) const {
        SubmitRequest r;
        r.experiment_file = m_file;
        r.dir = m_dir;
        r.joulebench = "/opt/joulebench/bin/joulebench";
        r.options.shards = shards;
        return r;
    }

    // Shard `index` of 3's store with `done` of its runs done and `failed` failed.
    void fill_shard(unsigned index, std::size_t done, std::size_t failed = 0) const {
        const ExperimentSpec s = spec();
        const Plan plan = make_plan(s, Shard{index, 3});
        Store store(m_dir / shard_store_name(index));
        store.record_experiment(experiment_record(s));
        store.add_planned_runs(plan.runs);
        for (std::size_t i = 0; i < done + failed && i < plan.runs.size(); ++i) {
            store.mark_running(plan.runs[i].run_id, std::nullopt, std::nullopt, 1000.0);
            RunOutcome o;
            o.run_id = plan.runs[i].run_id;
            o.status = i < done ? RunStatus::kDone : RunStatus::kFailed;
            o.started_at = 1000.0;
            o.ended_at = 1002.0;
            store.finish_run(o);
        }
    }
};

TEST_F(ClusterSubmission, ManifestRoundTripAndRefusals) {
    Manifest m;
    m.experiment_file = "/a b/x.toml";
    m.experiment_sha256 = std::string(64, 'f');
    m.experiment_name = "x";
    m.joulebench = "/bin/joulebench";
    m.options.shards = 4;
    m.options.partition = "p";
    m.options.gpus_per_shard = 1;
    m.options.sbatch_args = {"--qos=q"};
    m.jobs.push_back({"shards", "7", {1, 2, 3, 4}, {}, "shards.sbatch", "2026-01-01T00:00:00Z"});
    m.jobs.push_back({"merge", "8", {}, {"7"}, "merge.sbatch", "2026-01-01T00:00:01Z"});
    m.jobs.push_back({"shards", "9", {2}, {}, "shards-2.sbatch", "2026-01-01T00:00:02Z"});
    fs::create_directories(m_dir);
    write_manifest(m_dir, m);
    const Manifest back = read_manifest(m_dir);
    EXPECT_EQ(to_json(back), to_json(m));
    EXPECT_EQ(back.latest_shard_job(2)->job_id, "9");
    EXPECT_EQ(back.latest_shard_job(3)->job_id, "7");
    EXPECT_EQ(back.latest_merge_job()->job_id, "8");
    EXPECT_EQ(back.latest_shard_job(5), nullptr);

    EXPECT_NO_THROW(check_matches(back, std::string(64, 'f'), 4U));
    try {
        check_matches(back, std::string(64, 'e'));
        FAIL() << "accepted another file";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("changed since it was submitted"));
        EXPECT_EQ(e.exit_code(), 2);
    }
    EXPECT_THROW(check_matches(back, std::string(64, 'f'), 3U), Error);

    test::write_file(manifest_path(m_dir), "{\"format\": \"something else\"}");
    EXPECT_THROW((void)read_manifest(m_dir), Error);
    test::write_file(manifest_path(m_dir), "{not json");
    EXPECT_THROW((void)read_manifest(m_dir), Error);
    try {
        (void)read_manifest(m_tmp.path());
        FAIL() << "read a manifest that is not there";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
        EXPECT_THAT(e.what(), HasSubstr("no submission"));
    }
}

TEST_F(ClusterSubmission, SubmitWritesScriptsSubmitsArrayThenMergeAndRecordsBoth) {
    const SubmitOutcome out = submit_new(request(3), m_slurm.runner());
    ASSERT_EQ(m_slurm.sbatch_calls.size(), 2U);
    EXPECT_THAT(m_slurm.sbatch_calls[0],
                ElementsAre("sbatch", "--parsable", "--chdir=" + m_dir.string(),
                            (m_dir / "shards.sbatch").string()));
    EXPECT_THAT(m_slurm.sbatch_calls[1],
                ElementsAre("sbatch", "--parsable", "--chdir=" + m_dir.string(),
                            "--dependency=afterany:100", (m_dir / "merge.sbatch").string()));
    const Manifest m = read_manifest(m_dir);
    ASSERT_EQ(m.jobs.size(), 2U);
    EXPECT_EQ(m.jobs[0].job_id, "100");
    EXPECT_THAT(m.jobs[0].tasks, ElementsAre(1U, 2U, 3U));
    EXPECT_EQ(m.jobs[1].job_id, "101");
    EXPECT_EQ(m.experiment_sha256, spec().source_sha256);
    EXPECT_EQ(m.experiment_file, m_file);
    EXPECT_THAT(test::read_file(m_dir / "shards.sbatch"), HasSubstr("#SBATCH --array=1-3"));
    EXPECT_EQ(out.submitted.size(), 2U);
    // A second submit into the same folder is refused.
    try {
        (void)submit_new(request(3), m_slurm.runner());
        FAIL() << "submitted twice into one folder";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("holds a submission already"));
        EXPECT_THAT(e.hint(), HasSubstr("--resume"));
    }
    EXPECT_THROW((void)submit_new(request(7), m_slurm.runner()), Error);  // 6 runs only
}

TEST_F(ClusterSubmission, DryRunWritesScriptsOnly) {
    SubmitRequest r = request(2);
    r.dry_run = true;
    const SubmitOutcome out = submit_new(r, m_slurm.runner());
    EXPECT_TRUE(m_slurm.sbatch_calls.empty());
    EXPECT_EQ(out.scripts.size(), 2U);
    EXPECT_TRUE(fs::exists(m_dir / "shards.sbatch"));
    EXPECT_TRUE(fs::exists(m_dir / "merge.sbatch"));
    EXPECT_FALSE(fs::exists(manifest_path(m_dir)));
}

TEST_F(ClusterSubmission, AMergeJobSbatchRefusedNamesTheArrayJobThatWasSubmitted) {
    m_slurm.fail_merge = true;
    try {
        (void)submit_new(request(3), m_slurm.runner());
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("QOSMaxSubmitJobPerUserLimit"));
        EXPECT_THAT(e.what(), HasSubstr("array job 100 WAS submitted"));
        EXPECT_THAT(e.hint(), HasSubstr("--resume"));
    }
    const Manifest m = read_manifest(m_dir);
    ASSERT_EQ(m.jobs.size(), 1U);
    EXPECT_EQ(m.jobs[0].job_id, "100");
    // A resume while the array is still pending submits only the merge job, after it.
    m_slurm.fail_merge = false;
    m_slurm.sacct_lines["100"] = "100_[1-3]|PENDING\n";
    const SubmitOutcome out = submit_resume({m_dir, std::nullopt, false}, m_slurm.runner());
    EXPECT_TRUE(out.resubmitted_shards.empty());
    ASSERT_EQ(out.submitted.size(), 1U);
    EXPECT_EQ(out.submitted[0].kind, "merge");
    EXPECT_THAT(out.submitted[0].after, ElementsAre("100"));
}

TEST_F(ClusterSubmission, ProgressAndResumeChoiceFromRealStores) {
    (void)submit_new(request(3), m_slurm.runner());
    // 6 runs, 2 per shard. Shard 1: both done; shard 2: one done, task cancelled; shard 3: no
    // store, still pending.
    fill_shard(1, 2);
    fill_shard(2, 1);
    m_slurm.sacct_lines["100"] = "100_1|COMPLETED\n100_2|CANCELLED by 0\n100_[3]|PENDING\n";
    m_slurm.sacct_lines["101"] = "101|PENDING\n";
    const Manifest m = read_manifest(m_dir);
    const StateQuery q = query_states(m_slurm.runner(), jobs_to_query(m));
    const ClusterStatus s = compute_status(m, m_dir, spec(), q);
    ASSERT_EQ(s.shards.size(), 3U);
    EXPECT_EQ(s.shards[0].progress.done, 2U);
    EXPECT_TRUE(s.shards[0].finished());
    EXPECT_EQ(s.shards[1].progress.done, 1U);
    EXPECT_EQ(s.shards[1].slurm.state, JobState::kCancelled);
    EXPECT_FALSE(s.shards[2].progress.exists);
    EXPECT_EQ(s.shards[2].progress.planned, 2U);
    EXPECT_EQ(s.planned, 6U);
    EXPECT_EQ(s.done, 3U);
    EXPECT_THAT(shards_to_resume(s), ElementsAre(2U));
    EXPECT_FALSE(s.eta_s.has_value());  // no shard running
    EXPECT_THAT(s.eta_note, HasSubstr("no shard is running"));
    const auto json = status_json(s);
    EXPECT_EQ(json["shards"][1]["state"], "cancelled");
    EXPECT_EQ(json["total"]["done"], 3);
    const std::string table = render_table(status_table(s), TableFormat::kText);
    EXPECT_THAT(table, HasSubstr("100_2"));
    EXPECT_THAT(table, HasSubstr("cancelled"));

    // The resume: shard 2 again, then a merge after it and the pending shard 3's job.
    const SubmitOutcome out = submit_resume({m_dir, std::nullopt, false}, m_slurm.runner());
    EXPECT_THAT(out.resubmitted_shards, ElementsAre(2U));
    ASSERT_EQ(out.submitted.size(), 2U);
    EXPECT_THAT(out.submitted[0].tasks, ElementsAre(2U));
    EXPECT_THAT(out.submitted[1].after, ElementsAre("100", "102"));
    EXPECT_THAT(test::read_file(m_dir / "shards-2.sbatch"), HasSubstr("#SBATCH --array=2\n"));
    EXPECT_EQ(read_manifest(m_dir).jobs.size(), 4U);  // the history is kept
}

TEST_F(ClusterSubmission, FailedRunsEndAShardAndEverythingDoneSubmitsNothing) {
    (void)submit_new(request(3), m_slurm.runner());
    fill_shard(1, 2);
    fill_shard(2, 1, 1);  // one failed: an end status, not run again by a resume
    fill_shard(3, 2);
    m_slurm.sacct_lines["100"] = "100_1|COMPLETED\n100_2|FAILED\n100_3|COMPLETED\n";
    m_slurm.sacct_lines["101"] = "101|COMPLETED\n";
    test::write_file(m_dir / kResultsName, "");  // newer than the stores
    const SubmitOutcome out = submit_resume({m_dir, std::nullopt, false}, m_slurm.runner());
    EXPECT_TRUE(out.nothing_to_do);
    EXPECT_THAT(out.summary, HasSubstr("up to date"));
    EXPECT_EQ(m_slurm.sbatch_calls.size(), 2U);  // only the first submission's
    // results.db missing: only the merge job.
    fs::remove(m_dir / kResultsName);
    const SubmitOutcome merge = submit_resume({m_dir, std::nullopt, false}, m_slurm.runner());
    ASSERT_EQ(merge.submitted.size(), 1U);
    EXPECT_EQ(merge.submitted[0].kind, "merge");
    EXPECT_TRUE(merge.submitted[0].after.empty());
    // The experiment file edited since: refused.
    test::write_file(m_file, std::string(kExperiment) + "# edited\n");
    EXPECT_THROW((void)submit_resume({m_dir, std::nullopt, false}, m_slurm.runner()), Error);
}

TEST_F(ClusterSubmission, TheEtaIsTheMeanWallTimeTimesRunsLeftOverRunningShards) {
    (void)submit_new(request(3), m_slurm.runner());
    fill_shard(1, 2);  // two done runs of 2 s each (started 1000, ended 1002)
    fill_shard(2, 1);
    m_slurm.sacct_lines["100"] = "100_1|COMPLETED\n100_2|RUNNING\n100_3|RUNNING\n";
    const Manifest m = read_manifest(m_dir);
    const ClusterStatus s =
        compute_status(m, m_dir, spec(), query_states(m_slurm.runner(), jobs_to_query(m)));
    EXPECT_EQ(s.running_shards, 2U);
    ASSERT_TRUE(s.eta_s.has_value()) << s.eta_note;
    double wall = 0.0;
    std::size_t n = 0;
    for (const auto& shard : s.shards) {
        wall += shard.progress.wall_sum_s;
        n += shard.progress.wall_count;
    }
    ASSERT_EQ(n, 3U);
    // 3 runs left (shard 2: 1, shard 3: 2) over 2 running shards.
    EXPECT_DOUBLE_EQ(*s.eta_s, wall / 3.0 * 3.0 / 2.0);
    EXPECT_THAT(s.eta_note, HasSubstr("3 runs left / 2 running shards"));
    EXPECT_TRUE(shards_to_resume(s).empty());  // 2 and 3 are still running
}

}  // namespace
}  // namespace joulebench::cluster
