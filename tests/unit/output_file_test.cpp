// common/atomic_file: what an output path names (resolve_output) and how it is written
// (OutputFile, write_output, check_output): regular files replaced atomically, symlinks followed
// and kept, FIFOs written through and kept, `-` standard output. Only temporary folders are
// written; /dev/null is only resolved, never written.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <string>

#include "common/atomic_file.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"

namespace joulebench {
namespace {

namespace fs = std::filesystem;
using test::read_file;
using test::TempDir;
using test::write_file;

ino_t inode_of(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
}

std::size_t entries_in(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

std::string read_fifo(const fs::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    std::string out;
    char buf[256];
    for (ssize_t n = 0; fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0;) {
        out.append(buf, static_cast<std::size_t>(n));
    }
    if (fd >= 0) ::close(fd);
    return out;
}

TEST(OutputFile, ResolvesDashDevicesFifosFilesAndNewPaths) {
    TempDir dir;
    EXPECT_EQ(resolve_output("-").kind, OutputKind::kStandardOutput);
    EXPECT_EQ(resolve_output("/dev/null").kind, OutputKind::kWriteThrough);
    ASSERT_EQ(::mkfifo((dir.path() / "f").c_str(), 0600), 0);
    EXPECT_EQ(resolve_output(dir.path() / "f").kind, OutputKind::kWriteThrough);
    write_file(dir.path() / "r", "x");
    EXPECT_EQ(resolve_output(dir.path() / "r").kind, OutputKind::kReplace);
    EXPECT_EQ(resolve_output(dir.path() / "new").kind, OutputKind::kReplace);
    fs::create_symlink("/dev/null", dir.path() / "null-link");
    EXPECT_EQ(resolve_output(dir.path() / "null-link").kind, OutputKind::kWriteThrough);
}

// /proc/self/fd/N (and /dev/stdout, and bash's `>(cmd)`) is a link whose text ("pipe:[123]")
// names no file: the kernel's answer decides.
TEST(OutputFile, ADescriptorLinkToAPipeIsWrittenThrough) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    const fs::path link = "/proc/self/fd/" + std::to_string(fds[1]);
    EXPECT_EQ(resolve_output(link).kind, OutputKind::kWriteThrough);
    write_output(link, "piped\n");
    ::close(fds[1]);
    char buf[64] = {};
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    ::close(fds[0]);
    EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0U), "piped\n");
}

TEST(OutputFile, AFolderAndASymlinkLoopAreRefused) {
    TempDir dir;
    try {
        (void)resolve_output(dir.path());
        ADD_FAILURE() << "a folder was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("is a folder"), std::string::npos) << e.what();
    }
    fs::create_symlink("b", dir.path() / "a");
    fs::create_symlink("a", dir.path() / "b");
    EXPECT_THROW((void)resolve_output(dir.path() / "a"), Error);
}

TEST(OutputFile, ARegularFileIsReplacedAtomicallyWithNoTemporaryFileLeft) {
    TempDir dir;
    const fs::path p = dir.path() / "out.json";
    write_file(p, "old old old\n");
    const ino_t before = inode_of(p);
    write_output(p, "new\n");
    EXPECT_EQ(read_file(p), "new\n");
    EXPECT_NE(inode_of(p), before);  // a new file renamed over the old one
    EXPECT_EQ(entries_in(dir.path()), 1U);
}

TEST(OutputFile, ASymlinkStaysAndItsTargetIsReplacedInItsOwnFolder) {
    TempDir dir;
    fs::create_directories(dir.path() / "a" / "b");
    const fs::path target = dir.path() / "a" / "b" / "t.csv";
    write_file(target, "old\n");
    fs::create_symlink("b/t.csv", dir.path() / "a" / "mid");            // relative to a/
    fs::create_symlink(dir.path() / "a" / "mid", dir.path() / "link");  // a chain
    write_output(dir.path() / "link", "new\n");
    EXPECT_TRUE(fs::is_symlink(dir.path() / "link"));
    EXPECT_TRUE(fs::is_symlink(dir.path() / "a" / "mid"));
    EXPECT_EQ(read_file(target), "new\n");
    EXPECT_EQ(entries_in(dir.path() / "a" / "b"), 1U);
}

TEST(OutputFile, ADanglingSymlinkGetsItsTargetCreated) {
    TempDir dir;
    fs::create_symlink("made.txt", dir.path() / "link");
    write_output(dir.path() / "link", "made\n");
    EXPECT_TRUE(fs::is_symlink(dir.path() / "link"));
    EXPECT_EQ(read_file(dir.path() / "made.txt"), "made\n");
}

TEST(OutputFile, AFifoIsWrittenThroughAndStaysAFifo) {
    TempDir dir;
    const fs::path fifo = dir.path() / "f";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    auto text = std::async(std::launch::async, [&] { return read_fifo(fifo); });
    OutputFile out(fifo);
    EXPECT_EQ(out.kind(), OutputKind::kWriteThrough);
    out.write("one\n");
    out.write("two\n");
    out.commit();  // closes: the reader sees the end
    EXPECT_EQ(text.get(), "one\ntwo\n");
    EXPECT_TRUE(fs::is_fifo(fs::symlink_status(fifo)));
    EXPECT_EQ(entries_in(dir.path()), 1U);
}

TEST(OutputFile, NothingAppearsUntilCommitAndNothingStaysWithoutIt) {
    TempDir dir;
    const fs::path p = dir.path() / "trace.csv";
    {
        OutputFile out(p);
        out.write("a,b\n");
        EXPECT_FALSE(fs::exists(p));
    }
    EXPECT_EQ(entries_in(dir.path()), 0U);
    OutputFile out(p);
    out.write("a,b\n");
    out.commit();
    EXPECT_EQ(read_file(p), "a,b\n");
}

TEST(OutputFile, DashWritesToStandardOutput) {
    TempDir dir;
    const fs::path captured = dir.path() / "stdout";
    std::fflush(stdout);
    const int saved = ::dup(STDOUT_FILENO);
    const int file = ::open(captured.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(file, 0);
    ::dup2(file, STDOUT_FILENO);
    std::fputs("before ", stdout);  // stdio's buffer is flushed first
    write_output("-", "dash\n");
    ::dup2(saved, STDOUT_FILENO);
    ::close(saved);
    ::close(file);
    EXPECT_EQ(read_file(captured), "before dash\n");
    EXPECT_FALSE(fs::exists("-"));
}

TEST(OutputFile, CheckOutputCreatesNothingAndNeverOpensAFifo) {
    TempDir dir;
    check_output(dir.path() / "new.json");
    ASSERT_EQ(::mkfifo((dir.path() / "f").c_str(), 0600), 0);
    check_output(dir.path() / "f");  // no reader: opening it would wait forever
    check_output("-");
    EXPECT_EQ(entries_in(dir.path()), 1U);
    try {
        check_output(dir.path() / "no-such-folder" / "x.json");
        ADD_FAILURE() << "a missing folder was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kNotFound) << e.what();
    }
}

}  // namespace
}  // namespace joulebench
