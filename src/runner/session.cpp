#include "runner/session.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/file.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "environments/bare_environment.hpp"
#include "environments/gpu_visibility.hpp"
#include "joulebench/error.hpp"
#include "joulebench/units.hpp"
#include "runner/host_cpu.hpp"
#include "runner/measurement.hpp"
#include "runner/rest.hpp"

namespace joulebench::runner {

namespace fs = std::filesystem;

StoreLock::StoreLock(const fs::path& db) {
    // Keyed on the store itself, not on the path as typed: a symlink to it, or a path through
    // "x/..", names the same lock.
    std::error_code ec;
    fs::path real = fs::weakly_canonical(fs::absolute(db, ec), ec);
    if (ec || real.empty()) real = db;
    const fs::path lock_path(real.string() + ".lock");
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

StoreLock::~StoreLock() {
    ::close(m_fd);
}

PreparedEnvironments::~PreparedEnvironments() {
    for (auto it = m_prepared.rbegin(); it != m_prepared.rend(); ++it) (*it)->tear_down();
}

void PreparedEnvironments::prepare(const Preflight& pf) {
    for (const auto& [name, env] : pf.environments) {
        env->prepare();
        m_prepared.push_back(env.get());
        if (env->measures_itself() && (!pf.gpu_caps.empty() || !pf.cpu_caps.empty())) {
            std::vector<int> remote_gpus;
            for (const auto& index : pf.slots)
                if (index) remote_gpus.push_back(*index);
            env->check_caps(pf.gpu_caps, pf.cpu_caps, remote_gpus);
        }
    }
}

namespace {

unsigned node_cpus() {
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<unsigned>(n) : std::thread::hardware_concurrency();
}

}  // namespace

void place_session(SessionInfo& session, const std::optional<SlurmJob>& job) {
    utsname u{};
    if (::uname(&u) == 0) session.node = u.nodename;
    if (!job) return;
    if (!job->node.empty()) session.node = job->node;
    session.slurm_job_id = job->job_id;
    session.slurm_array_job_id = job->array_job_id;
    session.slurm_array_task_id = job->array_task_id;
    nlohmann::ordered_json a;
    a["job"] = job->display_id();
    if (job->step_id) a["step"] = *job->step_id;
    a["node_cpus"] = node_cpus();
    a["job_cpus"] = job->cpus_on_node ? nlohmann::ordered_json(*job->cpus_on_node) : nullptr;
    a["whole_node"] = !node_sharing(job).has_value();
    a["gpus"] = job->gpu_source.empty() ? nlohmann::ordered_json(nullptr)
                                        : nlohmann::ordered_json(job->gpu_source);
    session.allocation_json = a.dump();
}

std::optional<std::string> node_sharing(const std::optional<SlurmJob>& job) {
    if (!job) return std::nullopt;
    const unsigned node = node_cpus();
    if (!job->cpus_on_node) {
        return fmt::format("{} does not say how many of the node's {} CPUs it holds "
                           "(no SLURM_CPUS_ON_NODE)",
                           job->label(), node);
    }
    if (*job->cpus_on_node >= node) return std::nullopt;
    return fmt::format("{} holds {} of the node's {} CPUs (SLURM_CPUS_ON_NODE)", job->label(),
                       *job->cpus_on_node, node);
}

void finish_slots(const Preflight& preflight, const std::vector<std::unique_ptr<Slot>>& slots,
                  Store& store, std::int64_t session_id, std::chrono::milliseconds interval,
                  Progress& progress) {
    for (const auto& [name, env] : preflight.environments) {
        for (const auto& slot : slots) {
            const bool remote = env->measures_itself();
            PhaseSampler phases(remote && env->host_measures_cpu() ? host_cpu_sensors(slot->sensors)
                                : remote                           ? std::vector<Sensor*>{}
                                                                   : slot->sensors.pointers(),
                                interval);
            std::vector<Warning> warnings;
            env->finish_slot(slot->gpu, phases, warnings);
            for (const auto& w : warnings) progress.message(fmt::format("warning: {}: {}", name, w.text));
            try {
                store.add_session_phases(session_id, name, slot->gpu, phases.results());
            } catch (const std::exception& e) {
                progress.message(fmt::format("warning: {}: record the session's phases: {}", name,
                                             e.what()));
            }
        }
    }
}

std::string host_json(const Preflight& pf) {
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
    for (const auto& g : pf.host_gpus) {
        list.push_back({{"index", g.index},
                        {"name", g.name},
                        {"uuid", g.uuid},
                        {"pci_bus_id", g.pci_bus_id}});
    }
    host["gpus"] = list;
    if (!pf.gpu_driver.empty()) host["gpu_driver"] = pf.gpu_driver;
    auto& described = host["environments"] = nlohmann::json::object();
    for (const auto& [name, env] : pf.environments) {
        auto d = nlohmann::json::parse(env->describe(), nullptr, false);
        described[name] = d.is_discarded() ? nlohmann::json::object() : d;
    }
    return host.dump();
}

namespace {

// --new: the old store goes aside, and its logs with it (run ids are stable: the new runs'
// stdout and stderr would overwrite the old runs' otherwise). The logs folder takes the same
// suffix: DB.replaced-STAMP and DB.replaced-STAMP.logs (or LOGS.replaced-STAMP).
void set_aside_store_and_logs(const fs::path& db, const fs::path& logs_dir, std::FILE* messages) {
    const auto moved = Store::set_aside(db);
    std::error_code ec;
    if (!moved || !fs::exists(logs_dir, ec)) {
        if (moved) fmt::print(messages, "joulebench run: the old store was moved to {}\n", moved->string());
        return;
    }
    // The default folder follows its store (so the moved store still finds its logs); a folder
    // given with logs_dir takes the store's new suffix.
    fs::path logs_target = logs_dir;
    if (logs_dir == fs::path(db.string() + ".logs")) {
        logs_target = fs::path(moved->string() + ".logs");
    } else {
        logs_target += moved->string().substr(db.string().size());
    }
    fs::rename(logs_dir, logs_target, ec);
    if (ec) {
        throw Error(ErrorCategory::kIo,
                    fmt::format("run: --new: the old store was moved to {}, but its logs {} could not be "
                                "moved to {}: {}",
                                moved->string(), logs_dir.string(), logs_target.string(), ec.message()),
                    "move the logs folder aside by hand before running again");
    }
    fmt::print(messages, "joulebench run: the old store was moved to {} (its logs to {})\n", moved->string(),
               logs_target.string());
}

}  // namespace

std::unique_ptr<Store> open_store(const ExperimentSpec& spec, const RunnerOptions& options,
                                  const Plan& plan, const fs::path& logs_dir,
                                  std::vector<std::string>& interrupted, std::FILE* messages) {
    if (options.new_store) set_aside_store_and_logs(options.db, logs_dir, messages);
    auto store = std::make_unique<Store>(options.db, Store::Mode::kCreate);
    try {
        store->record_experiment(experiment_record(spec));
    } catch (const ExperimentChangedError& e) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("run: {} holds the results of a different experiment file than {} "
                                "(the file changed "
                                "since the store was created): {}",
                                options.db.string(), options.experiment_file.string(), e.what()),
                    "run again with --new to move the old store aside and start afresh, or give "
                    "another --db");
    }
    if (plan.shard && plan.shard->count > 1) {
        // A store of another shard (or dealt by an older joulebench by plan position) holds runs
        // this shard does not: adding this shard's runs would mix two shards in one store.
        std::set<std::string> ours;
        for (const auto& r : plan.runs) ours.insert(r.run_id);
        std::size_t foreign = 0;
        for (const auto& r : store->runs()) foreign += ours.count(r.run_id) == 0 ? 1 : 0;
        if (foreign > 0) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("run: {} holds {} run(s) that are not in shard {}/{} of the "
                                    "plan: it was run as another shard (or sharded by a joulebench "
                                    "before schema 4, which dealt runs by plan position)",
                                    options.db.string(), foreign, plan.shard->index,
                                    plan.shard->count),
                        "give each shard its own store (--db), or finish an old shard store with "
                        "the joulebench that began it");
        }
    }
    interrupted = store->mark_stale_running_interrupted();
    store->add_planned_runs(plan.runs);
    return store;
}

std::vector<std::unique_ptr<Slot>> make_slots(const Preflight& pf, SensorFactory& sensors) {
    std::vector<std::unique_ptr<Slot>> slots;
    for (const auto& index : pf.slots) {
        auto slot = std::make_unique<Slot>();
        slot->number = slots.size();
        slot->gpu = index;
        slot->sensors = sensors.probe(index);
        if (slot->sensors.selection_error) throw *slot->sensors.selection_error;
        for (const auto& d : pf.slot_gpus) {
            if (!index || d.index == *index) slot->cap_gpus.push_back(d);
            if (index && d.index == *index) slot->device = d;
        }
        slots.push_back(std::move(slot));
    }
    return slots;
}

void measure_idle_baselines(std::vector<std::unique_ptr<Slot>>& slots, Store& store,
                            std::int64_t session_id, std::chrono::milliseconds duration,
                            const std::atomic<bool>& stop, Progress& progress) {
    std::vector<std::thread> threads;
    for (auto& slot : slots) {
        threads.emplace_back([&, s = slot.get()] {
            const double started = unix_now();
            const auto [power, temp] = observe_idle(*s, duration, stop);
            s->idle_power_w = power;
            s->idle_temp_c = temp;
            IdleBaselineRecord rec;
            rec.session_id = session_id;
            rec.domain = s->gpu ? fmt::format("gpu{}", *s->gpu) : "total";
            rec.started_at = started;
            rec.duration_s = std::chrono::duration<double>(duration).count();
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

void warm_up(const ExperimentSpec& spec, const RunnerOptions& options, const Preflight& pf,
             const std::vector<std::unique_ptr<Slot>>& slots, const std::atomic<bool>& stop,
             Progress& progress) {
    using environments::InstanceResult;
    if (spec.warmup.kind == WarmupSpec::Kind::kDuration) {
        progress.message(fmt::format("joulebench run: warm-up: waiting {}",
                                     format_duration_ms(spec.warmup.duration)));
        interruptible_wait(spec.warmup.duration, stop);
        return;
    }
    if (spec.warmup.kind != WarmupSpec::Kind::kCommand) return;
    progress.message(
        fmt::format("joulebench run: warm-up: {}", fmt::join(spec.warmup.command, " ")));
    const auto log = [&](std::size_t i, const char* stream) {
        return pf.logs_dir / fmt::format("warmup-slot{}.{}", i, stream);
    };
    std::vector<InstanceResult> results(slots.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < slots.size(); ++i) {
        threads.emplace_back([&, i] {
            environments::WorkloadInstance inst;
            inst.run_id = "warmup";
            inst.command = spec.warmup.command;
            inst.gpu = slots[i]->gpu;
            inst.gpu_device = slots[i]->device;
            for (auto& kv : environments::gpu_visibility_env(inst.gpu, inst.gpu_device)) {
                inst.env.push_back(std::move(kv));
            }
            inst.env.emplace_back("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
            inst.stdout_file = log(i, "stdout");
            inst.stderr_file = log(i, "stderr");
            inst.stop = &stop;
            inst.kill_grace = options.kill_grace;
            results[i] = environments::BareEnvironment(EnvironmentSpec{}).execute(inst, nullptr);
        });
    }
    for (auto& t : threads) t.join();
    for (std::size_t i = 0; i < results.size(); ++i) {
        if (results[i].end == InstanceResult::End::kExited && results[i].exit_code == 0) continue;
        if (stop.load()) break;
        throw Error(ErrorCategory::kIo,
                    fmt::format("run: {}warm-up {} failed (exit status {}){}",
                                to_string(spec.warmup.where), fmt::join(spec.warmup.command, " "),
                                results[i].exit_code,
                                results[i].start_error.empty() ? "" : ": " + results[i].start_error),
                    fmt::format("see {}", log(i, "stderr").string()));
    }
}

}  // namespace joulebench::runner
