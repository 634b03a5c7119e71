// joulebench as installed (docs/install.md):
//  - the completion scripts and the man page the build generated list every command and option
//    that `--help` lists (the help is the truth here; the generators read the definitions), and
//    bash and fish really complete with them; zsh parses the script; groff renders the page
//    without a warning;
//  - `--version` names the version, the commit and each backend;
//  - `cmake --install --strip` puts everything under a prefix, no installed file names the source
//    or build folder, and the installed binary measures from there;
//  - the Debian package (`cpack -G DEB`, as `make deb`) installs into a clean Debian 12 container
//    (debootstrap minbase, scripts/build-debian-base.sh, cached) with apt-get and no network,
//    runs `--version`, `sensors`, `measure` and a one-run experiment there, and purging it leaves
//    the file system as it was.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fakes/cli_help.hpp"
#include "fakes/container_engine.hpp"
#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using joulebench::testing::DockerDaemon;
using joulebench::testing::engine_command;

fs::path build_dir() { return fs::path(joulebench_binary()).parent_path(); }
fs::path generated(const std::string& name) { return build_dir() / "generated" / "share" / name; }

std::string joined(const std::vector<std::string>& words) { return fmt::format("{}", fmt::join(words, " ")); }

// Every command path `--help` shows, the root's ({}) first, with the options its help lists.
std::map<std::vector<std::string>, std::set<std::string>> help_tree() {
    std::map<std::vector<std::string>, std::set<std::string>> tree;
    std::vector<std::vector<std::string>> todo{{}};
    while (!todo.empty()) {
        const std::vector<std::string> path = todo.back();
        todo.pop_back();
        std::vector<std::string> argv = path;
        argv.emplace_back("--help");
        const ProcessResult r = run_joulebench(argv);
        EXPECT_EQ(r.exit_code, 0) << joined(argv) << ": " << r.err;
        tree[path] = options_in(r.out);
        for (const auto& sub : subcommands_in(r.out)) {
            auto child = path;
            child.push_back(sub);
            todo.push_back(child);
        }
    }
    return tree;
}

// The line of a generated script that starts with `prefix` (after indentation), or "".
std::string line_starting(const std::string& text, const std::string& prefix) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const auto start = line.find_first_not_of(' ');
        if (start != std::string::npos && line.compare(start, prefix.size(), prefix) == 0) return line;
    }
    return {};
}

// The words of the quoted list after `key` in a line ("opts='-h --help'" gives -h and --help).
std::set<std::string> words_of(const std::string& line, const std::string& key) {
    const auto start = line.find(key);
    if (start == std::string::npos) return {};
    const auto from = start + key.size();
    std::istringstream in(line.substr(from, line.find('\'', from) - from));
    std::set<std::string> words;
    for (std::string w; in >> w;) words.insert(w);
    return words;
}

std::string roff_escaped(const std::string& text) {
    std::string out;
    for (char c : text) out += c == '-' ? std::string("\\-") : std::string(1, c);
    return out;
}

// The section of the man page for one command: from its .SS line to the next heading.
std::string man_section(const std::string& page, const std::vector<std::string>& path) {
    const std::string heading = ".SS \"" + roff_escaped(joined(path)) + "\"\n";
    const auto start = page.find(heading);
    if (start == std::string::npos) return {};
    const auto end = page.find("\n.S", start + heading.size());
    return page.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

TEST(ShellDocs, EveryCommandAndOptionOfTheHelpIsInEachCompletionScriptAndTheManPage) {
    const auto tree = help_tree();
    ASSERT_GT(tree.size(), 15u) << "the help lists too few commands to be joulebench's";
    const std::string bash = read_file(generated("joulebench.bash"));
    const std::string zsh = read_file(generated("_joulebench"));
    const std::string fish = read_file(generated("joulebench.fish"));
    const std::string man = read_file(generated("joulebench.1"));
    std::size_t checked = 0;
    for (const auto& [path, options] : tree) {
        const std::string p = joined(path);
        const std::string bash_line = line_starting(bash, "'" + p + "') opts=");
        const std::string zsh_line = line_starting(zsh, "('" + p + "') opts=");
        const std::string fish_when = "'__joulebench_at \\'" + p + "\\''";
        const std::string section = path.empty() ? man.substr(0, man.find(".SH COMMANDS")) : man_section(man, path);
        ASSERT_FALSE(bash_line.empty()) << "bash: no entry for '" << p << "'";
        ASSERT_FALSE(zsh_line.empty()) << "zsh: no entry for '" << p << "'";
        ASSERT_FALSE(section.empty()) << "man page: no section for '" << p << "'";
        for (const auto& o : options) {
            if (o == "--version" && !path.empty()) continue;
            EXPECT_EQ(words_of(bash_line, "opts='").count(o), 1u) << "bash: " << p << " lacks " << o << ": " << bash_line;
            EXPECT_THAT(zsh_line, HasSubstr("'" + o + ":")) << "zsh: " << p << " lacks " << o;
            const std::string fish_flag = o.rfind("--", 0) == 0 ? " -l '" + o.substr(2) + "'" : " -s '" + o.substr(1) + "'";
            bool in_fish = false;
            std::istringstream lines(fish);
            for (std::string line; std::getline(lines, line);)
                in_fish = in_fish || (line.find(fish_when) != std::string::npos && line.find(fish_flag) != std::string::npos);
            EXPECT_TRUE(in_fish) << "fish: " << p << " lacks " << o;
            EXPECT_THAT(section, HasSubstr(roff_escaped(o))) << "man page: " << p << " lacks " << o;
            ++checked;
        }
        if (!path.empty()) {
            auto parent = path;
            parent.pop_back();
            EXPECT_EQ(words_of(line_starting(bash, "'" + joined(parent) + "') opts="), "subs='").count(path.back()), 1u)
                << "bash: '" << joined(parent) << "' does not offer " << path.back();
            EXPECT_THAT(fish, HasSubstr("'__joulebench_at \\'" + joined(parent) + "\\'' -a '" + path.back() + "'"))
                << "fish: '" << joined(parent) << "' does not offer " << path.back();
        }
    }
    EXPECT_GT(checked, 100u);
    RecordProperty("options_checked", static_cast<int>(checked));
}

// What bash's completion function offers for `words` (the last one is being completed).
std::vector<std::string> bash_completes(const std::vector<std::string>& words, const fs::path& cwd) {
    std::string array;
    for (const auto& w : words) array += "'" + w + "' ";
    const std::string script = fmt::format(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; _joulebench; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        generated("joulebench.bash").string(), array, words.size() - 1);
    ProcessOptions o;
    o.cwd = cwd;
    const ProcessResult r = run_process({"bash", "--norc", "-c", script}, o);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

TEST(ShellDocs, BashCompletesCommandsOptionsAndFiles) {
    TempDir dir;
    write_file(dir.path() / "results.db", "");
    using ::testing::Contains;
    EXPECT_THAT(bash_completes({"joulebench", "sw"}, dir.path()), ::testing::ElementsAre("sweep"));
    EXPECT_THAT(bash_completes({"joulebench", "caps", ""}, dir.path()), Contains("restore"));
    EXPECT_THAT(bash_completes({"joulebench", "measure", "--power-"}, dir.path()), Contains("--power-cap"));
    EXPECT_THAT(bash_completes({"joulebench", "--json", "tune", "--se"}, dir.path()), Contains("--seed"));
    // An option that takes a value completes files; after `--` the measured command's words.
    EXPECT_THAT(bash_completes({"joulebench", "tune", "--db", "res"}, dir.path()), ::testing::ElementsAre("results.db"));
    EXPECT_THAT(bash_completes({"joulebench", "measure", "--", "bas"}, dir.path()), Contains("bash"));
}

TEST(ShellDocs, FishCompletesCommandsAndOptions) {
    if (run_process({"sh", "-c", "command -v fish"}).exit_code != 0) GTEST_SKIP() << "fish is not installed (apt-get install fish)";
    const std::string script = generated("joulebench.fish").string();
    const auto complete = [&](const std::string& line) {
        const ProcessResult r = run_process({"fish", "--no-config", "-c", fmt::format("source '{}'; complete -C '{}'", script, line)});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.out;
    };
    EXPECT_THAT(complete("joulebench sw"), ::testing::StartsWith("sweep\t"));
    EXPECT_THAT(complete("joulebench caps "), HasSubstr("restore\t"));
    EXPECT_THAT(complete("joulebench measure --power-"), HasSubstr("--power-cap\t"));
    EXPECT_THAT(complete("joulebench caps show --"), ::testing::Not(HasSubstr("--power-cap")));
}

TEST(ShellDocs, ZshParsesItsScript) {
    if (run_process({"sh", "-c", "command -v zsh"}).exit_code != 0) GTEST_SKIP() << "zsh is not installed (apt-get install zsh)";
    const ProcessResult r = run_process({"zsh", "-n", generated("_joulebench").string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
}

TEST(ShellDocs, TheManPageRendersWithoutWarnings) {
    // -P -cbou: plain text, no overstrike or SGR sequences, so the words can be searched.
    const ProcessResult r = run_process({"groff", "-man", "-Tutf8", "-ww", "-P", "-cbou", generated("joulebench.1").string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "") << "groff warned";
    EXPECT_THAT(r.out, HasSubstr("COMMANDS"));
    EXPECT_THAT(r.out, HasSubstr("--power-cap"));
    // Reproducible: generating it again gives the same bytes.
    EXPECT_EQ(run_joulebench({"manpage"}).out, read_file(generated("joulebench.1")));
}

TEST(Version, NamesTheVersionTheCommitAndEachBackend) {
    const ProcessResult r = run_joulebench({"--version"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(^joulebench [0-9]+\.[0-9]+\.[0-9]+(\+git[0-9]+\.g[0-9a-f]{12})?\n)")))
        << r.out;
    EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\ncommit ([0-9a-f]{40}|unknown))"))) << r.out;
    for (const char* backend : {"  nvml ", "  rocm-smi ", "  rapl ", "  hwmon ", "  estimate "})
        EXPECT_THAT(r.out, HasSubstr(backend));
}

// Every installed regular file, relative to `root`.
std::set<std::string> files_under(const fs::path& root) {
    std::set<std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file()) files.insert(fs::relative(e.path(), root).string());
    return files;
}

TEST(Install, PutsEverythingUnderThePrefixNamingNoSourceOrBuildFolder) {
    TempDir prefix;
    const ProcessResult r = run_process({JOULEBENCH_CMAKE_COMMAND, "--install", build_dir().string(), "--prefix",
                                         prefix.path().string(), "--strip"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto files = files_under(prefix.path());
    for (const char* f : {"bin/joulebench", "bin/joulebench-hold", "share/joulebench/workloads/resnet50_infer.py",
                          "share/joulebench/examples/quickstart.toml", "share/doc/joulebench/README.md",
                          "share/doc/joulebench/docs/install.md", "share/bash-completion/completions/joulebench",
                          "share/zsh/vendor-completions/_joulebench", "share/fish/vendor_completions.d/joulebench.fish",
                          "share/man/man1/joulebench.1.gz"})
        EXPECT_EQ(files.count(f), 1u) << f << " is not installed";
    const std::string source = fs::weakly_canonical(JOULEBENCH_SOURCE_DIR).string();
    const std::string build = fs::weakly_canonical(build_dir()).string();
    for (const auto& f : files) {
        const std::string content = read_file(prefix.path() / f);
        EXPECT_EQ(content.find(source), std::string::npos) << f << " names the source folder " << source;
        EXPECT_EQ(content.find(build), std::string::npos) << f << " names the build folder " << build;
    }
    // The installed binary works from there (its own joulebench-hold beside it).
    TempDir work;
    FakePowercapTree powercap(work.path() / "powercap");
    powercap.add_typical_socket(0, 20.0, 10.0, 3.0);
    ProcessOptions o;
    o.env = {{"JOULEBENCH_POWERCAP_ROOT", powercap.root().string()}};
    const ProcessResult m = run_process({(prefix.path() / "bin/joulebench").string(), "measure", "--", "true"}, o);
    EXPECT_EQ(m.exit_code, 0) << m.err;
    EXPECT_THAT(m.err, HasSubstr("package0"));  // the summary goes to standard error
    // It finds its examples and workloads under PREFIX/share/joulebench, and a copy of them runs
    // from anywhere (the experiment files name their workloads relatively).
    const ProcessResult where = run_process({(prefix.path() / "bin/joulebench").string(), "examples"});
    EXPECT_EQ(where.exit_code, 0) << where.err;
    EXPECT_THAT(where.out, HasSubstr((prefix.path() / "share/joulebench/examples").string()));
    EXPECT_THAT(where.out, HasSubstr("quickstart.toml"));
    const ProcessResult copied =
        run_process({(prefix.path() / "bin/joulebench").string(), "examples", "--copy", (work.path() / "mine").string()});
    ASSERT_EQ(copied.exit_code, 0) << copied.err;
    ProcessOptions in_copy;
    in_copy.cwd = work.path() / "mine";
    const ProcessResult plan =
        run_process({(prefix.path() / "bin/joulebench").string(), "plan", "examples/quickstart.toml"}, in_copy);
    EXPECT_EQ(plan.exit_code, 0) << plan.err;
    EXPECT_TRUE(fs::exists(work.path() / "mine/workloads/resnet50_infer.py"));
}

// A Debian package of this build, made by cpack in `out` (not in the build folder, which other
// tests read meanwhile).
fs::path build_deb(const fs::path& out) {
    const ProcessResult r = run_process({"cpack", "-G", "DEB", "--config", (build_dir() / "CPackConfig.cmake").string(),
                                         "-B", out.string()},
                                        ProcessOptions{{}, build_dir(), std::nullopt, std::chrono::seconds(300)});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    for (const auto& e : fs::directory_iterator(out))
        if (e.path().extension() == ".deb") return e.path();
    ADD_FAILURE() << "cpack made no .deb in " << out << ": " << r.out;
    return {};
}

// Runs inside the container: the file list before, the install, the commands, the purge, and
// the file list after; any difference is printed and fails.
constexpr const char* kInContainer = R"(set -eu
snapshot() {
    find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /tmp -o -path /run \
        -o -path /var/lib/dpkg -o -path /var/log -o -path /var/cache -o -path /var/lib/apt \) -prune -o -print | sort
}
snapshot > /tmp/before
# As docs/install.md says, from the package's folder (not --no-download: apt 2.6 then refuses
# the ./ path with "Pathname to install is not absolute"; --network none keeps it offline).
cd /deb && apt-get install -y -q ./joulebench_*.deb > /tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
cd /
joulebench --version
joulebench sensors
joulebench measure -- true
cat > /tmp/one.toml <<'EOF'
[experiment]
name = "one-run"
repetitions = 1

[[workload]]
name = "true"
command = ["true"]

[[environment]]
name = "bare"
type = "bare"
EOF
joulebench run /tmp/one.toml --db /tmp/one.db
joulebench export /tmp/one.db
test -f /usr/share/man/man1/joulebench.1.gz
test -f /usr/share/bash-completion/completions/joulebench
apt-get purge -y -q joulebench > /tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
snapshot > /tmp/after
if ! diff /tmp/before /tmp/after; then echo "LEFT BEHIND"; exit 1; fi
echo "PURGED CLEANLY"
)";

TEST(DebPackage, InstallsRunsAndPurgesCleanlyInACleanDebianContainer) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (debootstrap, dockerd)";
    const ProcessResult base = run_process({(fs::path(JOULEBENCH_SOURCE_DIR) / "scripts/build-debian-base.sh").string()},
                                           ProcessOptions{{}, {}, std::nullopt, std::chrono::seconds(900)});
    if (base.exit_code != 0) GTEST_SKIP() << "no clean Debian root filesystem: " << base.err;
    std::string skip;
    const auto docker = DockerDaemon::start(skip);
    if (!docker) GTEST_SKIP() << skip;
    TempDir out;
    const fs::path deb = build_deb(out.path());
    ASSERT_FALSE(deb.empty());
    const std::string tar = base.out.substr(0, base.out.find('\n'));
    const auto [irc, iout] = engine_command(docker->client(), {"import", tar, "joulebench-test/debian-base:latest"}, docker->env());
    ASSERT_EQ(irc, 0) << iout;
    const auto [rc, text] = engine_command(docker->client(),
                                           {"run", "--rm", "--network", "none", "-v", out.path().string() + ":/deb:ro",
                                            "joulebench-test/debian-base:latest", "bash", "-c", kInContainer},
                                           docker->env());
    EXPECT_EQ(rc, 0) << text;
    EXPECT_THAT(text, HasSubstr("PURGED CLEANLY"));
    EXPECT_THAT(text, HasSubstr("\ncommit "));
    EXPECT_THAT(text, ::testing::ContainsRegex("1 run|done"));
}

}  // namespace
}  // namespace joulebench::test
