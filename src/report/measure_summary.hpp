#pragma once
// The human summary of a measurement, printed by `joulebench measure` on stderr. Pure functions
// of the result.

#include <string>

#include "joulebench/measure_result.hpp"

namespace joulebench::report {

/// The human summary (several lines, ends with a newline).
std::string measure_summary(const MeasureResult& result);

/// One marked phase: "Phase warmup: 1.234 s from 0.012 s, 56.7 J (counter)" (no newline; the
/// methods of the domains in its energy).
std::string phase_line(const MarkedPhase& phase);

/// "1.23 kJ", "456 mJ": energy with an SI prefix.
std::string format_energy(double joules);
/// "12.3 W".
std::string format_power(double watts);
/// "1.234 s", "12 ms", "2 min 3.4 s".
std::string format_duration(double seconds);

}  // namespace joulebench::report
