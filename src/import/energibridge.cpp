// Import of EnergiBridge CSV traces: parse, unwrap the RAPL counters, integrate power.
// The choices (what is an error, what is a warning) are documented in docs/energibridge.md.

#include "joulebench/energibridge.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "common/csv_reader.hpp"
#include "joulebench/error.hpp"

namespace joulebench::energibridge {

namespace {

constexpr std::string_view kTimeColumn = "Time";
// EnergiBridge names the package counter differently across versions and platforms: Intel
// `PACKAGE_ENERGY (J)`, a misspelt `PACAKGE_ENERGY (J)` in some releases, AMD `CPU_ENERGY (J)`.
constexpr std::string_view kPackageColumns[] = {"PACKAGE_ENERGY (J)", "PACAKGE_ENERGY (J)",
                                                "CPU_ENERGY (J)"};
constexpr std::string_view kDramColumn = "DRAM_ENERGY (J)";
constexpr std::string_view kPp0Column = "PP0_ENERGY (J)";
constexpr std::string_view kPp1Column = "PP1_ENERGY (J)";
constexpr std::string_view kCpuPowerColumn = "CPU_POWER (Watts)";
constexpr std::string_view kSystemPowerColumn = "SYSTEM_POWER (Watts)";
constexpr double kMsPerSecond = 1000.0;
constexpr double kMilliwattsPerWatt = 1000.0;

[[noreturn]] void fail(const std::string& name, const std::string& what, std::string hint = {}) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("energibridge: import {}: {}", name, what), std::move(hint));
}

bool wrap_is_valid(const ImportOptions& options) {
    return options.wrap.value() > 0.0 && std::isfinite(options.wrap.value());
}

// Not common's trim(), which takes off spaces and tabs only: a file of nothing but line breaks is
// empty here, and a field's stray carriage return or form feed is not part of its number.
std::string_view trim_space(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) {
        s.remove_suffix(1);
    }
    return s;
}

// EnergiBridge's `--separator` lets users pick another separator; the header always starts with
// `Delta<sep>Time`, so the character after `Delta` tells which one was used.
char detect_separator(std::string_view text) {
    const std::size_t end = text.find('\n');
    const std::string_view header = text.substr(0, end);
    constexpr std::string_view kDelta = "Delta";
    if (header.substr(0, kDelta.size()) == kDelta && header.size() > kDelta.size()) {
        const char c = header[kDelta.size()];
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '"') return c;
    }
    if (header.find(',') == std::string_view::npos && header.find(';') != std::string_view::npos) {
        return ';';
    }
    return ',';
}

// `GPU<digits>_<rest>`: returns the index and sets `rest`, or -1.
int gpu_index(std::string_view column, std::string_view& rest) {
    constexpr std::string_view kGpu = "GPU";
    if (column.substr(0, kGpu.size()) != kGpu) return -1;
    std::size_t i = kGpu.size();
    int index = 0;
    const auto [ptr, ec] = std::from_chars(column.data() + i, column.data() + column.size(), index);
    if (ec != std::errc() || ptr == column.data() + i) return -1;
    i = static_cast<std::size_t>(ptr - column.data());
    if (i >= column.size() || column[i] != '_') return -1;
    rest = column.substr(i + 1);
    return index;
}

// Where each header name stands (the first of two columns of the same name).
using ColumnIndex = std::map<std::string, std::size_t, std::less<>>;

std::optional<std::size_t> find_column(const ColumnIndex& index, std::string_view column) {
    const auto it = index.find(column);
    if (it == index.end()) return std::nullopt;
    return it->second;
}

// Sets out.columns from the header record; a name written twice is a warning.
ColumnIndex read_header(const CsvRecord& record, TraceSummary& out) {
    ColumnIndex index;
    for (std::size_t i = 0; i < record.fields.size(); ++i) {
        std::string column(trim_space(record.fields[i]));
        if (!index.emplace(column, i).second) {
            out.warnings.push_back(
                fmt::format("column `{}` appears more than once; the first one is used", column));
        }
        out.columns.push_back(std::move(column));
    }
    return index;
}

// One column we read, with its values row by row.
struct UsedColumn {
    std::string name;
    std::size_t index = 0;
    std::vector<double> values;
};

struct GpuSlots {
    std::optional<std::size_t> power;
    std::optional<std::size_t> usage;
};

// The columns we read, in one list so that every row is parsed the same way (in this order, which
// decides which bad value of a row is reported), and each quantity's slot in that list.
struct ColumnMap {
    std::vector<UsedColumn> used;
    std::size_t time = 0;
    std::optional<std::size_t> package;
    std::optional<std::size_t> dram;
    std::optional<std::size_t> pp0;
    std::optional<std::size_t> pp1;
    std::optional<std::size_t> cpu_power;
    std::optional<std::size_t> system_power;
    std::map<int, GpuSlots> gpus;

    // Reads `column` when the header has it: its slot, or nullopt.
    std::optional<std::size_t> use(const ColumnIndex& index, std::string_view column) {
        const auto at = find_column(index, column);
        if (!at) return std::nullopt;
        used.push_back(UsedColumn{std::string(column), *at, {}});
        return used.size() - 1;
    }
};

// Needs a `Time` column in `index`.
ColumnMap map_columns(const ColumnIndex& index, const std::vector<std::string>& columns) {
    ColumnMap map;
    map.time = *map.use(index, kTimeColumn);
    for (std::string_view candidate : kPackageColumns) {
        if ((map.package = map.use(index, candidate))) break;
    }
    map.dram = map.use(index, kDramColumn);
    map.pp0 = map.use(index, kPp0Column);
    map.pp1 = map.use(index, kPp1Column);
    map.cpu_power = map.use(index, kCpuPowerColumn);
    map.system_power = map.use(index, kSystemPowerColumn);
    for (const auto& column : columns) {
        std::string_view rest;
        const int gpu = gpu_index(column, rest);
        if (gpu < 0) continue;
        auto& slots = map.gpus[gpu];
        if (rest == "POWER (mWatts)") slots.power = map.use(index, column);
        if (rest == "USAGE") slots.usage = map.use(index, column);
    }
    return map;
}

// A field as a number: nullopt when it is empty, not wholly a number, or not finite.
std::optional<double> finite_number(std::string_view field) {
    double value = 0.0;
    const auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (field.empty() || ec != std::errc() || ptr != field.data() + field.size() ||
        !std::isfinite(value)) {
        return std::nullopt;
    }
    return value;
}

// Reads the data rows into the used columns' values and returns the line of each row. An
// incomplete last line (the writer was stopped) is a warning; any other row whose field count is
// not `field_count`, or a used value that is not a finite number, fails.
std::vector<std::size_t> read_rows(CsvReader& reader, std::size_t field_count,
                                   const std::string& name, std::vector<UsedColumn>& used,
                                   std::vector<std::string>& warnings) {
    std::vector<std::size_t> lines;
    CsvRecord record;
    while (reader.next(record)) {
        if (record.fields.size() != field_count) {
            if (!record.terminated && record.fields.size() < field_count) {
                // The writer was stopped in the middle of its last line.
                warnings.push_back(fmt::format(
                    "last line {} is incomplete ({} of {} fields, no line break): ignored, the run "
                    "was probably stopped while EnergiBridge wrote it",
                    record.line, record.fields.size(), field_count));
                break;
            }
            fail(name,
                 fmt::format("line {}: {} fields where the header has {}", record.line,
                             record.fields.size(), field_count),
                 "every row of an EnergiBridge CSV has one value per header column");
        }
        for (auto& column : used) {
            const std::string_view field = trim_space(record.fields[column.index]);
            const auto value = finite_number(field);
            if (!value) {
                fail(name, fmt::format("line {}, column `{}`: `{}` is not a finite number",
                                       record.line, column.name, field));
            }
            column.values.push_back(*value);
        }
        lines.push_back(record.line);
    }
    return lines;
}

// Start, end, duration and longest interval of the trace; Time going backwards is a warning.
void summarise_time(const std::vector<double>& time, const std::vector<std::size_t>& lines,
                    TraceSummary& out) {
    out.start_time_ms = time.front();
    out.end_time_ms = time.back();
    out.duration = Seconds((time.back() - time.front()) / kMsPerSecond);
    std::size_t backwards = 0;
    std::size_t first_backwards = 0;
    double max_step = 0.0;
    for (std::size_t i = 1; i < time.size(); ++i) {
        const double step = time[i] - time[i - 1];
        max_step = std::max(max_step, step);
        if (step < 0.0 && backwards++ == 0) first_backwards = i;
    }
    out.max_interval = Seconds(max_step / kMsPerSecond);
    if (backwards > 0) {
        out.warnings.push_back(fmt::format(
            "Time goes backwards {} time{} (first at line {}: {} ms after {} ms); the duration is "
            "still last minus first row, and power integrals leave those intervals out",
            backwards, backwards == 1 ? "" : "s", lines[first_backwards], time[first_backwards],
            time[first_backwards - 1]));
    }
}

// Trapezoid of a power series over Time (ms); `scale` converts the power to watts. Intervals
// where Time went backwards are left out (they are reported once as a warning).
Joules trapezoid(const std::vector<double>& time_ms, const std::vector<double>& power,
                 double scale) {
    double joules = 0.0;
    for (std::size_t i = 1; i < power.size(); ++i) {
        const double dt_s = (time_ms[i] - time_ms[i - 1]) / kMsPerSecond;
        if (dt_s <= 0.0) continue;
        joules += 0.5 * (power[i] + power[i - 1]) / scale * dt_s;
    }
    return Joules(joules);
}

double mean(const std::vector<double>& values) {
    double sum = 0.0;
    for (double v : values) sum += v;
    return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
}

CounterSummary unwrap_counter(const UsedColumn& column, const std::vector<std::size_t>& lines,
                              const ImportOptions& options, std::vector<std::string>& warnings) {
    CounterSummary out;
    out.column = column.name;
    const auto& v = column.values;
    const double wrap = options.wrap.value();
    double excluded = 0.0;  // drops that are not wraps, taken out of the energy
    for (std::size_t i = 1; i < v.size(); ++i) {
        const double drop = v[i - 1] - v[i];
        if (drop <= options.drop_tolerance.value()) continue;
        if (drop > wrap / 2.0) {
            ++out.wraps;
            continue;
        }
        ++out.drops;
        excluded += drop;
        warnings.push_back(fmt::format(
            "{} drops by {:.3f} J at line {} ({} -> {}): too small for a wrap at {} J, so not "
            "counted as one; the interval counts as 0 J (a counter reset, or a counter with "
            "another range: AMD CPU_ENERGY wraps at 65536 J, try --wrap-j 65536)",
            column.name, drop, lines[i], v[i - 1], v[i], wrap));
    }
    const double naive = v.back() - v.front();
    out.naive = Joules(naive);
    // Computed from the naive difference (not by summing steps) so that
    // energy - wraps x wrap reproduces EnergiBridge's number bit for bit when nothing was dropped.
    out.energy = Joules(naive + static_cast<double>(out.wraps) * wrap + excluded);
    if (out.wraps > 0) {
        warnings.push_back(fmt::format(
            "{} wrapped {} time{} (at {} J); EnergiBridge's difference {:.3f} J is off by "
            "{:.0f} J, unwrapped {:.3f} J",
            column.name, out.wraps, out.wraps == 1 ? "" : "s", wrap, naive,
            -static_cast<double>(out.wraps) * wrap, out.energy.value()));
    }
    return out;
}

// The CPU energies: the RAPL counters unwrapped, CPU and system power integrated over Time.
void summarise_cpu(const ColumnMap& map, const std::vector<std::size_t>& lines,
                   const ImportOptions& options, TraceSummary& out) {
    auto counter = [&](const std::optional<std::size_t>& slot) -> std::optional<CounterSummary> {
        if (!slot) return std::nullopt;
        return unwrap_counter(map.used[*slot], lines, options, out.warnings);
    };
    out.package = counter(map.package);
    out.dram = counter(map.dram);
    out.pp0 = counter(map.pp0);
    out.pp1 = counter(map.pp1);
    if (out.package && out.rows > 1 && out.package->naive.value() <= 0.0) {
        out.warnings.push_back(fmt::format(
            "EnergiBridge's own package difference is {:.3f} J (not positive), so its --summary "
            "printed nothing for this run",
            out.package->naive.value()));
    }
    const auto& time = map.used[map.time].values;
    if (map.cpu_power) {
        out.cpu_power_energy = trapezoid(time, map.used[*map.cpu_power].values, 1.0);
    }
    if (map.system_power) {
        out.system_energy = trapezoid(time, map.used[*map.system_power].values, 1.0);
    }
    if (!out.package && !out.cpu_power_energy && !out.system_energy) {
        out.warnings.emplace_back(
            "no CPU energy column (PACKAGE_ENERGY, CPU_ENERGY, CPU_POWER or SYSTEM_POWER): "
            "package energy is null");
    }
}

// Each GPU's energy (power integrated over Time) and mean utilisation, and their totals.
void summarise_gpus(const ColumnMap& map, TraceSummary& out) {
    const auto& time = map.used[map.time].values;
    double utilisation_sum = 0.0;
    std::size_t utilisation_count = 0;
    for (const auto& [index, slots] : map.gpus) {
        GpuSummary gpu;
        gpu.index = index;
        if (slots.power) {
            gpu.energy = trapezoid(time, map.used[*slots.power].values, kMilliwattsPerWatt);
            out.gpu_energy = out.gpu_energy.value_or(Joules(0.0)) + *gpu.energy;
        }
        if (slots.usage) {
            gpu.mean_utilisation = mean(map.used[*slots.usage].values);
            utilisation_sum += *gpu.mean_utilisation;
            ++utilisation_count;
        }
        out.gpus.push_back(gpu);
    }
    if (utilisation_count > 0) {
        out.gpu_mean_utilisation = utilisation_sum / static_cast<double>(utilisation_count);
    }
}

}  // namespace

TraceSummary parse_trace(std::string_view text, const std::string& name,
                         const ImportOptions& options) {
    if (!wrap_is_valid(options)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("energibridge: import {}: wrap range {} J is not a positive number",
                                name, options.wrap.value()));
    }
    text = strip_bom(text);
    if (trim_space(text).empty()) {
        fail(name, "the file is empty (no header, no rows)",
             "EnergiBridge writes the header when the command starts; was it killed before?");
    }
    CsvReader reader(text, detect_separator(text), name);
    CsvRecord header;
    reader.next(header);

    TraceSummary out;
    out.file = name;
    const ColumnIndex index = read_header(header, out);
    if (!find_column(index, kTimeColumn)) {
        fail(name, "header has no `Time` column",
             fmt::format("an EnergiBridge CSV starts with `Delta,Time,...`; this header starts "
                         "with `{}`",
                         out.columns.empty() ? std::string() : out.columns.front()));
    }
    ColumnMap map = map_columns(index, out.columns);
    if (!map.package) out.missing_columns.emplace_back(kPackageColumns[0]);
    if (!map.dram) out.missing_columns.emplace_back(kDramColumn);
    if (!map.pp0) out.missing_columns.emplace_back(kPp0Column);

    const std::vector<std::size_t> lines =
        read_rows(reader, header.fields.size(), name, map.used, out.warnings);
    out.rows = lines.size();
    if (out.rows == 0) {
        fail(name, "the header has no data rows after it",
             "EnergiBridge writes its first row after one interval; the command may have ended "
             "before it");
    }
    if (out.rows == 1) {
        out.warnings.emplace_back("only one data row: the duration and every energy are 0");
    }
    summarise_time(map.used[map.time].values, lines, out);
    summarise_cpu(map, lines, options, out);
    summarise_gpus(map, out);
    return out;
}

TraceSummary import_trace(const std::filesystem::path& path, const ImportOptions& options) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("energibridge: read {}: is a directory", path.string()),
                    "pass the CSV files, e.g. DIR/*.csv");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw system_error(fmt::format("energibridge: read {}", path.string()), errno);
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) {
        throw system_error(fmt::format("energibridge: read {}", path.string()), errno);
    }
    const std::string text = std::move(buffer).str();
    return parse_trace(text, path.string(), options);
}

std::vector<ImportResult> import_traces(const std::vector<std::string>& files,
                                        const ImportOptions& options) {
    if (!wrap_is_valid(options)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("energibridge: import: wrap range {} J is not a positive number",
                                options.wrap.value()),
                    "--wrap-j is the counter range in joules, 262144 for Intel RAPL");
    }
    std::vector<ImportResult> results;
    results.reserve(files.size());
    for (const auto& file : files) {
        ImportResult result;
        result.file = file;
        try {
            result.summary = import_trace(file, options);
        } catch (const Error& e) {
            result.error = e.what();
            if (!e.hint().empty()) result.error += fmt::format(" (hint: {})", e.hint());
        } catch (const std::exception& e) {
            result.error =
                fmt::format("energibridge: import {}: internal error: {}", file, e.what());
        }
        results.push_back(std::move(result));
    }
    return results;
}

namespace {

// Adds a value to a sum that starts unset (every value so far null).
template <class T>
void add_to(std::optional<T>& sum, T value) {
    sum = sum ? *sum + value : value;
}

}  // namespace

Totals compute_totals(const std::vector<ImportResult>& results) {
    Totals totals;
    for (const auto& result : results) {
        ++totals.files;
        if (!result.summary) {
            ++totals.failed;
            continue;
        }
        const auto& s = *result.summary;
        totals.rows += s.rows;
        totals.duration += s.duration;
        if (s.package) {
            add_to(totals.package_energy, s.package->energy);
            add_to(totals.energibridge_package_energy, s.package->naive);
            add_to(totals.package_wraps, s.package->wraps);
        }
        if (s.dram) add_to(totals.dram_energy, s.dram->energy);
        if (s.pp0) add_to(totals.pp0_energy, s.pp0->energy);
        if (s.gpu_energy) add_to(totals.gpu_energy, *s.gpu_energy);
        totals.warnings += s.warnings.size();
    }
    return totals;
}

}  // namespace joulebench::energibridge
