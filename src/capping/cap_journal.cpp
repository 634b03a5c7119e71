#include "capping/cap_journal.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/sysfs.hpp"
#include "joulebench/error.hpp"

namespace joulebench::capping {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "joulebench-power-cap-journal";
constexpr const char* kDirHint =
    "set JOULEBENCH_STATE_DIR to a folder you can write (the journal must survive a crash, so not "
    "a tmpfs if the machine may reboot)";

std::string getenv_str(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? std::string(v) : std::string();
}

// File names keep the key readable but never let it leave the folder.
std::string sanitise(const std::string& key) {
    std::string out;
    for (const char c : key) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '-' || c == '_' || c == ':' || c == '.';
        out += ok ? c : '_';
    }
    if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
    return out;
}

void fsync_dir(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)::fsync(fd);
        ::close(fd);
    }
}

std::string iso8601_utc(std::chrono::system_clock::time_point t) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

std::string current_boot_id() {
    return sysfs::read_text("/proc/sys/kernel/random/boot_id").value_or("");
}

struct ProcStat {
    char state = '?';
    std::uint64_t start_ticks = 0;
};

// /proc/PID/stat: "pid (comm) state ppid ... starttime(22) ..."; comm may hold spaces and ')'.
std::optional<ProcStat> read_proc_stat(pid_t pid) {
    const auto text = sysfs::read_text(fmt::format("/proc/{}/stat", pid));
    if (!text) return std::nullopt;
    const auto close = text->rfind(')');
    if (close == std::string::npos || close + 2 >= text->size()) return std::nullopt;
    ProcStat st;
    st.state = (*text)[close + 2];
    // Fields after the comm start at field 3 (state); starttime is field 22.
    std::size_t pos = close + 2;
    for (int field = 3; field < 22; ++field) {
        pos = text->find(' ', pos);
        if (pos == std::string::npos) return std::nullopt;
        ++pos;
    }
    const auto end = text->find(' ', pos);
    const std::string value = text->substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    const auto ticks = sysfs::parse_u64(value.data(), value.data() + value.size());
    if (!ticks) return std::nullopt;
    st.start_ticks = *ticks;
    return st;
}

template <class T>
T field(const json& doc, const char* name, const std::string& origin) {
    const auto it = doc.find(name);
    if (it == doc.end()) {
        throw Error(ErrorCategory::kIo, fmt::format("caps: read journal {}: field '{}' is missing", origin, name),
                    "a damaged journal entry: check the device's limit with `joulebench caps show`, then "
                    "delete the file");
    }
    try {
        if constexpr (std::is_same_v<T, std::uint64_t>) {
            if (!it->is_number_unsigned()) throw std::runtime_error("not an unsigned integer");
        } else if constexpr (std::is_same_v<T, int>) {
            if (!it->is_number_integer()) throw std::runtime_error("not an integer");
            // get<int> would wrap: pid 4294967297 read as pid 1 (found by fuzz_cap_journal).
            const bool fits = it->is_number_unsigned()
                                  ? it->template get<std::uint64_t>() <= INT_MAX
                                  : it->template get<std::int64_t>() >= INT_MIN &&
                                        it->template get<std::int64_t>() <= INT_MAX;
            if (!fits) throw std::runtime_error("out of range");
        } else if constexpr (std::is_same_v<T, double>) {
            if (!it->is_number()) throw std::runtime_error("not a number");
        } else {
            if (!it->is_string()) throw std::runtime_error("not a string");
        }
        return it->get<T>();
    } catch (const std::exception& e) {
        throw Error(ErrorCategory::kIo, fmt::format("caps: read journal {}: field '{}': {}", origin, name, e.what()),
                    "a damaged journal entry: check the device's limit with `joulebench caps show`, then "
                    "delete the file");
    }
}

}  // namespace

fs::path state_dir() {
    if (auto dir = getenv_str("JOULEBENCH_STATE_DIR"); !dir.empty()) return dir;
    if (::geteuid() == 0) return "/var/lib/joulebench";
    if (auto xdg = getenv_str("XDG_STATE_HOME"); !xdg.empty()) return fs::path(xdg) / "joulebench";
    if (auto home = getenv_str("HOME"); !home.empty()) return fs::path(home) / ".local" / "state" / "joulebench";
    throw Error(ErrorCategory::kNotFound, "caps: find the state folder: neither JOULEBENCH_STATE_DIR, "
                                          "XDG_STATE_HOME nor HOME is set",
                "set JOULEBENCH_STATE_DIR");
}

ProcessIdentity ProcessIdentity::of(pid_t pid) {
    ProcessIdentity id;
    id.pid = pid;
    if (const auto st = read_proc_stat(pid)) id.start_ticks = st->start_ticks;
    id.boot_id = current_boot_id();
    return id;
}

ProcessIdentity ProcessIdentity::self() { return of(::getpid()); }

bool ProcessIdentity::alive() const {
    if (pid <= 0) return false;
    // Another boot: every process of that boot is gone.
    if (!boot_id.empty()) {
        const std::string now = current_boot_id();
        if (!now.empty() && now != boot_id) return false;
    }
    if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
    const auto st = read_proc_stat(pid);
    // Exists but unreadable (another pid namespace, hidepid): assume it is the owner, never
    // restore under a running process.
    if (!st) return true;
    if (st->state == 'Z' || st->state == 'X') return false;  // dead, not yet reaped
    return start_ticks == 0 || st->start_ticks == start_ticks;  // else: the pid was reused
}

JournalEntry new_journal_entry(const CapDeviceInfo& device, Watts original, std::optional<Watts> default_limit,
                               Watts requested) {
    JournalEntry e;
    e.backend = device.backend;
    e.key = device.key;
    e.id = device.id;
    e.index = device.index;
    e.name = device.name;
    e.label = device.label;
    e.source = device.source;
    e.original_limit_uw = to_microwatts(original);
    if (default_limit) e.default_limit_uw = to_microwatts(*default_limit);
    e.requested_limit_uw = to_microwatts(requested);
    e.owner = ProcessIdentity::self();
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) e.hostname = host;
    const auto now = std::chrono::system_clock::now();
    e.created_at = iso8601_utc(now);
    e.created_unix = std::chrono::duration<double>(now.time_since_epoch()).count();
    return e;
}

std::uint64_t to_microwatts(Watts limit) {
    const double uw = std::round(limit.value() * 1e6);
    if (!std::isfinite(uw) || uw < 0.0) return 0;
    return static_cast<std::uint64_t>(uw);
}

std::string entry_to_json(const JournalEntry& e) {
    nlohmann::ordered_json j;
    j["format"] = kFormat;
    j["version"] = e.version;
    j["backend"] = e.backend;
    j["key"] = e.key;
    j["id"] = e.id;
    j["index"] = e.index;
    j["name"] = e.name;
    j["label"] = e.label;
    j["source"] = e.source;
    j["original_limit_uw"] = e.original_limit_uw;
    j["default_limit_uw"] = e.default_limit_uw ? nlohmann::ordered_json(*e.default_limit_uw) : nlohmann::ordered_json(nullptr);
    j["requested_limit_uw"] = e.requested_limit_uw;
    j["pid"] = e.owner.pid;
    j["pid_start_ticks"] = e.owner.start_ticks;
    j["boot_id"] = e.owner.boot_id;
    j["hostname"] = e.hostname;
    j["created_at"] = e.created_at;
    j["created_unix"] = e.created_unix;
    return j.dump(2) + "\n";
}

JournalEntry entry_from_json(const std::string& text, const std::string& origin) {
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::exception& e) {
        // parse_error, and out_of_range for a number beyond a double (1e999): found by
        // fuzz/fuzz_cap_journal (docs/fuzzing.md); it escaped CapJournal::list's problems.
        throw Error(ErrorCategory::kIo, fmt::format("caps: read journal {}: not JSON: {}", origin, e.what()),
                    "a damaged journal entry: check the device's limit with `joulebench caps show`, then "
                    "delete the file");
    }
    // Not value("format", ...): it throws type_error for a format that is not a string
    // (found by fuzz_cap_journal).
    const auto format = doc.is_object() ? doc.find("format") : doc.end();
    if (format == doc.end() || !format->is_string() || *format != kFormat) {
        throw Error(ErrorCategory::kIo, fmt::format("caps: read journal {}: not a joulebench power-cap journal "
                                                    "(\"format\" is not \"{}\")", origin, kFormat));
    }
    JournalEntry e;
    e.version = field<int>(doc, "version", origin);
    if (e.version != JournalEntry::kVersion) {
        throw Error(ErrorCategory::kIo, fmt::format("caps: read journal {}: version {} is not supported "
                                                    "(this joulebench writes version {})",
                                                    origin, e.version, JournalEntry::kVersion),
                    "restore it with the joulebench version that wrote it");
    }
    e.backend = field<std::string>(doc, "backend", origin);
    if (e.backend != "nvml" && e.backend != "powercap" && e.backend != "rocm" && e.backend != "hwmon") {
        throw Error(ErrorCategory::kIo, fmt::format("caps: read journal {}: unknown backend '{}'", origin, e.backend));
    }
    e.key = field<std::string>(doc, "key", origin);
    e.id = field<std::string>(doc, "id", origin);
    e.index = field<int>(doc, "index", origin);
    e.name = field<std::string>(doc, "name", origin);
    e.label = field<std::string>(doc, "label", origin);
    e.source = field<std::string>(doc, "source", origin);
    e.original_limit_uw = field<std::uint64_t>(doc, "original_limit_uw", origin);
    if (doc.contains("default_limit_uw") && !doc["default_limit_uw"].is_null()) {
        e.default_limit_uw = field<std::uint64_t>(doc, "default_limit_uw", origin);
    }
    e.requested_limit_uw = field<std::uint64_t>(doc, "requested_limit_uw", origin);
    e.owner.pid = field<int>(doc, "pid", origin);
    e.owner.start_ticks = field<std::uint64_t>(doc, "pid_start_ticks", origin);
    e.owner.boot_id = field<std::string>(doc, "boot_id", origin);
    e.hostname = field<std::string>(doc, "hostname", origin);
    e.created_at = field<std::string>(doc, "created_at", origin);
    e.created_unix = field<double>(doc, "created_unix", origin);
    if (e.original_limit_uw == 0) {
        throw Error(ErrorCategory::kIo, fmt::format("caps: read journal {}: original_limit_uw is 0", origin));
    }
    return e;
}

CapJournal::CapJournal(fs::path dir) : m_dir(std::move(dir)) {}

CapJournal CapJournal::open_default() { return CapJournal(state_dir() / "caps"); }

fs::path CapJournal::path_for(const std::string& backend, const std::string& key) const {
    return m_dir / (sanitise(backend) + "-" + sanitise(key) + ".json");
}

void CapJournal::ensure_dir() const {
    std::error_code ec;
    fs::create_directories(m_dir, ec);
    if (ec) {
        throw system_error(fmt::format("caps: create journal folder {}", m_dir.string()), ec.value(), kDirHint);
    }
}

CapJournal::Lock::Lock(const CapJournal& journal) {
    journal.ensure_dir();
    const fs::path file = journal.dir() / ".lock";
    m_fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (m_fd < 0) throw system_error(fmt::format("caps: open journal lock {}", file.string()), errno, kDirHint);
    while (::flock(m_fd, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(m_fd);
        m_fd = -1;
        throw system_error(fmt::format("caps: lock {}", file.string()), err);
    }
}

CapJournal::Lock::~Lock() {
    if (m_fd >= 0) ::close(m_fd);  // closing releases the flock
}

void CapJournal::create(const JournalEntry& entry) const {
    ensure_dir();
    const fs::path target = path_for(entry.backend, entry.key);
    const fs::path tmp = m_dir / fmt::format(".{}.tmp.{}", target.filename().string(), ::getpid());
    const std::string text = entry_to_json(entry);
    // write_output (common/atomic_file.hpp) renames over an existing file; a journal entry
    // must never replace one, so this is the same sequence with a no-replace rename.
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw system_error(fmt::format("caps: write journal {}", tmp.string()), errno, kDirHint);
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            throw system_error(fmt::format("caps: write journal {}", tmp.string()), err, kDirHint);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        throw system_error(fmt::format("caps: fsync journal {}", tmp.string()), err);
    }
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        throw system_error(fmt::format("caps: close journal {}", tmp.string()), err);
    }
    int rc = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE);
    int err = rc != 0 ? errno : 0;
    if (rc != 0 && (err == EINVAL || err == ENOSYS)) {
        // A file system without RENAME_NOREPLACE: link(2) fails with EEXIST just the same.
        rc = ::link(tmp.c_str(), target.c_str());
        err = rc != 0 ? errno : 0;
        ::unlink(tmp.c_str());
    }
    if (rc != 0) {
        ::unlink(tmp.c_str());
        if (err == EEXIST) {
            std::string owner = "an unreadable entry";
            try {
                const auto existing = entry_from_json(sysfs::read_text(target).value_or(""), target.string());
                owner = fmt::format("an entry written by pid {} at {} (original limit {})", existing.owner.pid,
                                    existing.created_at, format_watts(existing.original()));
            } catch (const Error&) {
            }
            throw Error(ErrorCategory::kIo,
                        fmt::format("caps: journal {}: {} already exists: {}", entry.label, target.string(), owner),
                        "it holds the original limit of an earlier run: `joulebench caps restore` restores it");
        }
        throw system_error(fmt::format("caps: rename journal {} to {}", tmp.string(), target.string()), err);
    }
    fsync_dir(m_dir);
}

std::optional<JournalEntry> CapJournal::find(const std::string& backend, const std::string& key) const {
    const fs::path file = path_for(backend, key);
    errno = 0;
    const auto text = sysfs::read_text(file);
    if (!text) {
        if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
        throw system_error(fmt::format("caps: read journal {}", file.string()), errno != 0 ? errno : EIO);
    }
    JournalEntry e = entry_from_json(*text, file.string());
    e.path = file;
    return e;
}

std::vector<JournalEntry> CapJournal::list(std::vector<std::string>* problems) const {
    std::vector<JournalEntry> out;
    std::error_code ec;
    if (!fs::is_directory(m_dir, ec)) return out;
    std::vector<fs::path> files;
    for (const auto& item : fs::directory_iterator(m_dir, ec)) {
        const std::string name = item.path().filename().string();
        if (name.empty() || name[0] == '.' || item.path().extension() != ".json") continue;
        files.push_back(item.path());
    }
    if (ec && problems != nullptr) {
        problems->push_back(fmt::format("caps: list journal {}: {}", m_dir.string(), ec.message()));
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        try {
            errno = 0;
            const auto text = sysfs::read_text(file);
            if (!text) throw system_error(fmt::format("caps: read journal {}", file.string()), errno != 0 ? errno : EIO);
            JournalEntry e = entry_from_json(*text, file.string());
            e.path = file;
            out.push_back(std::move(e));
        } catch (const Error& e) {
            if (problems != nullptr) problems->emplace_back(e.what());
        }
    }
    return out;
}

void CapJournal::remove(const JournalEntry& entry) const {
    const fs::path file = entry.path.empty() ? path_for(entry.backend, entry.key) : entry.path;
    if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
        throw system_error(fmt::format("caps: clear journal {}", file.string()), errno);
    }
    fsync_dir(file.parent_path());
}


}  // namespace joulebench::capping
