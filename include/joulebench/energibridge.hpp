#pragma once
/// Import of EnergiBridge CSV traces (https://github.com/tdurieux/EnergiBridge).
///
/// EnergiBridge writes one row per sample: `Delta` (ms), `Time` (Unix epoch, ms) and, sorted by
/// name, every value it read. RAPL energies (`PACKAGE_ENERGY (J)`, `DRAM_ENERGY (J)`,
/// `PP0_ENERGY (J)`, `PP1_ENERGY (J)` on Intel; `CPU_ENERGY (J)` on AMD) are the raw cumulative
/// 32-bit counters scaled to joules: they wrap (at 2^32 x 2^-14 J = 262144 J on common Intel
/// parts) and EnergiBridge never corrects that. This importer unwraps them, integrates GPU power
/// and reports, per file, what EnergiBridge's own difference would have said next to the
/// corrected value. The schema of the JSON form is documented in docs/energibridge.md.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "joulebench/units.hpp"

namespace joulebench::energibridge {

/// 2^32 x 2^-14 J: where a 32-bit RAPL energy counter with the common Intel energy unit wraps.
inline constexpr double kDefaultWrapJ = 4294967296.0 / 16384.0;

struct ImportOptions {
    /// Range of the cumulative counters: a drop of more than half of it is one wrap. Must be > 0.
    Joules wrap = Joules(kDefaultWrapJ);
    /// Drops of a counter up to this much are measurement jitter and kept as they are; larger
    /// drops that are not wraps are excluded from the energy and warned about.
    Joules drop_tolerance = Joules(0.001);
};

/// One unwrapped cumulative energy counter, first to last row.
struct CounterSummary {
    std::string column;      ///< CSV column it came from, e.g. `PACKAGE_ENERGY (J)`.
    Joules energy;           ///< Unwrapped last minus first (drops that are not wraps excluded).
    Joules naive;            ///< Last minus first as written, as EnergiBridge computes it.
    int wraps = 0;           ///< How many times the counter wrapped.
    int drops = 0;           ///< Drops larger than the tolerance that were not wraps.
};

/// One GPU (columns `GPU<i>_...`).
struct GpuSummary {
    int index = 0;
    std::optional<Joules> energy;             ///< Trapezoid of `GPU<i>_POWER (mWatts)` over Time.
    std::optional<double> mean_utilisation;   ///< Mean of `GPU<i>_USAGE` over rows, in percent.
};

/// What one trace says, with everything a researcher needs to judge it.
struct TraceSummary {
    std::string file;                         ///< Path as given.
    std::size_t rows = 0;                     ///< Data rows (header excluded).
    double start_time_ms = 0.0;               ///< `Time` of the first row (Unix epoch, ms).
    double end_time_ms = 0.0;                 ///< `Time` of the last row.
    Seconds duration{0.0};                    ///< Last minus first `Time`.
    Seconds max_interval{0.0};                ///< Longest step between two consecutive rows.
    std::optional<CounterSummary> package;    ///< `PACKAGE_ENERGY (J)` or its aliases.
    std::optional<CounterSummary> dram;
    std::optional<CounterSummary> pp0;
    std::optional<CounterSummary> pp1;
    std::optional<Joules> cpu_power_energy;   ///< Trapezoid of `CPU_POWER (Watts)` (macOS).
    std::optional<Joules> system_energy;      ///< Trapezoid of `SYSTEM_POWER (Watts)` (macOS).
    std::vector<GpuSummary> gpus;             ///< Every GPU index that has a column, sorted.
    std::optional<Joules> gpu_energy;         ///< Sum over GPUs with a power column.
    std::optional<double> gpu_mean_utilisation;  ///< Mean over GPUs with a usage column, percent.
    std::vector<std::string> columns;         ///< Header as read.
    std::vector<std::string> missing_columns; ///< Expected columns (Intel Linux layout) not present.
    std::vector<std::string> warnings;
};

/// The outcome of importing one file: a summary or an error message, never both.
struct ImportResult {
    std::string file;
    std::optional<TraceSummary> summary;
    std::string error;   ///< Error message (and hint) when the import failed; empty otherwise.
};

/// Sums over the files that imported; null-valued quantities are left out of their sum, and a sum
/// whose every value is null (the column in no file, or no file imported) is itself unset.
struct Totals {
    std::size_t files = 0;
    std::size_t failed = 0;
    std::size_t rows = 0;
    Seconds duration{0.0};
    std::optional<Joules> package_energy;
    std::optional<Joules> dram_energy;
    std::optional<Joules> pp0_energy;
    std::optional<Joules> gpu_energy;
    std::optional<Joules> energibridge_package_energy;
    std::optional<int> package_wraps;
    std::size_t warnings = 0;
};

/// Parses one trace held in memory; `name` is used as `file` and in messages.
/// Throws joulebench::Error (invalid argument) for an empty text, a header without data rows, a
/// missing `Time` column, a row whose field count differs from the header or a value in a used
/// column that is not a finite number; messages name the file, line and column.
[[nodiscard]] TraceSummary parse_trace(std::string_view text, const std::string& name,
                                       const ImportOptions& options = {});

/// Reads and parses one file. Throws joulebench::Error: not found / no permission / I/O when it
/// cannot be read, and everything parse_trace throws.
[[nodiscard]] TraceSummary import_trace(const std::filesystem::path& path,
                                        const ImportOptions& options = {});

/// Imports every file; an error in one file is recorded in its result and never stops the others.
/// Throws joulebench::Error (invalid argument) only for invalid options.
[[nodiscard]] std::vector<ImportResult> import_traces(const std::vector<std::string>& files,
                                                      const ImportOptions& options = {});

[[nodiscard]] Totals compute_totals(const std::vector<ImportResult>& results);

/// `{"files": [...], "totals": {...}}` as documented in docs/energibridge.md.
[[nodiscard]] nlohmann::json to_json(const std::vector<ImportResult>& results);

/// Human table: file, rows, duration, package kJ, wraps, GPU J, GPU utilisation, then a totals
/// line; per-file errors and warnings follow the table.
[[nodiscard]] std::string format_table(const std::vector<ImportResult>& results);

}  // namespace joulebench::energibridge
