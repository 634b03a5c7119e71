#pragma once
// The workload's standard output passed on line by line, so that its marker lines (README
// "Markers", measure/marks.hpp) are seen when they arrive: one thread per run reads a pipe (the
// command's stdout under `measure`) or FIFOs (the runner's stdout log, $JOULEBENCH_MARKS), writes
// standard output on unchanged (marker lines included) and gives every line to a MarkRecorder.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <list>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.hpp"
#include "measure/marks.hpp"

namespace joulebench {

class OutputRelay {
public:
    /// Output is written to `out_fd` (not owned); `recorder` may be null (output passed only).
    OutputRelay(int out_fd, MarkRecorder* recorder);
    OutputRelay(const OutputRelay&) = delete;
    OutputRelay& operator=(const OutputRelay&) = delete;
    ~OutputRelay();

    /// A pipe for the workload's standard output: returns its write end, which the caller gives
    /// the child and then closes. Throws Error.
    UniqueFd stdout_pipe();
    /// Creates a FIFO at `path` (replacing a file there) and reads it: the workload's standard
    /// output (`is_stdout`, passed on) or its marks file. The relay holds it open for writing
    /// too, so that writers may open and close it at will until stop(). Throws Error.
    void fifo(const std::filesystem::path& path, bool is_stdout);
    /// Starts the thread. Throws Error.
    void start();
    /// Lets go of its own write ends, reads what is left until every writer has closed or
    /// `drain` has passed, and joins the thread. Idempotent.
    void stop(std::chrono::milliseconds drain) noexcept;

private:
    struct Source {
        UniqueFd read;
        UniqueFd own_write;  // FIFOs: held until stop(), so no end of file before then
        bool is_stdout = true;
        std::string partial;  // an unfinished line
    };
    void run() noexcept;
    void take(Source& source, const char* data, std::size_t size) noexcept;
    void flush(Source& source) noexcept;
    void pass_on(const char* data, std::size_t size) noexcept;

    int m_out_fd;
    bool m_out_ok = true;
    MarkRecorder* m_recorder;
    std::list<Source> m_sources;  // never moved: each holds descriptors
    std::atomic<bool> m_stopping{false};
    std::atomic<std::int64_t> m_deadline_ns{0};
    std::thread m_thread;
};

/// Where the marks file of a run lives and what the workload is told: $JOULEBENCH_MARKS.
inline constexpr const char* kMarksVariable = "JOULEBENCH_MARKS";

/// A private folder (mkdtemp under $TMPDIR or /tmp) for one command's $JOULEBENCH_MARKS FIFO,
/// removed with what is in it at the end.
class MarksFolder {
public:
    /// `command` names the command in the error (Error) when the folder cannot be made.
    explicit MarksFolder(const std::string& command);
    MarksFolder(const MarksFolder&) = delete;
    MarksFolder& operator=(const MarksFolder&) = delete;
    ~MarksFolder();
    [[nodiscard]] std::filesystem::path file() const { return m_path / "marks"; }

private:
    std::filesystem::path m_path;
};

}  // namespace joulebench
