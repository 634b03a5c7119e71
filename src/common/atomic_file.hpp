#pragma once
// Writing a file so that readers (and a crash) see either the old content or the whole new one:
// write a temporary file beside it, fsync it, rename it over the target, fsync the folder.

#include <filesystem>
#include <string_view>

namespace joulebench {

/// Throws Error (kIo, kNoPermission, kNotFound) naming the path.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace joulebench
