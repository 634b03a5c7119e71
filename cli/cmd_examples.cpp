// `joulebench examples [--copy DIR]`: where the ready experiment files and the reference workloads
// are, and a copy of both into DIR, so that `joulebench run examples/quickstart.toml` works from
// DIR (the experiment files name their workloads relatively, as `workloads/...`).
//
// Found relative to the binary, never at a path compiled in (docs/install.md): an installed
// joulebench at PREFIX/bin finds PREFIX/share/joulebench; one in a build folder inside the
// repository finds the repository. $JOULEBENCH_DATA_DIR overrides both.

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "commands.hpp"
#include "joulebench/error.hpp"

namespace joulebench::cli {
namespace {

namespace fs = std::filesystem;

bool holds_examples(const fs::path& dir) {
    std::error_code ec;
    return fs::is_directory(dir / "examples", ec) && fs::is_directory(dir / "workloads", ec);
}

// The folder holding examples/ and workloads/, or throws Error kNotFound naming where it looked.
fs::path data_dir() {
    if (const char* v = std::getenv("JOULEBENCH_DATA_DIR"); v != nullptr && *v != '\0') {
        if (!holds_examples(v))
            throw Error(ErrorCategory::kNotFound,
                        fmt::format("examples: $JOULEBENCH_DATA_DIR={}: holds no examples/ and workloads/", v),
                        "point it at the folder that holds both, or unset it");
        return v;
    }
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) throw Error(ErrorCategory::kInternal, fmt::format("examples: read /proc/self/exe: {}", ec.message()));
    const fs::path installed = exe.parent_path().parent_path() / "share" / "joulebench";
    const fs::path repository = exe.parent_path().parent_path();
    for (const fs::path& candidate : {installed, repository})
        if (holds_examples(candidate)) return candidate;
    throw Error(ErrorCategory::kNotFound,
                fmt::format("examples: find the examples: neither {} nor {} holds examples/ and workloads/",
                            installed.string(), repository.string()),
                "install joulebench (docs/install.md) or set JOULEBENCH_DATA_DIR");
}

}  // namespace

void add_examples_command(CLI::App& app, CommandContext& ctx) {
    auto copy_to = std::make_shared<std::string>();
    auto* sub = app.add_subcommand(
        "examples", "Say where the ready experiment files and reference workloads are; --copy DIR copies both");
    sub->add_option("--copy", *copy_to, "Copy examples/ and workloads/ into this folder (created; files there are kept)");
    sub->callback([&ctx, copy_to] {
        const fs::path dir = data_dir();
        if (copy_to->empty()) {
            fmt::print("examples   {}\nworkloads  {}\n", (dir / "examples").string(), (dir / "workloads").string());
            for (const auto& e : fs::directory_iterator(dir / "examples"))
                if (e.path().extension() == ".toml") fmt::print("  {}\n", e.path().filename().string());
            ctx.exit_code = 0;
            return;
        }
        const fs::path to(*copy_to);
        for (const char* part : {"examples", "workloads"}) {
            std::error_code ec;
            fs::create_directories(to / part, ec);
            if (!ec)
                fs::copy(dir / part, to / part, fs::copy_options::recursive | fs::copy_options::skip_existing, ec);
            if (ec)
                throw Error(ErrorCategory::kIo, fmt::format("examples: copy {} to {}: {}", (dir / part).string(),
                                                            (to / part).string(), ec.message()));
        }
        fmt::print("copied examples/ and workloads/ into {}\nthen: cd {} && joulebench run examples/quickstart.toml --db quickstart.db\n",
                   to.string(), to.string());
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
