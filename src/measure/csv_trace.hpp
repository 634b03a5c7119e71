#pragma once
// --samples FILE.csv: one row per trace interval, written as the run goes.
// Columns: time_s, then per domain `<id>_power_w,<id>_energy_j`, then per GPU
// `<id>_utilisation_pct,<id>_temperature_c,<id>_sm_clock_mhz,<id>_throttle_reasons,<id>_enforced_limit_w`.
// Power is the average since the previous row (empty in the first row); energy is cumulative since
// the start; an empty cell is a failed read or a value the device does not report.

#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/atomic_file.hpp"
#include "joulebench/records.hpp"
#include "measure/sampler.hpp"

namespace joulebench {

/// The per-GPU telemetry columns, in order (each `<id>_<name>`): the quantities a stored trace
/// keeps too (`export --trace` writes the same CSV).
inline constexpr const auto& kTraceTelemetryColumns = kTraceTelemetryQuantities;

/// The header of a trace of these domains, in order (above): what CsvTraceSink writes and what
/// the ssh environment's reader of a remote trace expects.
[[nodiscard]] std::vector<std::string> csv_trace_columns(const std::vector<SensorInfo>& domains);

class CsvTraceSink final : public TraceSink {
public:
    /// Opens the output now (an OutputFile: `-` is standard output, a regular file is replaced
    /// at close(), a device or FIFO written through), so a bad path fails before the run.
    /// Throws Error.
    explicit CsvTraceSink(const std::filesystem::path& path);
    ~CsvTraceSink() override = default;
    CsvTraceSink(const CsvTraceSink&) = delete;
    CsvTraceSink& operator=(const CsvTraceSink&) = delete;

    void begin(const std::vector<const Sensor*>& sensors) override;
    void row(double t_s, const std::vector<TraceDomainValue>& domains,
             const std::vector<std::optional<GpuTelemetry>>& telemetry) noexcept override;
    void end() noexcept override;
    /// Flushes and commits (what was written, even if incomplete, replaces the file); throws
    /// Error if anything could not be written.
    void close();

private:
    void put(const std::string& line) noexcept;
    void flush() noexcept;

    std::filesystem::path m_path;
    OutputFile m_out;
    bool m_closed = false;
    std::vector<bool> m_is_gpu;
    std::string m_line;
    // Rows are written from the sampler thread, which should not block on I/O every tick.
    std::string m_buffer;
    bool m_failed = false;
};

}  // namespace joulebench
