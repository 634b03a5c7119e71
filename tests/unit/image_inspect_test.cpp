// The image audit's parts that need no container engine: parsing `history` output of both
// engines, the probe's JSON line, docker's human sizes, which variables are flagged, the probe
// script itself (run with this machine's /usr/bin/python3, compared with what that interpreter
// reports on its own), and the command runner (output, exit status, deadline, missing program,
// its process group and its drain after the exit).

#include "images/image_inspect.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "fakes/test_support.hpp"
#include "images/command_output.hpp"
#include "joulebench/error.hpp"

namespace joulebench::images {
namespace {

using ::testing::HasSubstr;

TEST(ImageHistoryParse, DockerPrintsOneObjectPerLineWithSizesAsDecimalStrings) {
    // `docker history --no-trunc --human=false --format '{{json .}}'` (docker 28).
    const std::string text =
        R"({"Comment":"","CreatedAt":"2026-11-21T17:00:00Z","CreatedBy":"/bin/sh -c #(nop)  ENV A=1","CreatedSince":"1 minute ago","ID":"sha256:aaaa","Size":"0"})"
        "\n"
        R"({"Comment":"Imported from -","CreatedAt":"2026-11-21T16:00:00Z","CreatedBy":"","CreatedSince":"1 hour ago","ID":"<missing>","Size":"1996800"})"
        "\n";
    const auto layers = parse_history(text, "test");
    ASSERT_EQ(layers.size(), 2U);
    EXPECT_EQ(layers[0].id, "sha256:aaaa");
    EXPECT_EQ(layers[0].created_by, "/bin/sh -c #(nop)  ENV A=1");
    EXPECT_EQ(layers[0].size_bytes, 0U);
    EXPECT_EQ(layers[0].created, "2026-11-21T17:00:00Z");
    EXPECT_EQ(layers[1].id, "<missing>");
    EXPECT_EQ(layers[1].size_bytes, 1996800U);
    EXPECT_EQ(layers[1].comment, "Imported from -");
}

TEST(ImageHistoryParse, PodmanPrintsOneArrayWithNumericSizes) {
    // `podman history --no-trunc --human=false --format '{{json .}}'` (podman 4.3).
    const std::string text =
        R"([{"id":"9e70","created":"2026-11-21T16:47:54.3Z","CreatedBy":"/bin/sh -c #(nop) ADD file:1b11 in /","size":1996800,"comment":"imported busybox","Created":"2026-11-21T16:47:54Z"},
{"id":"<missing>","created":"2026-11-20T10:00:00Z","CreatedBy":"","size":12,"comment":""}])";
    const auto layers = parse_history(text, "test");
    ASSERT_EQ(layers.size(), 2U);
    EXPECT_EQ(layers[0].id, "9e70");
    EXPECT_EQ(layers[0].created, "2026-11-21T16:47:54.3Z");
    EXPECT_EQ(layers[0].size_bytes, 1996800U);
    EXPECT_EQ(layers[0].comment, "imported busybox");
    EXPECT_EQ(layers[1].size_bytes, 12U);
}

TEST(ImageHistoryParse, RefusesHumanSizesAndNonJsonLinesNamingTheLine) {
    try {
        (void)parse_history(R"({"ID":"a","Size":"2MB","CreatedBy":""})", "`docker history x`");
        FAIL() << "a human size was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kIo);
        EXPECT_THAT(e.what(), HasSubstr("`docker history x`"));
        EXPECT_THAT(e.what(), HasSubstr("no size in bytes"));
        EXPECT_THAT(e.what(), HasSubstr("\"2MB\""));
    }
    try {
        (void)parse_history("{\"ID\":\"a\",\"Size\":\"1\"}\nWARNING: something\n", "h");
        FAIL() << "a non-JSON line was accepted";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("line 2 is not a JSON object: WARNING: something"));
    }
    EXPECT_TRUE(parse_history("", "h").empty());
}

TEST(ImageProbeParse, TakesTheLastJsonLineAndKeepsNullsApart) {
    SoftwareProbe probe;
    const std::string out =
        "a banner the image's sitecustomize printed\n"
        R"({"python": "3.10.12", "python_executable": "/usr/bin/python3", "torch": "2.6.0+cu126", "torch_error": null, "torch_cuda": "12.6", "cudnn": "90501", "torchvision": null, "torchvision_error": "ImportError: libpng missing", "cuda_toolkit": null, "cuda_toolkit_source": null, "cudart": ["/usr/local/lib/python3.10/dist-packages/nvidia/cuda_runtime/lib/libcudart.so.12"]})"
        "\n";
    ASSERT_TRUE(parse_probe_output(out, probe));
    EXPECT_EQ(probe.python, "3.10.12");
    EXPECT_EQ(probe.torch, "2.6.0+cu126");
    EXPECT_EQ(probe.torch_error, "");
    EXPECT_EQ(probe.torch_cuda, "12.6");
    EXPECT_EQ(probe.cudnn, "90501");
    EXPECT_FALSE(probe.torchvision.has_value());
    EXPECT_EQ(probe.torchvision_error, "ImportError: libpng missing");
    EXPECT_FALSE(probe.cuda_toolkit.has_value());
    ASSERT_EQ(probe.cudart.size(), 1U);
    EXPECT_THAT(probe.cudart[0], HasSubstr("libcudart.so.12"));
    EXPECT_EQ(probe.raw.at("python"), "3.10.12");
}

TEST(ImageProbeParse, TorchAbsentWithoutAReasonIsNotInstalledAndNoJsonIsFalse) {
    SoftwareProbe probe;
    ASSERT_TRUE(parse_probe_output(R"({"python": "3.12.1"})", probe));
    EXPECT_FALSE(probe.torch.has_value());
    EXPECT_EQ(probe.torch_error, "not installed");
    EXPECT_EQ(probe.torchvision_error, "not installed");
    SoftwareProbe none;
    EXPECT_FALSE(parse_probe_output("Traceback (most recent call last):\nSyntaxError\n", none));
    EXPECT_FALSE(parse_probe_output("", none));
    EXPECT_FALSE(parse_probe_output("[1, 2]\n", none));
}

TEST(ImageHumanSize, MatchesDockersDecimalThreeDigitSizes) {
    // Values docker history prints for these sizes (units.HumanSizeWithPrecision(size, 3)).
    EXPECT_EQ(human_size(0), "0B");
    EXPECT_EQ(human_size(999), "999B");
    EXPECT_EQ(human_size(1234), "1.23kB");
    EXPECT_EQ(human_size(1996800), "2MB");
    EXPECT_EQ(human_size(77800000), "77.8MB");
    EXPECT_EQ(human_size(123456789), "123MB");
    EXPECT_EQ(human_size(1394575360), "1.39GB");
}

TEST(ImageEnvRelevance, FlagsThreadAllocatorAndGpuVariablesOnly) {
    EXPECT_THAT(env_relevance("PYTORCH_CUDA_ALLOC_CONF"), HasSubstr("allocator"));
    EXPECT_THAT(env_relevance("OMP_NUM_THREADS"), HasSubstr("threads"));
    EXPECT_THAT(env_relevance("MKL_NUM_THREADS"), HasSubstr("MKL"));
    EXPECT_THAT(env_relevance("MKL_ENABLE_INSTRUCTIONS"), HasSubstr("MKL"));
    EXPECT_FALSE(env_relevance("CUDA_VERSION").empty());
    EXPECT_FALSE(env_relevance("CUDA_CACHE_DISABLE").empty());
    EXPECT_FALSE(env_relevance("NVIDIA_VISIBLE_DEVICES").empty());
    EXPECT_FALSE(env_relevance("NVIDIA_TF32_OVERRIDE").empty());
    EXPECT_FALSE(env_relevance("TORCH_USE_FLOAT16").empty());
    EXPECT_FALSE(env_relevance("KMP_BLOCKTIME").empty());
    EXPECT_TRUE(env_relevance("PATH").empty());
    EXPECT_TRUE(env_relevance("LANG").empty());
    EXPECT_TRUE(env_relevance("HOME").empty());
    EXPECT_TRUE(env_relevance("PYTHONPATH").empty());
    EXPECT_TRUE(env_relevance("XCUDA_X").empty());
}

CommandOptions slow_options() {
    CommandOptions options;
    options.timeout = std::chrono::seconds(120);  // importing torch on a loaded machine
    return options;
}

// The probe script with this machine's Debian interpreter: what it reports must be what the
// interpreter reports about itself (asked separately, without the probe's code).
TEST(ImageProbeScript, ReportsTheInterpretersOwnVersionsOnTheHost) {
    if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
    const auto own = run_command(
        {"/usr/bin/python3", "-c", "import platform; print(platform.python_version())"});
    ASSERT_EQ(own.exit_code, 0) << own.err;
    const auto probe_out =
        run_command({"/usr/bin/python3", "-c", std::string(probe_script())}, slow_options());
    ASSERT_EQ(probe_out.exit_code, 0) << probe_out.err;
    SoftwareProbe probe;
    ASSERT_TRUE(parse_probe_output(probe_out.out, probe)) << probe_out.out;
    EXPECT_EQ(probe.python, last_line(own.out));
    EXPECT_EQ(probe.raw.at("probe"), "joulebench-image-probe/1");

    const auto torch =
        run_command({"/usr/bin/python3", "-c",
                     "import torch; print(torch.__version__); print(torch.version.cuda)"},
                    slow_options());
    if (torch.exit_code != 0) {
        EXPECT_FALSE(probe.torch.has_value());
        EXPECT_EQ(probe.torch_error, "not installed");
        return;
    }
    const auto newline = torch.out.find('\n');
    ASSERT_NE(newline, std::string::npos);
    EXPECT_EQ(probe.torch, torch.out.substr(0, newline));
    const std::string cuda = last_line(torch.out);
    if (cuda == "None") {
        EXPECT_FALSE(probe.torch_cuda.has_value());
    } else {
        EXPECT_EQ(probe.torch_cuda, cuda);
    }
}

TEST(ImageProbeScript, AModuleThatIsAbsentIsNotInstalled) {
    if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
    // -S: no site-packages or dist-packages, so torch cannot be found.
    const auto out = run_command({"/usr/bin/python3", "-S", "-c", std::string(probe_script())});
    ASSERT_EQ(out.exit_code, 0) << out.err;
    SoftwareProbe probe;
    ASSERT_TRUE(parse_probe_output(out.out, probe)) << out.out;
    EXPECT_TRUE(probe.python.has_value());
    EXPECT_FALSE(probe.torch.has_value());
    EXPECT_EQ(probe.torch_error, "not installed");
    EXPECT_EQ(probe.torchvision_error, "not installed");
}

TEST(ImageCommand, CapturesBothStreamsAndTheExitStatus) {
    const auto out = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
    EXPECT_EQ(out.exit_code, 3);
    EXPECT_EQ(out.out, "out\n");
    EXPECT_EQ(out.err, "err\n");
    EXPECT_FALSE(out.timed_out);
}

TEST(ImageCommand, ReadsLargeOutputOfBothStreamsWithoutBlocking) {
    // 1 MiB on each stream: more than a pipe holds, so both must be read as they come.
    const auto out =
        run_command({"sh", "-c", "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2"});
    EXPECT_EQ(out.exit_code, 0);
    EXPECT_EQ(out.out.size(), 1048576U);
    EXPECT_EQ(out.err.size(), 1048576U);
}

TEST(ImageCommand, KillsACommandAtItsDeadline) {
    CommandOptions options;
    options.timeout = std::chrono::milliseconds(300);
    const auto out = run_command({"sleep", "30"}, options);
    EXPECT_TRUE(out.timed_out);
    EXPECT_EQ(out.signal, 9);
}

// Whether `pid` is a process that still runs (not gone, not a zombie).
bool still_runs(pid_t pid) {
    std::ifstream stat(fmt::format("/proc/{}/stat", pid));
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

// Whether the process whose pid is in `pid_file` is gone, or is within a second.
bool ends_soon(const std::filesystem::path& pid_file) {
    std::ifstream in(pid_file);
    pid_t pid = -1;
    in >> pid;
    if (pid <= 0) return false;
    for (int i = 0; i < 100 && still_runs(pid); ++i) ::usleep(10'000);
    return !still_runs(pid);
}

TEST(ImageCommand, DrainAfterExitStopsReadingWhatTheCommandLeftRunningAndKillsItsGroup) {
    test::TempDir dir("joulebench-command");
    const auto pid_file = dir.path() / "pid";
    CommandOptions options;
    options.timeout = std::chrono::seconds(20);
    options.kill_group = true;
    options.drain_after_exit = std::chrono::milliseconds(200);
    // The background sleep keeps both pipes open long after the command itself has exited.
    const auto started = std::chrono::steady_clock::now();
    const auto out = run_command(
        {"sh", "-c",
         fmt::format("sleep 30 & echo $! > {}; echo out; echo err >&2; exit 4", pid_file.string())},
        options);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
    EXPECT_FALSE(out.timed_out);
    EXPECT_EQ(out.exit_code, 4);
    EXPECT_EQ(out.out, "out\n");
    EXPECT_EQ(out.err, "err\n");
    EXPECT_TRUE(ends_soon(pid_file)) << "the command's group outlived it";
}

TEST(ImageCommand, KillGroupEndsWhatTheCommandStartedAtTheDeadline) {
    test::TempDir dir("joulebench-command");
    const auto pid_file = dir.path() / "pid";
    CommandOptions options;
    options.timeout = std::chrono::milliseconds(300);
    options.kill_group = true;
    const auto out = run_command(
        {"sh", "-c", fmt::format("sleep 30 & echo $! > {}; wait", pid_file.string())}, options);
    EXPECT_TRUE(out.timed_out);
    EXPECT_EQ(out.signal, 9);
    EXPECT_TRUE(ends_soon(pid_file));
}

TEST(ImageCommand, WatchingTheExitACommandThatClosesItsOutputStillEndsAtTheDeadline) {
    CommandOptions options;
    options.timeout = std::chrono::milliseconds(300);
    options.drain_after_exit = std::chrono::milliseconds(200);
    const auto out = run_command({"sh", "-c", "exec >/dev/null 2>&1; exec sleep 30"}, options);
    EXPECT_TRUE(out.timed_out);
    EXPECT_EQ(out.signal, 9);
}

TEST(ImageCommand, AMissingProgramIsNotFound) {
    try {
        (void)run_command({"joulebench-no-such-program"});
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
        EXPECT_EQ(e.exit_code(), 127);
        EXPECT_THAT(e.what(),
                    HasSubstr("image: run joulebench-no-such-program: not found on PATH"));
    }
}

TEST(ImageInspect, RefusesAnUnknownEngineAndAnEmptyImageBeforeRunningAnything) {
    try {
        (void)inspect_image("containerd", "busybox");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_THAT(e.what(), HasSubstr("unknown engine 'containerd'"));
        EXPECT_EQ(e.hint(), "use docker or podman");
    }
    try {
        (void)inspect_image("docker", "");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
    }
    try {
        (void)inspect_image("podman", "--all");
        FAIL();
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("not an image name"));
    }
}

TEST(ImageInspect, AnEngineNotOnPathIsNotFound) {
    const test::TempDir empty;
    const test::ScopedEnv path("PATH", empty.path().string());
    try {
        (void)inspect_image("docker", "busybox");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound);
        EXPECT_THAT(e.what(), HasSubstr("image: run docker: not found on PATH"));
        EXPECT_THAT(e.hint(), HasSubstr("apt-get install docker.io"));
        EXPECT_EQ(e.exit_code(), 127);
    }
}

// A docker client that answers `image inspect`, `history` and `version`, and logs each call.
class LoggingEngine {
public:
    LoggingEngine() {
        const auto script = m_dir.path() / "docker";
        test::write_file(
            script, fmt::format("#!/bin/sh\n"
                                "echo \"$*\" >> {}\n"
                                "case \"$1\" in\n"
                                "  image) echo '[{{\"Id\":\"sha256:fresh\",\"Size\":1}}]' ;;\n"
                                "  history) echo '{{\"ID\":\"<missing>\",\"Size\":\"1\"}}' ;;\n"
                                "  version) echo 1.0 ;;\n"
                                "esac\n",
                                log().string()));
        ::chmod(script.c_str(), 0755);
        m_env.emplace("JOULEBENCH_DOCKER", script.string());
    }
    [[nodiscard]] std::filesystem::path log() const { return m_dir.path() / "calls"; }
    [[nodiscard]] std::string calls() const {
        std::ifstream in(log());
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

private:
    test::TempDir m_dir{"joulebench-engine"};
    std::optional<test::ScopedEnv> m_env;
};

TEST(ImageInspect, AsksTheEngineForTheImageItsHistoryAndItsVersion) {
    const LoggingEngine engine;
    InspectOptions options;
    options.probe = false;
    const ImageInfo info = inspect_image("docker", "img", options);
    EXPECT_EQ(info.id, "sha256:fresh");
    EXPECT_EQ(info.engine_version, "1.0");
    EXPECT_EQ(engine.calls(),
              "image inspect img\n"
              "history --no-trunc --human=false --format {{json .}} sha256:fresh\n"
              "version --format {{.Server.Version}}\n");
}

TEST(ImageInspect, AnswersTheCallerAlreadyHasAreNotAskedForAgain) {
    const LoggingEngine engine;
    InspectOptions options;
    options.probe = false;
    CommandOutput inspected;
    inspected.exit_code = 0;
    inspected.out = R"([{"Id":"sha256:given","Size":7,"Config":{"Entrypoint":["/e"]}}])";
    options.inspected = inspected;
    options.engine_version = "2.5";
    const ImageInfo info = inspect_image("docker", "img", options);
    EXPECT_EQ(info.id, "sha256:given");
    EXPECT_EQ(info.size_bytes, 7U);
    EXPECT_THAT(info.entrypoint, ::testing::ElementsAre("/e"));
    EXPECT_EQ(info.engine_version, "2.5");
    EXPECT_EQ(engine.calls(),
              "history --no-trunc --human=false --format {{json .}} sha256:given\n");
}

TEST(ImageLastLine, SkipsTrailingBlankLines) {
    EXPECT_EQ(last_line("a\nb\n\n  \n"), "b");
    EXPECT_EQ(last_line("  only  "), "only");
    EXPECT_EQ(last_line(""), "");
    EXPECT_EQ(last_line("\n\n"), "");
}

}  // namespace
}  // namespace joulebench::images
