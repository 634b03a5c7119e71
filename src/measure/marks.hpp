#pragma once
// Phases the workload marks itself (README "Markers"): `JOULEBENCH_MARK begin NAME` and
// `JOULEBENCH_MARK end NAME` lines on its standard output, or `begin NAME` / `end NAME` lines
// written to the file named by $JOULEBENCH_MARKS. Each mark is timed when joulebench reads it and
// costs one reading of the run's sensors (Sampler::read_now), no thread; phases may nest and
// overlap. Unbalanced or malformed marks are warnings of the run, never its failure.

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/measure_result.hpp"
#include "measure/sampler.hpp"

namespace joulebench {

/// The word that starts a marker line on standard output.
inline constexpr std::string_view kMarkPrefix = "JOULEBENCH_MARK";
/// A measurement (a run, a phase) shorter than this many update periods of its slowest domain
/// gets a warning that its energy is coarse (`short-run`, `short-phase`).
inline constexpr unsigned kMinUpdatePeriods = 10;

/// The longest phase name.
inline constexpr std::size_t kMaxPhaseNameLength = 64;

struct Mark {
    enum class Kind { kBegin, kEnd };
    Kind kind = Kind::kBegin;
    std::string name;
};

/// What one line says: not a mark at all (`is_mark` false), a mark, or a malformed mark (`error`
/// says why; `mark` unset).
struct MarkParse {
    bool is_mark = false;
    std::optional<Mark> mark;
    std::string error;
};

/// Parses one line (without its newline; a trailing '\r' and blanks are ignored). On standard
/// output (`prefix_required`) only a line starting with JOULEBENCH_MARK followed by a blank or
/// the line's end is a mark; in the $JOULEBENCH_MARKS file every non-blank line is one, with the
/// prefix optional. A mark is `begin NAME` or `end NAME`: NAME is 1 to 64 characters of
/// A-Z a-z 0-9 and `_ . : / @ + -` (no blanks).
[[nodiscard]] MarkParse parse_mark_line(std::string_view line, bool prefix_required);

/// Collects the marks of one run and makes its phases. Thread-safe: line() may be called from
/// the output relay's thread while the run goes on.
class MarkRecorder {
public:
    /// `sampler` (already started, outliving this) is read at every mark; `sensors` are its
    /// sensors in the same order.
    MarkRecorder(Sampler& sampler, std::vector<const Sensor*> sensors);

    /// One line of the workload's standard output (`from_file` false) or of the marks file.
    void line(std::string_view text, bool from_file) noexcept;

    /// After the sampler stopped: the phases (a phase never ended ends at `run_end`, a mark read
    /// after the sampler stopped counts at the run's end with its last readings) and the marks'
    /// warnings, added to `result` (offsets from `run_start`).
    void finish(Clock::time_point run_start, Clock::time_point run_end, MeasureResult& result);

private:
    struct Point {
        Clock::time_point time{};
        std::vector<std::optional<EnergySample>> readings;
    };
    struct Phase {
        std::string name;
        Point begin;
        std::optional<Point> end;
    };
    void warn(std::string text);
    [[nodiscard]] MarkedPhase phase_result(const Phase& phase, Clock::time_point run_start,
                                           Clock::time_point run_end) const;
    /// The point itself; read after the command ended, at the run's end (with its own readings
    /// before the sampler stopped, with the sampler's last readings after).
    [[nodiscard]] Point settled(const Point& point, Clock::time_point run_end) const;

    Sampler& m_sampler;
    std::vector<const Sensor*> m_sensors;
    std::mutex m_mutex;
    std::vector<Phase> m_phases;  // in order of their begin
    std::vector<Warning> m_warnings;
    std::size_t m_bad_lines = 0;
};

}  // namespace joulebench
