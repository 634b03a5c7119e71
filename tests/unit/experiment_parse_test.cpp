// The experiment file: the README example parses into exactly what it says, durations, and every
// validation error names the file, the line and the problem.

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"

namespace joulebench {
namespace {

using namespace std::chrono_literals;

std::string lines(std::initializer_list<const char*> text) {
    std::string out;
    for (const char* line : text) out += std::string(line) + "\n";
    return out;
}

const std::string kDataDir = std::string(JOULEBENCH_TEST_DATA_DIR) + "/experiments";

TEST(ExperimentParse, ReadmeExampleParsesIntoEveryField) {
    const ExperimentSpec spec = parse_experiment_file(kDataDir + "/docker-vs-bare.toml");
    EXPECT_EQ(spec.name, "docker-vs-bare");
    EXPECT_EQ(spec.repetitions, 10u);
    EXPECT_EQ(spec.order, RunOrder::kShuffled);
    EXPECT_EQ(spec.seed, 7u);
    EXPECT_TRUE(spec.seed_given);
    EXPECT_EQ(spec.warmup.kind, WarmupSpec::Kind::kDuration);
    EXPECT_EQ(spec.warmup.duration, 60s);
    EXPECT_EQ(spec.rest.kind, RestSpec::Kind::kBaseline);
    ASSERT_EQ(spec.workloads.size(), 2u);
    EXPECT_EQ(spec.workloads[0].name, "resnet50-infer");
    EXPECT_EQ(spec.workloads[0].command,
              (std::vector<std::string>{"python3", "workloads/resnet50_infer.py"}));
    EXPECT_EQ(spec.workloads[0].timeout, std::chrono::milliseconds(30min));
    EXPECT_EQ(spec.workloads[0].metrics, MetricsFormat::kJsonLine);
    ASSERT_EQ(spec.workloads[0].env.size(), 1u);
    EXPECT_EQ(spec.workloads[0].env[0],
              (std::pair<std::string, std::string>{"OMP_NUM_THREADS", "8"}));
    EXPECT_EQ(spec.workloads[0].where.line, 10);
    EXPECT_FALSE(spec.workloads[1].timeout.has_value());
    EXPECT_EQ(spec.workloads[1].metrics, MetricsFormat::kNone);
    ASSERT_EQ(spec.environments.size(), 2u);
    EXPECT_EQ(spec.environments[0].type, EnvironmentType::kBare);
    EXPECT_EQ(spec.environments[1].type, EnvironmentType::kDocker);
    EXPECT_EQ(spec.environments[1].image, "joulebench/resnet:cpu");
    EXPECT_EQ(spec.environments[1].run_args, (std::vector<std::string>{"--shm-size", "1g"}));
    EXPECT_EQ(spec.power_caps.gpu_w, (std::vector<double>{150, 200, 250}));
    EXPECT_EQ(spec.power_caps.gpu_where.line, 34);
    EXPECT_TRUE(spec.power_caps.cpu_w.empty());
    ASSERT_TRUE(spec.gpus.has_value());
    EXPECT_FALSE(spec.gpus->all);
    EXPECT_EQ(spec.gpus->devices, (std::vector<int>{0, 1}));
    EXPECT_EQ(spec.source_text, test::read_file(kDataDir + "/docker-vs-bare.toml"));
    EXPECT_EQ(spec.source_sha256.size(), 64u);
}

TEST(ExperimentParse, SshEnvironmentRangeCapsCommandWarmup) {
    const ExperimentSpec spec = parse_experiment_file(kDataDir + "/kvm-guest.toml");
    EXPECT_EQ(spec.order, RunOrder::kInterleaved);
    EXPECT_FALSE(spec.seed_given);
    EXPECT_EQ(spec.seed, seed_from_name("kvm-vs-bare"));
    EXPECT_EQ(spec.warmup.kind, WarmupSpec::Kind::kCommand);
    EXPECT_EQ(spec.warmup.command.front(), "joulebench");
    EXPECT_EQ(spec.rest.kind, RestSpec::Kind::kDuration);
    EXPECT_EQ(spec.rest.duration, 30s);
    const EnvironmentSpec& kvm = spec.environments.at(1);
    EXPECT_EQ(kvm.type, EnvironmentType::kSsh);
    EXPECT_EQ(kvm.host, "192.168.122.10");
    EXPECT_EQ(kvm.user, "bench");
    EXPECT_EQ(kvm.port, 2222);
    EXPECT_EQ(kvm.identity_file, "~/.ssh/id_ed25519");
    EXPECT_EQ(kvm.remote_joulebench, "/usr/local/bin/joulebench");
    // 108, 116, ..., 260: (260 - 108) / 8 + 1 = 20 caps.
    ASSERT_EQ(spec.power_caps.gpu_w.size(), 20u);
    EXPECT_EQ(spec.power_caps.gpu_w.front(), 108.0);
    EXPECT_EQ(spec.power_caps.gpu_w[1], 116.0);
    EXPECT_EQ(spec.power_caps.gpu_w.back(), 260.0);
    EXPECT_EQ(spec.power_caps.cpu_w, (std::vector<double>{65, 95}));
    EXPECT_TRUE(spec.gpus->all);
}

TEST(ExperimentParse, MinimalFileGetsDefaults) {
    const ExperimentSpec spec =
        parse_experiment_text(lines({"[experiment]", "name = \"m\"", "repetitions = 3",
                                     "[[workload]]", "name = \"w\"", "command = [\"true\"]"}),
                              "m.toml");
    EXPECT_EQ(spec.order, RunOrder::kShuffled);
    EXPECT_EQ(spec.warmup.kind, WarmupSpec::Kind::kNone);
    EXPECT_EQ(spec.rest.kind, RestSpec::Kind::kNone);
    ASSERT_EQ(spec.environments.size(), 1u);  // an implicit bare environment
    EXPECT_EQ(spec.environments[0].name, "bare");
    EXPECT_EQ(spec.environments[0].type, EnvironmentType::kBare);
    EXPECT_FALSE(spec.gpus.has_value());
    EXPECT_TRUE(spec.power_caps.gpu_w.empty());
    EXPECT_EQ(spec.source_name, "m.toml");
}

TEST(ExperimentParse, FractionalRangeIsRoundedAndDistinctCapsAreSorted) {
    const ExperimentSpec spec = parse_experiment_text(
        lines({"[experiment]", "name = \"m\"", "repetitions = 1", "[[workload]]", "name = \"w\"",
               "command = [\"true\"]", "[power_caps]",
               "gpu_w = { from = 0.1, to = 0.5, step = 0.1 }", "cpu_w = [95, 65.5]"}),
        "m.toml");
    EXPECT_EQ(spec.power_caps.gpu_w, (std::vector<double>{0.1, 0.2, 0.3, 0.4, 0.5}));
    EXPECT_EQ(format_watts(spec.power_caps.gpu_w[2]), "0.3");
    EXPECT_EQ(distinct_cpu_caps(spec), (std::vector<double>{65.5, 95}));
    EXPECT_EQ(distinct_gpu_caps(spec).size(), 5u);
}

TEST(ExperimentParse, MissingFileIsNotFound) {
    try {
        (void)parse_experiment_file("/nonexistent/exp.toml");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
        EXPECT_NE(std::string(e.what()).find("/nonexistent/exp.toml"), std::string::npos);
    }
}

// A NUL in any string or key would cut argv, the environment or a name short (`tr\u0000ue` ran
// `tr`): refused with the file and line of the string (issue 13, defect 4).
TEST(ExperimentParse, ANulCharacterAnywhereIsRefusedWithItsLine) {
    const std::string head =
        "[experiment]\nname = \"n\"\nrepetitions = 1\n"
        "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"[[workload]]\nname = \"w\"\ncommand = [\"tr\\u0000ue\"]\n", "e.toml:9: a string"},
        {"[[workload]]\nname = \"w\\u0000x\"\ncommand = [\"true\"]\n", "e.toml:8: a string"},
        {"[[workload]]\nname = \"w\"\ncommand = [\"true\"]\nenv = { A = \"1\\u0000\" }\n",
         "e.toml:10: a string"},
        {"[[workload]]\nname = \"w\"\ncommand = [\"true\"]\nenv = { \"A\\u0000B\" = \"1\" }\n",
         "e.toml:10: a key"},
    };
    for (const auto& [body, expected] : cases) {
        try {
            (void)parse_experiment_text(head + body, "e.toml");
            ADD_FAILURE() << "accepted: " << body;
        } catch (const Error& e) {
            EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
            EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("NUL"), std::string::npos) << e.what();
        }
    }
    // The same file without the NUL parses.
    EXPECT_NO_THROW((void)parse_experiment_text(
        head + "[[workload]]\nname = \"w\"\ncommand = [\"true\"]\n", "e.toml"));
}

// A plan too large to hold is refused naming its size and the limit, before anything is
// expanded (1e6 repetitions x 100 caps ended in std::bad_alloc: issue 13, defect 7).
TEST(ExperimentParse, AHugePlanIsRefusedNamingItsSizeAndTheLimit) {
    const std::string file =
        "[experiment]\nname = \"n\"\nrepetitions = 1000000\n"
        "[[workload]]\nname = \"w\"\ncommand = [\"true\"]\n"
        "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n"
        "[power_caps]\ngpu_w = { from = 100, to = 199, step = 1 }\n";
    try {
        (void)parse_experiment_text(file, "big.toml");
        FAIL() << "a plan of 1e8 runs was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("big.toml: the plan would have 100000000 runs (1 "
                                             "workloads x 1 environments x 100 GPU caps x 1 CPU "
                                             "caps x 1000000 repetitions), more than the limit "
                                             "of 1000000"),
                  std::string::npos)
            << e.what();
    }
    // At the limit it is accepted.
    std::string at_limit = file;
    at_limit.replace(at_limit.find("to = 199"), 8, "to = 100");
    EXPECT_NO_THROW((void)parse_experiment_text(at_limit, "big.toml"));
}

// An image name the engines would not accept is refused at parse time with its line: one that
// starts with '-' would reach `docker create` as an option (issue 13, defect 9).
TEST(ExperimentParse, ImageNamesAreCheckedAsDockerAndPodmanWould) {
    const auto file = [](const std::string& image) {
        return "[experiment]\nname = \"n\"\nrepetitions = 1\n"
               "[[workload]]\nname = \"w\"\ncommand = [\"true\"]\n"
               "[[environment]]\nname = \"c\"\ntype = \"docker\"\nimage = \"" +
               image + "\"\n";
    };
    const std::string hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    for (const std::string& good :
         {std::string("busybox"), std::string("busybox:1.36"),
          std::string("joulebench/debian-cpu:latest"),
          std::string("registry.example.org:5000/team/img:v1.2-rc_3"),
          "ghcr.io/a/b@sha256:" + hex, std::string("0123456789ab"), "sha256:" + hex}) {
        EXPECT_NO_THROW((void)parse_experiment_text(file(good), "e.toml")) << good;
    }
    for (const char* bad :
         {"-v", "--privileged", "Busybox", "img:", "img:-tag", "a//b", "img name", "img@sha256:xyz"}) {
        try {
            (void)parse_experiment_text(file(bad), "e.toml");
            ADD_FAILURE() << "accepted image " << bad;
        } catch (const Error& e) {
            EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
            EXPECT_NE(std::string(e.what()).find("e.toml:10:"), std::string::npos) << e.what();
        }
    }
}

// A store holds one experiment: the parsed document, not its text (issue 22, item 3).
TEST(ExperimentIdentity, CommentsWhitespaceAndKeyOrderDoNotCountValuesDo) {
    const std::string a = "[experiment]\nname = \"n\"\nrepetitions = 3\n[[workload]]\nname = \"w\"\ncommand = [\"true\"]\n";
    EXPECT_TRUE(same_experiment_text(a, a));
    EXPECT_TRUE(same_experiment_text(
        a, "# comment\n[experiment]\nrepetitions=3 # three\n\nname = 'n'\n[[workload]]\ncommand=[ \"true\" ]\nname=\"w\"\n"));
    EXPECT_FALSE(same_experiment_text(a, "[experiment]\nname = \"n\"\nrepetitions = 4\n[[workload]]\nname = \"w\"\ncommand = [\"true\"]\n"));
    EXPECT_FALSE(same_experiment_text(a, "[experiment]\nname = \"n\"\nrepetitions = 3\n[[workload]]\nname = \"w\"\ncommand = [\"true\", \"x\"]\n"));
    EXPECT_FALSE(same_experiment_text(a, "not toml ["));
    EXPECT_FALSE(same_experiment_text("not toml [", "not toml [ "));
}

TEST(Duration, ParsesUnitsAndRejectsTheRest) {
    EXPECT_EQ(parse_duration("500ms"), std::chrono::milliseconds(500));
    EXPECT_EQ(parse_duration("60s"), std::chrono::milliseconds(60000));
    EXPECT_EQ(parse_duration("1.5s"), std::chrono::milliseconds(1500));
    EXPECT_EQ(parse_duration("30m"), std::chrono::milliseconds(1800000));
    EXPECT_EQ(parse_duration("2min"), std::chrono::milliseconds(120000));
    EXPECT_EQ(parse_duration("2h"), std::chrono::milliseconds(7200000));
    EXPECT_EQ(parse_duration("0s"), std::chrono::milliseconds(0));
    EXPECT_EQ(parse_duration("0.0004s"), std::chrono::milliseconds(0));
    EXPECT_EQ(parse_duration("0.0006s"), std::chrono::milliseconds(1));
    for (const char* bad : {"", "60", "s", "-5s", "5 s", "5sec", "1e3s", ".5s", "5.s", "1..2s",
                            "abc", "5S", "100000h"}) {
        EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
    }
    EXPECT_EQ(format_duration_ms(std::chrono::milliseconds(3723500)), "1h 2m 3.5s");
    EXPECT_EQ(format_duration_ms(std::chrono::milliseconds(60000)), "1m");
    EXPECT_EQ(format_duration_ms(std::chrono::milliseconds(250)), "250ms");
}

TEST(ExperimentParse, WattsFormatting) {
    EXPECT_EQ(format_watts(250.0), "250");
    EXPECT_EQ(format_watts(137.5), "137.5");
    EXPECT_EQ(format_watts(0.1), "0.1");
}

// --- every validation error, with its line ---------------------------------------------------

struct ErrorCase {
    const char* name;
    std::string text;
    int line;
    const char* message;  ///< a part of the message
    const char* hint;     ///< a part of the hint, or ""
};

const std::string kHead = lines({"[experiment]", "name = \"e\"", "repetitions = 2"});       // 1-3
const std::string kWork = lines({"[[workload]]", "name = \"w\"", "command = [\"true\"]"});  // 4-6

std::vector<ErrorCase> error_cases() {
    return {
        {"UnknownKeySuggests",
         lines({"[experiment]", "name = \"e\"", "repetitions = 2", "sed = 4"}) + kWork, 4,
         "unknown key 'sed' in [experiment]", "did you mean 'seed'?"},
        {"UnknownKeyListsAllowed",
         kHead + lines({"[[workload]]", "name = \"w\"", "command = [\"true\"]", "zzzzzzzzzz = 1"}),
         7, "unknown key 'zzzzzzzzzz' in [[workload]]",
         "allowed keys: name, command, timeout, env, metrics"},
        {"UnknownTable", kHead + kWork + lines({"[power_cap]", "gpu_w = [100]"}), 7,
         "unknown key 'power_cap' in the file", "did you mean 'power_caps'?"},
        {"WrongTypeRepetitions",
         lines({"[experiment]", "name = \"e\"", "repetitions = \"3\""}) + kWork, 3,
         "repetitions must be an integer, not a string", ""},
        {"WrongTypeName", lines({"[experiment]", "name = 5", "repetitions = 3"}) + kWork, 2,
         "experiment name must be a string, not an integer", ""},
        {"ZeroRepetitions", lines({"[experiment]", "name = \"e\"", "repetitions = 0"}) + kWork, 3,
         "repetitions must be at least 1, not 0", ""},
        {"NegativeSeed", kHead + lines({"seed = -1"}) + kWork, 4, "seed must not be negative", ""},
        {"UnknownOrder", kHead + lines({"order = \"shuffle\""}) + kWork, 4,
         "unknown order 'shuffle'", "did you mean 'shuffled'?"},
        {"MissingName", lines({"", "[experiment]", "repetitions = 2"}) + kWork, 2,
         "[experiment] has no 'name' (required)", ""},
        {"MissingRepetitions", lines({"[experiment]", "name = \"e\""}) + kWork, 1,
         "[experiment] has no 'repetitions' (required)", ""},
        {"MissingExperiment", kWork, 1, "no [experiment] table", ""},
        {"NoWorkload", kHead, 0, "no [[workload]]", ""},
        {"WorkloadAsTable", kHead + lines({"[workload]", "name = \"w\"", "command = [\"true\"]"}),
         4, "'workload' must be written [[workload]]", "two brackets"},
        {"MissingCommand", kHead + lines({"[[workload]]", "name = \"w\""}), 4,
         "[[workload]] has no 'command' (required)", ""},
        {"CommandString",
         kHead + lines({"[[workload]]", "name = \"w\"", "command = \"python3 x.py\""}), 6,
         "command of workload 'w' must be an array of arguments, not a string",
         "[\"sh\", \"-c\", \"python3 x.py\"]"},
        {"EmptyCommand", kHead + lines({"[[workload]]", "name = \"w\"", "command = []"}), 6,
         "command of workload 'w' must not be empty", ""},
        {"CommandNotStrings",
         kHead + lines({"[[workload]]", "name = \"w\"", "command = [\"a\", 1]"}), 6,
         "must hold only strings, not an integer", ""},
        {"DuplicateWorkload",
         kHead + kWork + lines({"[[workload]]", "name = \"w\"", "command = [\"x\"]"}), 8,
         "duplicate workload name 'w'", ""},
        {"EmptyName", kHead + lines({"[[workload]]", "name = \"\"", "command = [\"x\"]"}), 5,
         "workload name must not be empty", ""},
        {"ControlCharacterName",
         kHead + lines({"[[workload]]", "name = \"a\\nb\"", "command = [\"x\"]"}), 5,
         "must not contain control characters", ""},
        {"TimeoutNoUnit", kHead + kWork + lines({"timeout = \"30\""}), 7,
         "timeout '30' is not a duration", "\"60s\""},
        {"TimeoutZero", kHead + kWork + lines({"timeout = \"0s\""}), 7,
         "timeout must be longer than zero", ""},
        {"EnvNotTable", kHead + kWork + lines({"env = \"A=1\""}), 7,
         "env must be a table, not a string", ""},
        {"EnvBadName", kHead + kWork + lines({"env = { 1X = \"1\" }"}), 7,
         "'1X' is not a valid environment variable name", ""},
        {"EnvValueNotString", kHead + kWork + lines({"env = { X = 1 }"}), 7,
         "env.X must be a string, not an integer", ""},
        {"UnknownMetrics", kHead + kWork + lines({"metrics = \"json\""}), 7,
         "unknown metrics format 'json'", "json-line"},
        {"WarmupWrongType", kHead + lines({"warmup = 60"}) + kWork, 4,
         "warmup must be a duration (\"60s\") or a command array, not an integer", ""},
        {"WarmupBadDuration", kHead + lines({"warmup = \"1 minute\""}) + kWork, 4,
         "warmup '1 minute' is not a duration", ""},
        {"RestUnknown", kHead + lines({"rest = \"idle\""}) + kWork, 4,
         "rest 'idle' is neither a duration nor \"baseline\"", ""},
        {"RestZero", kHead + lines({"rest = \"0ms\""}) + kWork, 4, "rest must be longer than zero",
         ""},
        {"UnknownEnvironmentType",
         kHead + kWork + lines({"[[environment]]", "name = \"d\"", "type = \"dokcer\""}), 9,
         "unknown environment type 'dokcer'", "did you mean 'docker'?"},
        {"MissingType", kHead + kWork + lines({"[[environment]]", "name = \"d\""}), 7,
         "environment 'd' has no 'type' (required)", ""},
        {"DockerWithoutImage",
         kHead + kWork + lines({"[[environment]]", "name = \"d\"", "type = \"docker\""}), 7,
         "environment 'd' (type docker) has no 'image' (required)", ""},
        {"ImageOnBare",
         kHead + kWork +
             lines({"[[environment]]", "name = \"b\"", "type = \"bare\"", "image = \"x\""}),
         10, "key 'image' does not apply to environment type 'bare'", "docker, podman and vm"},
        {"HostOnPodman",
         kHead + kWork +
             lines({"[[environment]]", "name = \"p\"", "type = \"podman\"", "image = \"x\"",
                    "host = \"h\""}),
         11, "key 'host' does not apply to environment type 'podman'", "for ssh"},
        {"SshWithoutHost",
         kHead + kWork + lines({"[[environment]]", "name = \"s\"", "type = \"ssh\""}), 7,
         "has no 'host' (required)", ""},
        {"PortOutOfRange",
         kHead + kWork +
             lines({"[[environment]]", "name = \"s\"", "type = \"ssh\"", "host = \"h\"",
                    "port = 70000"}),
         11, "port 70000 is not in 1..65535", ""},
        {"RunArgsNotStrings",
         kHead + kWork +
             lines({"[[environment]]", "name = \"d\"", "type = \"docker\"", "image = \"i\"",
                    "run_args = [1]"}),
         11, "run_args must hold only strings", ""},
        {"DuplicateEnvironment",
         kHead + kWork +
             lines({"[[environment]]", "name = \"b\"", "type = \"bare\"", "[[environment]]",
                    "name = \"b\"", "type = \"bare\""}),
         11, "duplicate environment name 'b'", ""},
        {"CapsEmpty", kHead + kWork + lines({"[power_caps]", "gpu_w = []"}), 8,
         "gpu_w must not be empty", ""},
        {"CapsZero", kHead + kWork + lines({"[power_caps]", "gpu_w = [100, 0]"}), 8,
         "gpu_w: cap 0 W must be more than 0", ""},
        {"CapsNegative", kHead + kWork + lines({"[power_caps]", "cpu_w = [-5]"}), 8,
         "cpu_w: cap -5 W must be more than 0", ""},
        {"CapsTwice", kHead + kWork + lines({"[power_caps]", "gpu_w = [150, 200, 150]"}), 8,
         "gpu_w: cap 150 W is listed twice", ""},
        {"CapsNotNumbers", kHead + kWork + lines({"[power_caps]", "gpu_w = [\"150W\"]"}), 8,
         "gpu_w must hold only numbers (watts), not a string", ""},
        {"CapsWrongType", kHead + kWork + lines({"[power_caps]", "gpu_w = 150"}), 8,
         "gpu_w must be a list of watts or a range { from, to, step }, not an integer", ""},
        {"StepDoesNotReach",
         kHead + kWork + lines({"[power_caps]", "gpu_w = { from = 100, to = 205, step = 10 }"}), 8,
         "step 10 from 100 does not reach 205 (the last value would be 200)", ""},
        {"StepZero",
         kHead + kWork + lines({"[power_caps]", "gpu_w = { from = 100, to = 200, step = 0 }"}), 8,
         "step must be more than 0, not 0", ""},
        {"RangeBackwards",
         kHead + kWork + lines({"[power_caps]", "gpu_w = { from = 200, to = 100, step = 10 }"}), 8,
         "'to' is below 'from'", ""},
        {"RangeMissingStep",
         kHead + kWork + lines({"[power_caps]", "gpu_w = { from = 100, to = 200 }"}), 8,
         "gpu_w range has no 'step' (required)", ""},
        {"RangeUnknownKey",
         kHead + kWork +
             lines({"[power_caps]", "gpu_w = { from = 100, to = 200, stp = 10, step = 10 }"}),
         8, "unknown key 'stp' in gpu_w range", "did you mean 'step'?"},
        {"GpusNotAll", kHead + kWork + lines({"[gpus]", "devices = \"some\""}), 8,
         "devices 'some' is not \"all\" or a list of GPU indices", ""},
        {"GpusEmpty", kHead + kWork + lines({"[gpus]", "devices = []"}), 8,
         "devices must not be empty", ""},
        {"GpusNegative", kHead + kWork + lines({"[gpus]", "devices = [0, -1]"}), 8,
         "GPU index -1 is negative", ""},
        {"GpusTwice", kHead + kWork + lines({"[gpus]", "devices = [1, 1]"}), 8,
         "GPU 1 is listed twice", ""},
        {"GpusMissingDevices", kHead + kWork + lines({"[gpus]"}), 7,
         "[gpus] has no 'devices' (required)", ""},
        {"TomlSyntax", kHead + lines({"[[workload]]", "name = \"w", "command = [\"true\"]"}), 5,
         "TOML syntax", ""},
        {"TomlDuplicateKey",
         lines({"[experiment]", "name = \"e\"", "name = \"f\"", "repetitions = 1"}) + kWork, 3,
         "TOML syntax", ""},
    };
}

class ExperimentError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ExperimentError, NamesFileLineAndProblem) {
    const ErrorCase& c = GetParam();
    try {
        (void)parse_experiment_text(c.text, "exp.toml");
        FAIL() << "no error for:\n" << c.text;
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        const std::string prefix = c.line > 0
                                       ? "experiment: exp.toml:" + std::to_string(c.line) + ": "
                                       : "experiment: exp.toml: ";
        EXPECT_EQ(message.rfind(prefix, 0), 0u) << message << "\nexpected prefix: " << prefix;
        EXPECT_NE(message.find(c.message), std::string::npos)
            << message << "\nexpected: " << c.message;
        if (c.hint[0] != '\0') {
            EXPECT_NE(e.hint().find(c.hint), std::string::npos) << e.hint();
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Validation, ExperimentError, ::testing::ValuesIn(error_cases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& p) {
                             return std::string(p.param.name);
                         });

}  // namespace
}  // namespace joulebench
