// `joulebench export DB --format csv|json [-o FILE]`: one row per run of a store (columns in
// docs/store.md); `--trace RUN_ID`: that run's stored trace, as `measure --samples` writes it.
// The store is opened read-only, so exporting during a run is safe.

#include <fmt/core.h>

#include <memory>

#include "commands.hpp"
#include "common/atomic_file.hpp"
#include "joulebench/error.hpp"
#include "option_checks.hpp"
#include "joulebench/store.hpp"

namespace joulebench::cli {

void add_export_command(CLI::App& app, CommandContext& ctx) {
    struct Options {
        std::string db;
        std::string format = "csv";
        std::string output;
        std::string trace;
        int instance = 0;
    };
    auto opts = std::make_shared<Options>();
    auto* sub =
        app.add_subcommand("export", "Write one row per run of a results store as CSV or JSON");
    sub->add_option("db", opts->db, "Results store (.db) written by `joulebench run`")->required();
    sub->add_option("--format", opts->format, "Output format")
        ->check(CLI::IsMember({"csv", "json"}));
    sub->add_option("-o,--output", opts->output,
                    "Write to this file instead of stdout (- = stdout)");
    sub->add_option("--trace", opts->trace,
                    "Write this run's stored trace instead (CSV as `measure --samples` writes it)");
    sub->add_option("--instance", opts->instance, "With --trace: the instance of a gang-mode run")
        ->check(number_range(0, 4096));
    sub->callback([opts, &ctx] {
        const Store store(opts->db, Store::Mode::kReadUpgrade);
        if (!opts->trace.empty()) {
            if (opts->format != "csv") {
                throw Error(ErrorCategory::kInvalidArgument, "export: --trace writes CSV only",
                            "leave out --format json");
            }
            write_output(opts->output.empty() ? "-" : opts->output,
                         export_trace_csv(store, opts->trace, opts->instance));
            ctx.exit_code = 0;
            return;
        }
        bool replaced = false;
        const std::string text =
            opts->format == "json" ? export_json(store, &replaced) : export_csv(store);
        if (replaced) {
            fmt::print(stderr,
                       "warning: export: {}: text that is not valid UTF-8 was written with "
                       "U+FFFD in place of each invalid byte\n",
                       opts->db);
        }
        write_output(opts->output.empty() ? "-" : opts->output, text);
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
