#pragma once
// Runs one command under measurement: idle baseline (optional), first readings, the command,
// last readings, then the per-domain results and the warnings a user needs.

#include <memory>
#include <vector>

#include "joulebench/measure.hpp"
#include "sensors/registry.hpp"

namespace joulebench {

/// Runs `options.command` while sampling `sensors`. Throws Error before anything runs when the
/// command cannot be found or the samples file cannot be created; once the command runs, its
/// failure is data (exit_code), not an exception.
MeasureResult run_measurement(const MeasureOptions& options, SensorSet& sensors);


}  // namespace joulebench
