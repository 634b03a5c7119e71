// `joulebench completions SHELL` and `joulebench manpage`: the completion scripts and the man
// page, generated from this binary's own command definitions (cli_docs.hpp). The build writes
// them into the build folder and `cmake --install` installs them (docs/install.md).

#include <fmt/core.h>

#include <memory>
#include <string>

#include "cli_docs.hpp"
#include "commands.hpp"

namespace joulebench::cli {

extern const char* const kBuildVersion;

void add_completions_command(CLI::App& app, CommandContext& ctx) {
    auto shell = std::make_shared<std::string>();
    auto* sub = app.add_subcommand("completions", "Print the shell completion script for bash, zsh or fish");
    sub->add_option("SHELL", *shell, "bash, zsh or fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
    sub->footer(
        "Installed packages put these where each shell finds them. From a build folder:\n"
        "  bash: source <(joulebench completions bash)\n"
        "  zsh:  joulebench completions zsh > ~/.zfunc/_joulebench  (with fpath+=~/.zfunc)\n"
        "  fish: joulebench completions fish > ~/.config/fish/completions/joulebench.fish");
    sub->callback([&app, &ctx, shell] {
        const CommandDoc root = describe_commands(app);
        const std::string text = *shell == "bash" ? bash_completion(root)
                                 : *shell == "zsh" ? zsh_completion(root)
                                                   : fish_completion(root);
        fmt::print("{}", text);
        ctx.exit_code = 0;
    });

    auto* man = app.add_subcommand("manpage", "Print the man page (man(7) source): joulebench manpage | man -l -");
    man->callback([&app, &ctx] {
        fmt::print("{}", man_page(describe_commands(app), kBuildVersion));
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
