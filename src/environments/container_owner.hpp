#pragma once
// Which joulebench made a container, and what a crashed one left behind. Every container (and
// every session folder of per-run sockets) carries the owner label HOST/BOOT_ID/PID/START_TICKS
// of the joulebench that made it; prepare() removes those whose owner is a joulebench of this
// machine that is no longer running (docs/containers.md).

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>

namespace joulebench::environments {

/// The joulebench.owner label of this process: "HOST/BOOT_ID/PID/START_TICKS".
[[nodiscard]] std::string container_owner_label();

/// Whether a container labelled `owner` belongs to a joulebench of this machine that is no
/// longer running (so its containers are leftovers of a crash). Labels of other machines, or of
/// a running joulebench, are never stale.
[[nodiscard]] bool container_owner_is_stale(const std::string& owner);

/// Removes (`BINARY rm -f`) the containers of `binary`'s engine whose joulebench.owner label is
/// stale, each engine command limited to `timeout`. Returns how many were removed (0 when the
/// engine cannot list them or the removal fails). Throws only when the engine cannot be run.
std::size_t remove_leftover_containers(const std::string& binary,
                                       std::chrono::milliseconds timeout);

/// Removes the folders PREFIX* in `dir` whose `owner` file holds a stale owner label (session
/// folders of a crashed joulebench). A folder that cannot be listed or removed is left as it is.
void remove_leftover_folders(const std::filesystem::path& dir, const std::string& prefix);

}  // namespace joulebench::environments
