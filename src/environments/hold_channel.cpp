#include "environments/hold_channel.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "environments/hold_protocol.hpp"
#include "joulebench/error.hpp"

namespace joulebench::environments {

namespace {

bool send_message(int fd, const std::string& text, const std::vector<int>& fds = {}) {
    iovec iov{const_cast<char*>(text.data()), text.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control;
    if (!fds.empty()) {
        control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    for (;;) {
        if (::sendmsg(fd, &msg, MSG_NOSIGNAL) >= 0) return true;
        if (errno != EINTR) return false;
    }
}

// Waits up to `timeout` for `fd` to become readable (or hung up). True when it did.
bool wait_readable(int fd, std::chrono::milliseconds timeout) {
    pollfd p{fd, POLLIN, 0};
    for (;;) {
        const int rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
        if (rc < 0 && errno == EINTR) continue;
        return rc > 0;
    }
}

}  // namespace

std::optional<HoldReport> parse_hold_report(const std::string& message) {
    int status = 0;
    int left = 0;
    int exec_errno = 0;
    if (std::sscanf(message.c_str(), hold::kExitFormat, &status, &left, &exec_errno) != 3) {
        return std::nullopt;
    }
    return HoldReport{status, left != 0, exec_errno};
}

void HoldChannel::listen(const std::filesystem::path& socket_path, const std::string& context) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.string().size() >= sizeof addr.sun_path) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("{}: socket path {} is too long for a unix socket", context,
                                socket_path.string()),
                    "set TMPDIR to a shorter folder");
    }
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.string().size() + 1);
    m_listen.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (m_listen.get() < 0 ||
        ::bind(m_listen.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(m_listen.get(), 1) != 0) {
        throw system_error(fmt::format("{}: listen on {}", context, socket_path.string()), errno);
    }
    ::chmod(socket_path.c_str(), 0666);
}

bool HoldChannel::wait_connection(std::chrono::milliseconds timeout) {
    if (!wait_readable(m_listen.get(), timeout)) return false;
    const int fd = ::accept4(m_listen.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) m_conn.reset(fd);
    return true;
}

bool HoldChannel::wait_ready(std::chrono::milliseconds timeout) {
    return wait_readable(m_conn.get(), timeout) && receive().value_or("") == hold::kReady;
}

pid_t HoldChannel::peer_pid() const {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(m_conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
        return cred.pid;
    return -1;
}

bool HoldChannel::send_go(int stdout_fd, int stderr_fd) {
    return send_message(m_conn.get(), hold::kGo, {stdout_fd, stderr_fd});
}

bool HoldChannel::wait_message(std::chrono::milliseconds timeout) {
    return wait_readable(m_conn.get(), timeout);
}

std::optional<std::string> HoldChannel::receive() {
    std::array<char, 256> buf{};
    for (;;) {
        const ssize_t n = ::recv(m_conn.get(), buf.data(), buf.size(), 0);
        if (n > 0) return std::string(buf.data(), static_cast<std::size_t>(n));
        if (n < 0 && errno == EINTR) continue;
        return std::nullopt;
    }
}

void HoldChannel::release() {
    send_message(m_conn.get(), hold::kRelease);
}

}  // namespace joulebench::environments
