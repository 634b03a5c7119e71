// Every joulebench command line in the shell blocks (```sh, ```bash, ```shell, ```console) and
// the unlabelled ``` blocks that show commands of README.md and docs/*.md is checked, so the
// examples cannot rot (issue 22):
//  - each line's sub-command path exists, and each option it shows (before `--`) is listed by
//    `joulebench <sub-command> --help` (deterministic, needs no hardware);
//  - the lines that can run here (no GPU, container engine, Slurm, ssh host, root, placeholder or
//    missing input file) are also run, in a temporary folder with the repository's relative paths
//    made absolute, against a fake powercap tree and no NVML, and must exit 0 without an
//    "unknown option" kind of complaint.
// The counts of blocks, lines run and lines only option-checked are printed and recorded as
// test properties.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fakes/cli_help.hpp"
#include "fakes/fake_powercap_builder.hpp"
#include "fakes/test_support.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;

struct DocLine {
    std::string where;  // "docs/slurm.md:42"
    std::string text;   // continuations joined, prompt removed
};

bool is_program(const std::string& w);

// The command lines of one page's blocks: ```sh, ```bash, ```shell and ```console blocks, and the
// unlabelled ``` blocks that show commands (a synopsis, or a session with `$ ` prompts).
// `\` continuations are joined and comment lines skipped. Where a block has `$ ` prompts, only
// the prompt lines are commands (the rest is output); an unlabelled block without prompts counts
// only its lines that start with the joulebench program, less output such as "joulebench sweep:".
std::vector<DocLine> command_lines(const std::string& page_name, const std::string& text,
                                   std::size_t* blocks) {
    std::vector<DocLine> lines;
    std::istringstream in(text);
    std::string line;
    std::size_t number = 0;
    std::optional<std::string> fence;  // the language of the open block
    std::vector<std::pair<std::size_t, std::string>> body;
    static const std::set<std::string> kShell{"sh", "bash", "shell", "console"};
    const auto close_block = [&] {
        const bool shell = kShell.count(*fence) != 0;
        if (!shell && !fence->empty()) return;
        bool prompts = false;
        for (const auto& [n, l] : body) prompts = prompts || l.rfind("$ ", 0) == 0;
        std::size_t found = 0;
        std::string pending;
        std::size_t pending_at = 0;
        for (const auto& [n, l] : body) {
            std::string command = l;
            if (pending.empty()) {
                if (command.rfind("$ ", 0) == 0) {
                    command = command.substr(2);
                } else if (prompts) {
                    continue;  // output
                }
                if (command.empty() || command[0] == '#') continue;
                if (!shell) {
                    const auto space = command.find(' ');
                    const auto second =
                        command.substr(space == std::string::npos ? command.size() : space + 1);
                    const auto word = second.substr(0, second.find(' '));
                    if (!is_program(command.substr(0, space)) ||
                        (!word.empty() && word.back() == ':'))
                        continue;
                }
                pending_at = n;
            }
            if (!command.empty() && command.back() == '\\') {
                pending += command.substr(0, command.size() - 1) + " ";
                continue;
            }
            pending += command;
            lines.push_back({fmt::format("{}:{}", page_name, pending_at), pending});
            ++found;
            pending.clear();
        }
        if (blocks != nullptr && (shell || found > 0)) ++*blocks;
    };
    while (std::getline(in, line)) {
        ++number;
        const auto first = line.find_first_not_of(' ');
        const std::string trimmed = first == std::string::npos ? "" : line.substr(first);
        if (trimmed.rfind("```", 0) == 0) {
            if (fence) {
                close_block();
                fence.reset();
                body.clear();
            } else {
                std::string lang = trimmed.substr(3);
                fence = lang.substr(0, lang.find_first_of(" {"));
            }
            continue;
        }
        if (fence) body.emplace_back(number, trimmed);
    }
    return lines;
}

// Shell-like words: quotes removed, a word starting with `#` ends the line.
std::vector<std::string> shell_words(const std::string& line) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quote != 0) {
            if (c == quote) {
                quote = 0;
            } else {
                word += c;
            }
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == ' ' || c == '\t') {
            if (in_word) words.push_back(word);
            word.clear();
            in_word = false;
        } else if (c == '#' && !in_word) {
            break;
        } else if (c == '\\' && i + 1 < line.size()) {
            word += line[++i];
            in_word = true;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word) words.push_back(word);
    return words;
}

bool is_program(const std::string& w) {
    return w == "joulebench" || w == "./joulebench" || w == "build/joulebench" ||
           w == "./build/joulebench";
}

bool is_shell_operator(const std::string& w) {
    static const std::regex op(R"(^(\||\|\||&&|;|&|<|\d*>>?.*)$)");
    return std::regex_match(w, op);
}

// A word standing for something the reader supplies: DB, FILE, CMD, RUN_ID, P, <id>, ...
bool is_placeholder(const std::string& w) {
    static const std::regex upper(R"(^[A-Z][A-Z0-9_]*$)");
    return std::regex_match(w, upper) || w.find('<') != std::string::npos ||
           w.find("...") != std::string::npos;
}

struct Command {
    bool sudo = false;
    std::vector<std::string> args;  // after the program, up to a shell operator
    bool optional_parts = false;    // `[--json]`: the doc shows choices, not one command
};

// The joulebench invocation of a line, if the line is one.
std::optional<Command> parse_command(const std::string& line) {
    std::vector<std::string> words = shell_words(line);
    std::size_t i = 0;
    Command c;
    static const std::regex assignment(R"(^[A-Za-z_][A-Za-z0-9_]*=.*$)");
    while (i < words.size() && (words[i] == "sudo" || std::regex_match(words[i], assignment))) {
        if (words[i] == "sudo") c.sudo = true;
        ++i;
    }
    if (i >= words.size() || !is_program(words[i])) return std::nullopt;
    bool after_dashdash = false;
    for (++i; i < words.size(); ++i) {
        std::string w = words[i];
        if (w == "--") after_dashdash = true;
        // The workload after `--` is the user's command: its `|` or `>` belong to it only when
        // quoted, which shell_words already joined into one word.
        if (is_shell_operator(w)) break;
        if (!after_dashdash &&
            (w.find('[') != std::string::npos || w.find(']') != std::string::npos)) {
            c.optional_parts = true;
            w.erase(std::remove(w.begin(), w.end(), '['), w.end());
            w.erase(std::remove(w.begin(), w.end(), ']'), w.end());
            if (w.empty()) continue;
        }
        c.args.push_back(w);
    }
    return c;
}

std::string help_of(const std::vector<std::string>& path) {
    static std::map<std::vector<std::string>, std::string> cache;
    auto it = cache.find(path);
    if (it != cache.end()) return it->second;
    std::vector<std::string> argv = path;
    argv.emplace_back("--help");
    const ProcessResult r = run_joulebench(argv);
    EXPECT_EQ(r.exit_code, 0) << "joulebench " << fmt::format("{}", fmt::join(argv, " ")) << ": "
                              << r.err;
    return cache[path] = r.out;
}

struct Checked {
    std::vector<std::string> problems;
    std::vector<std::string> subcommand;  // path, e.g. {"caps", "show"}
    std::vector<std::string> rest;        // the words after the sub-command path
};

// The sub-command path of a command exists and every option it shows (before `--`) is in the
// help of that sub-command.
Checked check_options(const Command& c) {
    Checked out;
    std::size_t i = 0;
    while (i < c.args.size() && c.args[i].rfind('-', 0) != 0) {
        const std::set<std::string> subs = subcommands_in(help_of(out.subcommand));
        if (subs.count(c.args[i]) == 0) {
            if (out.subcommand.empty()) {
                out.problems.push_back(fmt::format("'{}' is not a joulebench command", c.args[i]));
            }
            break;  // a positional argument of the sub-command
        }
        out.subcommand.push_back(c.args[i++]);
    }
    const std::set<std::string> known = options_in(help_of(out.subcommand));
    for (; i < c.args.size(); ++i) {
        const std::string& w = c.args[i];
        out.rest.push_back(w);
        if (w == "--") {
            for (++i; i < c.args.size(); ++i) out.rest.push_back(c.args[i]);
            break;
        }
        if (w.size() < 2 || w[0] != '-' || w == "-") continue;
        if (std::isdigit(static_cast<unsigned char>(w[1])) != 0) continue;  // a negative number
        const std::string name = w.substr(0, w.find('='));
        if (known.count(name) == 0) {
            out.problems.push_back(fmt::format("joulebench {} has no option {}",
                                               fmt::join(out.subcommand, " "), name));
        }
    }
    return out;
}

fs::path source_dir() {
    return fs::path(JOULEBENCH_SOURCE_DIR);
}

// Why a checked command cannot run here, or nullopt when it can.
std::optional<std::string> why_not_run(const Command& c, const Checked& k) {
    if (c.sudo) return "needs root";
    if (c.optional_parts) return "shows optional parts in [brackets]";
    for (const auto& w : c.args) {
        if (is_placeholder(w)) return fmt::format("placeholder {}", w);
        if (w.find('~') == 0) return "a path in the reader's home";
        if (w.find('*') != std::string::npos) return "a glob over the reader's files";
    }
    const std::string sub = k.subcommand.empty() ? "" : k.subcommand.front();
    if (sub.empty()) return std::nullopt;  // --version, --help
    for (const auto& w : k.rest) {
        if (w == "--help" || w == "-h") return std::nullopt;
    }
    if (sub == "sensors") return std::nullopt;
    // The first positional argument (an input file) must be in the repository.
    const auto input_exists = [&](const std::string& w) {
        return fs::is_regular_file(source_dir() / w);
    };
    if (sub == "plan") {
        if (!k.rest.empty() && input_exists(k.rest.front())) return std::nullopt;
        return "its experiment file is not in the repository";
    }
    if (sub == "analyze") {
        const auto csv = std::find(k.rest.begin(), k.rest.end(), "--csv");
        if (csv != k.rest.end() && csv + 1 != k.rest.end() && input_exists(*(csv + 1)))
            return std::nullopt;
        return "its input is not in the repository";
    }
    if (sub == "measure") {
        for (const auto& w : k.rest) {
            if (w == "--") break;
            if (w == "--gpus" || w == "--power-cap" || w == "--cpu-power-cap")
                return "needs GPUs or root-only caps";
        }
        const auto dashdash = std::find(k.rest.begin(), k.rest.end(), "--");
        if (dashdash == k.rest.end() || dashdash + 1 == k.rest.end()) return "no workload";
        static const std::set<std::string> kQuick{"true", "sleep", "echo"};
        if (kQuick.count(*(dashdash + 1)) != 0) return std::nullopt;
        return fmt::format("its workload ({}) is the reader's or not quick", *(dashdash + 1));
    }
    return fmt::format("{} needs a results store, Slurm, a container engine or hardware", sub);
}

std::vector<DocLine> all_doc_lines(std::size_t* blocks) {
    std::vector<fs::path> pages{source_dir() / "README.md"};
    std::vector<fs::path> docs;
    for (const auto& e : fs::directory_iterator(source_dir() / "docs")) {
        if (e.path().extension() == ".md") docs.push_back(e.path());
    }
    std::sort(docs.begin(), docs.end());
    pages.insert(pages.end(), docs.begin(), docs.end());
    std::vector<DocLine> lines;
    for (const auto& page : pages) {
        const auto more =
            command_lines(fs::relative(page, source_dir()).string(), read_file(page), blocks);
        lines.insert(lines.end(), more.begin(), more.end());
    }
    return lines;
}

const char* kRotMarkers[] = {"unknown option", "not expected", "is not a joulebench command",
                             "was not expected", "requires at least"};

TEST(DocsCommands, ParserFindsCommandsAndOptions) {
    std::size_t blocks = 0;
    const auto lines = command_lines("x.md",
                                     "text\n```sh\n# comment\njoulebench measure --json a.json \\\n"
                                     "  --interval 5 -- sleep 1   # trailing\n```\n"
                                     "```console\n$ build/joulebench sensors\npackage-0 ...\n```\n"
                                     "```toml\njoulebench = 1\n```\n"
                                     "```\njoulebench sweep: ./train.sh\n```\n"
                                     "```\njoulebench plan FILE [--json]\n```\n",
                                     &blocks);
    EXPECT_EQ(blocks, 3U);
    ASSERT_EQ(lines.size(), 3U);
    EXPECT_EQ(lines[2].text, "joulebench plan FILE [--json]");
    EXPECT_EQ(lines[0].where, "x.md:4");
    const auto c = parse_command(lines[0].text);
    ASSERT_TRUE(c.has_value());
    EXPECT_THAT(c->args, ::testing::ElementsAre("measure", "--json", "a.json", "--interval", "5",
                                                "--", "sleep", "1"));
    const auto s = parse_command(lines[1].text);
    ASSERT_TRUE(s.has_value());
    EXPECT_THAT(s->args, ::testing::ElementsAre("sensors"));
    EXPECT_FALSE(parse_command("cp build/joulebench ~/bin/").has_value());
    const auto piped = parse_command("joulebench sensors --json | jq '.sensors[]'");
    ASSERT_TRUE(piped.has_value());
    EXPECT_THAT(piped->args, ::testing::ElementsAre("sensors", "--json"));
}

// The check fails on what rot looks like: an option or a command that does not exist.
TEST(DocsCommands, CheckCatchesAnOptionOrCommandThatDoesNotExist) {
    EXPECT_THAT(
        check_options(*parse_command("joulebench sensors --json --no-such-option")).problems,
        ::testing::ElementsAre(::testing::HasSubstr("--no-such-option")));
    EXPECT_THAT(check_options(*parse_command("joulebench caps show --jsn")).problems,
                ::testing::ElementsAre(::testing::HasSubstr("--jsn")));
    // `status --help` mentions `submit --slurm --out DIR` in a description; status has no --out.
    EXPECT_THAT(check_options(*parse_command("joulebench status x.slurm --out y")).problems,
                ::testing::ElementsAre(::testing::HasSubstr("--out")));
    EXPECT_THAT(check_options(*parse_command("joulebench frobnicate x.db")).problems,
                ::testing::ElementsAre(::testing::HasSubstr("frobnicate")));
    // Options of the workload after `--` are its own.
    EXPECT_THAT(
        check_options(*parse_command("joulebench measure --interval 10 -- sh -c 'make -j8'"))
            .problems,
        ::testing::IsEmpty());
    EXPECT_THAT(check_options(*parse_command("joulebench submit x.toml --sbatch-arg=--qos=normal"))
                    .problems,
                ::testing::IsEmpty());
}

TEST(DocsCommands, EveryShellCommandInTheDocsIsValidAndTheRunnableOnesRun) {
    std::size_t blocks = 0;
    const auto lines = all_doc_lines(&blocks);
    std::size_t commands = 0;
    std::size_t ran = 0;
    std::size_t checked_only = 0;
    std::map<std::string, std::size_t> reasons;

    TempDir dir("joulebench-docs");
    FakePowercapTree tree(dir.path() / "powercap");
    tree.add_typical_socket(0, 60.0, 30.0, 6.0);
    tree.start();

    for (const auto& line : lines) {
        const auto command = parse_command(line.text);
        if (!command) continue;
        ++commands;
        const Checked k = check_options(*command);
        EXPECT_THAT(k.problems, ::testing::IsEmpty()) << line.where << ": " << line.text;
        if (!k.problems.empty()) continue;
        const auto why = why_not_run(*command, k);
        if (why) {
            ++checked_only;
            ++reasons[*why];
            continue;
        }
        // Run it: the repository's relative paths made absolute, the outputs in a fresh folder.
        std::vector<std::string> argv;
        for (const auto& w : command->args) {
            const bool in_repo = !w.empty() && w[0] != '-' && w.find('/') != std::string::npos &&
                                 fs::exists(source_dir() / w);
            argv.push_back(in_repo ? (source_dir() / w).string() : w);
        }
        TempDir work("joulebench-docs-run");
        ProcessOptions o;
        o.cwd = work.path();
        o.timeout = std::chrono::seconds(30);
        o.env = {{"JOULEBENCH_POWERCAP_ROOT", tree.root().string()},
                 {"JOULEBENCH_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1"}};
        const ProcessResult r = run_joulebench(argv, o);
        ++ran;
        EXPECT_EQ(r.exit_code, 0) << line.where << ": " << line.text << "\n" << r.err;
        for (const char* marker : kRotMarkers) {
            EXPECT_THAT(r.err, ::testing::Not(::testing::HasSubstr(marker)))
                << line.where << ": " << line.text;
        }
    }
    tree.stop();

    std::string summary =
        fmt::format("{} shell blocks, {} joulebench command lines: {} ran, {} option-checked only",
                    blocks, commands, ran, checked_only);
    for (const auto& [why, n] : reasons) summary += fmt::format("\n  not run ({}x): {}", n, why);
    std::cout << summary << "\n";
    RecordProperty("doc_blocks", static_cast<int>(blocks));
    RecordProperty("doc_commands", static_cast<int>(commands));
    RecordProperty("doc_commands_ran", static_cast<int>(ran));
    RecordProperty("doc_commands_option_checked", static_cast<int>(checked_only));
    EXPECT_GT(commands, 20U) << "the docs' commands were not found: " << summary;
    EXPECT_GT(ran, 0U) << summary;
}

}  // namespace
}  // namespace joulebench::test
