#pragma once
// The host's end of the joulebench-hold protocol (hold_protocol.hpp, docs/containers.md) for one
// container: the unix seqpacket socket joulebench listens on in the per-run folder, the
// helper's connection to it, and the messages: "ready" from the helper, "go" with the
// workload's stdout and stderr descriptors, the helper's end report, "release".

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "common/unique_fd.hpp"

namespace joulebench::environments {

/// joulebench-hold's report that the workload ended (hold::kExitFormat).
struct HoldReport {
    int wait_status = 0;          ///< the workload's status, as waitpid gave it
    bool left_processes = false;  ///< processes it left behind were killed
    int exec_errno = 0;           ///< why the command could not be started, 0 when it was
};

/// Parses an end report; nullopt when `message` is not one.
[[nodiscard]] std::optional<HoldReport> parse_hold_report(const std::string& message);

class HoldChannel {
public:
    /// Listens on `socket_path` (mode 0666: the container may run as any user). `context`
    /// begins the messages ("run: environment 'E'"). Throws Error (kInvalidArgument) when the
    /// path is too long for a unix socket, or the error of socket/bind/listen.
    void listen(const std::filesystem::path& socket_path, const std::string& context);

    /// Waits up to `timeout` for joulebench-hold to connect, and accepts the connection. False
    /// when nothing arrived; true when something did (connected() says whether it was accepted).
    bool wait_connection(std::chrono::milliseconds timeout);
    [[nodiscard]] bool connected() const { return m_conn.open(); }

    /// Waits up to `timeout` for the helper's "ready". False when another message, none, or the
    /// end of the connection came instead.
    [[nodiscard]] bool wait_ready(std::chrono::milliseconds timeout);

    /// The connected helper's pid as this machine's pid namespace sees it (SO_PEERCRED), or -1.
    [[nodiscard]] pid_t peer_pid() const;

    /// Sends "go" with the workload's stdout and stderr. False (errno set) when it cannot.
    [[nodiscard]] bool send_go(int stdout_fd, int stderr_fd);

    /// Waits up to `timeout` until a message or the end of the connection can be received.
    [[nodiscard]] bool wait_message(std::chrono::milliseconds timeout);
    /// One message; nullopt at the end of the connection or on an error.
    [[nodiscard]] std::optional<std::string> receive();

    /// Says "release": the helper may exit (and so the container). Best effort.
    void release();

    /// Closes the connection: a helper still waiting for "go" or "release" exits.
    void disconnect() noexcept { m_conn.reset(); }
    /// Closes the connection and the listening socket.
    void close() noexcept {
        m_conn.reset();
        m_listen.reset();
    }

private:
    UniqueFd m_listen;
    UniqueFd m_conn;
};

}  // namespace joulebench::environments
