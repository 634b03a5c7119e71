#pragma once
// A TraceSink that shows a sampler's rows in a LiveState and passes them on to another sink (the
// store's, a CSV file's) unchanged: the runner, `measure` and `exporter` put it in front of theirs.

#include <string>
#include <vector>

#include "live/live_state.hpp"
#include "measure/sampler.hpp"

namespace joulebench::live {

class LiveTraceSink final : public TraceSink {
public:
    /// `state` may be null (then only `next` gets the rows); `next` may be null. `run_id`
    /// kMachine: the machine's own series (exporter).
    LiveTraceSink(LiveState* state, std::string run_id, int instance, TraceSink* next);

    void begin(const std::vector<const Sensor*>& sensors) override;
    void row(double t_s, const std::vector<TraceDomainValue>& domains,
             const std::vector<std::optional<GpuTelemetry>>& telemetry) noexcept override;
    void end() noexcept override;

private:
    LiveState* m_state;
    std::string m_run_id;
    int m_instance;
    TraceSink* m_next;
};

}  // namespace joulebench::live
