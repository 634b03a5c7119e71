#pragma once
// One power cap held for a scope [GEOPM SaveControl]: check the range, journal the original
// durably, write, read back; restore (write the original, read back, then clear the journal
// entry) on restore() or in the noexcept destructor.

#include <memory>
#include <optional>
#include <string>

#include "capping/cap_journal.hpp"
#include "joulebench/power_capper.hpp"

namespace joulebench::capping {

/// What one cap did, for reports.
struct CapOutcome {
    CapDeviceInfo device;
    Watts requested;
    Watts original;                      ///< the limit before the cap (journalled)
    std::optional<Watts> default_limit;
    std::optional<Watts> enforced;       ///< read back after the write
    bool restored = false;               ///< original written back, read back and journal cleared
    std::string restore_error;           ///< why not, when a restore was attempted and failed
    std::filesystem::path journal_file;
};

class ScopedCap {
public:
    /// In order: check_cap_range (Error kInvalidArgument, nothing written, nothing journalled);
    /// read the original; journal it under the journal lock (Error when an entry for the device
    /// already exists: never overwritten); write `limit`; verify it. When the write or the
    /// verification fails, the original is written back and the entry cleared before the Error
    /// is rethrown (its message says so if that restore failed too, and the entry is kept).
    ScopedCap(std::unique_ptr<PowerCapper> capper, Watts limit, const CapJournal& journal);
    ScopedCap(const ScopedCap&) = delete;
    ScopedCap& operator=(const ScopedCap&) = delete;
    /// Restores if restore() has not run. Never throws.
    ~ScopedCap();

    /// Writes the original back, reads it back, and only then clears the journal entry. Never
    /// throws; false (and outcome().restore_error) when any step failed, the entry then stays
    /// for `joulebench caps restore`. Runs once; later calls return the first result.
    bool restore() noexcept;

    [[nodiscard]] const CapOutcome& outcome() const { return m_outcome; }
    [[nodiscard]] const PowerCapper& capper() const { return *m_capper; }

private:
    // After a failed write or verification: back to the original. Never throws.
    std::string roll_back() noexcept;

    std::unique_ptr<PowerCapper> m_capper;
    const CapJournal& m_journal;
    JournalEntry m_entry;
    CapOutcome m_outcome;
    bool m_restore_done = false;
};

}  // namespace joulebench::capping
