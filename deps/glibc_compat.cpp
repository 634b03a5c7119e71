// glibc 2.36's arc4random, for the programs that link libstdc++ in statically.
//
// Why this file exists: joulebench links libstdc++ in (CMakeLists.txt, "How the dependencies are
// linked": it halves the start-up time `measure` adds to a command). Debian 12's libstdc++.a was
// built against glibc 2.36, and its random_device (random.o, pulled in by every program that uses
// std::string and exceptions, through cow-string-inst.o) calls arc4random, which glibc only has
// since 2.36. Left to glibc, that single symbol would stop joulebench from starting on glibc
// 2.34/2.35 hosts (Ubuntu 22.04, RHEL 9: common on GPU machines, where the binary is carried,
// scripts/README.md). Defined here, in the executable, the reference binds to this definition at
// link time and the binary needs glibc 2.34 only (tests/integration/binary_linkage_test.cpp).
// glibc's own callers are unaffected (they call its internal alias). joulebench itself never
// calls arc4random: only std::random_device's "default" source could, and joulebench does not use
// std::random_device (src/common/random_hex.hpp).

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

extern "C" std::uint32_t arc4random() noexcept {
    // The kernel's generator, as glibc's arc4random; like it, never fails: aborts if the kernel
    // cannot supply random bytes at all (getrandom needs Linux 3.17).
    std::uint32_t value = 0;
    auto* bytes = reinterpret_cast<unsigned char*>(&value);
    std::size_t filled = 0;
    while (filled < sizeof value) {
        const ssize_t n = ::getrandom(bytes + filled, sizeof value - filled, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::abort();
        }
        filled += static_cast<std::size_t>(n);
    }
    return value;
}
