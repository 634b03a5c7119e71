#include "common/sysfs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>

namespace joulebench::sysfs {

int write_text(const std::filesystem::path& path, std::string_view text, const char** step) noexcept {
    *step = "open";
    const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return errno;
    *step = "write";
    ssize_t n = 0;
    do {
        n = ::write(fd, text.data(), text.size());
    } while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : (static_cast<std::size_t>(n) != text.size() ? EIO : 0);
    if (::close(fd) != 0 && err == 0) {
        *step = "close";
        err = errno;
    }
    return err;
}

std::optional<std::string> read_text(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string out;
    std::array<char, 4096> buf{};
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            const int saved = errno;
            ::close(fd);
            errno = saved;
            return std::nullopt;
        }
        if (n == 0) break;
        out.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == ' ')) {
        out.pop_back();
    }
    return out;
}

std::optional<std::uint64_t> parse_u64(const char* begin, const char* end) {
    while (begin < end && (*begin == ' ' || *begin == '\t')) ++begin;
    while (end > begin && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\r' || end[-1] == '\0')) {
        --end;
    }
    if (begin == end) return std::nullopt;
    std::uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr != end) return std::nullopt;
    return value;
}

std::optional<std::uint64_t> read_u64(const std::filesystem::path& path) {
    const auto text = read_text(path);
    if (!text) return std::nullopt;
    return parse_u64(text->data(), text->data() + text->size());
}

std::optional<std::uint64_t> pread_u64(int fd) noexcept {
    std::array<char, 64> buf{};
    ssize_t n = 0;
    do {
        n = ::pread(fd, buf.data(), buf.size() - 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return std::nullopt;
    return parse_u64(buf.data(), buf.data() + n);
}

}  // namespace joulebench::sysfs
