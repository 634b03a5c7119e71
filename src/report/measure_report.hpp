#pragma once
// Serialisers for a measurement: the stable JSON document (schema in the README) and the human
// summary printed on stderr. Pure functions of the result.

#include <nlohmann/json.hpp>
#include <string>

#include "joulebench/measure.hpp"

namespace joulebench::report {

/// JSON schema version of `measure --json`; bumped on incompatible changes.
inline constexpr int kMeasureSchemaVersion = 1;

nlohmann::ordered_json measure_to_json(const MeasureResult& result);

/// The human summary (several lines, ends with a newline).
std::string measure_summary(const MeasureResult& result);

/// "1.23 kJ", "456 mJ": energy with an SI prefix.
std::string format_energy(double joules);
/// "12.3 W".
std::string format_power(double watts);
/// "1.234 s", "12 ms", "2 min 3.4 s".
std::string format_duration(double seconds);

}  // namespace joulebench::report
