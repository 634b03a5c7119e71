#pragma once
// What every fuzz target shares (docs/fuzzing.md): the input as text, and the one rule for
// exceptions. A parser of outside input may refuse it only with a joulebench::Error of a
// category other than kInternal (that one says "a bug of ours"); any other exception
// (std::out_of_range, std::bad_alloc, nlohmann's, ...) escaping it is a finding, as are crashes,
// leaks and undefined behaviour, which ASan and UBSan report.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "joulebench/error.hpp"

namespace joulebench::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void finding(const char* what, const char* message) {
    std::fprintf(stderr, "fuzz finding: %s: %s\n", what, message);
    std::abort();
}

/// Runs `body`; a joulebench::Error (not kInternal) is a clean refusal, everything else aborts.
template <typename Body>
void expect_clean(Body&& body) {
    try {
        body();
    } catch (const Error& e) {
        if (e.category() == ErrorCategory::kInternal) finding("internal error", e.what());
    } catch (const std::exception& e) {
        finding("exception other than joulebench::Error", e.what());
    } catch (...) {
        finding("exception other than joulebench::Error", "(not a std::exception)");
    }
}

}  // namespace joulebench::fuzz

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace joulebench::fuzz {

/// A file of this process in the temporary folder, rewritten with each input (for the parsers
/// that read a path: `analyze --csv`, the store). Removed at exit.
class InputFile {
public:
    explicit InputFile(const char* suffix)
        : m_path(std::filesystem::temp_directory_path() /
                 ("joulebench-fuzz-" + std::to_string(::getpid()) + suffix)) {}
    ~InputFile() {
        remove_beside();
        std::error_code ignored;
        std::filesystem::remove(m_path, ignored);
    }
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    /// Writes the input, and removes what SQLite keeps beside a file (-wal, -shm, -journal).
    const std::filesystem::path& write(const std::uint8_t* data, std::size_t size) {
        remove_beside();
        std::ofstream out(m_path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
        out.close();
        if (!out) finding("harness", "cannot write the input file");
        return m_path;
    }
    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

private:
    void remove_beside() const {
        for (const char* suffix : {"-wal", "-shm", "-journal"}) {
            std::error_code ignored;
            std::filesystem::remove(m_path.string() + suffix, ignored);
        }
    }
    std::filesystem::path m_path;
};

}  // namespace joulebench::fuzz
