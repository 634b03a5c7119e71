#include "model/cpu_energy_marks.hpp"

#include <fmt/format.h>

#include <utility>

namespace joulebench {

CpuEnergyMarks cpu_energy_marks(const MeasureResult& m) {
    CpuEnergyMarks marks;
    marks.estimated = m.total_includes_estimate;
    for (const auto& d : m.domains) {
        marks.attributed = marks.attributed || d.sharing == Sharing::kAttributed;
        marks.shared = marks.shared || d.sharing == Sharing::kShared;
    }
    return marks;
}

CpuEnergyMarks cpu_energy_marks(const RunRecord& run) {
    return CpuEnergyMarks{run.total_includes_estimate, run.cpu_attributed, run.cpu_shared};
}

std::string describe(const CpuEnergyMarks& marks) {
    std::string out;
    for (const auto& [on, word] :
         {std::pair{marks.estimated, "estimated"}, std::pair{marks.attributed, "attributed"},
          std::pair{marks.shared, "shared"}}) {
        if (!on) continue;
        out += out.empty() ? std::string("CPU ") + word : std::string(", ") + word;
    }
    return out;
}

std::vector<std::string> explain(const CpuEnergyMarks& marks, std::string_view subject) {
    std::vector<std::string> out;
    if (marks.estimated) {
        out.push_back(
            fmt::format("CPU estimated: {} includes the CPU-time estimate (no CPU energy "
                        "sensor; method `estimated`), not a measured counter",
                        subject));
    }
    if (marks.attributed) {
        out.push_back(
            fmt::format("CPU attributed: {} includes CPU energy attributed by the run's "
                        "share of the machine's busy CPU time (runs overlapped)",
                        subject));
    }
    if (marks.shared) {
        out.push_back(
            fmt::format("CPU shared: {} includes other runs' CPU energy (runs overlapped "
                        "while their share of the machine's busy CPU time was unknown)",
                        subject));
    }
    return out;
}

}  // namespace joulebench
