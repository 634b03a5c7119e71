#include "fakes/slurm_cluster.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/shell_words.hpp"

namespace joulebench::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPrograms[] = {"munged",   "slurmctld", "slurmd", "sbatch", "squeue",
                                     "scontrol", "scancel",   "srun",   "sinfo"};

bool slurm_on_path(const std::string& name) {
    for (const std::string dir :
         {"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin", "/usr/local/sbin"}) {
        if (::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
    }
    return false;
}

std::string program(const std::string& name) {
    for (const std::string dir : {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"}) {
        if (::access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
    }
    return name;
}

int free_slurm_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("slurm fixture: socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("slurm fixture: bind to a free port failed");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::string short_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    std::string name = buf;
    return name.substr(0, name.find('.'));
}

std::string tail(const fs::path& path, std::size_t lines) {
    std::ifstream in(path);
    if (!in) return "(no " + path.filename().string() + ")\n";
    std::vector<std::string> all;
    for (std::string line; std::getline(in, line);) all.push_back(line);
    std::string out;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
        out += all[i] + "\n";
    }
    return out;
}

template <class F>
bool wait_for(F&& done, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(200ms);
    }
    return done();
}

void stop_child(std::unique_ptr<test::ChildProcess>& child) noexcept {
    if (!child) return;
    try {
        child->send(SIGTERM);
        (void)child->wait();  // SIGKILL at its time-out
    } catch (...) {
    }
    child.reset();
}

}  // namespace

std::optional<std::string> SlurmCluster::unavailable_reason() {
    if (::geteuid() != 0) return "a test Slurm cluster needs root (slurmd runs jobs as root here)";
    for (const char* p : kPrograms) {
        if (!slurm_on_path(p))
            return fmt::format("{} is not installed (apt-get install slurm-wlm munge)", p);
    }
    // slurmd hands GPUs to jobs only when gres.conf names character devices.
    const std::string probe = fmt::format("/tmp/joulebench-mknod-probe-{}", ::getpid());
    if (::mknod(probe.c_str(), S_IFCHR | 0600, ::makedev(1, 3)) != 0) {
        return "cannot create character devices here (mknod), which the test GPUs need";
    }
    ::unlink(probe.c_str());
    return std::nullopt;
}

SlurmCluster::SlurmCluster(unsigned gpus) {
    // Under /tmp, not the test's temporary folder: munged (another user) must reach its socket.
    std::string tmpl = "/tmp/joulebench-slurm-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
        throw std::runtime_error("slurm fixture: mkdtemp failed");
    m_dir = tmpl;
    fs::permissions(m_dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
    m_node = short_hostname();
    m_cluster_name = fmt::format("jbtest{}", ::getpid());
    try {
        write_config(gpus);
        start_munge();
        start_slurm();
    } catch (...) {
        const std::string logs = log_tails();
        stop();
        throw std::runtime_error("slurm fixture: the cluster did not start\n" + logs);
    }
}

SlurmCluster::~SlurmCluster() {
    stop();
}

void SlurmCluster::write_config(unsigned gpus) {
    for (const char* sub : {"state", "spool", "log", "dev"}) fs::create_directories(m_dir / sub);
    for (unsigned i = 0; i < gpus; ++i) {
        const std::string dev = (m_dir / "dev" / fmt::format("nvidia{}", i)).string();
        // The same device as /dev/null: nothing in a job can harm anything through it.
        if (::mknod(dev.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) != 0) {
            throw std::runtime_error("slurm fixture: mknod " + dev + " failed");
        }
    }
    const std::string d = m_dir.string();
    std::string conf = fmt::format(
        "ClusterName={}\nSlurmctldHost=localhost\nSlurmctldPort={}\nSlurmdPort={}\n"
        "AuthType=auth/munge\nAuthInfo=socket={}/munge/munge.socket\nCredType=cred/munge\n"
        "SlurmUser=root\nSlurmdUser=root\nStateSaveLocation={}/state\nSlurmdSpoolDir={}/spool\n"
        "SlurmctldPidFile={}/slurmctld.pid\nSlurmdPidFile={}/slurmd.pid\n"
        "SlurmctldLogFile={}/log/slurmctld.log\nSlurmdLogFile={}/log/slurmd.log\n"
        "SlurmctldDebug=info\nSlurmdDebug=info\n",
        m_cluster_name, free_slurm_port(), free_slurm_port(), d, d, d, d, d, d, d);
    conf += fmt::format(
        "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nSelectType=select/cons_tres\n"
        "SelectTypeParameters=CR_Core\nJobAcctGatherType=jobacct_gather/none\n"
        "AccountingStorageType=accounting_storage/none\nJobCompType=jobcomp/none\n"
        "MpiDefault=none\nReturnToService=2\nSchedulerType=sched/builtin\nMinJobAge=3600\n"
        "KillWait=5\nInactiveLimit=0\nGresTypes=gpu\n"
        // Four CPUs on a two-core machine, so that three shards and a job step run together.
        "SlurmdParameters=config_overrides\n"
        "NodeName={0} NodeHostname={0} NodeAddr=127.0.0.1 CPUs=4 RealMemory=1000 Gres=gpu:{1} "
        "State=UNKNOWN\n"
        "PartitionName=debug Nodes={0} Default=YES MaxTime=INFINITE State=UP\n",
        m_node, gpus);
    test::write_file(m_dir / "slurm.conf", conf);
    test::write_file(m_dir / "gres.conf",
                     gpus == 0 ? std::string("")
                               : fmt::format("Name=gpu File={}/dev/nvidia[0-{}]\n", d, gpus - 1));
}

void SlurmCluster::start_munge() {
    const fs::path dir = m_dir / "munge";
    fs::create_directories(dir);
    std::optional<std::pair<uid_t, gid_t>> user;
    if (const passwd* pw = ::getpwnam("munge")) user = std::make_pair(pw->pw_uid, pw->pw_gid);
    // A fresh key: 1 KiB from the kernel's generator, readable by munged only.
    std::string key(1024, '\0');
    {
        std::ifstream random("/dev/urandom", std::ios::binary);
        random.read(key.data(), static_cast<std::streamsize>(key.size()));
    }
    test::write_file(dir / "munge.key", key);
    fs::permissions(dir / "munge.key", fs::perms::owner_read);
    // The socket's folder must let everyone through (munged checks); the key stays 0400.
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    if (user) {
        for (const auto& p : {dir, dir / "munge.key"}) {
            if (::chown(p.c_str(), user->first, user->second) != 0) {
                throw std::runtime_error("slurm fixture: chown " + p.string() + " failed");
            }
        }
    }
    std::vector<std::string> argv{program("munged"),
                                  "-F",
                                  "--key-file=" + (dir / "munge.key").string(),
                                  "--socket=" + (dir / "munge.socket").string(),
                                  "--pid-file=" + (dir / "munged.pid").string(),
                                  "--log-file=" + (dir / "munged.log").string(),
                                  "--seed-file=" + (dir / "munged.seed").string()};
    if (!user) argv.emplace_back("--force");  // no munge account: as root
    test::ProcessOptions o;
    o.user = user;
    o.timeout = 15s;
    m_munged = std::make_unique<test::ChildProcess>(argv, o);
    if (!wait_for([&] { return fs::exists(dir / "munge.socket"); }, 20s)) {
        throw std::runtime_error("slurm fixture: munged did not create its socket");
    }
}

void SlurmCluster::start_slurm() {
    const std::string conf = (m_dir / "slurm.conf").string();
    test::ProcessOptions o;
    o.env = env();
    o.timeout = 20s;
    m_slurmctld = std::make_unique<test::ChildProcess>(
        std::vector<std::string>{program("slurmctld"), "-D", "-i", "-f", conf}, o);
    m_slurmd = std::make_unique<test::ChildProcess>(
        std::vector<std::string>{program("slurmd"), "-D", "-f", conf, "-N", m_node}, o);
    if (!wait_for([&] { return node_idle(); }, 60s)) {
        throw std::runtime_error("slurm fixture: the node did not become idle within 60 s");
    }
}

bool SlurmCluster::node_idle() const {
    const auto r = client({"sinfo", "--noheader", "--nodes=" + m_node, "--format=%T"}, 10s);
    return r.exit_code == 0 && r.out.rfind("idle", 0) == 0;
}

std::vector<std::pair<std::string, std::optional<std::string>>> SlurmCluster::env() const {
    return {{"SLURM_CONF", (m_dir / "slurm.conf").string()},
            {"SLURM_JOB_ID", std::nullopt},
            {"SLURM_JOBID", std::nullopt},
            {"SLURM_ARRAY_JOB_ID", std::nullopt},
            {"SLURM_ARRAY_TASK_ID", std::nullopt},
            {"SLURM_CLUSTER_NAME", std::nullopt}};
}

test::ProcessResult SlurmCluster::client(const std::vector<std::string>& argv,
                                         std::chrono::seconds timeout) const {
    test::ProcessOptions o;
    o.env = env();
    o.timeout = timeout;
    return test::run_process(argv, o);
}

test::ProcessResult SlurmCluster::run_in_job(
    const std::vector<std::string>& argv, unsigned gpus,
    const std::vector<std::pair<std::string, std::optional<std::string>>>& extra_env,
    std::chrono::seconds timeout) const {
    const unsigned n = ++m_jobs_run;
    const fs::path out = m_dir / fmt::format("job-{}.out", n);
    const fs::path err = m_dir / fmt::format("job-{}.err", n);
    std::vector<std::string> cmd{"sbatch",
                                 "--wait",
                                 "--quiet",
                                 "--chdir=/tmp",
                                 "--job-name=joulebench-test-job",
                                 "--output=" + out.string(),
                                 "--error=" + err.string(),
                                 "--wrap=" + shell_join(argv)};
    if (gpus > 0) cmd.insert(cmd.begin() + 1, fmt::format("--gres=gpu:{}", gpus));
    test::ProcessOptions o;
    o.env = env();
    o.env.insert(o.env.end(), extra_env.begin(), extra_env.end());
    o.timeout = timeout;
    test::ProcessResult r = test::run_process(cmd, o);
    // sbatch --wait exits with the job's status; what the job printed is in its files.
    std::error_code ec;
    if (fs::exists(out, ec)) r.out = test::read_file(out);
    if (fs::exists(err, ec)) r.err += test::read_file(err);
    return r;
}

std::vector<std::string> SlurmCluster::queued_jobs() const {
    const auto r = client({"squeue", "--noheader", "--format=%i"}, 20s);
    std::vector<std::string> ids;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) ids.push_back(line);
    }
    return ids;
}

bool SlurmCluster::wait_until_queue_empty(std::chrono::seconds timeout) const {
    return wait_for([&] { return queued_jobs().empty(); }, timeout);
}

void SlurmCluster::cancel_all() const {
    (void)client({"scancel", "--user=" + std::to_string(::geteuid())}, 20s);
    (void)wait_until_queue_empty(30s);
}

std::string SlurmCluster::log_tails() const {
    return "--- slurmctld.log ---\n" + tail(m_dir / "log" / "slurmctld.log", 30) +
           "--- slurmd.log ---\n" + tail(m_dir / "log" / "slurmd.log", 30) +
           "--- munged.log ---\n" + tail(m_dir / "munge" / "munged.log", 10);
}

void SlurmCluster::stop() noexcept {
    try {
        if (m_slurmctld && m_slurmd) cancel_all();
    } catch (...) {
    }
    stop_child(m_slurmd);
    stop_child(m_slurmctld);
    stop_child(m_munged);
    std::error_code ec;
    fs::remove_all(m_dir, ec);
}

}  // namespace joulebench::testing
