#include "capping/scoped_cap.hpp"

#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "joulebench/error.hpp"

namespace joulebench::capping {

ScopedCap::ScopedCap(std::unique_ptr<PowerCapper> capper, Watts limit, const CapJournal& journal)
    : m_capper(std::move(capper)), m_journal(journal) {
    const PowerCapper& c = *m_capper;
    m_outcome.device = c.info();
    m_outcome.requested = limit;
    check_cap_range(c, limit);
    m_outcome.original = c.current_limit();
    m_outcome.default_limit = c.default_limit();
    m_entry = new_journal_entry(c.info(), m_outcome.original, m_outcome.default_limit, limit);
    {
        const CapJournal::Lock lock(m_journal);
        if (const auto existing = m_journal.find(m_entry.backend, m_entry.key)) {
            if (existing->owner.alive()) {
                throw Error(ErrorCategory::kIo,
                            fmt::format("caps: cap {}: another joulebench (pid {}) has capped it since {} "
                                        "(journal {})",
                                        c.info().label, existing->owner.pid, existing->created_at,
                                        existing->path.string()),
                            "wait for that run to end; two runs must not cap the same device");
            }
        }
        m_journal.create(m_entry);  // throws when an entry exists: never overwritten
    }
    m_entry.path = m_journal.path_for(m_entry.backend, m_entry.key);
    m_outcome.journal_file = m_entry.path;
    try {
        m_capper->set_limit(limit);
        m_outcome.enforced = verify_cap(*m_capper, limit);
    } catch (const Error& e) {
        const std::string failed = roll_back();
        m_restore_done = true;
        if (failed.empty()) throw;
        throw Error(e.category(),
                    fmt::format("{}; restoring the original {} failed too: {}; the journal entry {} is kept",
                                e.what(), format_watts(m_outcome.original), failed, m_entry.path.string()),
                    "fix the cause, then run `joulebench caps restore`");
    } catch (...) {
        (void)roll_back();
        m_restore_done = true;
        throw;
    }
}

ScopedCap::~ScopedCap() { (void)restore(); }

std::string ScopedCap::roll_back() noexcept {
    try {
        // The write may not have happened at all (refused): then nothing to write back.
        bool unchanged = false;
        try {
            const Watts now = m_capper->current_limit();
            unchanged = std::fabs((now - m_outcome.original).value()) <= m_capper->tolerance().value();
        } catch (const Error&) {
        }
        const CapJournal::Lock lock(m_journal);
        if (!unchanged) {
            m_capper->set_limit(m_outcome.original);
            (void)verify_cap(*m_capper, m_outcome.original);
        }
        m_journal.remove(m_entry);
        m_outcome.restored = true;
        return {};
    } catch (const std::exception& e) {
        try {
            m_outcome.restore_error = e.what();
            return e.what();
        } catch (...) {
            return "out of memory";
        }
    } catch (...) {
        return "unknown error";
    }
}

bool ScopedCap::restore() noexcept {
    if (m_restore_done) return m_outcome.restored;
    m_restore_done = true;
    try {
        const CapJournal::Lock lock(m_journal);
        m_capper->set_limit(m_outcome.original);
        (void)verify_cap(*m_capper, m_outcome.original);
        // Only once the original holds again is the journal entry cleared.
        m_journal.remove(m_entry);
        m_outcome.restored = true;
    } catch (const std::exception& e) {
        try {
            m_outcome.restore_error = fmt::format("{} (the journal entry {} is kept: `joulebench caps restore` "
                                                  "retries)",
                                                  e.what(), m_entry.path.string());
        } catch (...) {
        }
    } catch (...) {
    }
    return m_outcome.restored;
}

}  // namespace joulebench::capping
