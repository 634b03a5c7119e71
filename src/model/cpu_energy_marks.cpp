#include "model/cpu_energy_marks.hpp"

#include <nlohmann/json.hpp>

namespace joulebench {

namespace {
// The runner's warnings start "<domain id>: attributed: " / "<domain id>: shared: ".
constexpr const char* kAttributed = ": attributed: ";
constexpr const char* kShared = ": shared: ";

void note_warning(const std::string& text, CpuEnergyMarks& marks) {
    if (text.find(kAttributed) != std::string::npos) marks.attributed = true;
    if (text.find(kShared) != std::string::npos) marks.shared = true;
}
}  // namespace

CpuEnergyMarks cpu_energy_marks(bool total_includes_estimate, const std::vector<std::string>& warnings) {
    CpuEnergyMarks marks;
    marks.estimated = total_includes_estimate;
    for (const auto& w : warnings) note_warning(w, marks);
    return marks;
}

CpuEnergyMarks cpu_energy_marks(const std::string& measure_json) {
    CpuEnergyMarks marks;
    if (measure_json.empty()) return marks;
    const auto m = nlohmann::json::parse(measure_json, nullptr, false);
    if (m.is_discarded() || !m.is_object()) return marks;
    if (const auto it = m.find("total_includes_estimate"); it != m.end() && it->is_boolean()) {
        marks.estimated = it->get<bool>();
    }
    if (const auto it = m.find("warnings"); it != m.end() && it->is_array()) {
        for (const auto& w : *it) {
            if (w.is_string()) note_warning(w.get_ref<const std::string&>(), marks);
        }
    }
    return marks;
}

std::string describe(const CpuEnergyMarks& marks) {
    std::string out;
    for (const auto& [on, word] : {std::pair{marks.estimated, "estimated"}, std::pair{marks.attributed, "attributed"},
                                   std::pair{marks.shared, "shared"}}) {
        if (!on) continue;
        out += out.empty() ? std::string("CPU ") + word : std::string(", ") + word;
    }
    return out;
}

}  // namespace joulebench
