// Every output a user names, end to end with the real binary: `export -o`, `report -o`,
// `analyze --json` (CSV and store), `import energibridge --json`, `measure --json`,
// `measure --samples`, `sweep --json` and `tune --json`. A symlink stays a symlink and its target gets the
// content; a FIFO gets the content and stays a FIFO; `-` is standard output and creates no file
// named `-`. And `measure --json-fd N`, which keeps the JSON apart from the command's own output.
// No test names a real device: a write-through that replaced it would replace the system's.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_nvml_builder.hpp"
#include "fakes/test_support.hpp"
#include "unit/report_store_fixture.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;

const char* const kTidyCsv =
    "group,energy\n"
    "a,100.0\na,101.5\na,99.0\na,100.2\na,100.8\na,99.6\n"
    "b,110.0\nb,111.0\nb,109.5\nb,110.4\nb,112.0\nb,110.1\n";

// Reads a FIFO to its end in a thread. finish() also ends a reader still waiting for a writer
// (the command failed before it opened the FIFO), so a broken command fails the test, never
// hangs it.
class FifoReader {
public:
    explicit FifoReader(fs::path path) : m_path(std::move(path)) {
        if (::mkfifo(m_path.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
        m_text = std::async(std::launch::async, [p = m_path] { return read_all(p); });
    }
    std::string finish() {
        const int fd = ::open(m_path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) ::close(fd);
        return m_text.get();
    }

private:
    static std::string read_all(const fs::path& p) {
        const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
        std::string out;
        char buf[4096];
        for (ssize_t n = 0; fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0;) {
            out.append(buf, static_cast<std::size_t>(n));
        }
        if (fd >= 0) ::close(fd);
        return out;
    }

    fs::path m_path;
    std::future<std::string> m_text;
};

// One output option of one command: its arguments with OUT as the output, and a text the output
// must contain.
struct OutputCase {
    std::string name;
    std::function<Args(const fs::path& dir, const std::string& out)> args;
    std::string expected;
    bool needs_nvml = false;
};

class OutputsCli : public ::testing::TestWithParam<OutputCase> {
protected:
    TempDir m_dir{"joulebench-outputs-cli"};
    FakeNvmlState m_nvml{m_dir.path() / "nvml.json", 1};

    void SetUp() override {
        (void)write_report_store(m_dir.path() / "store.db");
        write_file(m_dir.path() / "tidy.csv", kTidyCsv);
        fs::create_directories(m_dir.path() / "work");
    }
    // The command, run in an empty folder `work` (where a file named `-` would appear).
    ProcessResult run(const std::string& out) const {
        ProcessOptions o;
        o.cwd = m_dir.path() / "work";
        o.timeout = std::chrono::seconds(60);
        o.env = {{"JOULEBENCH_POWERCAP_ROOT", (m_dir.path() / "no-powercap").string()},
                 {"JOULEBENCH_STATE_DIR", (m_dir.path() / "state").string()},
                 {"TMPDIR", m_dir.path().string()}};
        if (GetParam().needs_nvml) {
            o.env.emplace_back("JOULEBENCH_NVML_LIBRARY", FakeNvmlEnvironment::library_path());
            o.env.emplace_back("JOULEBENCH_FAKE_NVML_STATE", m_nvml.path().string());
        } else {
            o.env.emplace_back("JOULEBENCH_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1");
        }
        return run_joulebench(GetParam().args(m_dir.path(), out), o);
    }
};

TEST_P(OutputsCli, ASymlinkStaysASymlinkAndItsTargetGetsTheContent) {
    fs::create_directories(m_dir.path() / "elsewhere");
    const fs::path target = m_dir.path() / "elsewhere" / "target.out";
    write_file(target, "old content\n");
    const fs::path link = m_dir.path() / "link.out";
    fs::create_symlink(fs::path("elsewhere") / "target.out", link);  // relative, from its folder
    const ProcessResult r = run(link.string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::is_symlink(link));
    EXPECT_EQ(fs::read_symlink(link), fs::path("elsewhere") / "target.out");
    const std::string text = read_file(target);
    EXPECT_NE(text.find(GetParam().expected), std::string::npos) << text;
    EXPECT_EQ(text.find("old content"), std::string::npos);
    // No temporary file is left beside the link or the target.
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(m_dir.path() / "elsewhere")) {
        ++entries;
    }
    EXPECT_EQ(entries, 1U);
}

TEST_P(OutputsCli, ADanglingSymlinkGetsItsTargetCreated) {
    const fs::path target = m_dir.path() / "new-target.out";
    const fs::path link = m_dir.path() / "link.out";
    fs::create_symlink(target, link);
    const ProcessResult r = run(link.string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::is_symlink(link));
    EXPECT_NE(read_file(target).find(GetParam().expected), std::string::npos);
}

TEST_P(OutputsCli, AFifoGetsTheContentAndStaysAFifo) {
    const fs::path fifo = m_dir.path() / "out.fifo";
    FifoReader reader(fifo);
    const ProcessResult r = run(fifo.string());
    const std::string text = reader.finish();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::is_fifo(fs::symlink_status(fifo)));
    EXPECT_NE(text.find(GetParam().expected), std::string::npos) << text;
}

TEST_P(OutputsCli, DashIsStandardOutputAndCreatesNoFile) {
    const ProcessResult r = run("-");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(GetParam().expected), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(m_dir.path() / "work" / "-"));
}

TEST_P(OutputsCli, AFolderIsRefusedAndKeptAsItIs) {
    const fs::path folder = m_dir.path() / "a-folder";
    fs::create_directories(folder);
    const ProcessResult r = run(folder.string());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("is a folder"), std::string::npos) << r.err;
    EXPECT_TRUE(fs::is_directory(folder));
}

std::string db(const fs::path& dir) { return (dir / "store.db").string(); }
std::string tidy(const fs::path& dir) { return (dir / "tidy.csv").string(); }
std::string energibridge_csv() {
    return std::string(JOULEBENCH_TEST_DATA_DIR) + "/energibridge/minimal.csv";
}

INSTANTIATE_TEST_SUITE_P(
    EveryOutputOption, OutputsCli,
    ::testing::Values(
        OutputCase{"ExportCsv",
                   [](const fs::path& d, const std::string& o) {
                       return Args{"export", db(d), "--format", "csv", "-o", o};
                   },
                   "run_id"},
        OutputCase{"ReportMarkdown",
                   [](const fs::path& d, const std::string& o) {
                       return Args{"report", db(d), "--format", "md", "--resamples", "100", "-o", o};
                   },
                   "|"},
        OutputCase{"AnalyzeCsvJson",
                   [](const fs::path& d, const std::string& o) {
                       return Args{"analyze", "--csv", tidy(d), "--group", "group", "--value",
                                   "energy", "--resamples", "100", "--json", o};
                   },
                   "\"groups\""},
        OutputCase{"AnalyzeStoreJson",
                   [](const fs::path& d, const std::string& o) {
                       return Args{"analyze", db(d), "--resamples", "100", "--json", o};
                   },
                   "joulebench.analysis-store/1"},
        OutputCase{"ImportEnergibridgeJson",
                   [](const fs::path&, const std::string& o) {
                       return Args{"import", "energibridge", energibridge_csv(), "--json", o};
                   },
                   "\"totals\""},
        OutputCase{"MeasureJson",
                   [](const fs::path&, const std::string& o) {
                       return Args{"measure", "-q", "--json", o, "--", "true"};
                   },
                   "\"exit_code\""},
        OutputCase{"MeasureSamples",
                   [](const fs::path&, const std::string& o) {
                       return Args{"measure", "-q", "--interval", "10", "--samples", o, "--",
                                   "sleep", "0.1"};
                   },
                   "time_s"},
        OutputCase{"SweepJson",
                   [](const fs::path&, const std::string& o) {
                       return Args{"sweep", "--caps", "150,200", "--repetitions", "1",
                                   "--interval", "20", "--json", o, "--", "sleep", "0.05"};
                   },
                   "\"power_cap_w\"", true},
        OutputCase{"TuneJson",
                   [](const fs::path&, const std::string& o) {
                       return Args{"tune", "--caps", "150,200,250", "--budget", "3", "--interval", "20",
                                   "--json", o, "--", "sleep", "0.05"};
                   },
                   "\"best_cap_w\"", true}),
    [](const ::testing::TestParamInfo<OutputCase>& param) { return param.param.name; });

TEST(MeasureOutputs, TheJsonAndTheTraceCannotBothTakeStandardOutput) {
    TempDir dir;
    ProcessOptions o;
    o.env = {{"JOULEBENCH_POWERCAP_ROOT", (dir.path() / "no-powercap").string()},
             {"JOULEBENCH_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1"}};
    const fs::path marker = dir.path() / "ran";
    const ProcessResult r = run_joulebench(
        {"measure", "--json", "-", "--samples", "-", "--", "touch", marker.string()}, o);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_FALSE(fs::exists(marker)) << "the command must not run";
}

// --json-fd: the shell opens the descriptor; `sh -c '... "$@"'` passes the arguments through.
ProcessResult measure_through_shell(const std::string& redirections, const Args& args,
                                    const fs::path& dir) {
    Args argv{"/bin/sh", "-c", "exec \"$@\" " + redirections, "sh", joulebench_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions o;
    o.cwd = dir;
    o.env = {{"JOULEBENCH_POWERCAP_ROOT", (dir / "no-powercap").string()},
             {"JOULEBENCH_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1"}};
    return run_process(argv, o);
}

// The command reports whether it inherited descriptor 3.
const Args kFdProbe{"/bin/sh", "-c", "echo workload; test -e /proc/self/fd/3 && echo inherited; :"};

TEST(MeasureJsonFd, WritesTheJsonToTheDescriptorApartFromTheCommandsOutput) {
    TempDir dir;
    const fs::path out = dir.path() / "m.json";
    Args args{"measure", "-q", "--json-fd", "3", "--"};
    args.insert(args.end(), kFdProbe.begin(), kFdProbe.end());
    const ProcessResult r = measure_through_shell("3>'" + out.string() + "'", args, dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "workload\n");  // and the command did not inherit descriptor 3
    const auto j = nlohmann::json::parse(read_file(out));
    EXPECT_EQ(j.at("exit_code"), 0);
}

TEST(MeasureJsonFd, ThePipeGetsOnlyTheJsonWhenTheCommandPrints) {
    TempDir dir;
    Args args{"measure", "-q", "--json-fd", "3", "--"};
    args.insert(args.end(), kFdProbe.begin(), kFdProbe.end());
    // As `joulebench measure --json-fd 3 ... 3>&1 1>&2 | jq`.
    const ProcessResult r = measure_through_shell("3>&1 1>&2", args, dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).at("exit_code"), 0) << r.out;
    EXPECT_EQ(r.err, "workload\n");
}

TEST(MeasureJsonFd, DescriptorOneIsStandardOutput) {
    TempDir dir;
    ProcessOptions o;
    o.env = {{"JOULEBENCH_POWERCAP_ROOT", (dir.path() / "no-powercap").string()},
             {"JOULEBENCH_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1"}};
    const ProcessResult r = run_joulebench({"measure", "-q", "--json-fd", "1", "--", "true"}, o);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).at("exit_code"), 0) << r.out;
}

TEST(MeasureJsonFd, AClosedDescriptorStandardInputAndBothJsonOptionsAreRefusedBeforeTheRun) {
    TempDir dir;
    const fs::path marker = dir.path() / "ran";
    const Args command{"--", "/bin/sh", "-c", "touch '" + marker.string() + "'"};
    auto measure = [&](const std::string& redirections, Args args) {
        args.insert(args.begin(), "measure");
        args.insert(args.end(), command.begin(), command.end());
        return measure_through_shell(redirections, args, dir.path());
    };
    const ProcessResult closed = measure("9>&-", {"--json-fd", "9"});
    EXPECT_EQ(closed.exit_code, 2);
    EXPECT_NE(closed.err.find("error: measure: --json-fd 9: the descriptor is not open"),
              std::string::npos)
        << closed.err;
    EXPECT_NE(closed.err.find("hint: "), std::string::npos) << closed.err;
    write_file(dir.path() / "input", "x\n");
    const ProcessResult read_only =
        measure("3<'" + (dir.path() / "input").string() + "'", {"--json-fd", "3"});
    EXPECT_EQ(read_only.exit_code, 2) << read_only.err;
    const ProcessResult input = measure("", {"--json-fd", "0"});
    EXPECT_EQ(input.exit_code, 2);
    EXPECT_NE(input.err.find("standard input"), std::string::npos) << input.err;
    const ProcessResult both = measure("", {"--json", "x.json", "--json-fd", "1"});
    EXPECT_EQ(both.exit_code, 2) << both.err;
    const ProcessResult same = measure("", {"--json-fd", "1", "--samples", "-"});
    EXPECT_EQ(same.exit_code, 2) << same.err;
    EXPECT_FALSE(fs::exists(marker)) << "the command must not run";
}

}  // namespace
}  // namespace joulebench::test
