#include "runner/run_marks.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "joulebench/error.hpp"

namespace joulebench::runner {

namespace {

constexpr std::chrono::milliseconds kOutputDrain{2000};

std::vector<const Sensor*> const_view(const std::vector<Sensor*>& sensors) {
    return {sensors.begin(), sensors.end()};
}

}  // namespace

RunMarks::RunMarks(environments::WorkloadInstance& inst, Sampler& sampler,
                   const std::vector<Sensor*>& sensors, std::vector<Warning>& warnings)
    : m_inst(inst), m_log(inst.stdout_file), m_recorder(sampler, const_view(sensors)) {
    try {
        m_log_fd.reset(::open(m_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!m_log_fd.open()) throw system_error("run: open " + m_log.string(), errno);
        auto relay = std::make_unique<OutputRelay>(m_log_fd.get(), &m_recorder);
        const std::filesystem::path out = m_log.string() + ".fifo";
        const std::filesystem::path marks =
            m_log.parent_path() / (inst.key() + ".marks");
        m_fifos = {out, marks};
        relay->fifo(out, /*is_stdout=*/true);
        relay->fifo(marks, /*is_stdout=*/false);
        ::chmod(marks.c_str(), 0666);  // a container's user other than ours writes it too
        relay->start();
        m_relay = std::move(relay);
        inst.stdout_file = out;
        inst.marks_file = marks;
        inst.env.emplace_back(kMarksVariable, marks.string());
    } catch (const std::exception& e) {
        std::error_code ec;
        for (const auto& f : m_fifos) std::filesystem::remove(f, ec);
        m_fifos.clear();
        warnings.push_back(make_warning(
            warning_code::kMarks,
            std::string("marks: the workload's output goes to its log unread, no phases: ") +
                e.what()));
    }
}

RunMarks::~RunMarks() { stop(); }

void RunMarks::stop() {
    if (m_relay) m_relay->stop(kOutputDrain);
    m_relay.reset();
    std::error_code ec;
    for (const auto& f : m_fifos) std::filesystem::remove(f, ec);
    m_fifos.clear();
    m_inst.stdout_file = m_log;
}

void RunMarks::finish(Clock::time_point run_start, Clock::time_point run_end,
                      MeasureResult& result) {
    m_recorder.finish(run_start, run_end, result);
}

}  // namespace joulebench::runner
