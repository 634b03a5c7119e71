#include "common/atomic_file.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

#include "joulebench/error.hpp"

namespace joulebench {

namespace {

namespace fs = std::filesystem;

// As the kernel's own limit on symlinks followed in one lookup (MAXSYMLINKS).
constexpr int kMaxLinks = 40;

// The final target of PATH: each symlink's target read and followed (a relative one from the
// link's folder) until a path that is not a symlink, existing or not.
fs::path follow_links(const fs::path& path) {
    fs::path p = path;
    for (int hops = 0; hops < kMaxLinks; ++hops) {
        std::error_code ec;
        if (!fs::is_symlink(fs::symlink_status(p, ec))) return p;
        const fs::path to = fs::read_symlink(p, ec);
        if (ec) {
            throw system_error(fmt::format("write {}: read link {}", path.string(), p.string()),
                               ec.value());
        }
        p = to.is_absolute() ? to : p.parent_path() / to;
    }
    throw system_error(fmt::format("write {}", path.string()), ELOOP);
}

// The folder a replacement is made in: the target's own.
fs::path folder_of(const fs::path& path) {
    return path.has_parent_path() ? path.parent_path() : fs::path(".");
}

void fsync_folder(const fs::path& dir) {
    const UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd.open()) ::fsync(dfd.get());
}

}  // namespace

OutputTarget resolve_output(const fs::path& path) {
    if (path == "-") return {OutputKind::kStandardOutput, {}};
    // stat() asks the kernel, which also follows the links of /proc/self/fd and /dev/stdout
    // (their text, "pipe:[123]", names no file); only a file to replace needs its real path.
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return {OutputKind::kReplace, follow_links(path)};
        throw system_error(fmt::format("write {}", path.string()), errno);
    }
    if (S_ISREG(st.st_mode)) return {OutputKind::kReplace, follow_links(path)};
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
        return {OutputKind::kWriteThrough, path};
    }
    const char* what = S_ISDIR(st.st_mode) ? "is a folder" : "is not a file, device or FIFO";
    throw Error(ErrorCategory::kInvalidArgument, fmt::format("write {}: {}", path.string(), what));
}

OutputFile::OutputFile(const fs::path& path) : OutputFile(resolve_output(path), path.string()) {}

OutputFile::OutputFile(OutputTarget target, std::string name)
    : m_target(std::move(target)), m_name(std::move(name)) {
    switch (m_target.kind) {
        case OutputKind::kStandardOutput: m_fd = STDOUT_FILENO; break;
        case OutputKind::kReplace: open_replacement(); break;
        case OutputKind::kWriteThrough: open_through(); break;
    }
}

OutputFile::~OutputFile() {
    if (m_target.kind == OutputKind::kReplace && !m_committed && !m_tmp.empty()) {
        m_owned.reset();
        ::unlink(m_tmp.c_str());
    }
}

void OutputFile::open_replacement() {
    const fs::path& path = m_target.path;
    m_tmp = folder_of(path) / fmt::format(".{}.tmp.{}", path.filename().string(), ::getpid());
    m_owned.reset(::open(m_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!m_owned.open()) {
        const int err = errno;
        m_tmp.clear();  // not ours to remove
        throw system_error(fmt::format("create {}", m_name), err);
    }
    m_fd = m_owned.get();
}

void OutputFile::open_through() {
    // No O_TRUNC: a device has nothing to truncate, and a FIFO is empty for a new reader.
    int fd = -1;
    do {
        fd = ::open(m_target.path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) throw system_error(fmt::format("open {}", m_name), errno);
    m_owned.reset(fd);
    m_fd = fd;
}

void OutputFile::write(std::string_view content) {
    // What was printed before through stdio comes first.
    if (m_target.kind == OutputKind::kStandardOutput) std::fflush(stdout);
    write_all(m_fd, content, m_name == "-" ? "standard output" : m_name);
}

void OutputFile::commit() {
    if (m_committed) return;
    const bool replace = m_target.kind == OutputKind::kReplace;
    if (m_target.kind != OutputKind::kStandardOutput) {
        if (replace && ::fsync(m_fd) != 0) {
            throw system_error(fmt::format("write {}", m_name), errno);
        }
        m_fd = -1;
        // close() is checked: NFS and some devices report a failed write only there.
        if (::close(m_owned.release()) != 0) {
            throw system_error(fmt::format("write {}", m_name), errno);
        }
    }
    if (replace && ::rename(m_tmp.c_str(), m_target.path.c_str()) != 0) {
        throw system_error(
            fmt::format("rename {} to {}", m_tmp.string(), m_target.path.string()), errno);
    }
    m_committed = true;
    if (replace) fsync_folder(folder_of(m_target.path));
}

void write_output(const fs::path& path, std::string_view content) {
    OutputFile out(path);
    out.write(content);
    out.commit();
}

void check_output(const fs::path& path) {
    const OutputTarget target = resolve_output(path);
    if (target.kind == OutputKind::kStandardOutput) return;
    if (target.kind == OutputKind::kWriteThrough) {
        // Opening a FIFO would wait for a reader (and hand it an early end of file).
        if (::access(target.path.c_str(), W_OK) != 0) {
            throw system_error(fmt::format("open {}", path.string()), errno);
        }
        return;
    }
    const OutputFile probe(target, path.string());  // its temporary file is removed at once
}

void write_all(int fd, std::string_view content, const std::string& name) {
    const char* p = content.data();
    std::size_t left = content.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw system_error(fmt::format("write {}", name), errno);
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace joulebench
