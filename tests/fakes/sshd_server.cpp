#include "fakes/sshd_server.hpp"

#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace joulebench::testing {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSshd = "/usr/sbin/sshd";

bool executable(const fs::path& p) {
    return ::access(p.c_str(), X_OK) == 0;
}

std::optional<fs::path> sshd_on_path(const std::string& name) {
    for (const char* dir : {"/usr/bin", "/bin", "/usr/local/bin"}) {
        const fs::path p = fs::path(dir) / name;
        if (executable(p)) return p;
    }
    return std::nullopt;
}

// A port nobody listens on now (bound to port 0, then released). sshd may still lose a race
// for it; the constructor then tries another.
int free_sshd_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("sshd fixture: socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("sshd fixture: bind to a free port failed");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::string double_quoted(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

}  // namespace

std::optional<std::string> SshdServer::unavailable_reason() {
    if (!executable(kSshd)) return std::string("no /usr/sbin/sshd (apt install openssh-server)");
    if (!sshd_on_path("ssh-keygen")) return std::string("no ssh-keygen (apt install openssh-client)");
    if (!sshd_on_path("ssh")) return std::string("no ssh client (apt install openssh-client)");
    if (::geteuid() == 0) {
        // sshd running as root insists on its privilege separation folder.
        std::error_code ec;
        fs::create_directories("/run/sshd", ec);
        if (!fs::is_directory("/run/sshd")) {
            return std::string("sshd needs /run/sshd and it cannot be created: ") + ec.message();
        }
        ::chmod("/run/sshd", 0755);
    }
    return std::nullopt;
}

SshdServer::SshdServer(std::vector<std::pair<std::string, std::string>> session_env) {
    if (const auto reason = unavailable_reason()) throw std::runtime_error(*reason);
    const passwd* pw = ::getpwuid(::geteuid());
    if (pw == nullptr) throw std::runtime_error("sshd fixture: no passwd entry for this user");
    m_user = pw->pw_name;
    const fs::path dir = m_dir.path();
    // TempDir is 0700: sshd's session (the same user) reaches it; nothing else needs to.
    for (const auto& [file, comment] :
         {std::pair<std::string, std::string>{"host_key", "host"}, {"client_key", "client"}}) {
        const auto r =
            test::run_process({*sshd_on_path("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C",
                               "joulebench-test-" + comment, "-f", (dir / file).string()});
        if (r.exit_code != 0) throw std::runtime_error("sshd fixture: ssh-keygen failed: " + r.err);
    }
    test::write_file(dir / "authorized_keys", test::read_file(dir / "client_key.pub"));
    const std::string host_public = test::read_file(dir / "host_key.pub");

    std::string last_log;
    for (int attempt = 0; attempt < 5; ++attempt) {
        m_port = free_sshd_port();
        std::string config;
        config += "Port " + std::to_string(m_port) + "\n";
        config += "ListenAddress 127.0.0.1\n";
        config += "HostKey " + (dir / "host_key").string() + "\n";
        config += "AuthorizedKeysFile " + (dir / "authorized_keys").string() + "\n";
        config += "PidFile " + (dir / "sshd.pid").string() + "\n";
        config += "PermitRootLogin yes\n";
        config += "StrictModes no\n";
        config += "UsePAM no\n";
        config += "PubkeyAuthentication yes\n";
        config += "PasswordAuthentication no\n";
        config += "KbdInteractiveAuthentication no\n";
        config += "AllowTcpForwarding no\n";
        config += "X11Forwarding no\n";
        config += "PrintMotd no\n";
        config += "PermitUserEnvironment no\n";
        // Tests open many short sessions at once (a run's checks, concurrent slots).
        config += "MaxStartups 100\n";
        config += "MaxSessions 100\n";
        if (!session_env.empty()) {
            config += "SetEnv";
            for (const auto& [k, v] : session_env) config += " " + double_quoted(k + "=" + v);
            config += "\n";
        }
        test::write_file(dir / "sshd_config", config);
        test::write_file(dir / "known_hosts",
                         "[127.0.0.1]:" + std::to_string(m_port) + " " + host_public);
        test::ProcessOptions options;
        options.timeout = std::chrono::seconds(24 * 3600);
        m_sshd = std::make_unique<test::ChildProcess>(
            std::vector<std::string>{kSshd, "-D", "-e", "-f", (dir / "sshd_config").string()},
            options);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        for (;;) {
            const std::string log = m_sshd->err_so_far();
            if (log.find("Server listening on") != std::string::npos) return;
            // Still running? (kill 0 succeeds on a zombie, so look at the process state.)
            std::string stat;
            try {
                stat = test::read_file(fs::path("/proc") / std::to_string(m_sshd->pid()) / "stat");
            } catch (...) {
            }
            const auto paren = stat.rfind(')');
            const bool dead = stat.empty() || (paren != std::string::npos &&
                                               paren + 2 < stat.size() && stat[paren + 2] == 'Z');
            if (dead || std::chrono::steady_clock::now() > deadline) {
                m_sshd->send(SIGKILL);
                last_log = m_sshd->wait().err;
                m_sshd.reset();
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (last_log.find("Address already in use") == std::string::npos) break;
    }
    throw std::runtime_error("sshd fixture: sshd did not start: " + last_log);
}

SshdServer::~SshdServer() {
    if (m_sshd) {
        m_sshd->send(SIGTERM);
        try {
            m_sshd->wait();
        } catch (...) {
        }
    }
}

std::vector<std::string> SshdServer::client_options() const {
    return {"UserKnownHostsFile=" + (m_dir.path() / "known_hosts").string(),
            "GlobalKnownHostsFile=/dev/null", "StrictHostKeyChecking=yes", "IdentitiesOnly=yes"};
}

std::vector<std::string> SshdServer::ssh_prefix() const {
    std::vector<std::string> argv{"ssh", "-o", "BatchMode=yes"};
    for (const auto& o : client_options()) {
        argv.emplace_back("-o");
        argv.push_back(o);
    }
    argv.insert(argv.end(), {"-p", std::to_string(m_port), "-i", identity_file().string(), "-l",
                             m_user, host(), "--"});
    return argv;
}

std::string SshdServer::environment_toml(const std::string& name,
                                         const std::string& remote_joulebench) const {
    auto quoted = [](const std::string& s) {
        std::string out = "\"";
        for (const char c : s) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        return out + "\"";
    };
    std::string t = "[[environment]]\n";
    t += "name = " + quoted(name) + "\n";
    t += "type = \"ssh\"\n";
    t += "host = " + quoted(host()) + "\n";
    t += "port = " + std::to_string(m_port) + "\n";
    t += "user = " + quoted(m_user) + "\n";
    t += "identity_file = " + quoted(identity_file().string()) + "\n";
    t += "remote_joulebench = " + quoted(remote_joulebench) + "\n";
    t += "ssh_options = [";
    const auto options = client_options();
    for (std::size_t i = 0; i < options.size(); ++i) t += (i > 0 ? ", " : "") + quoted(options[i]);
    t += "]\n";
    return t;
}

std::string SshdServer::log() const {
    return m_sshd ? m_sshd->err_so_far() : std::string();
}

}  // namespace joulebench::testing
