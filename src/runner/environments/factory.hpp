#pragma once
// The Environment for an [[environment]] of the experiment file, by its type.

#include <memory>

#include "runner/environments/environment.hpp"

namespace joulebench::runner {

/// A new, unprepared environment for `spec`. Throws Error (kNotSupported) for a type this
/// build cannot run, naming the file and line.
[[nodiscard]] std::unique_ptr<Environment> make_environment(const EnvironmentSpec& spec);

}  // namespace joulebench::runner
