#pragma once
// A real OpenSSH server on localhost for the tests of the ssh environment: /usr/sbin/sshd -D -e on
// a free port, with its own host key, an authorized_keys holding a client key generated for it
// (ssh-keygen), its own sshd_config (no PAM, no passwords, StrictModes off, PidFile in its temp
// folder) and SetEnv for the variables its sessions must see (JOULEBENCH_POWERCAP_ROOT,
// JOULEBENCH_NVML_LIBRARY, JOULEBENCH_FAKE_NVML_STATE, JOULEBENCH_STATE_DIR), so that the
// joulebench run over ssh reads the tests' fake sensors. Clients trust the server through a
// generated known_hosts file (StrictHostKeyChecking=yes), not by turning host-key checks off.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fakes/test_support.hpp"

namespace joulebench::testing {

class SshdServer {
public:
    /// Why no server can be started here (no sshd or ssh-keygen, no ssh client, not root and
    /// no /run/sshd), or nullopt when one can. Tests GTEST_SKIP() with this reason.
    static std::optional<std::string> unavailable_reason();

    /// Starts the server; its sessions get `session_env` (SetEnv). Throws std::runtime_error
    /// (with sshd's own output) when it does not come up.
    explicit SshdServer(std::vector<std::pair<std::string, std::string>> session_env = {});
    SshdServer(const SshdServer&) = delete;
    SshdServer& operator=(const SshdServer&) = delete;
    /// Stops sshd (SIGTERM, then SIGKILL).
    ~SshdServer();

    [[nodiscard]] std::string host() const { return "127.0.0.1"; }
    [[nodiscard]] int port() const { return m_port; }
    /// The account to log in as (the test's own).
    [[nodiscard]] std::string user() const { return m_user; }
    /// The generated client private key.
    [[nodiscard]] std::filesystem::path identity_file() const {
        return m_dir.path() / "client_key";
    }
    /// ssh_config options (Name=value) that make a client trust this server's host key.
    [[nodiscard]] std::vector<std::string> client_options() const;
    /// `ssh ... HOST --` with every option needed; append the remote command.
    [[nodiscard]] std::vector<std::string> ssh_prefix() const;
    /// An [[environment]] table of type ssh for this server, TOML.
    [[nodiscard]] std::string environment_toml(const std::string& name,
                                               const std::string& remote_joulebench) const;
    /// What sshd logged so far (for failure messages).
    [[nodiscard]] std::string log() const;

private:
    test::TempDir m_dir{"joulebench-sshd"};
    int m_port = 0;
    std::string m_user;
    std::unique_ptr<test::ChildProcess> m_sshd;
};

}  // namespace joulebench::testing
