#pragma once
// The crash-safe journal of original power limits [GEOPM SaveControl]. One JSON file per device,
// <state dir>/caps/<backend>-<key>.json, written before the first write to that device and
// removed only after the original was written back and read back. Format in docs/capping.md.
//
// Durability: the entry is written to a temporary file, fsync'ed, then renamed into place with
// RENAME_NOREPLACE (link(2) where the file system lacks it) and the folder fsync'ed: a crash
// leaves either no entry or a whole one, and an existing entry is never overwritten, because it
// holds the true original of a run that crashed. Writers and restorers serialise on an flock of
// <state dir>/caps/.lock (released by the kernel when a holder dies, even by SIGKILL).

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "joulebench/power_capper.hpp"

namespace joulebench::capping {

/// $JOULEBENCH_STATE_DIR; else /var/lib/joulebench for root (euid 0); else
/// $XDG_STATE_HOME/joulebench; else $HOME/.local/state/joulebench. Throws Error kNotFound when
/// none applies (no HOME), with a hint to set JOULEBENCH_STATE_DIR.
std::filesystem::path state_dir();

/// Identity of a process that survives pid reuse: pid, its start time in clock ticks since boot
/// (/proc/PID/stat field 22) and the boot id (/proc/sys/kernel/random/boot_id).
struct ProcessIdentity {
    pid_t pid = 0;
    std::uint64_t start_ticks = 0;
    std::string boot_id;

    static ProcessIdentity of(pid_t pid);
    static ProcessIdentity self();
    /// True when that very process still exists (same boot, same start time).
    [[nodiscard]] bool alive() const;
};

/// One journalled device. Limits in microwatts (exact for NVML's milliwatts and powercap's
/// microwatts alike).
struct JournalEntry {
    static constexpr int kVersion = 1;
    int version = kVersion;
    std::string backend;  ///< "nvml", "powercap"
    std::string key;      ///< CapDeviceInfo::key
    std::string id;       ///< "gpu0", "package0" at the time of writing
    int index = -1;
    std::string name;     ///< GPU model, zone name
    std::string label;
    std::string source;   ///< GPU UUID, or the powercap zone folder
    std::uint64_t original_limit_uw = 0;
    std::optional<std::uint64_t> default_limit_uw;
    std::uint64_t requested_limit_uw = 0;
    ProcessIdentity owner;
    std::string hostname;
    std::string created_at;  ///< ISO 8601 UTC, for people
    double created_unix = 0.0;
    std::filesystem::path path;  ///< where it was read from (not serialised)

    [[nodiscard]] Watts original() const { return from_microwatts(original_limit_uw); }
    [[nodiscard]] Watts requested() const { return from_microwatts(requested_limit_uw); }
};

/// A new entry for `device`, owned by this process, stamped now.
JournalEntry new_journal_entry(const CapDeviceInfo& device, Watts original, std::optional<Watts> default_limit,
                               Watts requested);

/// Microwatts, rounded, of a limit in watts.
std::uint64_t to_microwatts(Watts limit);

/// Serialisation, exposed for tests. Parsing throws Error kIo naming `origin` and the problem.
std::string entry_to_json(const JournalEntry& entry);
JournalEntry entry_from_json(const std::string& text, const std::string& origin);

class CapJournal {
public:
    /// Journal folder `dir` (usually state_dir() / "caps"); nothing is created until needed.
    explicit CapJournal(std::filesystem::path dir);
    /// state_dir() / "caps".
    static CapJournal open_default();

    [[nodiscard]] const std::filesystem::path& dir() const { return m_dir; }
    /// The file of the entry for `key`.
    [[nodiscard]] std::filesystem::path path_for(const std::string& backend, const std::string& key) const;

    /// An exclusive flock on <dir>/.lock for the life of the object (creates the folder).
    class Lock {
    public:
        explicit Lock(const CapJournal& journal);
        Lock(const Lock&) = delete;
        Lock& operator=(const Lock&) = delete;
        ~Lock();

    private:
        int m_fd = -1;
    };

    /// Writes a new entry durably. Throws Error kIo when an entry for the same device exists
    /// (its message names the file and the pid that wrote it), kNoPermission / kIo when the
    /// folder cannot be written (hint: JOULEBENCH_STATE_DIR).
    void create(const JournalEntry& entry) const;
    /// The entry for a device, or nullopt. Throws Error kIo for an unreadable or malformed file.
    [[nodiscard]] std::optional<JournalEntry> find(const std::string& backend, const std::string& key) const;
    /// Every entry, sorted by file name. Malformed files are reported in `problems` (file and
    /// cause), never silently dropped. A missing folder is an empty journal.
    [[nodiscard]] std::vector<JournalEntry> list(std::vector<std::string>* problems = nullptr) const;
    /// Removes an entry and fsyncs the folder. Absent already is fine. Throws Error on failure.
    void remove(const JournalEntry& entry) const;

private:
    void ensure_dir() const;
    std::filesystem::path m_dir;
};

}  // namespace joulebench::capping
