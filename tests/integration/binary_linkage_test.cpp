// The joulebench binary links its dependencies in (CMakeLists.txt, "How the dependencies are
// linked"): it must need nothing but glibc and libgcc_s, both for its start-up time (BENCHMARKS.md, issue 2)
// and so that it runs on a GPU host without Debian's libraries (scripts/README.md). This test
// reads the binary's DT_NEEDED entries with binutils' readelf and fails when a shared library
// other than glibc's creeps back in (a new dependency linked as fmt::fmt or SQLite::SQLite3).

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fakes/test_support.hpp"

namespace {

using joulebench::test::joulebench_binary;
using joulebench::test::run_process;

std::set<std::string> needed_libraries(const std::string& binary) {
    const auto r = run_process({"readelf", "--dynamic", "--wide", binary});
    if (r.exit_code != 0) throw std::runtime_error("readelf failed: " + r.err);
    std::set<std::string> needed;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
        if (line.find("(NEEDED)") == std::string::npos) continue;
        const auto open = line.find('[');
        const auto close = line.find(']', open);
        if (open == std::string::npos || close == std::string::npos) throw std::runtime_error("unexpected readelf line: " + line);
        needed.insert(line.substr(open + 1, close - open - 1));
    }
    return needed;
}

// The programs carried to GPU hosts (scripts/README.md).
std::vector<std::string> carried_programs() {
    std::vector<std::string> out{joulebench_binary()};
#ifdef JOULEBENCH_NVML_COST_PATH
    out.emplace_back(JOULEBENCH_NVML_COST_PATH);
#endif
    return out;
}

TEST(BinaryLinkage, NeedsOnlyGlibcAndLibgcc) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "sanitized build: the sanitizer runtimes need the shared libstdc++";
#endif
    if (run_process({"sh", "-c", "command -v readelf"}).exit_code != 0) GTEST_SKIP() << "readelf (binutils) is not installed";
    // glibc, and GCC's libgcc_s (present wherever a C++ program runs; kept shared: CMakeLists.txt).
    const std::set<std::string> allowed = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "ld-linux-x86-64.so.2",
                                           "libgcc_s.so.1"};
    for (const auto& program : carried_programs()) {
        SCOPED_TRACE(program);
        const auto needed = needed_libraries(program);
        ASSERT_FALSE(needed.empty()) << "dynamically linked against glibc: no DT_NEEDED found";
        for (const auto& lib : needed) {
            EXPECT_TRUE(allowed.contains(lib)) << lib << " is a shared dependency: link it in (CMakeLists.txt)";
        }
        EXPECT_TRUE(needed.contains("libc.so.6"));
    }
}

// The glibc they need: no symbol newer than 2.34 (Ubuntu 22.04 has 2.35, RHEL 9 2.34), so that a
// build carried to a GPU host starts there (scripts/README.md).
TEST(BinaryLinkage, NeedsNoGlibcNewerThan234) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "sanitized build: the sanitizer runtimes set their own requirements";
#endif
    if (run_process({"sh", "-c", "command -v objdump"}).exit_code != 0) GTEST_SKIP() << "objdump (binutils) is not installed";
    for (const auto& program : carried_programs()) {
        SCOPED_TRACE(program);
        const auto r = run_process({"objdump", "-T", program});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        std::istringstream lines(r.out);
        int checked = 0;
        for (std::string line; std::getline(lines, line);) {
            const auto at = line.find("GLIBC_2.");
            if (at == std::string::npos) continue;
            ++checked;
            const int minor = std::stoi(line.substr(at + 8));
            EXPECT_LE(minor, 34) << "needs a newer glibc than 2.34: " << line;
        }
        EXPECT_GT(checked, 0) << "no versioned glibc symbol found";
    }
}

// What the binary is for: with the libraries linked in, it still runs its sub-commands (fmt
// formatting, toml++ parsing and SQLite all go through the linked-in copies).
TEST(BinaryLinkage, LinkedInLibrariesWork) {
    joulebench::test::TempDir dir{"joulebench-linkage"};
    joulebench::test::write_file(dir.path() / "e.toml",
                                 "[experiment]\nname = \"linkage\"\nrepetitions = 1\n\n[[workload]]\nname = \"t\"\ncommand = [\"true\"]\n\n"
                                 "[[environment]]\nname = \"bare\"\ntype = \"bare\"\n");
    const auto plan = joulebench::test::run_joulebench({"plan", (dir.path() / "e.toml").string()});
    ASSERT_EQ(plan.exit_code, 0) << plan.err;
    EXPECT_NE(plan.out.find("linkage"), std::string::npos) << plan.out;
    joulebench::test::ProcessOptions no_sensors;
    no_sensors.env = {{"JOULEBENCH_POWERCAP_ROOT", (dir.path() / "none").string()},
                      {"JOULEBENCH_NVML_LIBRARY", (dir.path() / "none.so").string()}};
    const auto run = joulebench::test::run_joulebench({"run", (dir.path() / "e.toml").string(), "--db", (dir.path() / "r.db").string()}, no_sensors);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const auto exported = joulebench::test::run_joulebench({"export", (dir.path() / "r.db").string(), "--format", "csv"});
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    EXPECT_NE(exported.out.find(",t,bare,"), std::string::npos) << exported.out;
    EXPECT_NE(exported.out.find(",done,"), std::string::npos) << exported.out;
}

}  // namespace
