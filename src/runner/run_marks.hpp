#pragma once
// The phases a workload marks in a local run (README "Markers"): its standard output goes to a
// FIFO beside its log that joulebench reads, passes on to the log unchanged and scans for marker
// lines, and $JOULEBENCH_MARKS names a second FIFO for marks alone. Environments are unchanged:
// each opens the instance's stdout file by its path as before (bare: the child's fd 1; containers:
// the descriptor handed to the container's entrypoint), and containers see the marks FIFO at
// /.joulebench-marks (kMarksInContainer, environments/container_engine.hpp). Environments that
// measure themselves (ssh, vm) get their phases from the remote `joulebench measure`, which
// reads the marks where the workload runs.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "environments/environment.hpp"
#include "measure/marks.hpp"
#include "measure/output_relay.hpp"

namespace joulebench::runner {

class RunMarks {
public:
    /// Points `inst`'s stdout at the FIFO and sets $JOULEBENCH_MARKS, before begin_instance().
    /// When the FIFOs cannot be made the run goes on without marks and `warnings` says why.
    RunMarks(environments::WorkloadInstance& inst, Sampler& sampler,
             const std::vector<Sensor*>& sensors, std::vector<Warning>& warnings);
    RunMarks(const RunMarks&) = delete;
    RunMarks& operator=(const RunMarks&) = delete;
    ~RunMarks();

    /// After end_instance(): reads what is left, closes the FIFOs and points `inst`'s stdout
    /// back at its log. Idempotent.
    void stop();
    /// After stop(): the run's phases and the marks' warnings into `result`.
    void finish(Clock::time_point run_start, Clock::time_point run_end, MeasureResult& result);

private:
    environments::WorkloadInstance& m_inst;
    std::filesystem::path m_log;
    std::vector<std::filesystem::path> m_fifos;
    UniqueFd m_log_fd;
    MarkRecorder m_recorder;
    std::unique_ptr<OutputRelay> m_relay;
};

}  // namespace joulebench::runner
