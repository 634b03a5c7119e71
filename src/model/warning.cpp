#include "joulebench/warning.hpp"

#include <array>
#include <ostream>
#include <utility>

namespace joulebench {

namespace wc = warning_code;

const std::vector<std::string_view>& warning_codes() {
    static const std::vector<std::string_view> kCodes = {
        wc::kNoReading,      wc::kFailedReads,   wc::kCounterReset,  wc::kCrossCheck,
        wc::kShortRun,       wc::kGpuUnused,     wc::kCpuEstimated,  wc::kCpuSensorUnreadable,
        wc::kCpuAttributed,  wc::kCpuShared,     wc::kSamplerLate,   wc::kSamplerThread,
        wc::kTrace,          wc::kLeftProcesses, wc::kRestNotIdle,   wc::kCapNotSet,
        wc::kCapNotRestored, wc::kCapNotice,     wc::kNoMeasurement, wc::kNoMetrics,
        wc::kContainer,      wc::kSsh,           wc::kMarks,         wc::kShortPhase,
        wc::kOther};
    return kCodes;
}

std::string_view legacy_warning_code(std::string_view text) {
    // The words each kind of warning has used since joulebench 0.1.0, most specific first (an
    // ssh warning about the trace is a trace warning; one about a cap is a cap warning).
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 28> kWords = {{
        {": attributed: ", wc::kCpuAttributed},
        {": shared: ", wc::kCpuShared},
        {"CPU energy is estimated", wc::kCpuEstimated},
        {"CPU energy sensors exist but are not readable", wc::kCpuSensorUnreadable},
        {": no successful reading", wc::kNoReading},
        {" failed reads: ", wc::kFailedReads},
        {"energy counter went backwards", wc::kCounterReset},
        {") disagree by ", wc::kCrossCheck},
        {" update periods of ", wc::kShortRun},
        {"utilisation stayed near 0%", wc::kGpuUnused},
        {"reads started more than one period late", wc::kSamplerLate},
        {"the sampling thread could not be started", wc::kSamplerThread},
        {"still running when it ended", wc::kLeftProcesses},
        {"rest: not back near the idle baseline", wc::kRestNotIdle},
        {"its power cap could not be set", wc::kCapNotSet},
        {"caps: restore ", wc::kCapNotRestored},
        {"was NOT restored", wc::kCapNotRestored},
        {"persistence mode is off", wc::kCapNotice},
        {"power limiting is disabled", wc::kCapNotice},
        {"no measurement came back", wc::kNoMeasurement},
        {"metrics: the workload printed no JSON", wc::kNoMetrics},
        {"store: write trace of run", wc::kTrace},
        {"the trace --samples ", wc::kTrace},
        {"ssh: no trace came back", wc::kTrace},
        {"ssh: the trace from ", wc::kTrace},
        {"ssh: ", wc::kSsh},
        {"container ", wc::kContainer},
        {"joulebench-hold", wc::kContainer},
    }};
    for (const auto& [words, code] : kWords) {
        if (text.find(words) != std::string_view::npos) return code;
    }
    // Engine commands quoted in container warnings ("docker kill ...", "podman rm -f ...").
    for (const std::string_view engine : {"docker ", "podman "}) {
        if (text.substr(0, engine.size()) == engine) return wc::kContainer;
    }
    return wc::kOther;
}

std::ostream& operator<<(std::ostream& out, const Warning& warning) {
    return out << '[' << warning.code << "] " << warning.text;
}

std::vector<std::string> warning_texts(const std::vector<Warning>& warnings) {
    std::vector<std::string> out;
    out.reserve(warnings.size());
    for (const auto& w : warnings) out.push_back(w.text);
    return out;
}

}  // namespace joulebench
