// Serialisers for imported EnergiBridge traces: the JSON documented in docs/energibridge.md and
// the human table. Pure functions of the results.

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "joulebench/energibridge.hpp"

namespace joulebench::energibridge {

namespace {

nlohmann::json joules_or_null(const std::optional<Joules>& j) {
    return j ? nlohmann::json(j->value()) : nlohmann::json(nullptr);
}

void put_counter(nlohmann::json& out, const std::string& prefix,
                 const std::optional<CounterSummary>& counter) {
    if (counter) {
        out[prefix + "_energy_j"] = counter->energy.value();
        out[prefix + "_wraps"] = counter->wraps;
        out[prefix + "_drops"] = counter->drops;
        out["energibridge_" + prefix + "_energy_j"] = counter->naive.value();
        out[prefix + "_column"] = counter->column;
    } else {
        for (const char* suffix : {"_energy_j", "_wraps", "_drops", "_column"}) {
            out[prefix + suffix] = nullptr;
        }
        out["energibridge_" + prefix + "_energy_j"] = nullptr;
    }
}

nlohmann::json summary_json(const TraceSummary& s) {
    nlohmann::json out;
    out["file"] = s.file;
    out["error"] = nullptr;
    out["rows"] = s.rows;
    out["start_time_ms"] = s.start_time_ms;
    out["end_time_ms"] = s.end_time_ms;
    out["duration_s"] = s.duration.count();
    out["max_interval_s"] = s.max_interval.count();
    put_counter(out, "package", s.package);
    put_counter(out, "dram", s.dram);
    put_counter(out, "pp0", s.pp0);
    put_counter(out, "pp1", s.pp1);
    out["cpu_power_energy_j"] = joules_or_null(s.cpu_power_energy);
    out["system_energy_j"] = joules_or_null(s.system_energy);
    out["gpu_count"] = s.gpus.size();
    out["gpu_energy_j"] = joules_or_null(s.gpu_energy);
    out["gpu_mean_utilisation"] =
        s.gpu_mean_utilisation ? nlohmann::json(*s.gpu_mean_utilisation) : nlohmann::json(nullptr);
    auto gpus = nlohmann::json::array();
    for (const auto& gpu : s.gpus) {
        gpus.push_back({{"index", gpu.index},
                        {"energy_j", joules_or_null(gpu.energy)},
                        {"mean_utilisation", gpu.mean_utilisation
                                                 ? nlohmann::json(*gpu.mean_utilisation)
                                                 : nlohmann::json(nullptr)}});
    }
    out["gpus"] = std::move(gpus);
    out["missing_columns"] = s.missing_columns;
    out["warnings"] = s.warnings;
    return out;
}

// A total in kJ, or "n/a" when no file has the column.
std::string total_kj(const std::optional<Joules>& j) {
    return j ? fmt::format("{:.3f} kJ", j->value() / 1000.0) : std::string("n/a");
}

// The package part of the totals line: its energy, wraps and what EnergiBridge would say.
std::string package_total(const Totals& t) {
    if (!t.package_energy) return "package n/a";
    const int wraps = t.package_wraps.value_or(0);
    return fmt::format("package {} ({} wrap{}; EnergiBridge would say {})",
                       total_kj(t.package_energy), wraps, wraps == 1 ? "" : "s",
                       total_kj(t.energibridge_package_energy));
}

std::string or_dash(const std::optional<double>& v, int decimals) {
    return v ? fmt::format("{:.{}f}", *v, decimals) : std::string("-");
}

}  // namespace

nlohmann::json to_json(const std::vector<ImportResult>& results) {
    auto files = nlohmann::json::array();
    for (const auto& result : results) {
        if (result.summary) {
            files.push_back(summary_json(*result.summary));
        } else {
            files.push_back({{"file", result.file},
                             {"error", result.error},
                             {"warnings", nlohmann::json::array()}});
        }
    }
    const Totals t = compute_totals(results);
    nlohmann::json totals = {
        {"files", t.files},
        {"imported", t.files - t.failed},
        {"failed", t.failed},
        {"rows", t.rows},
        {"duration_s", t.duration.count()},
        {"package_energy_j", joules_or_null(t.package_energy)},
        {"energibridge_package_energy_j", joules_or_null(t.energibridge_package_energy)},
        {"package_wraps", t.package_wraps ? nlohmann::json(*t.package_wraps) : nlohmann::json()},
        {"dram_energy_j", joules_or_null(t.dram_energy)},
        {"pp0_energy_j", joules_or_null(t.pp0_energy)},
        {"gpu_energy_j", joules_or_null(t.gpu_energy)},
        {"warnings", t.warnings},
    };
    return {{"files", std::move(files)}, {"totals", std::move(totals)}};
}

std::string format_table(const std::vector<ImportResult>& results) {
    std::size_t width = std::string_view("file").size();
    for (const auto& r : results) width = std::max(width, r.file.size());
    std::string out = fmt::format("{:<{}}  {:>7}  {:>10}  {:>11}  {:>5}  {:>10}  {:>6}\n", "file",
                                  width, "rows", "duration s", "package kJ", "wraps", "GPU J",
                                  "util %");
    for (const auto& r : results) {
        if (!r.summary) {
            out += fmt::format("{:<{}}  FAILED (see below)\n", r.file, width);
            continue;
        }
        const auto& s = *r.summary;
        std::optional<double> package_kj;
        if (s.package) package_kj = s.package->energy.value() / 1000.0;
        std::optional<double> gpu_j;
        if (s.gpu_energy) gpu_j = s.gpu_energy->value();
        out += fmt::format("{:<{}}  {:>7}  {:>10.1f}  {:>11}  {:>5}  {:>10}  {:>6}\n", s.file,
                           width, s.rows, s.duration.count(), or_dash(package_kj, 3),
                           s.package ? std::to_string(s.package->wraps) : std::string("-"),
                           or_dash(gpu_j, 1), or_dash(s.gpu_mean_utilisation, 1));
    }
    const Totals t = compute_totals(results);
    out += fmt::format(
        "total: {} file{} ({} failed), {} rows, {:.1f} s, {}, DRAM {}, GPU {}, {} "
        "warning{}\n",
        t.files, t.files == 1 ? "" : "s", t.failed, t.rows, t.duration.count(), package_total(t),
        total_kj(t.dram_energy),
        t.gpu_energy ? fmt::format("{:.1f} J", t.gpu_energy->value()) : "n/a", t.warnings,
        t.warnings == 1 ? "" : "s");
    for (const auto& r : results) {
        if (!r.summary) {
            out += fmt::format("error: {}\n", r.error);
            continue;
        }
        for (const auto& w : r.summary->warnings) {
            out += fmt::format("warning: {}: {}\n", r.file, w);
        }
    }
    return out;
}

}  // namespace joulebench::energibridge
