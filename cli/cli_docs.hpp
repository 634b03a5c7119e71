#pragma once
// Shell completion scripts (bash, zsh, fish) and the man page, generated from the command line's
// own definitions (the CLI11 App that main builds), so they cannot drift from the options the
// binary takes. The build runs `joulebench completions SHELL` and `joulebench completions man`
// once joulebench is linked (CMakeLists.txt) and installs the results.
//
// Written by hand rather than taken from a library: CLI11 has no completion or man page output,
// and the Debian-packaged generators (help2man, argcomplete) read `--help` text or Python
// parsers, which would give a page per guess at our help layout rather than per definition.

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace joulebench::cli {

/// One option of a command, as its help shows it.
struct OptionDoc {
    std::vector<std::string> names;  ///< "-o", "--output" (short names first)
    bool takes_value = false;
    std::string value_name;  ///< "TEXT", "FLOAT", "FILE" (CLI11's type name); "" for flags
    std::string description;
};

/// A command and its sub-commands. The root is the program itself (path empty).
struct CommandDoc {
    std::vector<std::string> path;         ///< {"caps", "show"}
    std::string description;
    std::vector<OptionDoc> options;        ///< without positionals; hidden ones left out
    std::vector<std::string> positionals;  ///< "DB", "CMD"
    std::vector<CommandDoc> children;      ///< hidden ones (an empty group) left out
};

/// The visible commands and options of `app`, in definition order.
CommandDoc describe_commands(const CLI::App& app);

/// Every command of the tree, depth first, the root included.
std::vector<const CommandDoc*> flatten(const CommandDoc& root);

std::string bash_completion(const CommandDoc& root);
std::string zsh_completion(const CommandDoc& root);
std::string fish_completion(const CommandDoc& root);
/// A man page (man(7) macros) with one section per command. No date: the same definitions give
/// the same page (reproducible builds).
std::string man_page(const CommandDoc& root, const std::string& version);

}  // namespace joulebench::cli
