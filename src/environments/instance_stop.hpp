#pragma once
// When and how a running workload instance is ended by joulebench, the same for the bare and
// the container environments: at its timeout, or when the experiment stops, it is asked to end
// (SIGTERM to its process group, or `<engine> kill -s TERM`), and if it has not ended
// `kill_grace` later, it is killed (SIGKILL). The environment's wait loop calls check() on each
// turn until the instance has ended.

#include <functional>
#include <optional>

#include "environments/environment.hpp"
#include "joulebench/units.hpp"

namespace joulebench::environments {

class InstanceStop {
public:
    /// `instance` (its timeout, stop flag and kill_grace) must outlive this object; `start` is
    /// when the instance started (the timeout counts from it).
    InstanceStop(const WorkloadInstance& instance, Clock::time_point start);

    /// At `now`: calls `terminate` (with kTimedOut or kInterrupted) once the timeout passed or
    /// the stop flag is set, then `kill` once, when kill_grace has passed since `terminate`
    /// returned. Each is called at most once.
    void check(Clock::time_point now, const std::function<void(InstanceResult::End)>& terminate,
               const std::function<void()>& kill);

    /// Whether `kill` was called.
    [[nodiscard]] bool killed() const { return m_killed; }

private:
    const WorkloadInstance& m_instance;
    std::optional<Clock::time_point> m_deadline;
    std::optional<Clock::time_point> m_kill_at;  // SIGKILL due (after SIGTERM and the grace)
    bool m_killed = false;
};

}  // namespace joulebench::environments
