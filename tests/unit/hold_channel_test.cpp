// The host's end of the joulebench-hold protocol (environments/hold_channel.hpp) against a
// helper side written here as joulebench-hold speaks it: "ready", "go" with two descriptors,
// the end report, "release", and the end of the connection.

#include "environments/hold_channel.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "environments/hold_protocol.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"

namespace joulebench::environments {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// joulebench-hold's end of the connection (a descriptor to own).
int connect_helper(const fs::path& path) {
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.string().size() + 1);
    EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    return fd;
}

void say(int fd, const std::string& text) {
    ASSERT_EQ(::send(fd, text.data(), text.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(text.size()));
}

// One message and the descriptors that came with it.
std::string hear(int fd, std::vector<int>* fds = nullptr) {
    std::array<char, 128> buf{};
    iovec iov{buf.data(), buf.size()};
    std::array<char, CMSG_SPACE(sizeof(int) * 4)> control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0) return {};
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int received = -1;
            std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
            if (fds != nullptr) fds->push_back(received);
        }
    }
    return std::string(buf.data(), static_cast<std::size_t>(n));
}

TEST(HoldChannel, ReadyGoReportReleaseAndTheEndOfTheConnection) {
    test::TempDir dir("joulebench-hold-channel");
    const fs::path path = dir.path() / hold::kSocketName;
    HoldChannel host;
    host.listen(path, "run: test");
    EXPECT_FALSE(host.wait_connection(10ms));  // nobody there yet
    EXPECT_FALSE(host.connected());

    const UniqueFd helper(connect_helper(path));
    ASSERT_TRUE(host.wait_connection(1s));
    ASSERT_TRUE(host.connected());
    EXPECT_EQ(host.peer_pid(), ::getpid());
    say(helper.get(), hold::kReady);
    EXPECT_TRUE(host.wait_ready(1s));

    // "go" carries the workload's stdout and stderr: what the helper writes to them arrives.
    std::array<int, 2> out{};
    std::array<int, 2> err{};
    ASSERT_EQ(::pipe(out.data()), 0);
    ASSERT_EQ(::pipe(err.data()), 0);
    const UniqueFd out_read(out[0]);
    const UniqueFd out_write(out[1]);
    const UniqueFd err_read(err[0]);
    const UniqueFd err_write(err[1]);
    ASSERT_TRUE(host.send_go(out_write.get(), err_write.get()));
    std::vector<int> fds;
    EXPECT_EQ(hear(helper.get(), &fds), hold::kGo);
    ASSERT_EQ(fds.size(), 2U);
    ASSERT_EQ(::write(fds[0], "o", 1), 1);
    ASSERT_EQ(::write(fds[1], "e", 1), 1);
    for (const int fd : fds) ::close(fd);
    char c = 0;
    ASSERT_EQ(::read(out_read.get(), &c, 1), 1);
    EXPECT_EQ(c, 'o');
    ASSERT_EQ(::read(err_read.get(), &c, 1), 1);
    EXPECT_EQ(c, 'e');

    EXPECT_FALSE(host.wait_message(10ms));  // the workload runs
    say(helper.get(), "exit 256 1 0");
    ASSERT_TRUE(host.wait_message(1s));
    const auto message = host.receive();
    ASSERT_TRUE(message.has_value());
    const auto report = parse_hold_report(*message);
    ASSERT_TRUE(report.has_value());
    EXPECT_EQ(report->wait_status, 256);
    EXPECT_TRUE(report->left_processes);
    EXPECT_EQ(report->exec_errno, 0);

    host.release();
    EXPECT_EQ(hear(helper.get()), hold::kRelease);
    host.disconnect();
    EXPECT_FALSE(host.connected());
    EXPECT_EQ(hear(helper.get()), "");  // end of the connection: joulebench-hold exits
}

TEST(HoldChannel, AHelperThatGoesAwayOrSaysSomethingElseIsNotReady) {
    test::TempDir dir("joulebench-hold-channel");
    const fs::path path = dir.path() / hold::kSocketName;
    HoldChannel host;
    host.listen(path, "run: test");
    {
        const UniqueFd helper(connect_helper(path));
        ASSERT_TRUE(host.wait_connection(1s));
        say(helper.get(), hold::kGo);
        EXPECT_FALSE(host.wait_ready(1s));
    }
    host.disconnect();
    {
        const UniqueFd helper(connect_helper(path));
        ASSERT_TRUE(host.wait_connection(1s));
    }
    EXPECT_FALSE(host.wait_ready(1s));  // closed before "ready"
    EXPECT_TRUE(host.wait_message(0ms));
    EXPECT_FALSE(host.receive().has_value());
}

TEST(HoldChannel, EndReportsAreParsedAndAnythingElseIsNot) {
    const auto report = parse_hold_report("exit 0 0 2");
    ASSERT_TRUE(report.has_value());
    EXPECT_EQ(report->wait_status, 0);
    EXPECT_FALSE(report->left_processes);
    EXPECT_EQ(report->exec_errno, 2);
    EXPECT_FALSE(parse_hold_report("exit 1 2").has_value());
    EXPECT_FALSE(parse_hold_report(hold::kReady).has_value());
    EXPECT_FALSE(parse_hold_report("").has_value());
}

TEST(HoldChannel, ASocketPathTooLongForUnixSocketsIsRefused) {
    HoldChannel host;
    const fs::path path = fs::path("/tmp") / std::string(200, 'x') / hold::kSocketName;
    try {
        host.listen(path, "run: exp.toml:3: environment 'c'");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("run: exp.toml:3: environment 'c': socket path"),
                  std::string::npos);
        EXPECT_NE(e.hint().find("TMPDIR"), std::string::npos);
    }
}

}  // namespace
}  // namespace joulebench::environments
