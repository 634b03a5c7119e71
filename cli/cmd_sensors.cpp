// `joulebench sensors [-v] [--json]`: what can be measured here, how, and why the rest cannot.

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "option_checks.hpp"
#include "joulebench/error.hpp"
#include "report/measure_summary.hpp"
#include "sensors/registry.hpp"

namespace joulebench::cli {

namespace {

using json = nlohmann::ordered_json;

json limit_json(const PowerLimitInfo& l) {
    auto w = [](const std::optional<Watts>& v) { return v ? json(v->value()) : json(nullptr); };
    json o;
    o["name"] = l.name;
    o["current_w"] = w(l.current);
    o["enforced_w"] = w(l.enforced);
    o["min_w"] = w(l.min);
    o["max_w"] = w(l.max);
    o["default_w"] = w(l.default_value);
    o["time_window_s"] = l.time_window ? json(std::chrono::duration<double>(*l.time_window).count()) : json(nullptr);
    return o;
}

json sensors_json(const SensorSet& set) {
    json out;
    json list = json::array();
    for (const auto& s : set.sensors) {
        const auto& i = s->info();
        json o;
        o["id"] = i.id;
        o["kind"] = std::string(to_string(i.kind));
        o["index"] = i.index;
        o["vendor"] = i.vendor.empty() ? json(nullptr) : json(i.vendor);
        o["method"] = std::string(to_string(i.method));
        o["backend"] = i.backend;
        o["name"] = i.name;
        o["source"] = i.source;
        o["pci_bus_id"] = i.pci_bus_id.empty() ? json(nullptr) : json(i.pci_bus_id);
        o["device_identity"] = i.device_identity.empty() ? json(nullptr) : json(i.device_identity);
        o["update_period_ms"] = static_cast<double>(i.update_period.count()) / 1000.0;
        o["wrap_range_j"] = i.wrap_range ? json(i.wrap_range->value()) : json(nullptr);
        o["counts_in_total"] = counts_in_total(i.kind);
        json limits = json::array();
        for (const auto& l : i.limits) limits.push_back(limit_json(l));
        o["limits"] = std::move(limits);
        o["notes"] = i.notes;
        list.push_back(std::move(o));
    }
    out["sensors"] = std::move(list);
    json backends = json::array();
    for (const auto& b : set.backends) {
        backends.push_back({{"backend", b.backend}, {"sensors", b.sensors}, {"skipped", b.skipped}, {"notes", b.notes}});
    }
    out["backends"] = std::move(backends);
    return out;
}

std::string limits_text(const std::vector<PowerLimitInfo>& limits) {
    std::string out;
    for (const auto& l : limits) {
        std::string part = l.name + " ";
        part += l.current ? report::format_power(l.current->value()) : "?";
        if (l.enforced && (!l.current || std::abs(l.enforced->value() - l.current->value()) > 1e-9)) {
            part += fmt::format(" (enforced {})", report::format_power(l.enforced->value()));
        }
        if (l.min || l.max) {
            part += fmt::format(" [{}..{}]", l.min ? report::format_power(l.min->value()) : std::string("?"),
                                l.max ? report::format_power(l.max->value()) : std::string("?"));
        }
        if (l.default_value) part += fmt::format(" default {}", report::format_power(l.default_value->value()));
        if (l.time_window) part += fmt::format(" window {}", report::format_duration(std::chrono::duration<double>(*l.time_window).count()));
        out += (out.empty() ? "" : "; ") + part;
    }
    return out;
}

void print_text(const SensorSet& set, bool verbose) {
    if (set.sensors.empty()) {
        fmt::print("No energy sensor found.\n");
    } else {
        fmt::print("{:<16} {:<14} {:<10} {:<9} {:>9} {:>12}  {}\n", "ID", "KIND", "METHOD", "BACKEND", "UPDATE", "WRAPS AT", "NAME");
    }
    for (const auto& s : set.sensors) {
        const auto& i = s->info();
        std::string kind(to_string(i.kind));
        if (!counts_in_total(i.kind)) kind += "*";
        fmt::print("{:<16} {:<14} {:<10} {:<9} {:>9} {:>12}  {}\n", i.id, kind, to_string(i.method), i.backend,
                   report::format_duration(std::chrono::duration<double>(i.update_period).count()),
                   i.wrap_range ? report::format_energy(i.wrap_range->value()) : std::string("-"), i.name);
        if (i.kind == DomainKind::kGpu && !i.vendor.empty()) {
            fmt::print("{:<16} GPU {} ({}; --gpus {})\n", "", i.index, i.vendor, i.index);
        }
        if (!i.limits.empty()) fmt::print("{:<16} limits: {}\n", "", limits_text(i.limits));
        if (verbose) {
            if (!i.source.empty()) fmt::print("{:<16} source: {}\n", "", i.source);
            if (!i.pci_bus_id.empty()) fmt::print("{:<16} PCI bus id: {}\n", "", i.pci_bus_id);
            if (!i.device_identity.empty()) fmt::print("{:<16} device: {}\n", "", i.device_identity);
            for (const auto& n : i.notes) fmt::print("{:<16} note: {}\n", "", n);
        }
    }
    bool starred = false;
    for (const auto& s : set.sensors) starred = starred || !counts_in_total(s->info().kind);
    if (starred) fmt::print("* shown, not added into the total (inside the package, or the whole platform)\n");
    if (set.uses_estimate()) {
        fmt::print("CPU energy will be estimated from CPU time: no CPU energy sensor is readable here.\n");
    }
    if (verbose) {
        fmt::print("\nBackends, in probe order:\n");
        for (const auto& b : set.backends) {
            fmt::print("  {}: {} sensor{}\n", b.backend, b.sensors, b.sensors == 1 ? "" : "s");
            for (const auto& n : b.notes) fmt::print("    note: {}\n", n);
            for (const auto& why : b.skipped) fmt::print("    skipped: {}\n", why);
        }
    } else {
        std::size_t skipped = 0;
        for (const auto& b : set.backends) skipped += b.skipped.size();
        if (skipped > 0) fmt::print("({} thing{} skipped: `joulebench sensors -v` says why)\n", skipped, skipped == 1 ? "" : "s");
    }
}

}  // namespace

void add_sensors_command(CLI::App& app, CommandContext& ctx) {
    struct Options {
        bool verbose = false;
        bool json = false;
        std::string gpus = "all";
        double cpu_tdp_w = 0.0;
    };
    auto opts = std::make_shared<Options>();
    auto* sub = app.add_subcommand("sensors", "List the energy sensors found here, how they measure, and why others were skipped");
    sub->add_flag("-v,--verbose", opts->verbose, "Also show sources, notes and why each missing backend was skipped");
    sub->add_flag("--json", opts->json, "Print JSON instead of a table");
    sub->add_option("--gpus", opts->gpus, "GPUs to list: all, none, or indices in PCI bus order");
    sub->add_option("--cpu-tdp", opts->cpu_tdp_w, "CPU package TDP in watts, for the CPU-time estimate")->check(number_range(1.0, 5000.0));
    sub->callback([opts, &ctx] {
        ProbeOptions probe;
        probe.nvml.gpus = nvml::GpuSelection::parse(opts->gpus);
        if (opts->cpu_tdp_w > 0) probe.cpu_tdp_w = opts->cpu_tdp_w;
        SensorSet set = probe_all(probe);
        if (set.selection_error) throw *set.selection_error;
        if (opts->json) {
            fmt::print("{}\n", sensors_json(set).dump(2));
        } else {
            print_text(set, opts->verbose);
        }
        ctx.exit_code = 0;
    });
}

}  // namespace joulebench::cli
