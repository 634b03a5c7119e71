#include "measure/csv_trace.hpp"

#include <fmt/format.h>

#include <cerrno>

#include "joulebench/error.hpp"

namespace joulebench {

CsvTraceSink::CsvTraceSink(const std::filesystem::path& path) : m_path(path) {
    m_file = std::fopen(path.c_str(), "we");  // close-on-exec: not inherited by the workload
    if (m_file == nullptr) throw system_error(fmt::format("measure: create {}", path.string()), errno);
    // A large buffer: rows are written from the sampler thread, which should not block on I/O
    // every tick.
    std::setvbuf(m_file, nullptr, _IOFBF, 1 << 20);
}

CsvTraceSink::~CsvTraceSink() {
    if (m_file != nullptr) std::fclose(m_file);
}

std::vector<std::string> csv_trace_columns(const std::vector<SensorInfo>& domains) {
    std::vector<std::string> columns{"time_s"};
    for (const auto& d : domains) {
        columns.push_back(d.id + "_power_w");
        columns.push_back(d.id + "_energy_j");
    }
    for (const auto& d : domains) {
        if (d.kind != DomainKind::kGpu) continue;
        for (const auto q : kTraceTelemetryColumns) columns.push_back(d.id + "_" + std::string(q));
    }
    return columns;
}

void CsvTraceSink::begin(const std::vector<const Sensor*>& sensors) {
    std::vector<SensorInfo> domains;
    m_is_gpu.clear();
    for (const Sensor* s : sensors) {
        domains.push_back(s->info());
        m_is_gpu.push_back(s->info().kind == DomainKind::kGpu);
    }
    m_line.clear();
    for (const auto& c : csv_trace_columns(domains)) m_line += (m_line.empty() ? "" : ",") + c;
    m_line += '\n';
    if (std::fputs(m_line.c_str(), m_file) < 0) m_failed = true;
    m_line.reserve(m_line.size() * 2);
}

void CsvTraceSink::row(double t_s, const std::vector<TraceDomainValue>& domains,
                       const std::vector<std::optional<GpuTelemetry>>& telemetry) noexcept {
    try {
        m_line.clear();
        auto out = std::back_inserter(m_line);
        fmt::format_to(out, "{:.6f}", t_s);
        for (const auto& d : domains) {
            if (!d.valid) {
                m_line += ",,";
                continue;
            }
            if (d.power_w) {
                fmt::format_to(out, ",{:.6g}", *d.power_w);
            } else {
                m_line += ',';
            }
            fmt::format_to(out, ",{:.6f}", d.energy_j);
        }
        for (std::size_t i = 0; i < telemetry.size() && i < m_is_gpu.size(); ++i) {
            if (!m_is_gpu[i]) continue;
            const auto& t = telemetry[i];
            auto cell = [&](const auto& v) {
                m_line += ',';
                if (t && v) fmt::format_to(out, "{}", *v);
            };
            if (!t) {
                m_line += ",,,,,";
                continue;
            }
            cell(t->utilisation_pct);
            cell(t->temperature_c);
            cell(t->sm_clock_mhz);
            m_line += ',';
            if (t->throttle_reasons) fmt::format_to(out, "0x{:x}", *t->throttle_reasons);
            m_line += ',';
            if (t->enforced_limit) fmt::format_to(out, "{:.3f}", t->enforced_limit->value());
        }
        m_line += '\n';
        if (std::fputs(m_line.c_str(), m_file) < 0) m_failed = true;
    } catch (...) {
        m_failed = true;
    }
}

void CsvTraceSink::end() noexcept {
    if (m_file != nullptr && std::fflush(m_file) != 0) m_failed = true;
}

void CsvTraceSink::close() {
    if (m_file == nullptr) return;
    const bool flush_failed = std::fflush(m_file) != 0;
    const bool close_failed = std::fclose(m_file) != 0;
    m_file = nullptr;
    if (m_failed || flush_failed || close_failed) {
        throw Error(ErrorCategory::kIo, fmt::format("measure: write {}: incomplete (disk full?)", m_path.string()));
    }
}

}  // namespace joulebench
