#pragma once
// What a CLI11 help text lists: its sub-commands and its options. The documentation test checks
// README command lines against them, and the install test checks the completion scripts and the
// man page against them: the help is the truth neither generator reads.

#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace joulebench::test {

// Names under "Subcommands:" in a CLI11 help text.
inline std::set<std::string> subcommands_in(const std::string& help) {
    std::set<std::string> names;
    std::istringstream in(help);
    std::string line;
    bool in_section = false;
    static const std::regex entry(R"(^  ([a-z][a-z0-9-]*)(\s|$))");
    while (std::getline(in, line)) {
        if (line.rfind("Subcommands:", 0) == 0) {
            in_section = true;
            continue;
        }
        if (in_section && !line.empty() && line[0] != ' ') in_section = false;
        std::smatch m;
        if (in_section && std::regex_search(line, m, entry)) names.insert(m[1]);
    }
    return names;
}

// Option names a help text lists: the entries of its option list ("  -v,--verbose TEXT  ..."
// gives -v and --verbose), not options its descriptions mention.
inline std::set<std::string> options_in(const std::string& help) {
    std::set<std::string> names;
    std::istringstream in(help);
    std::string line;
    static const std::regex entry(R"(^  (-[^ ]*))");
    static const std::regex option(R"(--?[A-Za-z0-9][A-Za-z0-9_-]*)");
    while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_search(line, m, entry)) continue;
        const std::string names_field = m[1];
        for (std::sregex_iterator o(names_field.begin(), names_field.end(), option), last;
             o != last; ++o) {
            names.insert(o->str());
        }
    }
    return names;
}

}  // namespace joulebench::test
