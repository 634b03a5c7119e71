#pragma once
/// A warning about a measurement or a run: a stable code that programs group and filter by, and
/// the text a person reads. The codes are the catalogue below (documented in the README, "What
/// the warnings mean"); a code never changes meaning once released, texts may be reworded.

#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace joulebench {

struct Warning {
    std::string code;  ///< one of the warning_code constants
    std::string text;

    friend bool operator==(const Warning&, const Warning&) = default;
};

/// The catalogue of warning codes.
namespace warning_code {
// How a domain was read.
inline constexpr std::string_view kNoReading = "no-reading";        ///< never read successfully
inline constexpr std::string_view kFailedReads = "failed-reads";    ///< gaps in the trace
inline constexpr std::string_view kCounterReset = "counter-reset";  ///< energy is a lower bound
inline constexpr std::string_view kCrossCheck = "cross-check";      ///< counter vs integrated power
inline constexpr std::string_view kShortRun = "short-run";    ///< shorter than the update periods
inline constexpr std::string_view kGpuUnused = "gpu-unused";  ///< GPU utilisation stayed near 0
// Where the CPU part of the total comes from.
inline constexpr std::string_view kCpuEstimated = "cpu-estimated";  ///< CPU-time estimate
inline constexpr std::string_view kCpuSensorUnreadable = "cpu-sensor-unreadable";
inline constexpr std::string_view kCpuAttributed = "cpu-attributed";  ///< by CPU-time share
inline constexpr std::string_view kCpuShared = "cpu-shared";  ///< includes overlapping runs'
// The sampler and the trace.
inline constexpr std::string_view kSamplerLate = "sampler-late";
inline constexpr std::string_view kSamplerThread = "sampler-thread";  ///< no sampling thread
inline constexpr std::string_view kMarks = "marks";  ///< unbalanced or malformed phase marks
inline constexpr std::string_view kShortPhase = "short-phase";  ///< a marked phase too short
inline constexpr std::string_view kTrace = "trace";  ///< missing, cut off or unwritable trace
// The run.
inline constexpr std::string_view kLeftProcesses = "left-processes";
inline constexpr std::string_view kRestNotIdle = "rest-not-idle";
inline constexpr std::string_view kCapNotSet = "cap-not-set";
inline constexpr std::string_view kCapNotRestored = "cap-not-restored";
/// What a device says before a cap is written (GPU persistence mode off, limiting disabled).
inline constexpr std::string_view kCapNotice = "cap-notice";
inline constexpr std::string_view kNoMeasurement = "no-measurement";
inline constexpr std::string_view kNoMetrics = "no-metrics";
// The environment.
inline constexpr std::string_view kContainer = "container";  ///< engine and helper problems
inline constexpr std::string_view kSsh = "ssh";              ///< remote host problems
/// A warning recorded before warnings carried codes whose text matches none of the above.
inline constexpr std::string_view kOther = "other";
}  // namespace warning_code

/// A warning of `code` (a warning_code constant).
[[nodiscard]] inline Warning make_warning(std::string_view code, std::string text) {
    return Warning{std::string(code), std::move(text)};
}

/// Every code of the catalogue, in the order above.
[[nodiscard]] const std::vector<std::string_view>& warning_codes();

/// The code of a warning text written before warnings carried codes (a store of schema 1, a
/// `measure --json` document without `warning_codes`), recognised by the words each kind of
/// warning has always used; kOther when none match.
[[nodiscard]] std::string_view legacy_warning_code(std::string_view text);

/// "[code] text" (for logs and test output).
std::ostream& operator<<(std::ostream& out, const Warning& warning);

/// The texts of `warnings`, in order.
[[nodiscard]] std::vector<std::string> warning_texts(const std::vector<Warning>& warnings);

}  // namespace joulebench
