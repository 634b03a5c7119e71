#include "runner/runner.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "capping/cap_journal.hpp"
#include "capping/cap_session.hpp"
#include "capping/guardian.hpp"
#include "capping/nvml_capper.hpp"
#include "capping/powercap_capper.hpp"
#include "capping/scoped_cap.hpp"
#include "joulebench/error.hpp"
#include "joulebench/units.hpp"
#include "joulebench/measure_result.hpp"
#include "measure/measure.hpp"
#include "measure/sampler.hpp"
#include "model/cpu_energy_marks.hpp"
#include "environments/bare_environment.hpp"
#include "environments/factory.hpp"
#include "runner/progress.hpp"
#include "sensors/estimate/cpu_estimate.hpp"
#include "sensors/registry.hpp"
#include "runner/store_trace_sink.hpp"

namespace joulebench::runner {

namespace fs = std::filesystem;
using environments::BareEnvironment;
using environments::Environment;
using environments::InstanceObserver;
using environments::InstanceResult;
using environments::make_environment;
using environments::PhaseRecorder;
using environments::WorkloadInstance;

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_stop_signal{0};

void stop_handler(int sig) {
    g_stop_signal.store(sig);
    g_stop.store(true);
}

// Free space below this refuses to start: traces and logs of a long experiment need room, and
// SQLite fails mid-transaction on a full disk.
constexpr std::uint64_t kMinFreeBytes = 64ULL << 20;
constexpr std::size_t kStderrTailBytes = 4096;
// rest = "baseline": back near idle when within this much of the idle power and temperature.
constexpr double kBaselinePowerRatio = 1.10;
constexpr double kBaselinePowerSlackW = 5.0;
constexpr double kBaselineTempSlackC = 3.0;

// One GPU slot (or the single slot without [gpus]): its sensors, probed once, and its cappers.
struct Slot {
    std::optional<int> gpu;
    SensorSet sensors;
    std::vector<nvml::NvmlDevice> cap_gpus;  // the GPUs a run's GPU cap applies to
    std::optional<double> idle_power_w;      // rest = "baseline"
    std::optional<double> idle_temp_c;
    std::vector<std::string> pending_warnings;  // for the next run (rest did not reach idle)
};

// The domains a rest compares with the idle baseline: the slot's GPUs; without GPUs, every
// domain that counts in the total (then the only slot).
bool rest_domain(const Slot& slot, const Sensor& s) {
    const bool has_gpu =
        std::any_of(slot.sensors.sensors.begin(), slot.sensors.sensors.end(),
                    [](const auto& x) { return x->info().kind == DomainKind::kGpu; });
    return has_gpu ? s.info().kind == DomainKind::kGpu : counts_in_total(s.info().kind);
}

// Power (sum over the rest domains) and hottest GPU temperature over `window`.
std::pair<double, std::optional<double>> observe(Slot& slot, std::chrono::milliseconds window) {
    std::vector<std::optional<EnergySample>> first;
    for (auto& s : slot.sensors.sensors)
        first.push_back(rest_domain(slot, *s) ? s->sample() : std::nullopt);
    const auto until = Clock::now() + window;
    while (Clock::now() < until && !g_stop.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    double power = 0.0;
    std::optional<double> temp;
    for (std::size_t i = 0; i < slot.sensors.sensors.size(); ++i) {
        auto& s = *slot.sensors.sensors[i];
        if (!first[i]) continue;
        if (const auto last = s.sample()) {
            const double dt = seconds_between(first[i]->time, last->time);
            if (dt > 0) power += (last->energy - first[i]->energy).value() / dt;
        }
        if (const auto t = s.telemetry(); t && t->temperature_c)
            temp = std::max(temp.value_or(*t->temperature_c), *t->temperature_c);
    }
    return {power, temp};
}

// Forwards the workload's pid to the CPU-time estimate, when the slot uses it.
class ClockObserver final : public InstanceObserver {
public:
    explicit ClockObserver(estimate::ProcessTreeCpuClock* clock) : m_clock(clock) {}
    void started(pid_t pid) noexcept override {
        if (m_clock == nullptr) return;
        try {
            m_clock->attach(pid);
        } catch (...) {  // the estimate then misses this tree's live CPU time; rusage still counts
        }
    }
    void reaped(pid_t pid, double cpu_seconds) noexcept override {
        if (m_clock == nullptr) return;
        try {
            m_clock->add_reaped(pid, cpu_seconds);
        } catch (...) {
        }
    }

private:
    estimate::ProcessTreeCpuClock* m_clock;
};

// Measures each phase an environment runs around the workload (container create, start,
// removal) with a sampler of its own: its wall time, and its energy over the domains that count
// in the total (no trace is kept). Without sensors (remote environments) only wall time.
class PhaseSampler final : public PhaseRecorder {
public:
    PhaseSampler(std::vector<Sensor*> sensors, std::chrono::milliseconds interval)
        : m_sensors(std::move(sensors)), m_interval(interval) {}

    void phase(std::string_view name, const std::function<void()>& body) override {
        PhaseResult result;
        result.name = std::string(name);
        std::optional<Sampler> sampler;
        if (!m_sensors.empty()) {
            sampler.emplace(m_sensors, m_interval, nullptr);
            sampler->start();
        }
        const auto start = Clock::now();
        auto finish = [&] {
            const auto end = Clock::now();
            result.wall_s = seconds_between(start, end);
            if (sampler) {
                sampler->stop();
                // The CPU-time estimate follows the workload's process tree, which does not
                // exist during a phase: a phase is given energy only when every domain that
                // counts in the total is measured.
                double energy = 0.0;
                bool measured = true;
                std::vector<std::string> ignored;
                for (std::size_t i = 0; i < m_sensors.size(); ++i) {
                    const DomainResult d =
                        domain_result(*m_sensors[i], sampler->domains()[i], ignored);
                    if (!d.counts_in_total) continue;
                    energy += d.energy_j;
                    measured = measured && d.info.kind != DomainKind::kEstimatedCpu;
                }
                if (measured) result.energy_j = energy;
            }
            m_results.push_back(std::move(result));
        };
        try {
            body();
        } catch (...) {
            finish();
            throw;
        }
        finish();
    }

    [[nodiscard]] const std::vector<PhaseResult>& results() const { return m_results; }

private:
    std::vector<Sensor*> m_sensors;
    std::chrono::milliseconds m_interval;
    std::vector<PhaseResult> m_results;
};

// The measurement of one instance from the sampler's first and last readings (the same
// definitions as `joulebench measure`: docs/measure.md), without the parts that need the
// measured command to be joulebench's only child.
MeasureResult assemble(const WorkloadInstance& inst, const InstanceResult& ir,
                       const std::vector<Sensor*>& sensors, const Sampler& sampler,
                       std::chrono::milliseconds interval) {
    MeasureResult m;
    m.command = inst.command;
    m.exit_code = ir.exit_code;
    m.signal = ir.signal;
    m.started_at = ir.started_at;
    m.wall_s = seconds_between(ir.start_time, ir.end_time);
    m.cpu_user_s = ir.cpu_user_s;
    m.cpu_system_s = ir.cpu_system_s;
    const auto stats = sampler.stats();
    m.interval_ms = static_cast<double>(interval.count());
    apply_sampler_stats(m, stats);
    for (std::size_t i = 0; i < sensors.size(); ++i) {
        Sensor* s = sensors[i];
        const auto& d = sampler.domains()[i];
        DomainResult r = domain_result(*s, d, m.warnings);
        if (r.failed_reads > 0) {
            m.warnings.push_back(
                fmt::format("{}: {} failed reads: the trace has gaps", r.info.id, r.failed_reads));
        }
        if (r.health.resets > 0) {
            m.warnings.push_back(fmt::format(
                "{}: energy counter went backwards {} time(s): its energy is a lower bound",
                r.info.id, r.health.resets));
        }
        if (auto* est = dynamic_cast<estimate::CpuEstimateSensor*>(s)) {
            // The exact CPU time of this run's reaped tree: attributed to this run alone.
            const auto& model = est->model();
            const double exact = (m.cpu_user_s + m.cpu_system_s) * model.watts_per_cpu();
            r.energy_j = std::max(r.energy_j, exact);
            m.estimate = EstimateModel{model.cpu_model, model.tdp_w, model.threads_per_package,
                                       model.watts_per_cpu(), model.source};
            m.warnings.push_back("CPU energy is estimated from this run's CPU time, not measured");
        }
        if (r.counts_in_total) {
            m.total_energy_j += r.energy_j;
            if (r.info.kind == DomainKind::kEstimatedCpu) m.total_includes_estimate = true;
        }
        if (r.info.kind == DomainKind::kGpu) {
            m.gpus.push_back(gpu_result(r.info, sampler.gpus()[i]));
        }
        m.domains.push_back(std::move(r));
    }
    if (m.late_ticks > 0) {
        m.warnings.push_back(
            fmt::format("sampler: {} reads started more than one period late", m.late_ticks));
    }
    if (ir.left_processes) {
        m.warnings.push_back(
            "processes the workload started were still running when it ended; they were killed");
    }
    m.edp_js = energy_delay_product(m.total_energy_j, m.wall_s);
    m.ed2p_js2 = energy_delay_squared_product(m.total_energy_j, m.wall_s);
    return m;
}

// Busy CPU time of the whole machine so far (user, nice, system, irq, softirq, steal from the
// first line of /proc/stat), seconds; nullopt when unreadable.
std::optional<double> machine_busy_cpu_s() {
    std::ifstream in("/proc/stat");
    std::string label;
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                       steal = 0;
    if (!(in >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
        label != "cpu") {
        return std::nullopt;
    }
    const long ticks = ::sysconf(_SC_CLK_TCK);
    if (ticks <= 0) return std::nullopt;
    return static_cast<double>(user + nice + system + irq + softirq + steal) /
           static_cast<double>(ticks);
}

// Which runs overlapped another run in time on the same machine (GPU slots): "" is this one,
// an ssh environment's runs are on its host.
class OverlapTracker {
public:
    void begin(const std::string& run_id, const std::string& machine) {
        std::lock_guard lock(m_mutex);
        auto& active = m_active[machine];
        if (!active.empty()) {
            m_overlapped.insert(run_id);
            m_overlapped.insert(active.begin(), active.end());
        }
        active.insert(run_id);
    }
    /// Ends the run; true when another run ran on its machine at some time during it.
    bool end(const std::string& run_id, const std::string& machine) {
        std::lock_guard lock(m_mutex);
        m_active[machine].erase(run_id);
        return m_overlapped.erase(run_id) != 0;
    }

private:
    std::mutex m_mutex;
    std::map<std::string, std::set<std::string>> m_active;
    std::set<std::string> m_overlapped;
};

// While runs overlap, a CPU package or DRAM counter measures all of them: each run gets the share
// of the machine's busy CPU time that its own process tree used over its window, and the domain
// says so ("attributed") in the run's warnings. Without a usable share the whole value stays,
// labelled shared.
void attribute_cpu_energy(MeasureResult& m, std::optional<double> busy_s) {
    const double run_cpu_s = m.cpu_user_s + m.cpu_system_s;
    std::optional<double> share;
    if (busy_s && *busy_s > 0) share = std::clamp(run_cpu_s / *busy_s, 0.0, 1.0);
    for (auto& d : m.domains) {
        const DomainKind k = d.info.kind;
        const bool machine_wide = k == DomainKind::kPackage || k == DomainKind::kDram ||
                                  k == DomainKind::kCore || k == DomainKind::kUncore ||
                                  k == DomainKind::kPsys;
        if (!machine_wide) continue;
        if (!share) {
            m.warnings.push_back(
                fmt::format("{}: shared: other runs ran at the same time and the CPU time share is "
                            "unknown, so this {:.3f} J includes theirs",
                            d.info.id, d.energy_j));
            continue;
        }
        const double measured = d.energy_j;
        d.energy_j = measured * *share;
        d.avg_power_w *= *share;
        if (d.peak_power_w) *d.peak_power_w *= *share;
        if (d.counts_in_total) m.total_energy_j -= measured - d.energy_j;
        m.warnings.push_back(fmt::format(
            "{}: attributed: {:.3f} J of the {:.3f} J measured while other runs overlapped, by "
            "this "
            "run's share of the machine's busy CPU time ({:.3f} of {:.3f} CPU-s, {:.1f}%)",
            d.info.id, d.energy_j, measured, run_cpu_s, *busy_s, *share * 100.0));
    }
    m.edp_js = energy_delay_product(m.total_energy_j, m.wall_s);
    m.ed2p_js2 = energy_delay_squared_product(m.total_energy_j, m.wall_s);
}

// An exclusive flock on DB.lock for the life of the object.
class StoreLock {
public:
    StoreLock(const fs::path& lock_path, const fs::path& db) {
        m_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (m_fd < 0) throw system_error(fmt::format("run: lock the store {}", db.string()), errno);
        if (::flock(m_fd, LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            ::close(m_fd);
            if (err == EWOULDBLOCK) {
                throw Error(ErrorCategory::kInvalidArgument,
                            fmt::format("run: use the store {}: another joulebench run is using it",
                                        db.string()),
                            "wait for it to end; to run in parallel, run --shard I/N into separate "
                            "stores and join them with `joulebench merge`");
            }
            throw system_error(fmt::format("run: lock the store {}", db.string()), err);
        }
    }
    StoreLock(const StoreLock&) = delete;
    StoreLock& operator=(const StoreLock&) = delete;
    ~StoreLock() { ::close(m_fd); }

private:
    int m_fd = -1;
};

std::string host_json(const std::vector<nvml::NvmlDevice>& gpus, const std::string& driver) {
    nlohmann::json host;
    utsname u{};
    if (::uname(&u) == 0) {
        host["hostname"] = u.nodename;
        host["kernel"] = std::string(u.sysname) + " " + u.release;
        host["machine"] = u.machine;
    }
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
        if (line.rfind("model name", 0) == 0) {
            if (const auto colon = line.find(": "); colon != std::string::npos)
                host["cpu"] = line.substr(colon + 2);
            break;
        }
    }
    host["cpus"] = std::thread::hardware_concurrency();
    nlohmann::json list = nlohmann::json::array();
    for (const auto& g : gpus) {
        list.push_back({{"index", g.index()},
                        {"name", g.name()},
                        {"uuid", g.uuid()},
                        {"pci_bus_id", g.pci_bus_id()}});
    }
    host["gpus"] = list;
    if (!driver.empty()) host["gpu_driver"] = driver;
    return host.dump();
}

// A failed check of a value written in the experiment file: the file and line lead the message.
[[noreturn]] void rethrow_at(const Error& e, const SourceLocation& where, const std::string& what) {
    throw Error(e.category(), fmt::format("run: {}{}: {}", to_string(where), what, e.what()),
                e.hint());
}

}  // namespace

std::atomic<bool>& stop_requested() {
    return g_stop;
}

void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = stop_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

std::optional<int> stop_signal() {
    const int sig = g_stop_signal.load();
    if (sig == 0) return std::nullopt;
    return sig;
}

std::string file_tail(const fs::path& path, std::size_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::size_t>(std::max<std::streamoff>(in.tellg(), 0));
    const std::size_t start = size > max_bytes ? size - max_bytes : 0;
    // One byte before the window tells whether it starts at a line start.
    const std::size_t from = start > 0 ? start - 1 : 0;
    in.seekg(static_cast<std::streamoff>(from));
    std::string text(size - from, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
    if (start > 0 && !text.empty()) {
        const bool at_line_start = text.front() == '\n';
        text.erase(0, 1);
        // Starts mid-line: drop the partial first line when a later line exists.
        if (!at_line_start) {
            if (const auto nl = text.find('\n'); nl != std::string::npos && nl + 1 < text.size())
                text.erase(0, nl + 1);
        }
    }
    return text;
}

std::string last_json_object_line(const std::string& text) {
    std::size_t end = text.size();
    while (end > 0) {
        const std::size_t begin = text.rfind('\n', end - 1);
        const std::size_t from = begin == std::string::npos ? 0 : begin + 1;
        std::string line = text.substr(from, end - from);
        const auto first = line.find_first_not_of(" \t\r");
        if (first != std::string::npos && line[first] == '{') {
            const auto parsed = nlohmann::json::parse(line, nullptr, false);
            if (!parsed.is_discarded() && parsed.is_object()) return parsed.dump();
        }
        if (begin == std::string::npos) break;
        end = begin;
    }
    return {};
}

RunnerSummary run_experiment(const RunnerOptions& options) {
    // ---- validation: everything before the first run ------------------------------------------
    const ExperimentSpec spec = parse_experiment_file(options.experiment_file);
    const Plan plan = make_plan(spec, options.shard);
    const bool terminal = ::isatty(STDERR_FILENO) == 1;
    std::map<std::string, std::unique_ptr<Environment>> environments;
    for (const auto& e : spec.environments) environments[e.name] = make_environment(e);
    // Environments that measure their runs themselves (ssh) set their caps where the workload
    // runs; the local GPUs are needed only when some environment runs here.
    const bool all_remote =
        std::all_of(environments.begin(), environments.end(),
                    [](const auto& kv) { return kv.second->measures_itself(); });
    std::map<std::string, const WorkloadSpec*> workloads;
    for (const auto& w : spec.workloads) {
        workloads[w.name] = &w;
        for (const auto& [name, env] : environments) env->validate(w);
    }
    if (spec.warmup.kind == WarmupSpec::Kind::kCommand) {
        WorkloadSpec warm;
        warm.name = "warm-up";
        warm.command = spec.warmup.command;
        warm.where = spec.warmup.where;
        BareEnvironment(EnvironmentSpec{}).validate(warm);
    }

    // GPUs: slots and the devices caps apply to, every cap checked against every GPU's range.
    const std::vector<double> gpu_caps = distinct_gpu_caps(spec);
    const std::vector<double> cpu_caps = distinct_cpu_caps(spec);
    std::optional<nvml::NvmlSystem> nvml_system;
    std::vector<nvml::NvmlDevice> slot_gpus;
    if (all_remote && spec.gpus && spec.gpus->all) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("run: {}devices = \"all\": every environment runs on another host, "
                                "whose GPUs this machine cannot list",
                                to_string(spec.gpus->where)),
                    "list the remote GPUs' indices, e.g. devices = [0, 1]");
    }
    if (!all_remote && (spec.gpus || !gpu_caps.empty())) {
        const SourceLocation& where = spec.gpus ? spec.gpus->where : spec.power_caps.gpu_where;
        try {
            nvml_system.emplace(nvml::NvmlSystem::open());
        } catch (const Error& e) {
            rethrow_at(e, where, spec.gpus ? "[gpus]" : "[power_caps] gpu_w");
        }
        try {
            if (spec.gpus && !spec.gpus->all) {
                slot_gpus = nvml_system->select(nvml::GpuSelection::list(spec.gpus->devices));
            } else {
                slot_gpus = nvml_system->devices();
            }
        } catch (const Error& e) {
            rethrow_at(e, where, "[gpus] devices");
        }
        if (slot_gpus.empty()) {
            throw Error(ErrorCategory::kNotFound,
                        fmt::format("run: {}no GPU found: NVML reports none", to_string(where)),
                        "remove [gpus] and [power_caps] gpu_w to run without GPUs");
        }
        for (const auto& device : slot_gpus) {
            const capping::NvmlCapper capper(device);
            for (const double w : gpu_caps) {
                try {
                    check_cap_range(capper, Watts(w));
                } catch (const Error& e) {
                    rethrow_at(e, spec.power_caps.gpu_where,
                               fmt::format("gpu_w {}", format_watts(w)));
                }
            }
        }
    }
    std::vector<std::optional<int>> slot_indices;
    if (spec.gpus && all_remote) {
        for (const int d : spec.gpus->devices) slot_indices.emplace_back(d);
    } else if (spec.gpus) {
        for (const auto& d : slot_gpus) slot_indices.emplace_back(d.index());
    } else {
        slot_indices.emplace_back(std::nullopt);
    }
    const fs::path powercap_root = ProbeOptions::default_powercap_root();
    if (!cpu_caps.empty() && !all_remote) {
        if (slot_indices.size() > 1) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("run: {}cpu_w: CPU caps are machine-wide and cannot differ "
                                    "between GPU slots that "
                                    "run at the same time",
                                    to_string(spec.power_caps.cpu_where)),
                        "use one GPU in [gpus], or drop cpu_w");
        }
        std::vector<std::string> skipped;
        const auto cappers = capping::powercap_package_cappers(powercap_root, skipped);
        if (cappers.empty()) {
            throw Error(ErrorCategory::kNotSupported,
                        fmt::format("run: {}cpu_w: no CPU package can be capped under {}{}",
                                    to_string(spec.power_caps.cpu_where), powercap_root.string(),
                                    skipped.empty() ? "" : ": " + skipped.front()));
        }
        for (const auto& c : cappers) {
            for (const double w : cpu_caps) {
                try {
                    check_cap_range(*c, Watts(w));
                } catch (const Error& e) {
                    rethrow_at(e, spec.power_caps.cpu_where,
                               fmt::format("cpu_w {}", format_watts(w)));
                }
            }
        }
    }
    const bool capping = !all_remote && (!gpu_caps.empty() || !cpu_caps.empty());
    std::optional<capping::CapJournal> journal;
    if (capping) journal.emplace(capping::CapJournal::open_default());  // throws naming the folder

    // The store: its folder writable, room on the disk.
    const fs::path db_dir =
        options.db.parent_path().empty() ? fs::path(".") : options.db.parent_path();
    if (::access(db_dir.c_str(), W_OK) != 0 ||
        (fs::exists(options.db) && ::access(options.db.c_str(), W_OK) != 0)) {
        throw system_error(fmt::format("run: write the store {}", options.db.string()), errno);
    }
    struct statvfs vfs {};
    if (::statvfs(db_dir.c_str(), &vfs) == 0) {
        const std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
        if (free_bytes < kMinFreeBytes) {
            throw Error(
                ErrorCategory::kIo,
                fmt::format(
                    "run: check disk space for {}: only {} MiB free (at least {} MiB needed)",
                    options.db.string(), free_bytes >> 20, kMinFreeBytes >> 20),
                "free some space or put the store elsewhere with --db");
        }
    }
    const fs::path logs_dir = options.logs_dir.value_or(fs::path(options.db.string() + ".logs"));

    RunnerSummary summary;
    summary.planned = plan.runs.size();
    if (options.dry_run) {
        for (const auto& w : plan.warnings) fmt::print(stderr, "warning: {}\n", w);
        if (fs::exists(options.db) && !options.new_store) {
            // What a real run would find: the same experiment (then how much is left), or another.
            const Store existing(options.db, Store::Mode::kReadOnly);
            const auto recorded = existing.experiment();
            if (recorded && recorded->file_sha256 != spec.source_sha256) {
                throw Error(ErrorCategory::kInvalidArgument,
                            fmt::format("run: {} holds the results of a different experiment file "
                                        "than {}",
                                        options.db.string(), options.experiment_file.string()),
                            "run with --new to move the old store aside and start afresh, or "
                            "give another --db");
            }
            std::size_t done = 0;
            for (const auto& rec : existing.runs({RunStatus::kDone})) {
                done += std::any_of(plan.runs.begin(), plan.runs.end(),
                                    [&](const RunSpec& r) { return r.run_id == rec.run_id; });
            }
            fmt::print("{}: {} of these runs already done (a run would resume)\n",
                       options.db.string(), done);
        }
        fmt::print(
            "experiment {}: {} runs in this plan ({} in all), {} slot(s){}; everything checked, "
            "nothing run\n",
            spec.name, plan.runs.size(), plan.total_runs, slot_indices.size(),
            capping ? ", caps within every device's range" : "");
        for (const auto& r : plan.runs) {
            fmt::print("{:>5}  {}  {}\n", r.plan_index, r.run_id, describe_run(r));
        }
        return summary;
    }

    // One `joulebench run` per store at a time: a second one would take the first one's running
    // runs for interrupted ones and run them twice. The kernel drops the lock when the process
    // ends, however it ends; O_CLOEXEC keeps workloads from inheriting it.
    const StoreLock store_lock(fs::path(options.db.string() + ".lock"), options.db);
    // Environments get ready (image checks, VM boots): never inside a measurement. Torn down
    // however this function ends.
    struct TearDown {
        std::map<std::string, std::unique_ptr<Environment>>& envs;
        std::vector<Environment*> prepared;
        ~TearDown() {
            for (auto it = prepared.rbegin(); it != prepared.rend(); ++it) (*it)->tear_down();
        }
    } tear_down{environments, {}};
    for (auto& [name, env] : environments) {
        env->prepare();
        tear_down.prepared.push_back(env.get());
        // Environments that set caps where the workload runs check them there.
        if (env->measures_itself() && (!gpu_caps.empty() || !cpu_caps.empty())) {
            std::vector<int> remote_gpus;
            for (const auto& index : slot_indices)
                if (index) remote_gpus.push_back(*index);
            env->check_caps(gpu_caps, cpu_caps, remote_gpus);
        }
    }
    if (options.new_store) {
        if (const auto moved = Store::set_aside(options.db)) {
            fmt::print(stderr, "joulebench run: the old store was moved to {}\n", moved->string());
        }
    }
    Store store(options.db, Store::Mode::kCreate);
    try {
        store.record_experiment(experiment_record(spec));
    } catch (const ExperimentChangedError& e) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("run: {} holds the results of a different experiment file than {} "
                                "(the file changed "
                                "since the store was created): {}",
                                options.db.string(), options.experiment_file.string(), e.what()),
                    "run again with --new to move the old store aside and start afresh, or give "
                    "another --db");
    }
    const auto stale = store.mark_stale_running_interrupted();
    store.add_planned_runs(plan.runs);
    std::map<std::string, const RunSpec*> plan_runs;
    for (const auto& r : plan.runs) plan_runs[r.run_id] = &r;
    for (const auto& rec : store.runs({RunStatus::kDone}))
        summary.already_done += plan_runs.count(rec.run_id);
    fs::create_directories(logs_dir);

    // ---- the session ---------------------------------------------------------------------------
    if (journal) {
        capping::CapperFactory factory;
        const auto replay = capping::restore_journal(*journal, factory, {});
        for (const auto& line : replay.restored)
            fmt::print(stderr, "joulebench: caps: left by a crashed run: {}\n", line);
        for (const auto& line : replay.failed) fmt::print(stderr, "warning: caps: {}\n", line);
        if (!replay.ok()) {
            throw Error(ErrorCategory::kIo, "run: restore the caps a crashed run left",
                        "run `joulebench caps restore`");
        }
    }
    // The guardian restores this process's caps if it dies without doing so (SIGKILL).
    std::optional<capping::GuardianHandle> guardian;
    if (capping) {
        capping::GuardianOptions go;
        go.executable = capping::self_executable();
        go.nvml = !gpu_caps.empty();
        guardian.emplace(capping::GuardianHandle::spawn(go));
    }
    install_stop_handlers();

    SessionInfo session;
    {
        auto host = nlohmann::json::parse(
            host_json(nvml_system ? nvml_system->devices() : std::vector<nvml::NvmlDevice>{},
                      nvml_system ? nvml_system->driver_version() : ""));
        auto& described = host["environments"] = nlohmann::json::object();
        for (const auto& [name, env] : environments) {
            auto d = nlohmann::json::parse(env->describe(), nullptr, false);
            described[name] = d.is_discarded() ? nlohmann::json::object() : d;
        }
        session.host_json = host.dump();
    }
    session.command_line = options.command_line;
    session.shard = options.shard;
    session.started_at = unix_now();
    const std::int64_t session_id = store.begin_session(session);

    std::vector<std::unique_ptr<Slot>> slots;
    for (const auto& index : slot_indices) {
        auto slot = std::make_unique<Slot>();
        slot->gpu = index;
        ProbeOptions probe;
        probe.powercap_root = powercap_root;
        probe.nvml.gpus = index ? nvml::GpuSelection::list({*index}) : nvml::GpuSelection::all();
        slot->sensors = probe_all(probe);
        if (slot->sensors.selection_error) throw *slot->sensors.selection_error;
        for (const auto& d : slot_gpus) {
            if (!index || d.index() == *index) slot->cap_gpus.push_back(d);
        }
        slots.push_back(std::move(slot));
    }
    OverlapTracker overlaps;

    Progress progress(stderr, terminal, plan.runs.size(), summary.already_done, slots.size());
    for (const auto& w : plan.warnings) progress.message("warning: " + w);
    if (!stale.empty()) {
        progress.message(fmt::format(
            "joulebench run: {} run(s) were interrupted last time and run again", stale.size()));
    }
    if (summary.already_done > 0) {
        progress.message(fmt::format("joulebench run: resuming: {} of {} runs already done",
                                     summary.already_done, plan.runs.size()));
    }

    // Idle baseline (before any warm-up), for rest = "baseline".
    if (spec.rest.kind == RestSpec::Kind::kBaseline) {
        std::vector<std::thread> threads;
        for (auto& slot : slots) {
            threads.emplace_back([&, s = slot.get()] {
                const double started = unix_now();
                const auto [power, temp] = observe(*s, options.idle_baseline);
                s->idle_power_w = power;
                s->idle_temp_c = temp;
                IdleBaselineRecord rec;
                rec.session_id = session_id;
                rec.domain = s->gpu ? fmt::format("gpu{}", *s->gpu) : "total";
                rec.started_at = started;
                rec.duration_s = std::chrono::duration<double>(options.idle_baseline).count();
                rec.power_w = power;
                rec.temperature_c = temp;
                rec.context = "start";
                try {
                    store.record_idle_baseline(rec);
                } catch (const Error& e) {
                    progress.message(fmt::format("warning: {}", e.what()));
                }
            });
        }
        for (auto& t : threads) t.join();
    }

    // Warm-up: before the first run, on every slot at once (each on its GPU); never measured.
    if (spec.warmup.kind == WarmupSpec::Kind::kDuration) {
        progress.message(fmt::format("joulebench run: warm-up: waiting {}",
                                     format_duration_ms(spec.warmup.duration)));
        const auto until = Clock::now() + spec.warmup.duration;
        while (Clock::now() < until && !g_stop.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } else if (spec.warmup.kind == WarmupSpec::Kind::kCommand) {
        progress.message(
            fmt::format("joulebench run: warm-up: {}", fmt::join(spec.warmup.command, " ")));
        std::vector<InstanceResult> results(slots.size());
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < slots.size(); ++i) {
            threads.emplace_back([&, i] {
                WorkloadInstance inst;
                inst.run_id = "warmup";
                inst.command = spec.warmup.command;
                inst.gpu = slots[i]->gpu;
                if (inst.gpu)
                    inst.env.emplace_back("CUDA_VISIBLE_DEVICES", std::to_string(*inst.gpu));
                inst.env.emplace_back("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
                inst.stdout_file = logs_dir / fmt::format("warmup-slot{}.stdout", i);
                inst.stderr_file = logs_dir / fmt::format("warmup-slot{}.stderr", i);
                inst.stop = &g_stop;
                inst.kill_grace = options.kill_grace;
                results[i] = BareEnvironment(EnvironmentSpec{}).execute(inst, nullptr);
            });
        }
        for (auto& t : threads) t.join();
        for (std::size_t i = 0; i < results.size(); ++i) {
            if (results[i].end == InstanceResult::End::kExited && results[i].exit_code == 0)
                continue;
            if (g_stop.load()) break;
            throw Error(
                ErrorCategory::kIo,
                fmt::format("run: {}warm-up {} failed (exit status {}){}",
                            to_string(spec.warmup.where), fmt::join(spec.warmup.command, " "),
                            results[i].exit_code,
                            results[i].start_error.empty() ? "" : ": " + results[i].start_error),
                fmt::format("see {}",
                            (logs_dir / fmt::format("warmup-slot{}.stderr", i)).string()));
        }
    }

    // ---- the runs ------------------------------------------------------------------------------
    std::mutex mutex;  // guards queue, summary, caps_ok
    bool caps_ok = true;
    auto run_one = [&](Slot& slot, const RunSpec& run, bool first_on_slot) {
        const WorkloadSpec& workload = *workloads.at(run.workload);
        Environment& env = *environments.at(run.environment);
        // Rest before every run but the slot's first (never measured).
        if (!first_on_slot && spec.rest.kind == RestSpec::Kind::kDuration) {
            const auto until = Clock::now() + spec.rest.duration;
            while (Clock::now() < until && !g_stop.load())
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
        } else if (!first_on_slot && spec.rest.kind == RestSpec::Kind::kBaseline &&
                   slot.idle_power_w) {
            const auto until = Clock::now() + options.baseline_timeout;
            bool back = false;
            double power = 0.0;
            std::optional<double> temp;
            // At least one look, however short the timeout.
            do {
                std::tie(power, temp) = observe(slot, std::chrono::milliseconds(500));
                const bool power_ok =
                    power <= *slot.idle_power_w * kBaselinePowerRatio + kBaselinePowerSlackW;
                const bool temp_ok =
                    !temp || !slot.idle_temp_c || *temp <= *slot.idle_temp_c + kBaselineTempSlackC;
                if (power_ok && temp_ok) {
                    back = true;
                    break;
                }
            } while (!g_stop.load() && Clock::now() < until);
            if (!back && !g_stop.load()) {
                slot.pending_warnings.push_back(fmt::format(
                    "rest: not back near the idle baseline after {} ({:.1f} W, idle {:.1f} W): "
                    "started anyway",
                    format_duration_ms(options.baseline_timeout), power, *slot.idle_power_w));
            }
        }
        if (g_stop.load()) return;

        store.mark_running(run.run_id, session_id, slot.gpu, unix_now());
        progress.started(run, slot.gpu);
        RunOutcome outcome;
        outcome.run_id = run.run_id;
        outcome.gpu = slot.gpu;
        outcome.warnings = std::move(slot.pending_warnings);
        slot.pending_warnings.clear();

        // Caps for this run, journalled, verified; restored right after it.
        std::vector<std::unique_ptr<capping::ScopedCap>> caps;
        std::string cap_error;
        const bool remote = env.measures_itself();
        try {
            if (run.gpu_cap_w && !remote) {
                for (const auto& d : slot.cap_gpus) {
                    caps.push_back(std::make_unique<capping::ScopedCap>(
                        std::make_unique<capping::NvmlCapper>(d), Watts(*run.gpu_cap_w), *journal));
                }
            }
            if (run.cpu_cap_w && !remote) {
                std::vector<std::string> skipped;
                for (auto& c : capping::powercap_package_cappers(powercap_root, skipped)) {
                    caps.push_back(std::make_unique<capping::ScopedCap>(
                        std::move(c), Watts(*run.cpu_cap_w), *journal));
                }
            }
        } catch (const Error& e) {
            cap_error = e.what();
        }
        for (const auto& c : caps) {
            const auto& o = c->outcome();
            AppliedCap applied;
            applied.domain = o.device.id;
            applied.requested_w = o.requested.value();
            if (o.enforced) applied.applied_w = o.enforced->value();
            outcome.caps.push_back(applied);
        }

        WorkloadInstance inst;
        inst.run_id = run.run_id;
        inst.command = workload.command;
        inst.env = workload.env;
        inst.env.emplace_back("JOULEBENCH_RUN_ID", run.run_id);
        inst.env.emplace_back("JOULEBENCH_REPETITION", std::to_string(run.repetition));
        inst.env.emplace_back("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
        if (slot.gpu) inst.env.emplace_back("CUDA_VISIBLE_DEVICES", std::to_string(*slot.gpu));
        inst.gpu = slot.gpu;
        inst.timeout = workload.timeout;
        inst.stdout_file = logs_dir / (run.run_id + ".stdout");
        inst.stderr_file = logs_dir / (run.run_id + ".stderr");
        inst.stop = &g_stop;
        inst.kill_grace = options.kill_grace;
        inst.interval = options.interval;
        if (remote) {
            inst.gpu_cap_w = run.gpu_cap_w;
            inst.cpu_cap_w = run.cpu_cap_w;
        }

        std::string detail;
        if (!cap_error.empty()) {
            caps.clear();  // ScopedCap restored what it set before throwing; the rest now
            outcome.status = RunStatus::kFailed;
            outcome.stderr_tail = cap_error;
            outcome.warnings.push_back(
                "the workload did not run: its power cap could not be set: " + cap_error);
            detail = cap_error;
        } else {
            const std::vector<Sensor*> sensors = slot.sensors.pointers();
            StoreTraceSink sink(store, run.run_id);
            if (remote) inst.trace = &sink;  // the remote measure's trace comes back into it
            PhaseSampler phases(remote ? std::vector<Sensor*>{} : sensors, options.interval);
            InstanceResult ir;
            std::string begin_error;
            try {
                env.begin_instance(inst, phases);
            } catch (const std::exception& e) {
                begin_error = e.what();
            }
            bool overlapped = false;
            std::optional<double> busy_before;
            std::optional<double> busy_after;
            if (!begin_error.empty()) {
                ir.end = InstanceResult::End::kNotStarted;
                ir.start_error = begin_error;
                ir.exit_code = 1;
            } else if (remote) {
                // Runs overlapping on the remote host share its CPU counters too; without its
                // busy CPU time their machine-wide CPU energy is labelled shared, not attributed.
                const std::string machine =
                    fmt::format("{}:{}", env.spec().host, env.spec().port.value_or(0));
                overlaps.begin(run.run_id, machine);
                try {
                    ir = env.execute(inst, nullptr);
                } catch (const Error& e) {
                    ir.end = InstanceResult::End::kNotStarted;
                    ir.start_error = e.what();
                    ir.exit_code = 1;
                }
                overlapped = overlaps.end(run.run_id, machine);
            } else {
                Sampler sampler(sensors, options.interval, &sink);
                ClockObserver observer(slot.sensors.cpu_clock.get());
                overlaps.begin(run.run_id, "");
                busy_before = machine_busy_cpu_s();
                sampler.start();
                try {
                    ir = env.execute(inst, &observer);
                } catch (const Error& e) {
                    ir.end = InstanceResult::End::kNotStarted;
                    ir.start_error = e.what();
                    ir.exit_code = 1;
                }
                sampler.stop();
                busy_after = machine_busy_cpu_s();
                overlapped = overlaps.end(run.run_id, "");
                if (ir.end != InstanceResult::End::kNotStarted) {
                    ir.measured = assemble(inst, ir, sensors, sampler, options.interval);
                }
            }
            {
                std::vector<std::string> env_warnings;
                env.end_instance(inst, phases, env_warnings);
                outcome.phases = phases.results();
                for (auto& w : ir.warnings) outcome.warnings.push_back(std::move(w));
                for (auto& w : env_warnings) outcome.warnings.push_back(std::move(w));
            }
            for (auto it = caps.rbegin(); it != caps.rend(); ++it) {
                if (!(*it)->restore()) {
                    std::lock_guard lock(mutex);
                    caps_ok = false;
                    const auto& o = (*it)->outcome();
                    outcome.warnings.push_back(
                        fmt::format("caps: restore {}: {}", o.device.label, o.restore_error));
                    progress.message(fmt::format("error: caps: restore {}: {}", o.device.label,
                                                 o.restore_error));
                }
            }
            if (sink.error()) outcome.warnings.push_back(*sink.error());
            outcome.stderr_tail = file_tail(inst.stderr_file, kStderrTailBytes);
            if (ir.end == InstanceResult::End::kNotStarted) {
                outcome.status = RunStatus::kFailed;
                outcome.exit_code = ir.exit_code;
                outcome.stderr_tail += ir.start_error;
                outcome.started_at = ir.started_at;
                detail = ir.start_error;
            } else {
                if (ir.measured) {
                    outcome.measure = std::move(ir.measured);
                    if (overlapped) {
                        std::optional<double> busy;
                        if (busy_before && busy_after) busy = *busy_after - *busy_before;
                        attribute_cpu_energy(*outcome.measure, busy);
                    }
                } else {
                    // A remote measurement that did not come back (connection lost, killed).
                    outcome.exit_code = ir.exit_code;
                    outcome.started_at = ir.started_at;
                    outcome.warnings.push_back("no measurement came back from the environment");
                }
                switch (ir.end) {
                    case InstanceResult::End::kTimedOut:
                        outcome.status = RunStatus::kTimeout;
                        detail = fmt::format("timed out after {}",
                                             format_duration_ms(*workload.timeout));
                        break;
                    case InstanceResult::End::kInterrupted:
                        outcome.status = RunStatus::kInterrupted;
                        detail = "interrupted";
                        break;
                    default:
                        outcome.status = ir.exit_code == 0 && outcome.measure ? RunStatus::kDone
                                                                              : RunStatus::kFailed;
                        if (ir.exit_code != 0) {
                            detail = ir.signal ? fmt::format("killed by signal {}", *ir.signal)
                                               : fmt::format("exit status {}", ir.exit_code);
                        } else if (!outcome.measure) {
                            detail = "no measurement came back from the environment";
                        }
                }
                if (workload.metrics == MetricsFormat::kJsonLine) {
                    // Reading the tail bounds memory for chatty workloads; the metrics line is
                    // last.
                    outcome.metrics_json =
                        last_json_object_line(file_tail(inst.stdout_file, 1U << 20));
                    if (outcome.metrics_json.empty() && outcome.status == RunStatus::kDone) {
                        outcome.warnings.push_back(
                            "metrics: the workload printed no JSON object line on stdout");
                    }
                }
            }
            if (outcome.status != RunStatus::kDone && !outcome.stderr_tail.empty() &&
                detail != "interrupted") {
                std::string last = outcome.stderr_tail;
                while (!last.empty() && (last.back() == '\n' || last.back() == '\r'))
                    last.pop_back();
                if (const auto nl = last.rfind('\n'); nl != std::string::npos)
                    last = last.substr(nl + 1);
                if (!last.empty()) detail += ": " + last;
            }
        }
        outcome.ended_at = 0.0;
        try {
            store.finish_run(outcome);
        } catch (const Error& e) {
            progress.message(fmt::format("error: {}", e.what()));
            throw;
        }
        std::optional<double> energy;
        double wall = 0.0;
        std::string energy_how;
        if (outcome.measure) {
            energy = outcome.measure->total_energy_j;
            wall = outcome.measure->wall_s;
            energy_how = describe(cpu_energy_marks(outcome.measure->total_includes_estimate, outcome.measure->warnings));
        }
        progress.finished(run, slot.gpu, outcome.status, wall, energy, detail, energy_how);
        std::lock_guard lock(mutex);
        ++summary.executed;
    };

    std::optional<std::string> fatal;
    for (unsigned pass = 0; pass <= options.retries && !g_stop.load() && !fatal; ++pass) {
        std::deque<const RunSpec*> queue;
        for (const auto& id : store.pending_run_ids(pass > 0)) {
            if (const auto it = plan_runs.find(id); it != plan_runs.end())
                queue.push_back(it->second);
        }
        if (queue.empty()) break;
        if (pass > 0) {
            progress.message(
                fmt::format("joulebench run: retry {}: {} run(s)", pass, queue.size()));
            progress.retrying(queue.size());
        }
        progress.add_pending(queue.size());
        std::vector<std::thread> threads;
        for (auto& slot : slots) {
            threads.emplace_back([&, s = slot.get()] {
                bool first = true;
                for (;;) {
                    const RunSpec* next = nullptr;
                    {
                        std::lock_guard lock(mutex);
                        if (queue.empty() || g_stop.load() || fatal || !caps_ok) return;
                        next = queue.front();
                        queue.pop_front();
                    }
                    try {
                        run_one(*s, *next, first);
                    } catch (const std::exception& e) {
                        std::lock_guard lock(mutex);
                        if (!fatal) fatal = e.what();
                        return;
                    }
                    first = false;
                }
            });
        }
        for (auto& t : threads) t.join();
        if (!caps_ok) break;
    }
    progress.close();
    store.end_session(session_id, unix_now());
    summary.caps_restored = caps_ok;
    if (guardian && caps_ok) guardian->done();
    summary.counts = store.status_counts();
    summary.stopped_by_signal = stop_signal();
    if (fatal) throw Error(ErrorCategory::kIo, fmt::format("run: stopped: {}", *fatal));
    return summary;
}

}  // namespace joulebench::runner
