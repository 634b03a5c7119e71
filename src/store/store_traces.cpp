// The sample traces and idle baselines of a store.

#include "joulebench/store.hpp"

#include <fmt/core.h>
#include <sqlite3.h>

#include "store/store_internal.hpp"

namespace joulebench {

using namespace store_detail;

void Store::append_trace_chunk(const TraceChunk& chunk) {
    const std::size_t width = chunk.columns.size() + 1;
    if (chunk.rows * width != chunk.data.size()) {
        throw Error(ErrorCategory::kInternal,
                    fmt::format("store: append trace of run {}: {} values for {} rows of {}",
                                chunk.run_id, chunk.data.size(), chunk.rows, width));
    }
    std::string blob;
    blob.reserve(chunk.data.size() * 8);
    for (const double v : chunk.data) put_double(blob, v);
    std::lock_guard lock(m_mutex);
    Transaction tx(m_db);
    if (chunk.chunk == 0) {
        Statement c(m_db,
                    "INSERT INTO trace_columns (run_id, instance, column_index, domain, quantity) "
                    "VALUES (?, ?, ?, ?, ?)");
        int index = 0;
        for (const auto& column : chunk.columns) {
            c.reset();
            c.bind(1, chunk.run_id)
                .bind(2, chunk.instance)
                .bind(3, index++)
                .bind(4, column.domain)
                .bind(5, column.quantity);
            c.run();
        }
    }
    Statement q(m_db,
                "INSERT INTO trace_chunks (run_id, instance, chunk, rows, data) VALUES (?, ?, ?, "
                "?, ?)");
    q.bind(1, chunk.run_id).bind(2, chunk.instance).bind(3, chunk.chunk);
    q.bind(4, static_cast<std::int64_t>(chunk.rows));
    q.bind_blob(5, blob.data(), blob.size());
    q.run();
    tx.commit();
}

Trace Store::trace(std::string_view run_id, int instance) const {
    std::lock_guard lock(m_mutex);
    Trace trace;
    {
        Statement c(
            m_db,
            "SELECT domain, quantity FROM trace_columns WHERE run_id = ? AND instance = ? ORDER BY "
            "column_index");
        c.bind(1, run_id).bind(2, instance);
        while (c.step()) trace.columns.push_back(TraceColumn{c.text(0), c.text(1)});
    }
    trace.values.resize(trace.columns.size());
    const std::size_t width = trace.columns.size() + 1;
    Statement q(m_db,
                "SELECT rows, data FROM trace_chunks WHERE run_id = ? AND instance = ? ORDER BY "
                "chunk");
    q.bind(1, run_id).bind(2, instance);
    while (q.step()) {
        const auto rows = static_cast<std::size_t>(q.integer(0));
        const auto* p = static_cast<const unsigned char*>(q.blob(1));
        if (q.bytes(1) != rows * width * 8) {
            throw Error(
                ErrorCategory::kIo,
                fmt::format("store: read trace of run {} in {}: a chunk has {} bytes, expected {}",
                            run_id, m_path.string(), q.bytes(1), rows * width * 8));
        }
        for (std::size_t r = 0; r < rows; ++r) {
            trace.times_s.push_back(get_double(p));
            p += 8;
            for (std::size_t c = 0; c + 1 < width; ++c) {
                trace.values[c].push_back(get_double(p));
                p += 8;
            }
        }
    }
    return trace;
}

void Store::record_idle_baseline(const IdleBaselineRecord& baseline) {
    std::lock_guard lock(m_mutex);
    Statement q(m_db,
                "INSERT INTO idle_baselines (session_id, domain, started_at, duration_s, power_w, "
                "temperature_c, "
                "context) VALUES (?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, baseline.session_id).bind(2, baseline.domain).bind(3, baseline.started_at);
    q.bind(4, baseline.duration_s).bind(5, baseline.power_w).bind(6, baseline.temperature_c);
    q.bind(7, baseline.context);
    q.run();
}

std::vector<IdleBaselineRecord> Store::idle_baselines() const {
    std::lock_guard lock(m_mutex);
    Statement q(
        m_db,
        "SELECT session_id, domain, started_at, duration_s, power_w, temperature_c, context "
        "FROM idle_baselines ORDER BY id");
    std::vector<IdleBaselineRecord> out;
    while (q.step()) {
        IdleBaselineRecord b;
        b.session_id = q.opt_integer(0);
        b.domain = q.text(1);
        b.started_at = q.real(2);
        b.duration_s = q.real(3);
        b.power_w = q.real(4);
        b.temperature_c = q.opt_real(5);
        b.context = q.text(6);
        out.push_back(std::move(b));
    }
    return out;
}


}  // namespace joulebench
