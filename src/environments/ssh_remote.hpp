#pragma once
// The remote half of the `ssh` environment and the protocol between the two halves, kept apart
// from SshEnvironment so that each piece is tested on its own (docs/ssh.md).
//
// ssh hands the remote command to the remote user's login shell as one string, so every word is
// quoted for a POSIX shell here. What runs there is a small sh script:
//
//   1. prints a start line `@joulebench-ssh:NONCE:start` (anything the login shell printed before
//      it, e.g. from .bashrc, is not the workload's output);
//   2. starts `env K=V... JOULEBENCH measure -q --json TMPFILE --samples TMPFILE2 --interval MS
//      [--gpus N] [--power-cap W] [--cpu-power-cap W] -- CMD...` in the background, the workload's
//      stdout and stderr going straight back through ssh;
//   3. starts a watcher that blocks reading the session's stdin: the local side never writes to
//      it and closes it to end the run (timeout, interruption, or "result received"), and sshd
//      closes it when the connection drops. On end of file the watcher sends SIGTERM to the
//      whole process group of the session (measure forwards it to the workload, restores its
//      caps and writes its JSON), waits the kill grace, then sends SIGKILL to the group (measure's
//      cap guardian runs in its own session and restores the caps if measure itself was killed);
//   4. when measure ends, sends SIGTERM to what the workload left behind in the group, then
//      prints `\n@joulebench-ssh:NONCE:end:STATUS:LENGTH:TRACE_LENGTH\n` followed by exactly
//      LENGTH bytes of measure's JSON document and then exactly TRACE_LENGTH bytes of its
//      `--samples` CSV trace (csv_trace.hpp), which TraceCsvParser below turns into trace rows.
//
// NONCE is 128 random bits chosen per run, so no workload output can be mistaken for the
// protocol lines, and the JSON and the trace are read by their byte counts, never by searching
// for their ends: the workload's stdout is passed on byte for byte and cannot corrupt the
// measurement. (The script is sent by the local joulebench with every run, so both halves always
// speak the same version of the protocol; an end line without TRACE_LENGTH is still read, as a
// run without a trace.)

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/shell_words.hpp"
#include "joulebench/sensor.hpp"
#include "measure/sampler.hpp"

namespace joulebench::environments::ssh {

/// Quoting for the remote shell: common/shell_words.hpp.
using joulebench::shell_join;
using joulebench::shell_quote;

/// 32 random lower-case hex digits (128 bits from getrandom(2)).
[[nodiscard]] std::string make_nonce();

/// What one remote run needs.
struct RemoteRun {
    std::string nonce;
    std::string remote_joulebench = "joulebench";
    /// Set for the workload through `env`, in this order (names must be valid variable names).
    std::vector<std::pair<std::string, std::string>> env;
    std::vector<std::string> command;  ///< the workload's argv
    std::optional<int> gpu;            ///< `--gpus N` (the GPU to measure and cap)
    std::optional<double> gpu_cap_w;   ///< `--power-cap W`
    std::optional<double> cpu_cap_w;   ///< `--cpu-power-cap W`
    /// `--interval MS`: the trace interval (the remote measure's default is the same 100 ms).
    std::chrono::milliseconds interval{100};
    /// Between the watcher's SIGTERM and its SIGKILL (rounded up to whole seconds, at least 1).
    std::chrono::milliseconds kill_grace{std::chrono::seconds(5)};
};

/// The words of the remote measure, without the `--json FILE` the script adds after `measure`:
/// `env K=V... JOULEBENCH measure -q --interval MS [--gpus N] [--power-cap W]
/// [--cpu-power-cap W] -- CMD...`. Throws Error (kInvalidArgument) for an empty command, an
/// invalid variable name or an interval under 1 ms.
[[nodiscard]] std::vector<std::string> measure_words(const RemoteRun& run);

/// The sh script described above, with every word of measure_words() quoted in it.
[[nodiscard]] std::string remote_script(const RemoteRun& run);

/// The one string ssh sends: `exec sh -c 'SCRIPT'`, so that the script runs under sh whatever
/// POSIX shell the remote account logs in with.
[[nodiscard]] std::string remote_command(const RemoteRun& run);

/// The protocol lines of `nonce` (exposed for tests).
[[nodiscard]] std::string start_line(std::string_view nonce);
[[nodiscard]] std::string end_line_prefix(std::string_view nonce);

/// Splits what comes back on ssh's standard output into the workload's output (handed to the
/// sink as it arrives, byte for byte) and the protocol: start line, end line, JSON, trace. Input
/// may arrive in chunks split anywhere.
class OutputDemux {
public:
    using Sink = std::function<void(std::string_view)>;

    /// `body` receives the workload's output. `max_json_bytes` bounds the JSON kept in memory.
    /// `trace` receives the trace's bytes as they arrive (never held here; dropped when null).
    OutputDemux(std::string_view nonce, Sink body, std::size_t max_json_bytes = 64U << 20U,
                Sink trace = {});

    void feed(std::string_view data);
    /// End of the stream: output held back (it could have been the start of the end line) goes
    /// to the sink.
    void finish();

    /// The start line was seen: the remote script ran.
    [[nodiscard]] bool started() const { return m_started; }
    /// The end line, all of the JSON and all of the trace were seen: nothing more will come.
    [[nodiscard]] bool complete() const { return m_state == State::kAfter; }
    /// The end line and all of the JSON were seen (the trace may still be arriving).
    [[nodiscard]] bool json_complete() const {
        return m_state == State::kTrace || m_state == State::kAfter;
    }
    /// The end line was seen (the JSON may still be incomplete).
    [[nodiscard]] bool ended() const { return m_status.has_value(); }
    /// The remote measure's exit status, from the end line.
    [[nodiscard]] std::optional<int> remote_status() const { return m_status; }
    /// The JSON bytes (complete only when complete()).
    [[nodiscard]] const std::string& json() const { return m_json; }
    /// The length the end line announced.
    [[nodiscard]] std::size_t json_length() const { return m_json_length; }
    /// The trace length the end line announced (0 when it announced none), and the bytes of it
    /// handed to the trace sink so far.
    [[nodiscard]] std::uint64_t trace_length() const { return m_trace_length; }
    [[nodiscard]] std::uint64_t trace_received() const { return m_trace_received; }
    /// Bytes before the start line (login shell output), and the first 4 KiB of them.
    [[nodiscard]] std::size_t preamble_bytes() const { return m_preamble_bytes; }
    [[nodiscard]] const std::string& preamble_text() const { return m_preamble_text; }
    /// Output that came after the JSON (processes the workload left behind); also sent to the sink.
    [[nodiscard]] std::size_t trailing_bytes() const { return m_trailing_bytes; }
    /// Why the protocol could not be followed (malformed end line, JSON too long); empty if fine.
    [[nodiscard]] const std::string& error() const { return m_error; }

private:
    enum class State { kPreamble, kBody, kEndLine, kJson, kTrace, kAfter, kBroken };

    void body(std::string_view data);

    State m_state = State::kPreamble;
    std::string m_start;    // start line, newline included
    std::string m_end;      // "\n" + end line prefix
    std::string m_pending;  // preamble tail / body held back / end line so far
    Sink m_sink;
    Sink m_trace_sink;
    std::size_t m_max_json;
    bool m_started = false;
    std::optional<int> m_status;
    std::size_t m_json_length = 0;
    std::string m_json;
    std::uint64_t m_trace_length = 0;
    std::uint64_t m_trace_received = 0;
    std::size_t m_preamble_bytes = 0;
    std::string m_preamble_text;
    std::size_t m_trailing_bytes = 0;
    std::string m_error;
};

/// Reads the `joulebench measure --samples` CSV of a remote run (columns: csv_trace.hpp) as it
/// arrives, in chunks split anywhere, and hands every row to a TraceSink exactly as the Sampler
/// hands a local run's rows to it: begin() with one sensor per domain (descriptions only, never
/// read), row() per CSV line, end() at finish(). So the store keeps an ssh run's trace in the
/// same columns as a local run's.
///
/// The header must be exactly what the remote measure writes for `domains` (the measurement's
/// domains, in order): `time_s`, `<id>_power_w,<id>_energy_j` per domain, then per GPU
/// `<id>_utilisation_pct,<id>_temperature_c,<id>_sm_clock_mhz,<id>_throttle_reasons,
/// <id>_enforced_limit_w`. Every row has as many fields; empty cells are missing values; times
/// never go back. The first problem stops the parsing: error() then names the line and the
/// problem, and the rows before it stay with the sink. Never throws.
class TraceCsvParser {
public:
    /// `sink` must outlive the parser.
    TraceCsvParser(TraceSink& sink, std::vector<SensorInfo> domains);
    ~TraceCsvParser();
    TraceCsvParser(const TraceCsvParser&) = delete;
    TraceCsvParser& operator=(const TraceCsvParser&) = delete;

    void feed(std::string_view data) noexcept;
    /// End of the trace: a last line without its line break is an error (the trace was cut
    /// off), no header at all too; the sink's end() is called when its begin() was.
    void finish() noexcept;

    /// "line N: problem" (1-based lines, the header is line 1), or empty.
    [[nodiscard]] const std::string& error() const { return m_error; }
    /// Rows handed to the sink.
    [[nodiscard]] std::uint64_t rows() const { return m_rows; }

    /// The longest line accepted (a line is one row of numbers; longer is not a trace).
    static constexpr std::size_t kMaxLineBytes = 1U << 20U;

private:
    class Domain;
    void line(std::string_view text);
    void header(const std::vector<std::string_view>& fields);
    void row(const std::vector<std::string_view>& fields);
    void fail(std::string problem);

    TraceSink& m_sink;
    std::vector<SensorInfo> m_infos;
    std::vector<std::unique_ptr<Domain>> m_domains;
    std::vector<bool> m_is_gpu;
    std::vector<std::string> m_columns;  // the expected header
    std::string m_pending;               // a line not complete yet
    std::uint64_t m_line = 0;            // lines seen (complete or not)
    std::uint64_t m_rows = 0;
    bool m_begun = false;
    bool m_finished = false;
    std::optional<double> m_last_time;
    std::vector<TraceDomainValue> m_values;                // reused per row
    std::vector<std::optional<GpuTelemetry>> m_telemetry;  // reused per row
    std::string m_error;
};

}  // namespace joulebench::environments::ssh
