#pragma once
// Real container engines for tests, private to one test: a dockerd with its own data root,
// exec root and socket (no bridge, no iptables, nothing shared with a system daemon), a Podman
// store with its own root, run root and engine configuration, and a busybox image imported from
// a root filesystem built offline from /bin/busybox (busybox-static): no registry is ever used.
//
// Tests that need an engine call DockerDaemon::start / PodmanStore::create and GTEST_SKIP() with
// the returned reason when it is missing (not installed, not root, daemon would not start).

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace joulebench::testing {

/// A private dockerd. Its containers, images and state live under its own folder, removed with
/// it (after the daemon stopped and its mounts are gone).
class DockerDaemon {
public:
    /// Starts dockerd (as root; `--iptables=false --bridge=none`, so containers need
    /// `--network none`) and waits until it answers. nullptr with `skip_reason` set when docker
    /// is not installed, the test is not root or the daemon does not come up (its log's tail is
    /// in the reason).
    [[nodiscard]] static std::unique_ptr<DockerDaemon> start(std::string& skip_reason);

    DockerDaemon(const DockerDaemon&) = delete;
    DockerDaemon& operator=(const DockerDaemon&) = delete;
    /// Stops the daemon (SIGTERM, SIGKILL after 20 s), unmounts what it left and removes its
    /// folder. Never throws.
    ~DockerDaemon();

    /// "unix:///.../docker.sock": the value for DOCKER_HOST.
    [[nodiscard]] std::string host() const { return "unix://" + m_socket.string(); }
    /// Variables a `docker` client (or joulebench) needs to reach this daemon.
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> env() const {
        return {{"DOCKER_HOST", host()}};
    }
    /// {"docker", "-H", host()}: the argv prefix of a client command for this daemon.
    [[nodiscard]] std::vector<std::string> client() const { return {"docker", "-H", host()}; }
    [[nodiscard]] const std::filesystem::path& root() const { return m_root; }
    [[nodiscard]] pid_t pid() const { return m_pid; }

private:
    DockerDaemon() = default;
    std::filesystem::path m_root;
    std::filesystem::path m_socket;
    pid_t m_pid = -1;
};

/// A private Podman store: storage.conf (graph root, run root) and containers.conf (runtime
/// runc, cgroupfs, file events, the ulimits this machine needs, temporary folders) in a folder
/// of its own, reached through CONTAINERS_STORAGE_CONF and CONTAINERS_CONF. Podman runs no
/// daemon: every `podman` command with env() set uses this store.
class PodmanStore {
public:
    /// nullptr with `skip_reason` set when podman is not installed, the test is not root (the
    /// store is rootful) or `podman info` fails with this configuration.
    [[nodiscard]] static std::unique_ptr<PodmanStore> create(std::string& skip_reason);

    PodmanStore(const PodmanStore&) = delete;
    PodmanStore& operator=(const PodmanStore&) = delete;
    /// Removes every container (`podman rm -af`), resets the store and removes its folder.
    /// Never throws.
    ~PodmanStore();

    /// CONTAINERS_STORAGE_CONF and CONTAINERS_CONF for this store.
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> env() const;
    /// {"podman"}: podman takes its store from env(), so set it (ScopedEnv) or pass it.
    [[nodiscard]] std::vector<std::string> client() const { return {"podman"}; }
    [[nodiscard]] const std::filesystem::path& root() const { return m_root; }

private:
    PodmanStore() = default;
    std::filesystem::path m_root;
};

/// Builds a root filesystem holding /bin/busybox (static) and its applets as symlinks, and
/// imports it as image `name` with `<client...> import - name` (with `env` set for the client).
/// Throws std::runtime_error with the client's output when the import fails, or when no static
/// busybox is installed (apt-get install busybox-static).
void import_busybox_image(const std::vector<std::string>& client, const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& env = {});

/// The static busybox used for images, or nullopt when none is installed.
[[nodiscard]] std::optional<std::filesystem::path> static_busybox();

/// Runs `client + args` with `env` set; returns {exit code, stdout + stderr}.
[[nodiscard]] std::pair<int, std::string> engine_command(
    const std::vector<std::string>& client, const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& env = {});

}  // namespace joulebench::testing
