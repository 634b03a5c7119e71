#include "fakes/container_engine.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "fakes/test_support.hpp"

namespace joulebench::testing {

namespace fs = std::filesystem;

namespace {

std::optional<fs::path> on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        if (dir.empty()) continue;
        const fs::path candidate = fs::path(dir) / name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return std::nullopt;
}

// A folder directly under /tmp (not $TMPDIR): dockerd's socket path must stay under the 108
// bytes of sockaddr_un, and containerd's sockets go below the exec root.
fs::path short_temp_dir(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    return tmpl;
}

std::string tail_of(const fs::path& file, std::size_t bytes) {
    try {
        const std::string all = test::read_file(file);
        return all.size() > bytes ? all.substr(all.size() - bytes) : all;
    } catch (...) {
        return {};
    }
}

// Unmounts whatever is still mounted below `root` (overlay mounts and shm of a daemon that was
// killed), deepest first, so that remove_all does not walk into container file systems.
void unmount_below(const fs::path& root) {
    std::vector<std::string> mounts;
    std::ifstream in("/proc/self/mountinfo");
    const std::string prefix = root.string() + "/";
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string id, parent, dev, mroot, point;
        f >> id >> parent >> dev >> mroot >> point;
        if (point.rfind(prefix, 0) == 0) mounts.push_back(point);
    }
    std::sort(mounts.begin(), mounts.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& m : mounts) ::umount2(m.c_str(), MNT_DETACH);
}

test::ProcessOptions options_with(const std::vector<std::pair<std::string, std::string>>& env,
                                  std::chrono::seconds timeout = std::chrono::seconds(120)) {
    test::ProcessOptions o;
    for (const auto& [k, v] : env) o.env.emplace_back(k, v);
    o.timeout = timeout;
    return o;
}

}  // namespace

std::pair<int, std::string> engine_command(
    const std::vector<std::string>& client, const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& env) {
    std::vector<std::string> argv = client;
    argv.insert(argv.end(), args.begin(), args.end());
    const test::ProcessResult r = test::run_process(argv, options_with(env));
    return {r.exit_code, r.out + r.err};
}

// ---- DockerDaemon ----------------------------------------------------------------------------

std::unique_ptr<DockerDaemon> DockerDaemon::start(std::string& skip_reason) {
    const auto dockerd = on_path("dockerd");
    if (!dockerd || !on_path("docker")) {
        skip_reason = "docker is not installed (apt-get install docker.io)";
        return nullptr;
    }
    if (::geteuid() != 0) {
        skip_reason = "a private dockerd needs root";
        return nullptr;
    }
    std::unique_ptr<DockerDaemon> d(new DockerDaemon());
    d->m_root = short_temp_dir("jb-dockerd");
    d->m_socket = d->m_root / "docker.sock";
    const fs::path log = d->m_root / "dockerd.log";
    std::vector<std::string> argv{dockerd->string(),
                                  "--iptables=false",
                                  "--ip-masq=false",
                                  "--bridge=none",
                                  "--data-root=" + (d->m_root / "data").string(),
                                  "--exec-root=" + (d->m_root / "exec").string(),
                                  "--pidfile=" + (d->m_root / "dockerd.pid").string(),
                                  "-H",
                                  "unix://" + d->m_socket.string()};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const std::string log_path = log.string();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::setsid();  // a terminal's Ctrl-C stops the tests, the destructor stops the daemon
        const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int nfd = ::open("/dev/null", O_RDONLY);
        if (fd < 0 || nfd < 0) ::_exit(125);
        ::dup2(nfd, 0);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    d->m_pid = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            d->m_pid = -1;
            skip_reason = "dockerd exited at start-up: " + tail_of(log, 600);
            return nullptr;  // the destructor removes the folder
        }
        std::error_code ec;
        if (fs::exists(d->m_socket, ec)) {
            const auto [rc, out] =
                engine_command(d->client(), {"version", "--format", "{{.Server.Version}}"});
            if (rc == 0) return d;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            skip_reason = "dockerd did not answer within 60 s: " + tail_of(log, 600);
            return nullptr;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

DockerDaemon::~DockerDaemon() {
    try {
        if (m_pid > 0) {
            ::kill(m_pid, SIGTERM);  // dockerd stops its containers and its containerd
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
            int status = 0;
            while (::waitpid(m_pid, &status, WNOHANG) == 0) {
                if (std::chrono::steady_clock::now() > deadline) {
                    ::kill(m_pid, SIGKILL);
                    ::waitpid(m_pid, &status, 0);
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        }
        if (!m_root.empty()) {
            unmount_below(m_root);
            std::error_code ec;
            fs::remove_all(m_root, ec);
        }
    } catch (...) {
    }
}

// ---- PodmanStore -----------------------------------------------------------------------------

std::unique_ptr<PodmanStore> PodmanStore::create(std::string& skip_reason) {
    if (!on_path("podman")) {
        skip_reason = "podman is not installed (apt-get install podman)";
        return nullptr;
    }
    if (::geteuid() != 0) {
        skip_reason = "the private podman store is rootful: it needs root";
        return nullptr;
    }
    std::unique_ptr<PodmanStore> s(new PodmanStore());
    s->m_root = short_temp_dir("jb-podman");
    const fs::path r = s->m_root;
    test::write_file(r / "storage.conf",
                     "[storage]\n"
                     "driver = \"overlay\"\n"
                     "graphroot = \"" +
                         (r / "root").string() +
                         "\"\n"
                         "runroot = \"" +
                         (r / "run").string() + "\"\n");
    // The ulimits: with podman's default ones, runc fails on this machine ("error setting rlimit
    // type 7: operation not permitted"); runc: not crun, which is not reliably installed;
    // cgroupfs and file events: no systemd or journald here. Every path is private to the store.
    test::write_file(r / "containers.conf",
                     "[containers]\n"
                     "default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n"
                     "[engine]\n"
                     "runtime = \"runc\"\n"
                     "cgroup_manager = \"cgroupfs\"\n"
                     "events_logger = \"file\"\n"
                     "events_logfile_path = \"" +
                         (r / "events.log").string() +
                         "\"\n"
                         "tmp_dir = \"" +
                         (r / "tmp").string() +
                         "\"\n"
                         "static_dir = \"" +
                         (r / "root" / "libpod").string() +
                         "\"\n"
                         "volume_path = \"" +
                         (r / "volumes").string() + "\"\n");
    const auto [rc, out] =
        engine_command(s->client(), {"info", "--format", "{{.Store.GraphRoot}}"}, s->env());
    if (rc != 0) {
        skip_reason = "podman info failed with a private store: " + out;
        return nullptr;
    }
    return s;
}

std::vector<std::pair<std::string, std::string>> PodmanStore::env() const {
    return {{"CONTAINERS_STORAGE_CONF", (m_root / "storage.conf").string()},
            {"CONTAINERS_CONF", (m_root / "containers.conf").string()}};
}

PodmanStore::~PodmanStore() {
    try {
        if (m_root.empty()) return;
        std::error_code ec;
        if (fs::exists(m_root / "storage.conf", ec)) {
            (void)engine_command(client(), {"rm", "-af", "-t", "0"}, env());
            (void)engine_command(client(), {"system", "reset", "-f"}, env());
        }
        unmount_below(m_root);
        fs::remove_all(m_root, ec);
    } catch (...) {
    }
}

// ---- images ----------------------------------------------------------------------------------

std::optional<fs::path> static_busybox() {
    for (const char* p : {"/bin/busybox", "/usr/bin/busybox"}) {
        std::error_code ec;
        if (!fs::exists(p, ec)) continue;
        // A dynamically linked busybox would not run in an image without its libraries.
        std::ifstream in(p, std::ios::binary);
        std::string head(4096, '\0');
        in.read(head.data(), static_cast<std::streamsize>(head.size()));
        if (head.find("/lib64/ld-linux") == std::string::npos &&
            head.find("/lib/ld-linux") == std::string::npos)
            return fs::path(p);
    }
    return std::nullopt;
}

void import_busybox_image(const std::vector<std::string>& client, const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& env) {
    const auto busybox = static_busybox();
    if (!busybox) throw std::runtime_error("no static busybox (apt-get install busybox-static)");
    test::TempDir dir("jb-busybox-image");
    const fs::path root = dir.path() / "root";
    fs::create_directories(root / "bin");
    fs::create_directories(root / "tmp");
    fs::create_directories(root / "etc");
    fs::copy_file(*busybox, root / "bin" / "busybox");
    const test::ProcessResult list = test::run_process({busybox->string(), "--list"});
    if (list.exit_code != 0) throw std::runtime_error("busybox --list failed: " + list.err);
    std::istringstream applets(list.out);
    for (std::string applet; std::getline(applets, applet);) {
        if (applet.empty() || applet == "busybox" || applet.find('/') != std::string::npos)
            continue;
        std::error_code ec;
        fs::create_symlink("busybox", root / "bin" / applet, ec);
    }
    test::write_file(root / "etc" / "passwd",
                     "root:x:0:0:root:/root:/bin/sh\n"
                     "nobody:x:65534:65534:nobody:/:/bin/false\n");
    test::write_file(root / "etc" / "group", "root:x:0:\nnogroup:x:65534:\n");
    const fs::path tar = dir.path() / "rootfs.tar";
    const test::ProcessResult t =
        test::run_process({"tar", "-C", root.string(), "-cf", tar.string(), "."});
    if (t.exit_code != 0) throw std::runtime_error("tar of the busybox root failed: " + t.err);
    // The image's PATH: an imported image has no config, and engines then fall back to their
    // own default PATH (which includes /bin).
    const auto [rc, out] = engine_command(client, {"import", tar.string(), name}, env);
    if (rc != 0) throw std::runtime_error("import of the busybox image failed: " + out);
}

}  // namespace joulebench::testing
