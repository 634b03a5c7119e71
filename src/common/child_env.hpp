#pragma once
// The environment block of a child process: joulebench's own environment with some variables
// set. Shared by every place that spawns a process (measure, the bare environment, engine
// commands) so that they agree on which value wins.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace joulebench {

/// The inherited environment (`environ`) with every variable of `set` replaced or added, as
/// "NAME=value" strings; when `set` names a variable twice, the later value wins. Inherited
/// entries keep their order; the set ones follow, sorted by name.
[[nodiscard]] std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& set);

/// Whether `name` can name an environment variable: a letter or '_', then letters, digits or '_'
/// (POSIX portable names; what the experiment file accepts and the ssh script can `export`).
[[nodiscard]] bool is_env_var_name(std::string_view name);

/// Pointers into `storage` ending with nullptr, as execve/posix_spawn take them. Valid while
/// `storage` is neither changed nor destroyed.
[[nodiscard]] std::vector<char*> environment_pointers(std::vector<std::string>& storage);

}  // namespace joulebench
