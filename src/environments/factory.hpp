#pragma once
// The Environment for an [[environment]] of the experiment file, by its type.

#include <memory>

#include "environments/environment.hpp"

namespace joulebench::environments {

/// A new, unprepared environment for `spec`. Throws Error (kNotSupported) for a type this
/// build cannot run, naming the file and line.
[[nodiscard]] std::unique_ptr<Environment> make_environment(const EnvironmentSpec& spec);

}  // namespace joulebench::environments
