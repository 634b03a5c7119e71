#pragma once
// Writing files. A regular file is replaced so that readers (and a crash) see either the old
// content or the whole new one: a temporary file beside it is written, fsynced and renamed over
// it, then the folder is fsynced. Every output a user names (`-o`, `--json`, `--samples`) goes
// through OutputFile or write_output, which replace only regular files: `-` is standard output,
// a symlink is followed (its target is replaced, the link stays a link), and a device or FIFO is
// opened and written through, never replaced by a regular file.

#include <filesystem>
#include <string>
#include <string_view>

#include "common/unique_fd.hpp"

namespace joulebench {

/// How an output path is written.
enum class OutputKind {
    kStandardOutput,  ///< `-`
    kReplace,         ///< a regular file or a new path: temporary file, then rename
    kWriteThrough,    ///< an existing character or block device or FIFO: opened and written
};

struct OutputTarget {
    OutputKind kind = OutputKind::kReplace;
    /// kReplace: the file to replace, symlinks followed; kWriteThrough: the path to open;
    /// empty for standard output.
    std::filesystem::path path;
};

/// What PATH names as an output: `-` is standard output; symlinks are followed to their final
/// target (which may not exist yet). Throws Error: kInvalidArgument for a folder or a socket,
/// kIo for a symlink loop or a path that cannot be examined.
[[nodiscard]] OutputTarget resolve_output(const std::filesystem::path& path);

/// An output written as a stream (e.g. a trace during a run), then committed. Opening happens in
/// the constructor, so a bad path fails before the work; opening a FIFO waits for its reader.
/// A replaced file appears at commit(); one never committed is not created (the temporary file
/// is removed). Descriptors are close-on-exec, so a workload never inherits them.
class OutputFile {
public:
    /// Resolves PATH (resolve_output) and opens it. Throws Error naming PATH.
    explicit OutputFile(const std::filesystem::path& path);
    /// Opens TARGET, naming it NAME in messages. Throws Error.
    OutputFile(OutputTarget target, std::string name);
    ~OutputFile();
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    [[nodiscard]] OutputKind kind() const { return m_target.kind; }
    /// Writes all of CONTENT. Throws Error (kIo, e.g. disk full or a FIFO whose reader left).
    void write(std::string_view content);
    /// Finishes: fsync and rename for a replaced file, close for a device or FIFO; nothing for
    /// standard output (flushed at each write). Throws Error.
    void commit();

private:
    void open_replacement();
    void open_through();

    OutputTarget m_target;
    std::string m_name;
    std::filesystem::path m_tmp;
    UniqueFd m_owned;
    int m_fd = -1;
    bool m_committed = false;
};

/// Writes CONTENT to PATH as an OutputFile does (`-` = standard output). Throws Error (kIo,
/// kNoPermission, kNotFound, kInvalidArgument) naming the path.
void write_output(const std::filesystem::path& path, std::string_view content);

/// Checks now, before a long run, that PATH can be written later; creates nothing that stays
/// (a replaced file's folder gets a temporary file that is removed at once). Never opens a FIFO.
/// Throws Error as write_output would.
void check_output(const std::filesystem::path& path);

/// Writes all of CONTENT to the open descriptor FD (short writes and EINTR retried). Throws
/// Error `write NAME: cause`.
void write_all(int fd, std::string_view content, const std::string& name);

}  // namespace joulebench
