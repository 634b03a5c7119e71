// The kernel-backed random helpers: random_hex (container names, the ssh nonce) and the
// arc4random that joulebench's statically linked libstdc++ binds to (deps/glibc_compat.cpp,
// compiled into this test program too).

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <set>
#include <string>

#include "common/random_hex.hpp"

extern "C" std::uint32_t arc4random() noexcept;

namespace joulebench {
namespace {

TEST(RandomHex, GivesTwoLowerCaseHexDigitsPerByteAndNeverRepeats) {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const std::string h = random_hex(16);
        ASSERT_EQ(h.size(), 32U);
        EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos) << h;
        EXPECT_TRUE(seen.insert(h).second) << "repeated: " << h;  // 2^-128 by chance
    }
    EXPECT_EQ(random_hex(0), "");
    EXPECT_EQ(random_hex(4).size(), 8U);
}

// Every bit of 4000 draws is set close to half the time (binomial, sd 31.6: the bounds are 7 sd
// away), and std::random_device's default source, which calls arc4random in a statically linked
// libstdc++, works.
TEST(GlibcCompat, Arc4randomDrawsUniformBits) {
    constexpr int kDraws = 4000;
    std::array<int, 32> ones{};
    std::set<std::uint32_t> distinct;
    for (int i = 0; i < kDraws; ++i) {
        const std::uint32_t v = arc4random();
        distinct.insert(v);
        for (int b = 0; b < 32; ++b) ones[static_cast<std::size_t>(b)] += static_cast<int>((v >> b) & 1U);
    }
    for (int b = 0; b < 32; ++b) {
        EXPECT_GT(ones[static_cast<std::size_t>(b)], kDraws / 2 - 220) << "bit " << b;
        EXPECT_LT(ones[static_cast<std::size_t>(b)], kDraws / 2 + 220) << "bit " << b;
    }
    EXPECT_GT(distinct.size(), static_cast<std::size_t>(kDraws - 10));
    std::random_device device;
    EXPECT_NE(device(), device());  // 2^-32 by chance
}

}  // namespace
}  // namespace joulebench
