// The layering check the build runs on every part of src/ (cmake/check_layers.cmake, called by
// cmake/joulebench_parts.cmake): an include of a part above fails with the file, the line and what
// the part may include; includes of the part itself, of parts below and of system headers pass.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "fakes/test_support.hpp"

namespace joulebench::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class LayersCheck : public ::testing::Test {
protected:
    TempDir m_dir{"joulebench-layers"};

    fs::path file(const std::string& name, const std::string& text) const {
        const fs::path p = m_dir.path() / "src" / name;
        fs::create_directories(p.parent_path());
        write_file(p, text);
        return p;
    }

    // The check of part `part`, which may include `allowed`, over `files`.
    ProcessResult check(const std::string& part, const std::string& allowed,
                        const std::vector<fs::path>& files) const {
        std::string list;
        for (const auto& f : files) list += (list.empty() ? "" : ",") + f.string();
        return run_process({JOULEBENCH_CMAKE_COMMAND, "-DPART=" + part, "-DALLOWED=" + allowed,
                            "-DOWNERS=error.hpp=common,store.hpp=store,stats.hpp=stats",
                            "-DFILES=" + list, "-DPARTS=common,stats,store,runner",
                            "-DSOURCE_DIR=" + m_dir.path().string(),
                            "-DSTAMP=" + (m_dir.path() / "stamp").string(), "-P",
                            std::string(JOULEBENCH_SOURCE_DIR) + "/cmake/check_layers.cmake"});
    }
};

TEST_F(LayersCheck, IncludesOfThePartAndOfPartsBelowPass) {
    const auto f = file("stats/a.cpp",
                        "#include <vector>\n"
                        "#include \"stats/common.hpp\"\n"
                        "#include \"common/text_escape.hpp\"\n"
                        "#include \"joulebench/error.hpp\"\n"
                        "  #  include \"joulebench/stats.hpp\"\n"
                        "#include \"local.hpp\"\n");
    const auto r = check("stats", "stats,common", {f});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_TRUE(fs::exists(m_dir.path() / "stamp"));
}

TEST_F(LayersCheck, AnUpwardIncludeFailsNamingTheFileLineAndWhatThePartMayInclude) {
    const auto ok = file("stats/ok.cpp", "#include \"common/x.hpp\"\n");
    const auto bad = file("stats/bad.cpp",
                          "int a[2]; void f() { for (;;) {} }  // [ and ; count as in C++\n"
                          "#include \"common/x.hpp\"\n"
                          "#include \"store/sqlite.hpp\"\n");
    const auto r = check("stats", "stats,common", {ok, bad});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("src/stats/bad.cpp:3: error: includes \"store/sqlite.hpp\" of part "
                                 "'store', which is not below 'stats' (stats may include: stats, "
                                 "common)"));
    EXPECT_THAT(r.err, ::testing::Not(HasSubstr("ok.cpp")));
    EXPECT_FALSE(fs::exists(m_dir.path() / "stamp"));
}

TEST_F(LayersCheck, APublicHeaderCountsForThePartThatOwnsIt) {
    const auto bad = file("stats/bad.cpp", "#include \"joulebench/store.hpp\"\n");
    const auto r = check("stats", "stats,common", {bad});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("bad.cpp:1: error: includes \"joulebench/store.hpp\" of part 'store'"));
}

TEST_F(LayersCheck, APublicHeaderNoPartOwnsFails) {
    const auto bad = file("store/bad.cpp", "#include \"joulebench/nowhere.hpp\"\n");
    const auto r = check("store", "store,common", {bad});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("bad.cpp:1: error: includes \"joulebench/nowhere.hpp\", a public header "
                                 "no part owns"));
}

TEST_F(LayersCheck, EveryFolderOfSrcIsAPartEvenOneDeclaredLater) {
    // runner is a folder of src/ declared after store: store may not include it either.
    const auto bad = file("store/bad.cpp", "#include \"runner/runner.hpp\"\n");
    const auto r = check("store", "store,common", {bad});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("of part 'runner', which is not below 'store'"));
}

}  // namespace
}  // namespace joulebench::test
