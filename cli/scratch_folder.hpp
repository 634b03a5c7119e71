#pragma once
// A private temporary folder for the store of `sweep` and `tune` when no --db is given: made with
// mkdtemp under $TMPDIR, removed with its contents at scope exit unless keep() was called. Never
// throws from the destructor.

#include <fmt/format.h>
#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>

#include "joulebench/error.hpp"

namespace joulebench::cli {

class ScratchFolder {
public:
    /// `command`: "sweep" or "tune", in the folder's name and in the error.
    explicit ScratchFolder(std::string_view command) {
        namespace fs = std::filesystem;
        std::string pattern =
            (fs::temp_directory_path() / fmt::format("joulebench-{}-XXXXXX", command)).string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw system_error(fmt::format("{}: create a temporary folder {}", command, pattern), errno);
        }
        m_path = pattern;
    }
    ScratchFolder(const ScratchFolder&) = delete;
    ScratchFolder& operator=(const ScratchFolder&) = delete;
    ~ScratchFolder() {
        std::error_code ec;
        if (!m_keep) std::filesystem::remove_all(m_path, ec);
    }
    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }
    void keep() { m_keep = true; }

private:
    std::filesystem::path m_path;
    bool m_keep = false;
};

}  // namespace joulebench::cli
