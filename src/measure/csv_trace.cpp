#include "measure/csv_trace.hpp"

#include <fmt/format.h>

#include <cerrno>

#include "joulebench/error.hpp"

namespace joulebench {

namespace {

constexpr std::size_t kBufferBytes = 1 << 20;

// OutputFile's messages as the sink's: `measure: ...`.
OutputFile open_trace(const std::filesystem::path& path) {
    try {
        return OutputFile(path);
    } catch (const Error& e) {
        throw Error(e.category(), fmt::format("measure: {}", e.what()), e.hint());
    }
}

}  // namespace

CsvTraceSink::CsvTraceSink(const std::filesystem::path& path)
    : m_path(path), m_out(open_trace(path)) {
    m_buffer.reserve(kBufferBytes);
}

void CsvTraceSink::put(const std::string& line) noexcept {
    try {
        m_buffer += line;
        if (m_buffer.size() >= kBufferBytes) flush();
    } catch (...) {
        m_failed = true;
    }
}

void CsvTraceSink::flush() noexcept {
    try {
        if (!m_failed && !m_buffer.empty()) m_out.write(m_buffer);
    } catch (...) {
        m_failed = true;
    }
    m_buffer.clear();
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
    put(m_line);
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
        put(m_line);
    } catch (...) {
        m_failed = true;
    }
}

void CsvTraceSink::end() noexcept { flush(); }

void CsvTraceSink::close() {
    if (m_closed) return;
    m_closed = true;
    flush();
    bool commit_failed = false;
    try {
        m_out.commit();
    } catch (const Error&) {
        commit_failed = true;
    }
    if (m_failed || commit_failed) {
        throw Error(ErrorCategory::kIo, fmt::format("measure: write {}: incomplete (disk full?)", m_path.string()));
    }
}

}  // namespace joulebench
