#pragma once
// A TraceSink that writes a run's sample trace into the store. Rows are buffered and written in
// chunks (one BLOB of little-endian doubles per chunk, one transaction each), so the sampler
// thread touches SQLite once every `rows_per_chunk` rows and memory stays bounded however long
// the run is. Layout and the reason for BLOB chunks rather than a row per sample: docs/store.md
// and BENCHMARKS.md ("## Store").
//
// Columns, in order: per sensor `energy_j` (cumulative since the start) and `power_w` (average
// since the previous row); then per GPU sensor `utilisation_pct`, `temperature_c`,
// `sm_clock_mhz`, `throttle_reasons`, `enforced_limit_w`. A missing value (failed read, value not
// reported, first row's power) is NaN.
//
// Usage by the runner: mark_running(run id) first (it clears an earlier attempt's trace), give
// the sink to the Sampler, and after the sampler stopped, add error() (if any) to the run's
// warnings before finish_run.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/store.hpp"
#include "measure/sampler.hpp"

namespace joulebench {

class StoreTraceSink final : public TraceSink {
public:
    /// `store` must outlive the sink.
    StoreTraceSink(Store& store, std::string run_id, std::size_t rows_per_chunk = 600);
    /// Gang mode: the trace of instance `instance` of the run.
    StoreTraceSink(Store& store, std::string run_id, int instance, std::size_t rows_per_chunk);
    ~StoreTraceSink() override = default;
    StoreTraceSink(const StoreTraceSink&) = delete;
    StoreTraceSink& operator=(const StoreTraceSink&) = delete;

    void begin(const std::vector<const Sensor*>& sensors) override;
    void row(double t_s, const std::vector<TraceDomainValue>& domains,
             const std::vector<std::optional<GpuTelemetry>>& telemetry) noexcept override;
    void end() noexcept override;

    /// The first write failure ("store: ..."), or nullopt. Rows after a failure are dropped.
    [[nodiscard]] const std::optional<std::string>& error() const { return m_error; }
    /// Rows written to the store so far.
    [[nodiscard]] std::size_t rows_written() const { return m_rows_written; }

private:
    void flush() noexcept;

    Store& m_store;
    TraceChunk m_chunk;
    std::size_t m_rows_per_chunk;
    std::vector<bool> m_is_gpu;
    std::size_t m_rows_written = 0;
    std::optional<std::string> m_error;
};

}  // namespace joulebench
