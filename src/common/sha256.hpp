#pragma once
// SHA-256 (FIPS 180-4), written out here on purpose: the project's dependency list (CLI11, fmt,
// nlohmann-json, toml++, SQLite, Boost.Math, GoogleTest, Google Benchmark) has no hash function,
// Debian's libsqlite3 is built without the sha3/shathree extension (and SQLite ships no SHA-2),
// and linking OpenSSL only for ~100 lines of a fixed, well-tested algorithm is not worth a new
// dependency. Checked against the FIPS 180-4 test vectors and Python's hashlib in the unit tests.
// Used for the experiment file hash (store identity) and for stable run ids.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace joulebench {

class Sha256 {
public:
    Sha256();
    /// Adds bytes to the message.
    void update(std::string_view data);
    /// Finishes the message and returns the 32-byte digest; the object must not be used after.
    std::array<std::uint8_t, 32> finish();

private:
    void block(const std::uint8_t* p);

    std::array<std::uint32_t, 8> m_h{};
    std::array<std::uint8_t, 64> m_buf{};
    std::size_t m_buf_len = 0;
    std::uint64_t m_total = 0;
};

/// Lower-case hex SHA-256 of `data` (64 digits).
std::string sha256_hex(std::string_view data);

/// Lower-case hex of bytes.
std::string to_hex(const std::uint8_t* data, std::size_t size);

}  // namespace joulebench
