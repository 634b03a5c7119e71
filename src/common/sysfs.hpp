#pragma once
// Small helpers for reading sysfs and procfs files. Hand-written because they sit on the sampling
// hot path (pread on an open descriptor, no allocation, no iostreams).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace joulebench::sysfs {

/// Reads a whole small text file, trailing newline removed. nullopt if it cannot be read; errno is
/// left as set by the failing call.
std::optional<std::string> read_text(const std::filesystem::path& path);

/// Reads an unsigned decimal integer from a small text file.
std::optional<std::uint64_t> read_u64(const std::filesystem::path& path);

/// Parses an unsigned decimal integer with optional surrounding whitespace; nullopt on junk.
std::optional<std::uint64_t> parse_u64(const char* begin, const char* end);

/// Writes `text` to a sysfs attribute (O_WRONLY | O_TRUNC: sysfs ignores O_TRUNC, a regular file in a
/// fake tree needs it). Returns 0, or the errno of the step that failed (EIO for a short write);
/// `step` is set to "open", "write" or "close". noexcept.
int write_text(const std::filesystem::path& path, std::string_view text, const char** step) noexcept;

/// pread()s an unsigned decimal integer from offset 0 of an open descriptor. noexcept, no allocation.
std::optional<std::uint64_t> pread_u64(int fd) noexcept;

}  // namespace joulebench::sysfs
