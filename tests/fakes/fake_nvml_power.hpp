#pragma once
// The fake NVML's power model and the lock of its state file, shared by the fake library
// (fake_nvml.cpp), its builder (fake_nvml_builder.cpp) and the simulated GPU workload
// (cap_bound_workload.cpp), so the three agree on one formula (docs/nvml.md):
//   - a GPU with "demand_mw" (the power its load would draw uncapped) draws
//     min(demand_mw, limits.enforced_mw); without it, "power_mw";
//   - the energy counter is energy_mj + power x (now - energy_anchor_ns) on CLOCK_MONOTONIC; who
//     changes the power (demand, power_mw or the enforced limit) first folds the energy accrued
//     at the old power into energy_mj and moves the anchor to now, so energy is the exact
//     integral of power;
//   - every read-modify-write of the file holds an exclusive flock on PATH.lock, so the fake's
//     setters (in the process under test) and the workload (another process) never lose each
//     other's updates. Readers need no lock: writers replace the file atomically (rename).
// Header-only: the fake library cannot link the test-support library.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace joulebench::fake_nvml {

/// The limit a GPU without "limits.enforced_mw" enforces (the fake's default), mW.
inline constexpr double kDefaultEnforcedMw = 300000.0;

inline std::int64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

/// The number at `key` of `object`, `fallback` when absent or null; throws when not a number.
inline double number_or(const nlohmann::json& object, const char* key, double fallback) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return fallback;
    if (!it->is_number()) throw std::runtime_error(std::string("\"") + key + "\" is not a number");
    return it->get<double>();
}

/// The limit the GPU enforces now, mW.
inline double enforced_limit_mw(const nlohmann::json& gpu) {
    const auto limits = gpu.find("limits");
    if (limits == gpu.end() || !limits->is_object()) return kDefaultEnforcedMw;
    return number_or(*limits, "enforced_mw", kDefaultEnforcedMw);
}

/// Whether the GPU has a load demand (then the cap limits its power).
inline bool has_demand(const nlohmann::json& gpu) {
    const auto it = gpu.find("demand_mw");
    return it != gpu.end() && !it->is_null();
}

/// The power the GPU draws now, mW: min(demand_mw, enforced limit) under a load, else power_mw.
inline double power_now_mw(const nlohmann::json& gpu) {
    if (has_demand(gpu)) return std::min(number_or(gpu, "demand_mw", 0.0), enforced_limit_mw(gpu));
    return number_or(gpu, "power_mw", 0.0);
}

/// The energy counter at `now_ns`, mJ (fractional). `fallback_anchor_ns`: the anchor of a GPU
/// without "energy_anchor_ns".
inline double energy_at_mj(const nlohmann::json& gpu, std::int64_t now_ns,
                           std::int64_t fallback_anchor_ns) {
    const double base_mj = number_or(gpu, "energy_mj", 0.0);
    const auto anchor_it = gpu.find("energy_anchor_ns");
    std::int64_t anchor_ns = fallback_anchor_ns;
    if (anchor_it != gpu.end() && !anchor_it->is_null()) {
        if (!anchor_it->is_number()) {
            throw std::runtime_error("\"energy_anchor_ns\" is not a number");
        }
        anchor_ns = anchor_it->get<std::int64_t>();
    }
    const double elapsed_s = static_cast<double>(now_ns - anchor_ns) * 1e-9;
    return base_mj + power_now_mw(gpu) * (elapsed_s > 0.0 ? elapsed_s : 0.0);
}

/// What a reader of the counter looked at: the GPU's object in the state it loaded (null when the
/// call failed) and the anchor for a GPU without "energy_anchor_ns".
struct GpuView {
    const nlohmann::json* gpu = nullptr;
    std::int64_t fallback_anchor_ns = 0;
};

/// One read of the energy counter, mJ (nullopt when `load` found no GPU). The time is taken
/// BEFORE `load` looks at the state file: the state it then finds is the newest at that time or
/// later, so the value is the true energy at max(now, its anchor) and never decreases from one
/// read to the next. Taken after, a reader that loaded a state and then was descheduled while a
/// workload lowered the power (its demand ended) integrates the old, higher power past that
/// change: the counter steps back, and NVML's sensor counts a decrease as a reset, adding the
/// whole counter value to the run (a 67 J run stored as 1388 J in a loaded TuneCli run).
template <class Clock, class Load>
std::optional<double> read_energy_mj(Clock&& clock, Load&& load) {
    const std::int64_t now_ns = clock();
    const GpuView view = load();
    if (view.gpu == nullptr) return std::nullopt;
    return energy_at_mj(*view.gpu, now_ns, view.fallback_anchor_ns);
}

/// Folds the energy accrued so far into energy_mj and re-anchors at `now_ns`: call it before
/// anything that changes power_now_mw().
inline void fold_energy(nlohmann::json& gpu, std::int64_t now_ns, std::int64_t fallback_anchor_ns) {
    gpu["energy_mj"] = energy_at_mj(gpu, now_ns, fallback_anchor_ns);
    gpu["energy_anchor_ns"] = now_ns;
}

/// An exclusive flock on `state_path` + ".lock" (created when missing), held for the object's
/// life. Never throws: check ok(), the failure is in error().
class StateFileLock {
public:
    explicit StateFileLock(const std::string& state_path) {
        const std::string lock_path = state_path + ".lock";
        m_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (m_fd < 0) {
            m_error = "open " + lock_path + ": " + std::strerror(errno);
            return;
        }
        int rc = 0;
        while ((rc = ::flock(m_fd, LOCK_EX)) != 0 && errno == EINTR) {
        }
        if (rc != 0) {
            m_error = "lock " + lock_path + ": " + std::strerror(errno);
            ::close(m_fd);
            m_fd = -1;
        }
    }
    ~StateFileLock() {
        if (m_fd >= 0) ::close(m_fd);  // closing the last descriptor releases the flock
    }
    StateFileLock(const StateFileLock&) = delete;
    StateFileLock& operator=(const StateFileLock&) = delete;
    StateFileLock(StateFileLock&&) = delete;
    StateFileLock& operator=(StateFileLock&&) = delete;

    [[nodiscard]] bool ok() const { return m_fd >= 0; }
    [[nodiscard]] const std::string& error() const { return m_error; }

private:
    int m_fd = -1;
    std::string m_error;
};

inline std::int64_t mtime_ns_of(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return 0;
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

/// Writes `doc` to `path` atomically (temporary file + rename). The new file's mtime is set
/// strictly after the old one's: file systems with coarse timestamps could otherwise give two
/// quick versions the same mtime, and a reused inode number would then hide the change from a
/// fake that re-reads the file only when its identity changes. Throws std::runtime_error.
inline void write_state_atomically(const std::filesystem::path& path, const nlohmann::json& doc,
                                   const std::string& tmp_tag) {
    const std::int64_t previous = mtime_ns_of(path);
    const std::filesystem::path tmp =
        path.string() + "." + tmp_tag + "-tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << doc.dump(2) << '\n';
        if (!out.flush()) throw std::runtime_error("write " + tmp.string() + " failed");
    }
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    std::int64_t mtime = static_cast<std::int64_t>(now.tv_sec) * 1000000000LL + now.tv_nsec;
    if (mtime <= previous) mtime = previous + 1000;
    const timespec times[2] = {{0, UTIME_OMIT},
                               {static_cast<time_t>(mtime / 1000000000LL), mtime % 1000000000LL}};
    if (::utimensat(AT_FDCWD, tmp.c_str(), times, 0) != 0) {
        throw std::runtime_error("set mtime of " + tmp.string() + ": " + std::strerror(errno));
    }
    std::filesystem::rename(tmp, path);
}

/// Reads the state file. Throws std::runtime_error (or nlohmann's parse error).
inline nlohmann::json read_state(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    return nlohmann::json::parse(in);
}

/// A read-modify-write of the state file under its lock. Throws std::runtime_error.
inline void locked_update(const std::filesystem::path& path,
                          const std::function<void(nlohmann::json&)>& change,
                          const std::string& tmp_tag) {
    const StateFileLock lock(path.string());
    if (!lock.ok()) throw std::runtime_error(lock.error());
    nlohmann::json doc = read_state(path);
    change(doc);
    write_state_atomically(path, doc, tmp_tag);
}

}  // namespace joulebench::fake_nvml
