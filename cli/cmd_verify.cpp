// `joulebench verify DB [DB...]`: checks stores for damage: SQLite's integrity and foreign key
// checks, and every run's checksum (docs/store.md, "Checksums"). Prints what is wrong per file;
// exit 0 when every store is sound, 1 when one is damaged or cannot be read.

#include <fmt/core.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "joulebench/error.hpp"
#include "joulebench/store.hpp"

namespace joulebench::cli {

namespace {

struct Verdict {
    std::string path;
    std::size_t runs = 0;
    std::vector<std::string> damaged_runs;
    std::vector<std::string> integrity;
    std::optional<std::string> error;  ///< the store could not be read at all

    [[nodiscard]] bool sound() const { return !error && damaged_runs.empty() && integrity.empty(); }
};

Verdict verify_one(const std::string& path) {
    Verdict v;
    v.path = path;
    try {
        const Store store(path, Store::Mode::kInspect);
        v.integrity = store.integrity_problems();
        v.runs = store.status_counts().total();
        v.damaged_runs = store.damaged_runs();
    } catch (const Error& e) {
        v.error = e.what();
    }
    return v;
}

void print_text(const Verdict& v) {
    if (v.sound()) {
        fmt::print("{}: ok ({} runs, every checksum matches, integrity ok)\n", v.path, v.runs);
        return;
    }
    if (v.error) {
        fmt::print("{}: cannot be read: {}\n", v.path, *v.error);
        return;
    }
    fmt::print("{}: damaged\n", v.path);
    for (const auto& line : v.integrity) fmt::print("  integrity: {}\n", line);
    for (const auto& id : v.damaged_runs) {
        fmt::print("  run {}: stored result does not match its checksum\n", id);
    }
}

nlohmann::json to_json(const Verdict& v) {
    return {{"path", v.path},
            {"ok", v.sound()},
            {"runs", v.runs},
            {"damaged_runs", v.damaged_runs},
            {"integrity", v.integrity},
            {"error", v.error ? nlohmann::json(*v.error) : nlohmann::json(nullptr)}};
}

}  // namespace

void add_verify_command(CLI::App& app, CommandContext& ctx) {
    struct Options {
        std::vector<std::string> stores;
        bool json = false;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand(
        "verify", "Check results stores for damage: SQLite's integrity check and run checksums");
    sub->add_option("stores", opts->stores, "Stores (.db) to check")->required()->expected(1, -1);
    sub->add_flag("--json", opts->json, "Print one JSON document instead of text");
    sub->callback([opts, &ctx] {
        bool all_sound = true;
        nlohmann::json doc = nlohmann::json::array();
        for (const auto& path : opts->stores) {
            const Verdict v = verify_one(path);
            all_sound = all_sound && v.sound();
            if (opts->json) {
                doc.push_back(to_json(v));
            } else {
                print_text(v);
            }
        }
        if (opts->json) {
            fmt::print("{}\n", nlohmann::json{{"stores", doc}}.dump(
                                   2, ' ', false, nlohmann::json::error_handler_t::replace));
        }
        ctx.exit_code = all_sound ? 0 : 1;
    });
}

}  // namespace joulebench::cli
