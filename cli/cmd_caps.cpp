// `joulebench caps show [--json]`: every cappable device's limits and what the journal holds
// (NVIDIA GPUs through NVML, AMD GPUs through ROCm SMI or else amdgpu's hwmon power1_cap, CPU
// packages through powercap).
// `joulebench caps restore [--force]`: write back whatever a journal says was changed.
// `joulebench caps guardian` (hidden): the process that restores caps when joulebench is killed.

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "capping/cap_journal.hpp"
#include "capping/cap_session.hpp"
#include "capping/guardian.hpp"
#include "capping/hwmon_capper.hpp"
#include "capping/nvml_capper.hpp"
#include "capping/powercap_capper.hpp"
#include "capping/rocm_capper.hpp"
#include "commands.hpp"
#include "joulebench/error.hpp"
#include "sensors/device_identity.hpp"
#include "sensors/registry.hpp"

namespace joulebench::cli {

namespace {

using json = nlohmann::ordered_json;

json watts_or_null(const std::optional<Watts>& w) { return w ? json(w->value()) : json(nullptr); }

// The value, or nullopt when the device cannot tell (not supported, no permission, ...).
template <class F>
auto try_read(F&& f) -> std::optional<decltype(f())> {
    try {
        return f();
    } catch (const Error&) {
        return std::nullopt;
    }
}

json entry_json(const capping::JournalEntry& e) {
    return {{"file", e.path.string()},
            {"original_w", e.original().value()},
            {"requested_w", e.requested().value()},
            {"default_w", e.default_limit_uw ? json(from_microwatts(*e.default_limit_uw).value()) : json(nullptr)},
            {"pid", e.owner.pid},
            {"owner_running", e.owner.alive()},
            {"created_at", e.created_at},
            {"hostname", e.hostname}};
}

std::string entry_text(const capping::JournalEntry& e) {
    return fmt::format("journal: original {}, capped to {} by pid {} at {} ({})", format_watts(e.original()),
                       format_watts(e.requested()), e.owner.pid, e.created_at,
                       e.owner.alive() ? "still running"
                                       : "not running: `joulebench caps restore` writes the original back");
}

void show(bool as_json) {
    json devices = json::array();
    json skipped = json::array();
    std::string text;
    auto o = std::back_inserter(text);
    std::vector<std::string> problems;
    std::optional<capping::CapJournal> journal;
    std::vector<capping::JournalEntry> entries;
    try {
        journal.emplace(capping::CapJournal::open_default());
        entries = journal->list(&problems);
    } catch (const Error& e) {
        problems.emplace_back(e.what());
    }
    std::vector<bool> matched(entries.size(), false);
    auto journal_for = [&](const PowerCapper& c) -> const capping::JournalEntry* {
        for (std::size_t i = 0; i < entries.size(); ++i) {
            if (entries[i].backend == c.info().backend && entries[i].key == c.info().key) {
                matched[i] = true;
                return &entries[i];
            }
        }
        return nullptr;
    };
    auto add = [&](const PowerCapper& c, std::optional<bool> persistence) {
        const auto current = try_read([&] { return c.current_limit(); });
        const auto enforced = try_read([&] { return c.enforced_limit(); });
        const auto range = try_read([&] { return c.constraints(); });
        const auto def = c.default_limit();
        const auto* entry = journal_for(c);
        json d{{"id", c.info().id},
               {"backend", c.info().backend},
               {"index", c.info().index},
               {"label", c.info().label},
               {"key", c.info().key},
               {"current_w", watts_or_null(current)},
               {"enforced_w", watts_or_null(enforced)},
               {"default_w", watts_or_null(def)},
               {"min_w", range ? json(range->min.value()) : json(nullptr)},
               {"max_w", range ? json(range->max.value()) : json(nullptr)},
               {"persistence_mode", persistence ? json(*persistence) : json(nullptr)},
               {"journal", entry != nullptr ? entry_json(*entry) : json(nullptr)}};
        devices.push_back(std::move(d));
        fmt::format_to(o, "{}  {}\n", c.info().label, c.info().key);
        fmt::format_to(o, "  limit {}, enforced {}, default {}, allowed {}{}\n",
                       current ? format_watts(*current) : "n/a", enforced ? format_watts(*enforced) : "n/a",
                       def ? format_watts(*def) : "n/a",
                       range ? fmt::format("{} to {}", format_watts(range->min), format_watts(range->max)) : "n/a",
                       persistence ? (*persistence ? ", persistence mode on" : ", persistence mode OFF") : "");
        if (entry != nullptr) fmt::format_to(o, "  {}\n", entry_text(*entry));
    };
    try {
        const auto system = nvml::NvmlSystem::open();
        for (const auto& device : system.devices()) {
            const capping::NvmlCapper capper(device);
            add(capper, try_read([&] { return device.persistence_mode(); }));
        }
        if (system.devices().empty()) skipped.push_back("nvml: no GPUs");
    } catch (const Error& e) {
        skipped.push_back(e.what());
    }
    std::vector<std::string> rocm_gpus;  // device identities (sensors/device_identity.hpp)
    try {
        const auto library = rocm::RocmLibrary::load();
        std::vector<std::string> notes;
        const auto amd_gpus = rocm::RocmDevice::enumerate(library, notes);
        for (const auto& device : amd_gpus) {
            try {
                const capping::RocmCapper capper(device);
                add(capper, std::nullopt);
                rocm_gpus.push_back(pci_identity(device.pci_bus_id()));
            } catch (const Error& e) {
                skipped.push_back(e.what());
            }
        }
        for (auto& note : notes) skipped.push_back("rocm: " + note);
        if (amd_gpus.empty()) skipped.push_back("rocm: no GPUs");
    } catch (const Error& e) {
        skipped.push_back(e.what());
    }
    // amdgpu's power1_cap, for the AMD GPUs ROCm SMI does not cap (no library, or not listed).
    std::vector<std::string> hwmon_skipped;
    for (const auto& capper : capping::hwmon_gpu_cappers(ProbeOptions::default_hwmon_root(), hwmon_skipped)) {
        const std::string identity = pci_identity(capper->info().key);
        if (std::find(rocm_gpus.begin(), rocm_gpus.end(), identity) == rocm_gpus.end()) {
            add(*capper, std::nullopt);
        } else {
            skipped.push_back(fmt::format("hwmon: {}: capped through ROCm SMI, which lists the same GPU ({})",
                                          capper->info().label, identity));
        }
    }
    for (const auto& s : hwmon_skipped) skipped.push_back(s);
    std::vector<std::string> powercap_skipped;
    for (const auto& capper :
         capping::powercap_package_cappers(ProbeOptions::default_powercap_root(), powercap_skipped)) {
        add(*capper, std::nullopt);
    }
    for (const auto& s : powercap_skipped) skipped.push_back(s);
    json orphans = json::array();
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (matched[i]) continue;
        json e = entry_json(entries[i]);
        e["label"] = entries[i].label;
        e["key"] = entries[i].key;
        orphans.push_back(std::move(e));
        fmt::format_to(o, "{} (not found now)  {}\n  {}\n", entries[i].label, entries[i].key, entry_text(entries[i]));
    }
    if (as_json) {
        json out{{"journal_dir", journal ? json(journal->dir().string()) : json(nullptr)},
                 {"devices", std::move(devices)},
                 {"journal_entries_without_device", std::move(orphans)},
                 {"skipped", std::move(skipped)},
                 {"problems", problems}};
        fmt::print("{}\n", out.dump(2));
        return;
    }
    if (devices.empty() && orphans.empty()) fmt::format_to(o, "no device whose power can be capped\n");
    for (const auto& s : skipped) fmt::format_to(o, "skipped: {}\n", s.get<std::string>());
    if (journal) {
        fmt::format_to(o, "journal: {} ({} entr{})\n", journal->dir().string(), entries.size(),
                       entries.size() == 1 ? "y" : "ies");
    }
    for (const auto& p : problems) fmt::format_to(o, "problem: {}\n", p);
    fmt::print("{}", text);
}

}  // namespace

void add_caps_command(CLI::App& app, CommandContext& ctx) {
    auto* caps = app.add_subcommand("caps", "Show power limits and restore caps a crashed run left behind");
    caps->require_subcommand(1);

    auto show_json = std::make_shared<bool>(false);
    auto* show_cmd = caps->add_subcommand(
        "show", "Every GPU and CPU package: limit, enforced, default, allowed range, journalled original");
    show_cmd->add_flag("--json", *show_json, "Print JSON");
    show_cmd->callback([show_json] { show(*show_json); });

    auto force = std::make_shared<bool>(false);
    auto* restore_cmd = caps->add_subcommand(
        "restore", "Write back the original limit of every device a journal says was changed, then clear it");
    restore_cmd->add_flag("--force", *force,
                          "Also restore devices capped by a joulebench that is still running");
    restore_cmd->callback([force, &ctx] {
        capping::CapperFactory factory;
        capping::RestoreFilter filter;
        filter.mode = *force ? capping::RestoreFilter::Mode::kAll : capping::RestoreFilter::Mode::kLeftovers;
        const auto journal = capping::CapJournal::open_default();
        const auto report = capping::restore_journal(journal, factory, filter);
        for (const auto& line : report.restored) fmt::print("restored: {}\n", line);
        for (const auto& line : report.skipped) fmt::print("skipped: {}\n", line);
        if (report.restored.empty() && report.skipped.empty() && report.failed.empty()) {
            fmt::print("nothing to restore ({} holds no journal entry)\n", journal.dir().string());
        }
        std::fflush(stdout);
        for (const auto& line : report.failed) fmt::print(stderr, "error: {}\n", line);
        if (!report.ok()) {
            fmt::print(stderr, "hint: the entries that failed are kept; fix the cause and run `joulebench caps restore` "
                               "again\n");
            ctx.exit_code = 1;
        }
    });

    auto gargs = std::make_shared<capping::GuardianArgs>();
    auto* guardian = caps->add_subcommand("guardian", "Internal: restores caps when joulebench is killed");
    guardian->group("");  // hidden: started by joulebench itself
    guardian->add_option("--parent-pid", gargs->parent_pid)->required();
    guardian->add_option("--parent-start", gargs->parent_start_ticks)->required();
    guardian->add_option("--life-fd", gargs->life_fd)->required();
    guardian->add_option("--ready-fd", gargs->ready_fd)->required();
    guardian->add_flag("--nvml", gargs->nvml);
    guardian->callback([gargs, &ctx] { ctx.exit_code = capping::run_guardian(*gargs); });
}

}  // namespace joulebench::cli
