#pragma once
// The runner's second stage: which run goes to which GPU slot when. A slot runs one run at a time,
// each slot on a thread of its own; a scheduler decides the order in which slots take runs. Today
// there is one policy, QueueScheduler (a free slot takes the next run of the plan order); a policy
// that runs the same run on every slot at once plugs in here without touching execution.

#include <cstddef>
#include <functional>
#include <vector>

#include "joulebench/experiment.hpp"

namespace joulebench::runner {

/// Runs one run on one slot; `first_on_slot`: the slot's first run of this pass (no rest before
/// it). May throw: the scheduler then stops handing out runs.
using RunWork = std::function<void(std::size_t slot, const RunSpec& run, bool first_on_slot)>;

class Scheduler {
public:
    virtual ~Scheduler() = default;
    /// Runs `work` for the runs of `queue` on `slots` slots until every run was handed out or
    /// `keep_going()` (asked before each run is handed out) says no. The first exception `work`
    /// throws is rethrown once every slot has stopped.
    virtual void run(std::size_t slots, const std::vector<const RunSpec*>& queue,
                     const std::function<bool()>& keep_going, const RunWork& work) = 0;
};

/// A free slot takes the next run of the queue: slots never wait for each other, and a slot's runs
/// never overlap.
class QueueScheduler final : public Scheduler {
public:
    void run(std::size_t slots, const std::vector<const RunSpec*>& queue,
             const std::function<bool()>& keep_going, const RunWork& work) override;
};

}  // namespace joulebench::runner
