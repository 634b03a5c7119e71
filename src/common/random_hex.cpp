#include "common/random_hex.hpp"

#include <sys/random.h>

#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "joulebench/error.hpp"

namespace joulebench {

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> buffer(bytes);
    std::size_t filled = 0;
    while (filled < bytes) {
        const ssize_t n = ::getrandom(buffer.data() + filled, bytes - filled, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw system_error("random: read the kernel's random generator", errno);
        }
        filled += static_cast<std::size_t>(n);
    }
    std::string out;
    out.reserve(2 * bytes);
    for (const unsigned char b : buffer) out += fmt::format("{:02x}", b);
    return out;
}

}  // namespace joulebench
