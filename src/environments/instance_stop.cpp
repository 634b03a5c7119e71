#include "environments/instance_stop.hpp"

namespace joulebench::environments {

InstanceStop::InstanceStop(const WorkloadInstance& instance, Clock::time_point start)
    : m_instance(instance) {
    if (instance.timeout) m_deadline = start + *instance.timeout;
}

void InstanceStop::check(Clock::time_point now,
                         const std::function<void(InstanceResult::End)>& terminate,
                         const std::function<void()>& kill) {
    if (!m_kill_at) {
        const bool stop = m_instance.stop != nullptr && m_instance.stop->load();
        const bool late = m_deadline && now >= *m_deadline;
        if (stop || late) {
            terminate(stop ? InstanceResult::End::kInterrupted : InstanceResult::End::kTimedOut);
            // From when the request went out: an engine's `kill` may itself take a while.
            m_kill_at = Clock::now() + m_instance.kill_grace;
        }
    } else if (!m_killed && now >= *m_kill_at) {
        kill();
        m_killed = true;
    }
}

}  // namespace joulebench::environments
