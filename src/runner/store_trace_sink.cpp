#include "runner/store_trace_sink.hpp"

#include <cmath>
#include <limits>

namespace joulebench {
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

template <class T>
double value_or_missing(const std::optional<T>& v) {
    return v ? static_cast<double>(*v) : kMissing;
}

}  // namespace

StoreTraceSink::StoreTraceSink(Store& store, std::string run_id, std::size_t rows_per_chunk)
    : m_store(store), m_rows_per_chunk(rows_per_chunk == 0 ? 1 : rows_per_chunk) {
    m_chunk.run_id = std::move(run_id);
}

StoreTraceSink::StoreTraceSink(Store& store, std::string run_id, int instance,
                               std::size_t rows_per_chunk)
    : StoreTraceSink(store, std::move(run_id), rows_per_chunk) {
    m_chunk.instance = instance;
}

void StoreTraceSink::begin(const std::vector<const Sensor*>& sensors) {
    m_chunk.columns.clear();
    m_chunk.chunk = 0;
    m_chunk.rows = 0;
    m_chunk.data.clear();
    m_is_gpu.clear();
    for (const Sensor* s : sensors) {
        m_chunk.columns.push_back(TraceColumn{s->info().id, "energy_j"});
        m_chunk.columns.push_back(TraceColumn{s->info().id, "power_w"});
    }
    for (const Sensor* s : sensors) {
        const bool gpu = s->info().kind == DomainKind::kGpu;
        m_is_gpu.push_back(gpu);
        if (!gpu) continue;
        for (const char* q : {"utilisation_pct", "temperature_c", "sm_clock_mhz",
                              "throttle_reasons", "enforced_limit_w"}) {
            m_chunk.columns.push_back(TraceColumn{s->info().id, q});
        }
    }
    m_chunk.data.reserve(m_rows_per_chunk * (m_chunk.columns.size() + 1));
}

void StoreTraceSink::row(double t_s, const std::vector<TraceDomainValue>& domains,
                         const std::vector<std::optional<GpuTelemetry>>& telemetry) noexcept {
    if (m_error) return;
    try {
        auto& d = m_chunk.data;
        d.push_back(t_s);
        for (std::size_t i = 0; i < m_is_gpu.size(); ++i) {
            if (i < domains.size() && domains[i].valid) {
                d.push_back(domains[i].energy_j);
                d.push_back(value_or_missing(domains[i].power_w));
            } else {
                d.push_back(kMissing);
                d.push_back(kMissing);
            }
        }
        for (std::size_t i = 0; i < m_is_gpu.size(); ++i) {
            if (!m_is_gpu[i]) continue;
            const std::optional<GpuTelemetry> none;
            const auto& t = i < telemetry.size() ? telemetry[i] : none;
            if (!t) {
                d.insert(d.end(), 5, kMissing);
                continue;
            }
            d.push_back(value_or_missing(t->utilisation_pct));
            d.push_back(value_or_missing(t->temperature_c));
            d.push_back(value_or_missing(t->sm_clock_mhz));
            d.push_back(value_or_missing(t->throttle_reasons));
            d.push_back(t->enforced_limit ? t->enforced_limit->value() : kMissing);
        }
        ++m_chunk.rows;
        if (m_chunk.rows >= m_rows_per_chunk) flush();
    } catch (const std::exception& e) {
        m_error = std::string("store: write trace of run ") + m_chunk.run_id + ": " + e.what();
    }
}

void StoreTraceSink::end() noexcept {
    flush();
}

void StoreTraceSink::flush() noexcept {
    if (m_error || m_chunk.rows == 0) return;
    try {
        m_store.append_trace_chunk(m_chunk);
        m_rows_written += m_chunk.rows;
        ++m_chunk.chunk;
        m_chunk.rows = 0;
        m_chunk.data.clear();
    } catch (const std::exception& e) {
        m_error = e.what();
    }
}

}  // namespace joulebench
