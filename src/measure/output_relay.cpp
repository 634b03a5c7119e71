#include "measure/output_relay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>

#include "joulebench/error.hpp"

namespace joulebench {

namespace {

constexpr int kPollMs = 50;
constexpr std::size_t kMaxLine = 64 * 1024;  // longer lines are passed on, never marks

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               Clock::now().time_since_epoch())
        .count();
}

}  // namespace

OutputRelay::OutputRelay(int out_fd, MarkRecorder* recorder)
    : m_out_fd(out_fd), m_recorder(recorder) {}

OutputRelay::~OutputRelay() { stop(std::chrono::milliseconds(0)); }

UniqueFd OutputRelay::stdout_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw system_error("measure: create the output pipe", errno);
    Source& s = m_sources.emplace_back();
    s.read.reset(fds[0]);
    s.is_stdout = true;
    return UniqueFd(fds[1]);
}

void OutputRelay::fifo(const std::filesystem::path& path, bool is_stdout) {
    ::unlink(path.c_str());
    if (::mkfifo(path.c_str(), 0666) != 0) {
        throw system_error("marks: create the FIFO " + path.string(), errno);
    }
    UniqueFd read(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!read.open()) throw system_error("marks: open the FIFO " + path.string(), errno);
    UniqueFd write(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!write.open()) throw system_error("marks: open the FIFO " + path.string(), errno);
    Source& s = m_sources.emplace_back();
    s.read.reset(read.release());
    s.own_write.reset(write.release());
    s.is_stdout = is_stdout;
}

void OutputRelay::start() {
    // The thread takes no signal (SIGPIPE included: a closed output is an EPIPE, not an end).
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    try {
        m_thread = std::thread([this] { run(); });
    } catch (const std::exception& e) {
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        throw Error(ErrorCategory::kInternal,
                    std::string("measure: start the output thread: ") + e.what());
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void OutputRelay::stop(std::chrono::milliseconds drain) noexcept {
    if (!m_thread.joinable()) return;
    m_deadline_ns = now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(drain).count();
    for (auto& s : m_sources) s.own_write.reset();
    m_stopping = true;
    m_thread.join();
}

void OutputRelay::run() noexcept {
    std::vector<pollfd> fds;
    std::vector<Source*> polled;
    char buffer[65536];
    for (;;) {
        fds.clear();
        polled.clear();
        for (auto& s : m_sources) {
            if (!s.read.open()) continue;
            fds.push_back(pollfd{s.read.get(), POLLIN, 0});
            polled.push_back(&s);
        }
        if (fds.empty()) break;
        if (m_stopping && now_ns() >= m_deadline_ns) break;
        // Once stopping (the command ended), what its processes wrote is already in the pipes:
        // read until nothing is ready, never wait for an end of file that a process the command
        // left running (holding the pipe) may not give before the drain's deadline.
        const int ready = ::poll(fds.data(), fds.size(), m_stopping ? 0 : kPollMs);
        if (ready < 0 && errno != EINTR) break;
        if (m_stopping && ready == 0) break;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents == 0) continue;
            const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            if (n > 0) {
                take(*polled[i], buffer, static_cast<std::size_t>(n));
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                flush(*polled[i]);
                polled[i]->read.reset();
            }
        }
    }
    for (auto& s : m_sources) flush(s);
}

void OutputRelay::take(Source& s, const char* data, std::size_t size) noexcept {
    if (s.is_stdout) pass_on(data, size);
    if (m_recorder == nullptr) return;
    try {
        for (std::size_t i = 0; i < size; ++i) {
            if (data[i] == '\n') {
                m_recorder->line(s.partial, !s.is_stdout);
                s.partial.clear();
            } else if (s.partial.size() < kMaxLine) {
                s.partial.push_back(data[i]);
            }
        }
    } catch (...) {  // out of memory: the line is lost, the output was passed on
        s.partial.clear();
    }
}

void OutputRelay::flush(Source& s) noexcept {
    if (m_recorder != nullptr && !s.partial.empty()) m_recorder->line(s.partial, !s.is_stdout);
    s.partial.clear();
}

void OutputRelay::pass_on(const char* data, std::size_t size) noexcept {
    while (m_out_ok && size > 0) {
        const ssize_t n = ::write(m_out_fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            m_out_ok = false;  // a closed or full output: the rest is read and dropped
            return;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

MarksFolder::MarksFolder(const std::string& command) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                          "/joulebench-marks-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw system_error(command + ": create a folder for $JOULEBENCH_MARKS in " + pattern, errno);
    }
    m_path = pattern;
}

MarksFolder::~MarksFolder() {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
}

}  // namespace joulebench
