#include "live/live_sink.hpp"

#include <utility>

namespace joulebench::live {

LiveTraceSink::LiveTraceSink(LiveState* state, std::string run_id, int instance, TraceSink* next)
    : m_state(state), m_run_id(std::move(run_id)), m_instance(instance), m_next(next) {}

void LiveTraceSink::begin(const std::vector<const Sensor*>& sensors) {
    if (m_state != nullptr) m_state->trace_begin(m_run_id, m_instance, sensors);
    if (m_next != nullptr) m_next->begin(sensors);
}

void LiveTraceSink::row(double t_s, const std::vector<TraceDomainValue>& domains,
                        const std::vector<std::optional<GpuTelemetry>>& telemetry) noexcept {
    if (m_state != nullptr) m_state->trace_row(m_run_id, m_instance, domains, telemetry);
    if (m_next != nullptr) m_next->row(t_s, domains, telemetry);
}

void LiveTraceSink::end() noexcept {
    if (m_next != nullptr) m_next->end();
}

}  // namespace joulebench::live
