// The cluster part's Slurm text: state words, array task ids, sacct and scontrol output, sbatch's
// job id, and the batch scripts (run by a real /bin/sh where it matters).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cluster/batch_scripts.hpp"
#include "cluster/job_state.hpp"
#include "cluster/slurm_commands.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"

namespace joulebench::cluster {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

test::ProcessOptions with_env(const std::string& name, const std::string& value) {
    test::ProcessOptions o;
    o.env = {{name, value}};
    return o;
}

TEST(SlurmState, EveryStateWordOfSacctAndScontrol) {
    const std::vector<std::pair<std::string, JobState>> cases{
        {"PENDING", JobState::kPending},
        {"RUNNING", JobState::kRunning},
        {"CONFIGURING", JobState::kRunning},
        {"COMPLETING", JobState::kCompleting},
        {"SUSPENDED", JobState::kSuspended},
        {"REQUEUED", JobState::kRequeued},
        {"REQUEUE_HOLD", JobState::kRequeued},
        {"COMPLETED", JobState::kCompleted},
        {"FAILED", JobState::kFailed},
        {"CANCELLED by 0", JobState::kCancelled},
        {"CANCELLED+", JobState::kCancelled},
        {"TIMEOUT", JobState::kTimeout},
        {"PREEMPTED", JobState::kPreempted},
        {"NODE_FAIL", JobState::kNodeFail},
        {"OUT_OF_MEMORY", JobState::kOutOfMemory},
        {"BOOT_FAIL", JobState::kBootFail},
        {"DEADLINE", JobState::kDeadline},
        {"SPECIAL_EXIT", JobState::kFailed},
        {"REVOKED", JobState::kCancelled},
        {"running", JobState::kRunning},
        {"SOMETHING_NEW", JobState::kUnknown},
        {"", JobState::kUnknown}};
    for (const auto& [word, state] : cases) {
        EXPECT_EQ(job_state_from_slurm(word), state) << word;
    }
    EXPECT_EQ(to_string(JobState::kOutOfMemory), "out_of_memory");
    EXPECT_EQ(to_string(JobState::kNodeFail), "node_fail");
    for (const JobState s : {JobState::kPending, JobState::kRunning, JobState::kCompleting,
                             JobState::kSuspended, JobState::kRequeued}) {
        EXPECT_TRUE(is_active(s)) << to_string(s);
    }
    for (const JobState s :
         {JobState::kUnknown, JobState::kCompleted, JobState::kFailed, JobState::kCancelled,
          JobState::kTimeout, JobState::kPreempted, JobState::kNodeFail, JobState::kOutOfMemory}) {
        EXPECT_FALSE(is_active(s)) << to_string(s);
    }
}

TEST(SlurmTaskIds, RangesListsStepsAndLimits) {
    EXPECT_THAT(parse_task_ids("3"), ElementsAre(3U));
    EXPECT_THAT(parse_task_ids("1-4"), ElementsAre(1U, 2U, 3U, 4U));
    EXPECT_THAT(parse_task_ids("1,3,5-7"), ElementsAre(1U, 3U, 5U, 6U, 7U));
    EXPECT_THAT(parse_task_ids("1-7:3"), ElementsAre(1U, 4U, 7U));
    EXPECT_THAT(parse_task_ids("2-3%1"), ElementsAre(2U, 3U));
    for (const char* bad : {"", "a", "3-1", "1-", "1:0", "1,,2"}) {
        EXPECT_THROW((void)parse_task_ids(bad), Error) << bad;
    }
    EXPECT_EQ(format_task_ids({5, 1, 2, 3, 7, 8}), "1-3,5,7-8");
    EXPECT_EQ(format_task_ids({2}), "2");
}

TEST(SlurmSacct, ArrayTasksPendingRangesPlainJobsAndStepsSkipped) {
    const auto tasks = parse_sacct(
        "41_1|COMPLETED\n41_1.batch|COMPLETED\n41_1.extern|COMPLETED\n41_2|CANCELLED by 0\n"
        "41_[3-4]|PENDING\n42|RUNNING\nnot a line\n43_x|FAILED\n");
    ASSERT_EQ(tasks.size(), 5U);
    EXPECT_EQ(find_task(tasks, "41", 1U).state, JobState::kCompleted);
    EXPECT_EQ(find_task(tasks, "41", 2U).state, JobState::kCancelled);
    EXPECT_EQ(find_task(tasks, "41", 2U).slurm_text, "CANCELLED by 0");
    EXPECT_EQ(find_task(tasks, "41", 3U).state, JobState::kPending);
    EXPECT_EQ(find_task(tasks, "41", 4U).state, JobState::kPending);
    EXPECT_EQ(find_task(tasks, "42", std::nullopt).state, JobState::kRunning);
    EXPECT_EQ(find_task(tasks, "41", 9U).state, JobState::kUnknown);
}

TEST(SlurmScontrol, OneLinePerJobWithArrayFields) {
    const auto tasks = parse_scontrol(
        "JobId=6 ArrayJobId=6 ArrayTaskId=3-4 JobName=x UserId=root(0) JobState=PENDING "
        "Reason=Resources\n"
        "JobId=8 ArrayJobId=6 ArrayTaskId=2 JobName=x JobState=RUNNING Reason=None\n"
        "JobId=7 ArrayJobId=6 ArrayTaskId=1 JobName=x JobState=TIMEOUT Reason=TimeLimit\n"
        "JobId=9 JobName=merge JobState=COMPLETED Reason=None Dependency=(null)\n");
    EXPECT_EQ(find_task(tasks, "6", 1U).state, JobState::kTimeout);
    EXPECT_EQ(find_task(tasks, "6", 2U).state, JobState::kRunning);
    EXPECT_EQ(find_task(tasks, "6", 3U).state, JobState::kPending);
    EXPECT_EQ(find_task(tasks, "6", 4U).state, JobState::kPending);
    EXPECT_EQ(find_task(tasks, "9", std::nullopt).state, JobState::kCompleted);
    EXPECT_EQ(tasks.size(), 5U);
}

TEST(SlurmSbatch, JobIdWithOrWithoutClusterAndSlurmsMessageOnFailure) {
    EXPECT_EQ(parse_sbatch_job_id("1234\n"), "1234");
    EXPECT_EQ(parse_sbatch_job_id("1234;cluster-a\n"), "1234");
    EXPECT_THROW((void)parse_sbatch_job_id("Submitted batch job\n"), Error);
    std::vector<std::string> seen;
    const CommandRunner fail = [&](const std::vector<std::string>& argv) {
        seen = argv;
        return CommandResult{1, "",
                             "sbatch: error: invalid partition specified: nosuch\n"
                             "sbatch: error: Batch job submission failed: Invalid partition\n"};
    };
    try {
        (void)submit_batch(fail, "/d/shards.sbatch", {"--chdir=/d"});
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("invalid partition specified: nosuch"));
        EXPECT_THAT(e.what(), HasSubstr("/d/shards.sbatch"));
        EXPECT_EQ(e.exit_code(), 1);
    }
    EXPECT_THAT(seen, ElementsAre("sbatch", "--parsable", "--chdir=/d", "/d/shards.sbatch"));
}

TEST(SlurmQuery, SacctFirstThenScontrolForWhatSacctDoesNotKnow) {
    std::vector<std::vector<std::string>> calls;
    const CommandRunner run = [&](const std::vector<std::string>& argv) {
        calls.push_back(argv);
        if (argv[0] == "sacct")
            return CommandResult{1, "", "Slurm accounting storage is disabled\n"};
        if (argv.back() == "5") {
            return CommandResult{0, "JobId=5 ArrayJobId=5 ArrayTaskId=1-2 JobState=PENDING\n", ""};
        }
        return CommandResult{1, "", "slurm_load_jobs error: Invalid job id specified\n"};
    };
    const StateQuery q = query_states(run, {"5", "6"});
    EXPECT_EQ(q.source, "scontrol");
    ASSERT_EQ(q.notes.size(), 1U);
    EXPECT_THAT(q.notes[0], HasSubstr("accounting storage is disabled"));
    EXPECT_EQ(find_task(q.tasks, "5", 2U).state, JobState::kPending);
    EXPECT_EQ(find_task(q.tasks, "6", std::nullopt).state, JobState::kUnknown);
    ASSERT_EQ(calls.size(), 3U);
    EXPECT_EQ(calls[0][1], "--jobs=5,6");

    const CommandRunner sacct_only = [&](const std::vector<std::string>& argv) {
        if (argv[0] == "sacct") return CommandResult{0, "5_1|COMPLETED\n5_2|PREEMPTED\n", ""};
        throw Error(ErrorCategory::kNotFound, "scontrol: not found");
    };
    const StateQuery q2 = query_states(sacct_only, {"5"});
    EXPECT_EQ(q2.source, "sacct");
    EXPECT_EQ(find_task(q2.tasks, "5", 2U).state, JobState::kPreempted);

    const CommandRunner none = [](const std::vector<std::string>&) -> CommandResult {
        throw Error(ErrorCategory::kNotFound, "not found");
    };
    EXPECT_THROW((void)query_states(none, {"5"}), Error);
}

Manifest example_manifest(const std::string& where) {
    Manifest m;
    m.experiment_file = where + "/it's an \"experiment\".toml";
    m.experiment_sha256 = std::string(64, 'a');
    m.experiment_name = "demo run/1";
    m.joulebench = where + "/bin dir/joulebench";
    m.options.shards = 3;
    m.options.partition = "gpu";
    m.options.account = "proj1";
    m.options.time = "02:00:00";
    m.options.gpus_per_shard = 2;
    m.options.sbatch_args = {"--qos=long", "--comment=two words"};
    return m;
}

TEST(SlurmScripts, ShardArrayScriptHoldsTheOptionsAndQuotesEveryPath) {
    const Manifest m = example_manifest("/data/my 'study'");
    const std::string s = shard_array_script(m, "/data/my 'study'/out", {2, 3});
    EXPECT_THAT(s, HasSubstr("#!/bin/sh\n"));
    EXPECT_THAT(s, HasSubstr("\n#SBATCH --array=2-3\n"));
    EXPECT_THAT(s, HasSubstr("\n#SBATCH --output=shard-%a.out\n"));
    EXPECT_THAT(s, HasSubstr("\n#SBATCH --partition=gpu\n"));
    EXPECT_THAT(s, HasSubstr("\n#SBATCH --account=proj1\n"));
    EXPECT_THAT(s, HasSubstr("\n#SBATCH --time=02:00:00\n"));
    EXPECT_THAT(s, HasSubstr("\n#SBATCH --gres=gpu:2\n"));
    EXPECT_THAT(s, HasSubstr("\n#SBATCH --qos=long\n"));
    EXPECT_THAT(s, HasSubstr("\n#SBATCH --comment=\"two words\"\n"));
    EXPECT_THAT(s, HasSubstr("\n#SBATCH --job-name=joulebench-demo_run_1\n"));
    EXPECT_THAT(s, HasSubstr("--shard \"$shard/3\""));
    // Every #SBATCH line comes before the first command (sbatch stops reading them there).
    EXPECT_LT(s.rfind("#SBATCH"), s.find("set -eu"));
    const std::string merge = merge_script(m, "/data/my 'study'/out");
    EXPECT_THAT(merge, HasSubstr("#SBATCH --output=merge.out"));
    EXPECT_THAT(merge, Not(HasSubstr("--gres")));
    EXPECT_THAT(merge, HasSubstr("#SBATCH --qos=long"));
}

// The scripts' commands, run by a real shell with a stand-in joulebench that prints its
// arguments: paths with spaces and quotes arrive as single, unchanged words.
TEST(SlurmScripts, ARealShellPassesNastyPathsThroughUnchanged) {
    const test::TempDir tmp("joulebench-slurm-script");
    const std::string where = (tmp.path() / "a dir with 'quotes' and \"more\"").string();
    std::filesystem::create_directories(where + "/bin dir");
    std::filesystem::create_directories(where + "/out");
    Manifest m = example_manifest(where);
    test::write_file(m.joulebench,
                     "#!/bin/sh\nfor a in \"$@\"; do printf '<%s>\\n' \"$a\"; done\n"
                     "if [ \"$1\" = merge ]; then eval \"last=\\${$#}\"; : > \"$last\"; fi\n");
    std::filesystem::permissions(m.joulebench, std::filesystem::perms::owner_all);
    const auto shard =
        test::run_process({"/bin/sh", "-c", shard_array_script(m, where + "/out", {1, 2, 3})},
                          with_env("SLURM_ARRAY_TASK_ID", "2"));
    ASSERT_EQ(shard.exit_code, 0) << shard.err;
    EXPECT_EQ(shard.out, "<run>\n<" + m.experiment_file.string() +
                             ">\n<--shard>\n<2/3>\n<--db>\n<" + where + "/out/shard-2.db>\n");
    // The merge job with two of three shard stores: merges those two, then reports.
    test::write_file(where + "/out/shard-1.db", "");
    test::write_file(where + "/out/shard-3.db", "");
    const auto merge = test::run_process({"/bin/sh", "-c", merge_script(m, where + "/out")},
                                         with_env("SLURM_JOB_ID", "77"));
    ASSERT_EQ(merge.exit_code, 0) << merge.err;
    const std::string out = where + "/out";
    EXPECT_EQ(merge.out, "<merge>\n<" + out + "/shard-1.db>\n<" + out + "/shard-3.db>\n<-o>\n<" +
                             out + "/results.db.merging-77>\n<report>\n<" + out +
                             "/results.db>\n<-o>\n<" + out + "/report.html>\n");
    EXPECT_TRUE(std::filesystem::exists(out + "/results.db"));
}

TEST(SlurmScripts, OptionsAreCheckedBeforeAnythingIsWritten) {
    SlurmOptions ok;
    ok.shards = 2;
    EXPECT_NO_THROW(validate_options(ok));
    const auto refused = [](SlurmOptions o, const std::string& what) {
        try {
            validate_options(o);
            ADD_FAILURE() << "accepted " << what;
        } catch (const Error& e) {
            EXPECT_EQ(e.exit_code(), 2);
            EXPECT_THAT(e.what(), HasSubstr(what));
        }
    };
    SlurmOptions o = ok;
    o.partition = "gpu a";
    refused(o, "--partition");
    o = ok;
    o.time = "1:00\n#SBATCH --x";
    refused(o, "--time");
    o = ok;
    o.sbatch_args = {"qos=long"};
    refused(o, "--sbatch-arg");
    o = ok;
    o.sbatch_args = {"--comment=a\nb"};
    refused(o, "line break");
    o = ok;
    o.shards = 0;
    refused(o, "--shards");
    EXPECT_EQ(sbatch_line("--qos=long"), "--qos=long");
    EXPECT_EQ(sbatch_line("--comment=a b"), "--comment=\"a b\"");
}

}  // namespace
}  // namespace joulebench::cluster
