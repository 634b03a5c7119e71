#pragma once
/// The results store: one SQLite file per experiment (WAL mode, foreign keys on, busy timeout),
/// with numbered migrations. It holds the experiment file and its hash, every session that ran
/// part of it (host, versions), every run with its factors, status, timings, energy per domain,
/// GPU telemetry, warnings, stderr tail and workload metrics, the sample traces and the idle
/// baselines. Schema and column meanings: docs/store.md.
///
/// Thread safety: one Store may be used from several threads (GPU slots, sampler threads); every
/// public member function is atomic with respect to the others (an internal mutex), and each
/// write is its own transaction. Several processes may open the same file (SQLite locking with
/// a busy timeout), e.g. `export` while `run` is going.
///
/// Every function throws joulebench::Error (kIo for SQLite failures, kInvalidArgument for a
/// wrong use such as an unknown run id) unless it says otherwise.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "joulebench/error.hpp"
#include "joulebench/records.hpp"

struct sqlite3;

namespace joulebench {

/// Thrown by Store::record_experiment when the store holds another experiment file. The CLI
/// turns it into "use --new" (see Store::set_aside).
class ExperimentChangedError : public Error {
public:
    using Error::Error;
};

/// What merge did.
struct MergeReport {
    std::size_t runs = 0;        ///< runs in the output
    std::size_t duplicates = 0;  ///< run ids present in more than one input
    /// One line per duplicate: "RUNID: kept A.db (done, attempt 2) over B.db (failed, attempt 1)".
    std::vector<std::string> decisions;
};

class Store {
public:
    /// The schema version this joulebench writes (PRAGMA user_version). 5: every run carries a
    /// checksum of its stored result (docs/store.md, "Checksums").
    static constexpr int kSchemaVersion = 6;

    enum class Mode {
        kCreate,    ///< create the file when missing; migrate an older schema
        kExisting,  ///< the file must exist; migrate an older schema
        /// The file must exist at kSchemaVersion; nothing is written, not even a -wal or -shm
        /// file beside it when no writer has the store open (an archived, read-only store);
        /// every run's checksum is verified (a damaged run is an error naming file and run).
        kReadOnly,
        /// As kReadOnly, but a store of an older schema is upgraded first (a writing open that
        /// migrates it, then closes): what the commands that only read use (analyze, report,
        /// export, merge inputs), so that a store written by an older joulebench can be read.
        /// An older store that cannot be written (read-only file or folder) is refused, saying
        /// to upgrade it where it can be written.
        kReadUpgrade,
        /// As kReadOnly, without verifying the checksums: for `joulebench verify`, which reports
        /// them (damaged_runs).
        kInspect,
    };

    /// Opens (and creates/migrates as `mode` allows) a store. Throws Error: kNotFound for a
    /// missing file (kExisting, kReadOnly), kNotSupported for a store written by a newer
    /// joulebench (schema above kSchemaVersion), kInvalidArgument for a file that is not a
    /// SQLite database, kIo for the rest.
    explicit Store(const std::filesystem::path& path, Mode mode = Mode::kCreate);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }
    /// True for a joulebench store (its application id) of a schema older than kSchemaVersion,
    /// which kReadUpgrade upgrades; false for a current one, an empty or unversioned file, and
    /// anything that cannot be read (opening it then says why). Never throws.
    [[nodiscard]] static bool needs_upgrade(const std::filesystem::path& path);
    /// The runs, in plan order, whose stored result does not match its checksum (docs/store.md,
    /// "Checksums"), read in one snapshot.
    [[nodiscard]] std::vector<std::string> damaged_runs() const;
    /// What SQLite's `PRAGMA integrity_check` and `PRAGMA foreign_key_check` find, one line per
    /// problem; empty when the file is sound.
    [[nodiscard]] std::vector<std::string> integrity_problems() const;

    /// PRAGMA user_version of the open file.
    [[nodiscard]] int schema_version() const;
    /// PRAGMA journal_mode ("wal" for a writable store).
    [[nodiscard]] std::string journal_mode() const;

    // --- the experiment --------------------------------------------------------------------

    /// Records the experiment of a fresh store, or checks that the store holds the same file
    /// (same SHA-256): returns true when it was recorded now, false when the store already held
    /// it (a resume). Throws ExperimentChangedError (hint: --new) when the store holds another
    /// file.
    bool record_experiment(const ExperimentRecord& experiment);
    /// The experiment, or nullopt for a store that has none yet.
    [[nodiscard]] std::optional<ExperimentRecord> experiment() const;

    /// For `run --new`: moves an existing store (after a checkpoint, with its -wal/-shm files) to
    /// "PATH.replaced-YYYYmmddTHHMMSS" and returns the new name, so that nothing is ever deleted.
    /// nullopt when there was no file. The store must not be open.
    static std::optional<std::filesystem::path> set_aside(const std::filesystem::path& path);

    // --- sessions and the plan --------------------------------------------------------------

    /// Records a session; returns its id (for mark_running and idle baselines).
    std::int64_t begin_session(const SessionInfo& session);
    /// Sets a session's end time (Unix seconds).
    void end_session(std::int64_t session_id, double ended_at);
    /// Every session, in id order.
    [[nodiscard]] std::vector<SessionRecord> sessions() const;
    /// Records phases of a session outside every run (a vm guest's shutdown after its slot's
    /// last run), for `environment` on the slot of `gpu`, after those already recorded.
    void add_session_phases(std::int64_t session_id, std::string_view environment,
                            std::optional<int> gpu, const std::vector<PhaseResult>& phases);
    /// Every session phase, by session and in the order recorded.
    [[nodiscard]] std::vector<SessionPhase> session_phases() const;

    /// Inserts the runs that are not in the store yet with status planned (existing runs are
    /// left untouched), in one transaction. Returns how many were added.
    std::size_t add_planned_runs(const std::vector<RunSpec>& runs);

    /// For a resume: every run still marked running (its process died) becomes interrupted.
    /// Returns their ids. Call once at start, before any run of this session is marked running.
    std::vector<std::string> mark_stale_running_interrupted();

    /// Counts by status.
    [[nodiscard]] StatusCounts status_counts() const;
    /// Runs, in plan order, optionally only those with one of `statuses`.
    [[nodiscard]] std::vector<RunRecord> runs(const std::vector<RunStatus>& statuses = {}) const;
    /// What analysis counts as observations, in plan order: each run, except that a gang-mode
    /// run is one record per instance (`instance`, `gpu` and the measured figures its own; the
    /// rest of the run's). An instance's status is its own, but the instances of a run that is
    /// not done never read done (a run counts only when all its instances are done).
    [[nodiscard]] std::vector<RunRecord> observations(
        const std::vector<RunStatus>& statuses = {}) const;
    /// One run, or nullopt.
    [[nodiscard]] std::optional<RunRecord> run(std::string_view run_id) const;
    /// Run ids that still need to run: planned, interrupted, and (when `retry_failures`) failed and
    /// timeout, in plan order.
    [[nodiscard]] std::vector<std::string> pending_run_ids(bool retry_failures) const;

    /// Marks a run running: status running, attempt + 1, session, GPU slot and start time; the
    /// trace of an earlier attempt is removed. Throws kInvalidArgument for an unknown id or a
    /// run that is already done.
    void mark_running(std::string_view run_id, std::optional<std::int64_t> session_id,
                      std::optional<int> gpu, double started_at);

    /// Records the end of a run in ONE transaction: the run's row (status, times, exit status,
    /// energy totals, EDP, caps, warnings, stderr tail, metrics, phases, the whole measurement
    /// JSON), its per-domain rows and an entry in the attempt history. A crash before the
    /// commit leaves the run as it was (running, found interrupted at the next start).
    /// Throws kInvalidArgument for an unknown run id or a status that is not an end status, or a
    /// metrics_json that is not a JSON object.
    void finish_run(const RunOutcome& outcome);

    /// Per-domain results of a run (empty when none).
    [[nodiscard]] std::vector<DomainRecord> domains(std::string_view run_id) const;
    /// The warnings of a run with their codes, in order (empty when none).
    [[nodiscard]] std::vector<Warning> warnings(std::string_view run_id) const;
    /// The phases the workloads marked (README "Markers"), of one run or, with an empty id, of
    /// every run, in plan order, then instance and order of their begin.
    [[nodiscard]] std::vector<MarkedPhaseRecord> marked_phases(std::string_view run_id = {}) const;
    /// Every run's warnings, runs in plan order, each run's in order: (run id, warning).
    [[nodiscard]] std::vector<std::pair<std::string, Warning>> warnings() const;

    // --- traces and baselines ---------------------------------------------------------------

    /// Appends one trace chunk (one transaction). Used by StoreTraceSink.
    void append_trace_chunk(const TraceChunk& chunk);
    /// The stored trace of a run (empty Trace when none); gang mode: of one of its instances.
    [[nodiscard]] Trace trace(std::string_view run_id, int instance = 0) const;

    void record_idle_baseline(const IdleBaselineRecord& baseline);
    [[nodiscard]] std::vector<IdleBaselineRecord> idle_baselines() const;

    /// Merges stores of the same experiment into a new store at `output` (which must not exist).
    /// A run id found in several inputs is taken from the input where it is done; when several
    /// (or none) are done, the one with the highest attempt, then the latest end, then the first
    /// input. Sessions, traces, attempt history and idle baselines come along. Throws
    /// kInvalidArgument when the inputs hold different experiments (different file hashes) or
    /// `output` exists.
    static MergeReport merge(const std::vector<std::filesystem::path>& inputs,
                             const std::filesystem::path& output);

    /// The raw connection, for tests and benchmarks that inspect the file. Not for the runner.
    [[nodiscard]] sqlite3* handle() const { return m_db; }

private:
    void exec(const char* sql) const;
    void open(Mode mode);
    void open_writable();
    void migrate(Mode mode);
    void check_runs() const;

    std::filesystem::path m_path;
    sqlite3* m_db = nullptr;
    mutable std::mutex m_mutex;
};

/// The columns of `joulebench export`, in order (documented in docs/store.md).
[[nodiscard]] const std::vector<std::string>& export_columns();

/// One export row per run, in plan order, as text cells aligned with export_columns() (empty
/// cell: no value).
[[nodiscard]] std::vector<std::vector<std::string>> export_rows(const Store& store);

/// The CSV document (RFC 4180 quoting, header row, "\n" line ends).
[[nodiscard]] std::string export_csv(const Store& store);

/// The JSON document: {"experiment": {...}, "columns": [...], "runs": [{column: value}]}, with
/// numbers as numbers and missing values as null. Text that is not valid UTF-8 is written with
/// U+FFFD for each invalid byte; `replaced`, when given, says whether that happened.
[[nodiscard]] std::string export_json(const Store& store, bool* replaced = nullptr);

/// A run's stored trace as `measure --samples` writes it (docs/store.md, "Traces"): time_s, then
/// per domain `<id>_power_w,<id>_energy_j`, then per GPU its telemetry columns; an empty cell is
/// no value. `instance`: the instance of a gang-mode run. Throws Error kInvalidArgument for a run
/// the store does not hold, kNotFound for a run without a stored trace.
[[nodiscard]] std::string export_trace_csv(const Store& store, const std::string& run_id, int instance = 0);

}  // namespace joulebench
