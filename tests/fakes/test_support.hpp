#pragma once
// Helpers shared by the tests: temporary folders that clean up after themselves.

#include <filesystem>
#include <string>

namespace joulebench::test {

/// A fresh folder under the system temporary directory, removed with everything in it at scope exit.
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "joulebench-test");
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();
    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

private:
    std::filesystem::path m_path;
};

}  // namespace joulebench::test
