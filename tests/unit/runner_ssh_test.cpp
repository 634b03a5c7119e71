// The pieces of the ssh environment that need no ssh server: quoting for the remote shell (with
// real sh round trips), the remote script run by a local sh exactly as sshd would run it, the
// demultiplexing of what comes back, the ssh argv, and the ssh_options key of the experiment file.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"
#include "common/shell_words.hpp"
#include "environments/ssh_environment.hpp"
#include "environments/ssh_remote.hpp"

namespace joulebench::environments {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Strings a shell would love to interpret.
std::vector<std::string> nasty_words() {
    std::vector<std::string> words{
        "",
        " ",
        "a b",
        "'",
        "''",
        "'\\''",
        "\"",
        "\"'\"",
        "$HOME",
        "${HOME}",
        "`id`",
        "$(id)",
        "\\",
        "\\\\",
        "\\n",
        "new\nline",
        "\n",
        "tab\there",
        "*",
        "?",
        "[a-z]",
        "~",
        "~root",
        "#comment",
        ";",
        "&&",
        "|",
        "<in",
        ">out",
        "2>&1",
        "!",
        "!!",
        "{a,b}",
        "-n",
        "-e",
        "--",
        "a=b",
        "%s%n",
        "é ü 漢字",
        "a'b\"c$d`e\\f",
        "trailing\\",
        "\x01\x7f",
        "@joulebench-ssh:0123:start",
        std::string(5000, '\''),
    };
    return words;
}

// `sh -c` of a command that prints each argument NUL-terminated.
std::vector<std::string> sh_split(const std::string& quoted_words) {
    const auto r = test::run_process({"/bin/sh", "-c", "printf '%s\\0' " + quoted_words});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < r.out.size()) {
        const auto end = r.out.find('\0', start);
        out.push_back(r.out.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

TEST(SshQuote, SingleQuotesEverythingAndEscapesQuotes) {
    EXPECT_EQ(ssh::shell_quote(""), "''");
    EXPECT_EQ(ssh::shell_quote("abc"), "'abc'");
    EXPECT_EQ(ssh::shell_quote("it's"), "'it'\\''s'");
    EXPECT_EQ(ssh::shell_quote("$x `y` \\z"), "'$x `y` \\z'");
    EXPECT_EQ(ssh::shell_join({"a b", "", "c"}), "'a b' '' 'c'");
}

TEST(SshQuote, RealShRoundTripOfNastyWords) {
    const auto words = nasty_words();
    for (const auto& w : words) {
        const auto back = sh_split(ssh::shell_quote(w));
        ASSERT_EQ(back.size(), 1U) << w;
        EXPECT_EQ(back[0], w);
    }
    EXPECT_EQ(sh_split(ssh::shell_join(words)), words);
}

// Words shown in hints to be pasted: left as typed when a shell would not change them, quoted
// otherwise (issue 13, defect 10: hints printed hosts unquoted).
TEST(SshQuote, HintWordsAreQuotedOnlyWhereAShellWouldChangeThem) {
    EXPECT_EQ(shell_word("user@gpu-01.example.org:2222"), "user@gpu-01.example.org:2222");
    EXPECT_EQ(shell_word("/srv/results/run_1.db"), "/srv/results/run_1.db");
    EXPECT_EQ(shell_word("my results.db"), "'my results.db'");
    EXPECT_EQ(shell_word("host;reboot"), "'host;reboot'");
    EXPECT_EQ(shell_word(""), "''");
    EXPECT_EQ(shell_line({"ssh", "-i", "/k/my key", "h"}), "ssh -i '/k/my key' h");
    const auto words = nasty_words();
    EXPECT_EQ(sh_split(shell_line(words)), words);
}

TEST(SshQuote, TwoShellLevelsRoundTrip) {
    // As the remote command does: the login shell runs `sh -c SCRIPT`, SCRIPT holds quoted words.
    const auto words = nasty_words();
    const std::string inner = "printf '%s\\0' " + ssh::shell_join(words);
    const auto r = test::run_process({"/bin/sh", "-c", "exec sh -c " + ssh::shell_quote(inner)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> back;
    std::size_t start = 0;
    while (start < r.out.size()) {
        const auto end = r.out.find('\0', start);
        back.push_back(r.out.substr(start, end - start));
        start = end + 1;
    }
    EXPECT_EQ(back, words);
}

TEST(SshRemote, MeasureWordsCarryEnvGpuAndCaps) {
    ssh::RemoteRun run;
    run.remote_joulebench = "/opt/jb/bin/joulebench";
    run.env = {{"CUDA_VISIBLE_DEVICES", "1"}, {"JOULEBENCH_RUN_ID", "abc"}, {"X", "a b'c"}};
    run.command = {"python3", "train.py", "--epochs", "2"};
    run.gpu = 1;
    run.gpu_cap_w = 137.5;
    run.cpu_cap_w = 90;
    run.interval = std::chrono::milliseconds(250);
    EXPECT_THAT(ssh::measure_words(run),
                ElementsAre("env", "CUDA_VISIBLE_DEVICES=1", "JOULEBENCH_RUN_ID=abc", "X=a b'c",
                            "/opt/jb/bin/joulebench", "measure", "-q", "--interval", "250",
                            "--gpus", "1", "--power-cap", "137.5", "--cpu-power-cap", "90", "--",
                            "python3", "train.py", "--epochs", "2"));
    // The interval is always given (the remote default could differ), and must be usable.
    run.interval = std::chrono::milliseconds(0);
    EXPECT_THROW((void)ssh::measure_words(run), Error);
    run.interval = std::chrono::milliseconds(100);
    run.env.emplace_back("BAD=NAME", "x");
    EXPECT_THROW((void)ssh::measure_words(run), Error);
    run.env.pop_back();
    run.command.clear();
    EXPECT_THROW((void)ssh::measure_words(run), Error);
}

// The remote command run by a local sh as sshd runs it through the login shell: in a session
// of its own, stdin a pipe the local side holds open. `before_close` runs while the script runs;
// stdin is closed after it (or, without it, after the script ended).
struct LikeSshd {
    int status = -1;
    std::string out;
    std::string err;
    pid_t session = -1;
};

LikeSshd run_like_sshd(const std::string& command, const fs::path& dir,
                       const std::function<void()>& before_close = {}) {
    LikeSshd r;
    std::array<int, 2> in{};
    if (::pipe(in.data()) != 0) throw std::runtime_error("pipe failed");
    const std::string out_path = (dir / "sshd-out").string();
    const std::string err_path = (dir / "sshd-err").string();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::setsid();
        ::dup2(in[0], 0);
        ::close(in[0]);
        ::close(in[1]);
        const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(in[0]);
    r.session = pid;
    if (before_close) {
        before_close();
        ::close(in[1]);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!before_close) ::close(in[1]);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = test::read_file(out_path);
    r.err = test::read_file(err_path);
    return r;
}

// Whether `pid` runs (a zombie does not: orphans may be re-parented to this test process when
// an earlier test made it a child subreaper, and then wait here unreaped).
bool alive(pid_t pid) {
    std::string stat;
    try {
        stat = test::read_file(fs::path("/proc") / std::to_string(pid) / "stat");
    } catch (...) {
        return false;
    }
    const auto paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

// Live processes of process group `group` (field 5 of /proc/PID/stat).
std::vector<pid_t> group_members(pid_t group) {
    std::vector<pid_t> out;
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.empty() || name[0] < '0' || name[0] > '9') continue;
        std::string stat;
        try {
            stat = test::read_file(e.path() / "stat");
        } catch (...) {
            continue;
        }
        const auto paren = stat.rfind(')');
        if (paren == std::string::npos) continue;
        std::istringstream fields(stat.substr(paren + 2));
        char state = 0;
        long ppid = 0;
        long pgrp = 0;
        fields >> state >> ppid >> pgrp;
        if (pgrp == group && state != 'Z') out.push_back(std::stoi(name));
    }
    return out;
}

// Waits until no process of the session's group is left (the watcher ends it a grace after
// stdin closed); false if some are still there after 10 s.
bool session_gone(pid_t session) {
    for (int i = 0; i < 1000; ++i) {
        if (group_members(session).empty()) return true;
        ::usleep(10'000);
    }
    return false;
}

// A fake joulebench that records its argv and environment, runs the command and writes a
// JSON file.
class RemoteScriptTest : public ::testing::Test {
protected:
    void SetUp() override {
        fake_ = dir_.path() / "fake-joulebench";
        test::write_file(fake_, R"(#!/usr/bin/python3
import json, os, subprocess, sys
args = sys.argv[1:]
with open(os.environ["FAKE_RECORD"], "w") as f:
    json.dump({"argv": args, "nasty": os.environ.get("NASTY")}, f)
json_path = args[args.index("--json") + 1]
samples_path = args[args.index("--samples") + 1]
rc = subprocess.call(args[args.index("--") + 1:])
with open(json_path, "w") as f:
    f.write('{"fake": true}\n')
with open(samples_path, "w") as f:
    f.write('time_s,fake\n0.0,1\n')
sys.exit(rc if rc >= 0 else 128 - rc)
)");
        fs::permissions(fake_, fs::perms::owner_all);
    }

    test::TempDir dir_{"joulebench-ssh-unit"};
    fs::path fake_;
};

TEST_F(RemoteScriptTest, NastyArgvAndEnvArriveIntactAndOutputSplitsCleanly) {
    ssh::RemoteRun run;
    run.nonce = ssh::make_nonce();
    run.remote_joulebench = fake_.string();
    const auto words = nasty_words();
    const std::string nasty_value = "v'a\"l $HOME `id` \\ \n end";
    run.env = {{"FAKE_RECORD", (dir_.path() / "record.json").string()}, {"NASTY", nasty_value}};
    const std::vector<std::string> program{
        "/usr/bin/python3", "-c",
        "import sys; sys.stdout.write('out:' + repr(sys.argv[1:])); sys.stderr.write('err\\n'); "
        "sys.exit(3)"};
    run.command = program;
    run.command.insert(run.command.end(), words.begin(), words.end());
    run.gpu = 0;
    run.gpu_cap_w = 150;
    const LikeSshd r = run_like_sshd(ssh::remote_command(run), dir_.path());
    EXPECT_EQ(r.status, 3) << r.err;
    EXPECT_EQ(r.err, "err\n");
    EXPECT_TRUE(session_gone(r.session));

    std::string body;
    std::string trace;
    ssh::OutputDemux demux(
        run.nonce, [&](std::string_view d) { body.append(d); }, 1024,
        [&](std::string_view d) { trace.append(d); });
    demux.feed(r.out);
    demux.finish();
    ASSERT_TRUE(demux.started());
    ASSERT_TRUE(demux.complete()) << r.out;
    EXPECT_EQ(demux.remote_status(), 3);
    EXPECT_EQ(demux.json(), "{\"fake\": true}\n");
    EXPECT_EQ(trace, "time_s,fake\n0.0,1\n");  // the --samples file, after the JSON
    EXPECT_EQ(demux.preamble_bytes(), 0U);
    EXPECT_EQ(demux.trailing_bytes(), 0U);

    const auto record = nlohmann::json::parse(test::read_file(dir_.path() / "record.json"));
    EXPECT_EQ(record["nasty"], nasty_value);
    const auto argv = record["argv"].get<std::vector<std::string>>();
    ASSERT_GE(argv.size(), 6U);
    EXPECT_EQ(argv[0], "measure");
    EXPECT_EQ(argv[1], "--json");
    EXPECT_THAT(argv[2], HasSubstr("joulebench-ssh."));
    EXPECT_FALSE(fs::exists(argv[2])) << "the remote temporary file is removed";
    EXPECT_EQ(argv[3], "--samples");
    EXPECT_THAT(argv[4], HasSubstr("joulebench-ssh."));
    EXPECT_NE(argv[4], argv[2]);
    EXPECT_FALSE(fs::exists(argv[4])) << "the remote temporary trace is removed";
    const std::vector<std::string> rest(argv.begin() + 5, argv.end());
    std::vector<std::string> expected{"-q", "--interval",  "100", "--gpus",
                                      "0",  "--power-cap", "150", "--"};
    expected.insert(expected.end(), run.command.begin(), run.command.end());
    EXPECT_EQ(rest, expected);

    // The workload's stdout, byte for byte (python's repr of the words, no final newline).
    EXPECT_EQ(body, test::run_process(run.command).out);
}

TEST_F(RemoteScriptTest, NoJsonIsAnEndWithLengthZeroAndTheStatus) {
    ssh::RemoteRun run;
    run.nonce = ssh::make_nonce();
    run.remote_joulebench = (dir_.path() / "missing-joulebench").string();
    run.command = {"true"};
    const LikeSshd r = run_like_sshd(ssh::remote_command(run), dir_.path());
    EXPECT_EQ(r.status, 127);
    std::string body;
    ssh::OutputDemux demux(run.nonce, [&](std::string_view d) { body.append(d); });
    demux.feed(r.out);
    demux.finish();
    EXPECT_TRUE(demux.complete());
    EXPECT_EQ(demux.remote_status(), 127);
    EXPECT_EQ(demux.json_length(), 0U);
    EXPECT_EQ(demux.trace_length(), 0U);
    EXPECT_EQ(body, "");
}

TEST_F(RemoteScriptTest, ClosingStdinEndsTheWorkloadAndEverythingItLeft) {
    // What the local side does at a timeout: close the session's stdin. The watcher sends
    // SIGTERM to the session's group (the workload dies, the script still reports), then SIGKILL
    // after the grace (a child that ignores SIGTERM dies too).
    ssh::RemoteRun run;
    run.nonce = ssh::make_nonce();
    run.remote_joulebench = fake_.string();
    run.env = {{"FAKE_RECORD", (dir_.path() / "record.json").string()}};
    const fs::path pid_file = dir_.path() / "pid";
    const fs::path stubborn_file = dir_.path() / "stubborn";
    run.command = {"/bin/sh", "-c",
                   "(trap '' TERM; echo $(exec sh -c 'echo $PPID') > " + stubborn_file.string() +
                       "; exec sleep 300) & echo $$ > " + pid_file.string() + "; exec sleep 300"};
    run.kill_grace = std::chrono::milliseconds(1000);
    pid_t workload = -1;
    const LikeSshd r = run_like_sshd(ssh::remote_command(run), dir_.path(), [&] {
        for (int i = 0; i < 1000 && !(fs::exists(pid_file) && fs::exists(stubborn_file)); ++i) {
            ::usleep(10'000);
        }
        ::usleep(100'000);
        workload = std::stoi(test::read_file(pid_file));
    });
    EXPECT_EQ(r.status, 128 + SIGTERM) << r.err;  // the fake passes the child's status on
    std::string body;
    ssh::OutputDemux demux(run.nonce, [&](std::string_view d) { body.append(d); });
    demux.feed(r.out);
    demux.finish();
    EXPECT_TRUE(demux.complete());
    EXPECT_EQ(demux.remote_status(), 128 + SIGTERM);
    ASSERT_GT(workload, 0);
    const pid_t stubborn = std::stoi(test::read_file(stubborn_file));
    EXPECT_TRUE(session_gone(r.session)) << "something of the remote session is still alive";
    EXPECT_FALSE(alive(workload));
    EXPECT_FALSE(alive(stubborn));
}

// ---------------------------------------------------------------------------------------------

struct Fed {
    std::string body;
    std::unique_ptr<ssh::OutputDemux> demux;
};

Fed feed_in_chunks(const std::string& nonce, const std::string& stream, std::size_t chunk) {
    Fed f;
    f.demux = std::make_unique<ssh::OutputDemux>(
        nonce, [&body = f.body](std::string_view d) { body.append(d); });
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
        f.demux->feed(std::string_view(stream).substr(i, chunk));
    }
    f.demux->finish();
    return f;
}

TEST(SshDemux, SplitsAtEveryChunkSize) {
    const std::string nonce = "0123456789abcdef0123456789abcdef";
    const std::string json = "{\"a\": 1}\n";
    // The body contains things that look like protocol lines of another nonce, a partial prefix
    // of the real one, and no final newline.
    const std::string workload =
        "line 1\n@joulebench-ssh:ffff:end:0:3\nabc\n@joulebench-ssh:" + nonce.substr(0, 10) +
        "\n\n@joulebench-ssh:" + nonce + ":endless\nno newline at the end";
    const std::string stream = "motd from .bashrc\n" + ssh::start_line(nonce) + "\n" + workload +
                               "\n" + ssh::end_line_prefix(nonce) +
                               "0:" + std::to_string(json.size()) + "\n" + json;
    for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
        const Fed f = feed_in_chunks(nonce, stream, chunk);
        ASSERT_TRUE(f.demux->complete()) << chunk;
        EXPECT_EQ(f.body, workload) << chunk;
        EXPECT_EQ(f.demux->json(), json);
        EXPECT_EQ(f.demux->remote_status(), 0);
        EXPECT_EQ(f.demux->preamble_bytes(), std::string("motd from .bashrc\n").size());
        EXPECT_EQ(f.demux->preamble_text(), "motd from .bashrc\n");
        EXPECT_EQ(f.demux->trailing_bytes(), 0U);
    }
}

TEST(SshDemux, WorkloadOutputEndingInANewlineKeepsIt) {
    const std::string nonce = "n1";
    const std::string stream =
        ssh::start_line(nonce) + "\nhello\n\n" + ssh::end_line_prefix(nonce) + "7:2\n{}";
    const Fed f = feed_in_chunks(nonce, stream, 3);
    EXPECT_EQ(f.body, "hello\n");
    EXPECT_EQ(f.demux->remote_status(), 7);
    EXPECT_EQ(f.demux->json(), "{}");
}

TEST(SshDemux, IncompleteStreams) {
    const std::string nonce = "n2";
    {
        const Fed f = feed_in_chunks(nonce, "ssh: connect to host x port 22: refused\n", 5);
        EXPECT_FALSE(f.demux->started());
        EXPECT_EQ(f.body, "");
        EXPECT_EQ(f.demux->preamble_text(), "ssh: connect to host x port 22: refused\n");
    }
    {
        // Connection lost mid-run: output so far, held-back bytes flushed at the end.
        const Fed f = feed_in_chunks(nonce, ssh::start_line(nonce) + "\npartial\n@jo", 4);
        EXPECT_TRUE(f.demux->started());
        EXPECT_FALSE(f.demux->ended());
        EXPECT_EQ(f.body, "partial\n@jo");
    }
    {
        // JSON cut off.
        const Fed f = feed_in_chunks(
            nonce, ssh::start_line(nonce) + "\nx\n" + ssh::end_line_prefix(nonce) + "0:100\n{\"a",
            2);
        EXPECT_TRUE(f.demux->ended());
        EXPECT_FALSE(f.demux->complete());
        EXPECT_EQ(f.demux->json(), "{\"a");
        EXPECT_EQ(f.body, "x");
    }
    {
        // Output after the measurement (a left-behind process) goes to the body, counted.
        const Fed f = feed_in_chunks(
            nonce, ssh::start_line(nonce) + "\nx\n" + ssh::end_line_prefix(nonce) + "0:2\n{}late",
            1);
        EXPECT_TRUE(f.demux->complete());
        EXPECT_EQ(f.body, "xlate");
        EXPECT_EQ(f.demux->trailing_bytes(), 4U);
    }
    {
        const Fed f = feed_in_chunks(
            nonce, ssh::start_line(nonce) + "\nx\n" + ssh::end_line_prefix(nonce) + "abc:2\n{}", 1);
        EXPECT_FALSE(f.demux->complete());
        EXPECT_THAT(f.demux->error(), HasSubstr("malformed"));
    }
    {
        ssh::OutputDemux demux(nonce, nullptr, 10);
        demux.feed(ssh::start_line(nonce) + "\n\n" + ssh::end_line_prefix(nonce) + "0:11\n");
        EXPECT_THAT(demux.error(), HasSubstr("more than the 10 accepted"));
    }
}

TEST(SshDemux, NoncesDiffer) {
    EXPECT_EQ(ssh::make_nonce().size(), 32U);
    EXPECT_NE(ssh::make_nonce(), ssh::make_nonce());
}

// ---------------------------------------------------------------------------------------------

EnvironmentSpec ssh_spec() {
    const auto spec = parse_experiment_text(R"([experiment]
name = "x"
repetitions = 1
[[workload]]
name = "w"
command = ["true"]
[[environment]]
name = "vm"
type = "ssh"
host = "gpu-vm"
user = "bench"
port = 2222
identity_file = "/keys/id_ed25519"
remote_joulebench = "/opt/joulebench/bin/joulebench"
ssh_options = ["ProxyJump=gateway", "UserKnownHostsFile=/tmp/known hosts"]
)",
                                            "exp.toml");
    return spec.environments.at(0);
}

TEST(SshEnvironmentArgv, OptionsFirstThenDefaultsThenTarget) {
    const SshEnvironment env(ssh_spec());
    EXPECT_TRUE(env.measures_itself());
    EXPECT_THAT(env.ssh_argv("REMOTE"),
                ElementsAre("ssh", "-o", "BatchMode=yes", "-o", "ProxyJump=gateway", "-o",
                            "UserKnownHostsFile=/tmp/known hosts", "-o", "ServerAliveInterval=15",
                            "-o", "ServerAliveCountMax=4", "-o", "ConnectTimeout=30", "-o",
                            "LogLevel=ERROR", "-T", "-p", "2222", "-i", "/keys/id_ed25519", "-l",
                            "bench", "gpu-vm", "--", "REMOTE"));
    const auto d = nlohmann::json::parse(env.describe());
    EXPECT_EQ(d["type"], "ssh");
    EXPECT_EQ(d["host"], "gpu-vm");
}

std::string parse_error(const std::string& environment_table) {
    try {
        (void)parse_experiment_text(
            "[experiment]\nname = \"x\"\nrepetitions = 1\n[[workload]]\nname = \"w\"\n"
            "command = [\"true\"]\n" +
                environment_table,
            "exp.toml");
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

TEST(SshOptionsKey, ParsedInOrderAndValidated) {
    EXPECT_EQ(
        ssh_spec().ssh_options,
        (std::vector<std::string>{"ProxyJump=gateway", "UserKnownHostsFile=/tmp/known hosts"}));
    const std::string head = "[[environment]]\nname = \"vm\"\ntype = \"ssh\"\nhost = \"h\"\n";
    EXPECT_THAT(parse_error(head + "ssh_options = [\"-F\", \"cfg\"]\n"),
                HasSubstr("exp.toml:11: ssh_options entry '-F' is not of the form Name=value"));
    EXPECT_THAT(parse_error(head + "ssh_options = [\"ProxyJump\"]\n"),
                HasSubstr("'ProxyJump' is not of the form Name=value"));
    EXPECT_THAT(parse_error(head + "ssh_options = [\"Port=\"]\n"),
                HasSubstr("'Port=' is not of the form Name=value"));
    EXPECT_THAT(parse_error(head + "ssh_options = [\"A=b\\nc\"]\n"),
                HasSubstr("is not of the form Name=value"));
    EXPECT_THAT(parse_error(head + "ssh_options = [\"batchmode=no\"]\n"),
                HasSubstr("ssh_options: 'batchmode' cannot be set"));
    EXPECT_THAT(parse_error(head + "ssh_options = [\"RequestTTY=force\"]\n"),
                HasSubstr("'RequestTTY' cannot be set"));
    EXPECT_THAT(parse_error(head + "ssh_options = \"ProxyJump=x\"\n"),
                HasSubstr("ssh_options must be an array of strings"));
    EXPECT_THAT(parse_error("[[environment]]\nname = \"b\"\ntype = \"bare\"\n"
                            "ssh_options = [\"A=b\"]\n"),
                HasSubstr("key 'ssh_options' does not apply to environment type 'bare'"));
}

TEST(SshEnvironmentValidate, StaticProblemsNameTheFileAndLine) {
    EnvironmentSpec spec = ssh_spec();
    WorkloadSpec w;
    w.name = "w";
    w.command = {"true"};
    spec.host = "-oProxyCommand=evil";
    try {
        SshEnvironment(spec).validate(w);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(),
                    HasSubstr("run: exp.toml:7: environment 'vm': host '-oProxyCommand=evil'"));
    }
    spec = ssh_spec();
    spec.remote_joulebench = "/opt/a=b/joulebench";
    EXPECT_THROW(SshEnvironment(spec).validate(w), Error);
}

}  // namespace
}  // namespace joulebench::environments
