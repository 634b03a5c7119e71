// `run` locks its store so that a second `run` on it is refused: the lock is the store's, whatever
// path names it (issue 13, defect 2: a symlink or "x/../s.db" was not refused).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "runner/session.hpp"

namespace joulebench::runner {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

void expect_refused(const fs::path& alias) {
    try {
        const StoreLock second(alias);
        ADD_FAILURE() << "a second lock through " << alias << " was granted";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_THAT(e.what(), HasSubstr("another joulebench run is using it"));
    }
}

TEST(StoreLock, EveryPathToTheSameStoreNamesTheSameLock) {
    test::TempDir dir;
    fs::create_directories(dir.path() / "x");
    const fs::path db = dir.path() / "s.db";
    test::write_file(db, "");
    fs::create_symlink(db, dir.path() / "link.db");
    fs::create_directory_symlink(dir.path(), dir.path() / "x" / "up");
    {
        const StoreLock first(db);
        expect_refused(dir.path() / "link.db");
        expect_refused(dir.path() / "x" / ".." / "s.db");
        expect_refused(dir.path() / "x" / "up" / "s.db");
        expect_refused(db);
    }
    // Released with the first: any path may take it again.
    EXPECT_NO_THROW(const StoreLock again(dir.path() / "link.db"));
}

TEST(StoreLock, AStoreNotYetCreatedIsLockedByItsPathToo) {
    test::TempDir dir;
    fs::create_directories(dir.path() / "x");
    const StoreLock first(dir.path() / "new.db");
    expect_refused(dir.path() / "x" / ".." / "new.db");
}

}  // namespace
}  // namespace joulebench::runner
