#pragma once
// The stable JSON document of a measurement (`measure --json`, the store's measure_json column,
// what an ssh environment gets back from the remote host): a pure function of the result and its
// inverse. Schema in the README.

#include <nlohmann/json.hpp>

#include "joulebench/measure_result.hpp"

namespace joulebench {

/// JSON schema version of `measure --json`; bumped on incompatible changes.
inline constexpr int kMeasureSchemaVersion = 1;

nlohmann::ordered_json measure_to_json(const MeasureResult& result);

/// The "phases" array of that document (also in `tune --method online --json`).
nlohmann::ordered_json phases_to_json(const std::vector<MarkedPhase>& phases);

/// The inverse of measure_to_json: the result a `measure --json` document describes (e.g. the
/// one an ssh environment gets back from the remote host). Every field measure_to_json writes is
/// read back; fields it does not write (SensorInfo source, PCI bus id, limits and notes of a
/// domain, SensorHealth events) stay empty, and a GPU's throttle_mask is rebuilt from its
/// throttle_reasons names. Keys of a newer document that this version does not know are ignored.
/// Throws Error (kInvalidArgument) "measure: read the JSON result: PATH: problem" when the
/// document is not an object of schema_version kMeasureSchemaVersion, or a key is missing or has
/// the wrong type or an unknown value (PATH like `domains[1].kind`).
MeasureResult measure_from_json(const nlohmann::ordered_json& document);
/// As above, for a document parsed without key order: the idle baseline's domain_power_w then
/// comes in key order instead of document order.
MeasureResult measure_from_json(const nlohmann::json& document);

}  // namespace joulebench
