#include "test_support.hpp"
#include "process_probe.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace joulebench::test {

namespace fs = std::filesystem;

TempDir::TempDir(const std::string& prefix) {
    std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    m_path = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(m_path, ec);
}

ScopedEnv::ScopedEnv(std::string name, const std::optional<std::string>& value) : m_name(std::move(name)) {
    if (const char* old = std::getenv(m_name.c_str())) m_old = old;
    if (value) {
        ::setenv(m_name.c_str(), value->c_str(), 1);
    } else {
        ::unsetenv(m_name.c_str());
    }
}

ScopedEnv::~ScopedEnv() {
    if (m_old) {
        ::setenv(m_name.c_str(), m_old->c_str(), 1);
    } else {
        ::unsetenv(m_name.c_str());
    }
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const fs::path& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const ProcessOptions& options)
    : m_timeout(options.timeout) {
    if (argv.empty()) throw std::invalid_argument("ChildProcess: empty argv");
    const std::string out = (m_dir.path() / "out").string();
    const std::string err = (m_dir.path() / "err").string();
    // Whatever the child needs is prepared before fork: only async-signal-safe calls after it.
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    // A child never reads the machine's hwmon sensors (a CI machine's amdgpu or amd_energy would
    // change what the tests see) unless the test names a tree: JOULEBENCH_HWMON_ROOT is an empty
    // folder by default, as tests point JOULEBENCH_POWERCAP_ROOT at an empty one.
    bool hwmon_named = std::getenv("JOULEBENCH_HWMON_ROOT") != nullptr;
    for (const auto& [k, v] : options.env) hwmon_named = hwmon_named || k == "JOULEBENCH_HWMON_ROOT";
    const std::string empty_hwmon = (m_dir.path() / "no-hwmon").string();
    if (!hwmon_named) std::filesystem::create_directory(empty_hwmon);
    m_pid = ::fork();
    if (m_pid < 0) throw std::runtime_error("fork failed");
    if (m_pid == 0) {
        const int ofd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        const int efd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        const int nfd = ::open("/dev/null", O_RDONLY);
        if (ofd < 0 || efd < 0 || nfd < 0) ::_exit(125);
        ::dup2(nfd, 0);
        ::dup2(ofd, 1);
        ::dup2(efd, 2);
        // Its own process group, so a test's signals reach only what it means them for.
        ::setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (!hwmon_named) ::setenv("JOULEBENCH_HWMON_ROOT", empty_hwmon.c_str(), 1);
        for (const auto& [k, v] : options.env) {
            if (v) {
                ::setenv(k.c_str(), v->c_str(), 1);
            } else {
                ::unsetenv(k.c_str());
            }
        }
        if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(125);
        if (options.user) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(options.user->second) != 0 ||
                ::setuid(options.user->first) != 0) {
                ::_exit(125);
            }
        }
        ::execvp(args[0], args.data());
        ::_exit(errno == ENOENT ? 127 : 126);
    }
}

ChildProcess::~ChildProcess() {
    if (!m_waited && m_pid > 0) {
        ::kill(m_pid, SIGKILL);
        int status = 0;
        ::waitpid(m_pid, &status, 0);
    }
}

void ChildProcess::send(int signal) const { ::kill(m_pid, signal); }

std::string ChildProcess::err_so_far() const {
    try {
        return read_file(m_dir.path() / "err");
    } catch (...) {
        return {};
    }
}

ProcessResult ChildProcess::wait() {
    ProcessResult r;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + m_timeout;
    for (;;) {
        const pid_t done = ::waitpid(m_pid, &status, WNOHANG);
        if (done == m_pid) break;
        if (done < 0 && errno != EINTR) throw std::runtime_error("waitpid failed");
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(m_pid, SIGKILL);
            ::waitpid(m_pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    m_waited = true;
    if (WIFEXITED(status)) {
        r.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r.signal = WTERMSIG(status);
        r.exit_code = 128 + WTERMSIG(status);
    }
    r.out = read_file(m_dir.path() / "out");
    r.err = read_file(m_dir.path() / "err");
    return r;
}

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
    ChildProcess child(argv, options);
    return child.wait();
}

std::string joulebench_binary() { return JOULEBENCH_BINARY_PATH; }

ProcessResult run_joulebench(const std::vector<std::string>& args, const ProcessOptions& options) {
    std::vector<std::string> argv{joulebench_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, options);
}

bool process_ended(pid_t pid) {
    try {
        const std::string text = read_file("/proc/" + std::to_string(pid) + "/stat");
        const char state = text.at(text.rfind(')') + 2);
        return state == 'Z' || state == 'X';
    } catch (const std::exception&) {
        return true;
    }
}

pid_t guardian_of(pid_t pid) {
    const auto r = run_process({"pgrep", "-f", "caps guardian --parent-pid " + std::to_string(pid) + " "});
    return r.exit_code == 0 ? static_cast<pid_t>(std::stol(r.out)) : -1;
}

std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> out;
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.empty() || name[0] < '0' || name[0] > '9') continue;
        std::string stat;
        try {
            stat = read_file(e.path() / "stat");
        } catch (...) {
            continue;
        }
        // "pid (comm) state ppid ...": comm may contain spaces, so start after the last ')'.
        const auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream fields(stat.substr(close + 1));
        std::string state;
        pid_t ppid = 0;
        fields >> state >> ppid;
        if (ppid == pid) out.push_back(static_cast<pid_t>(std::stol(name)));
    }
    return out;
}

bool reachable_by_others(const fs::path& path) {
    std::error_code ec;
    const fs::path full = fs::absolute(path, ec);
    const auto file_perms = fs::status(full, ec).permissions();
    if (ec || (file_perms & fs::perms::others_exec) == fs::perms::none) return false;
    for (fs::path p = full.parent_path(); !p.empty(); p = p.parent_path()) {
        const auto perms = fs::status(p, ec).permissions();
        if (ec || (perms & fs::perms::others_exec) == fs::perms::none) return false;
        if (p == p.root_path()) break;
    }
    return true;
}

fs::path joulebench_binary_for_others(const fs::path& dir) {
    if (reachable_by_others(joulebench_binary())) return joulebench_binary();
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    const fs::path copy = dir / "joulebench";
    fs::copy_file(joulebench_binary(), copy, fs::copy_options::overwrite_existing);
    fs::permissions(copy, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    if (!reachable_by_others(copy)) {
        throw std::runtime_error("no place other users can run joulebench from: " + copy.string());
    }
    return copy;
}

std::optional<fs::path> shared_datasets() {
    const fs::path p = fs::path(JOULEBENCH_SOURCE_DIR) / ".." / "shared" / "datasets";
    std::error_code ec;
    if (fs::is_directory(p, ec)) return fs::canonical(p, ec);
    return std::nullopt;
}

}  // namespace joulebench::test
