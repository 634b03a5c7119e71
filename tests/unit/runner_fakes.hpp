#pragma once
// Fakes of the runner's dependencies (src/runner/dependencies.hpp): a machine with GPUs whose
// energy counters advance only while a fake workload runs, power caps kept in memory, and an
// environment that runs scripted workloads. Everything they do is written to one event log, in
// order, so that tests can assert the sequence cap, run, restore without any real device.
//
// A workload's command names its script: {"ok"} ends with 0, {"fail"} with 1, {"fail-once"}
// fails its first attempt and then succeeds, {"hang"} runs until the stop flag is set,
// {"hang-first"} hangs in the first run that executes it (first attempt), {"timeout"} ends as timed out, {"meet"} waits (at most 20 s) until a second "meet" run has
// started too. Each run adds `gpu_joules` to its slot's GPU counter and `package_joules` to the
// machine's CPU package counter while it runs.

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "capping/cap_journal.hpp"
#include "environments/environment.hpp"
#include "joulebench/error.hpp"
#include "joulebench/power_capper.hpp"
#include "joulebench/sensor.hpp"
#include "joulebench/units.hpp"
#include "runner/dependencies.hpp"

namespace joulebench::test {

/// What happened, in order, across threads.
class EventLog {
public:
    void add(std::string event) {
        std::lock_guard lock(m_mutex);
        m_events.push_back(std::move(event));
    }
    [[nodiscard]] std::vector<std::string> events() const {
        std::lock_guard lock(m_mutex);
        return m_events;
    }
    /// Only the events starting with one of `prefixes`, in order.
    [[nodiscard]] std::vector<std::string> only(const std::vector<std::string>& prefixes) const {
        std::vector<std::string> out;
        for (const auto& e : events()) {
            for (const auto& p : prefixes) {
                if (e.rfind(p, 0) == 0) {
                    out.push_back(e);
                    break;
                }
            }
        }
        return out;
    }

private:
    mutable std::mutex m_mutex;
    std::vector<std::string> m_events;
};

/// The fake machine: GPUs with power limits and energy counters, one CPU package.
class FakeMachine {
public:
    explicit FakeMachine(int gpus) : m_gpus(gpus) {
        for (int i = 0; i < gpus; ++i) m_limit_w[gpu_key(i)] = 400.0;
        m_limit_w["package0"] = 200.0;
    }
    static std::string gpu_key(int gpu) { return fmt::format("GPU-fake-{}", gpu); }

    [[nodiscard]] int gpus() const { return m_gpus; }
    EventLog log;
    double gpu_joules = 10.0;
    double package_joules = 5.0;
    /// When > 0, a run adds this many joules per watt of its GPU's limit instead of gpu_joules
    /// (a GPU that draws what its cap allows).
    double gpu_joules_per_cap_watt = 0.0;
    /// Writes of these values (key, watts) throw (a device that refuses a cap).
    std::set<std::pair<std::string, double>> refuse;

    [[nodiscard]] double limit(const std::string& key) const {
        std::lock_guard lock(m_mutex);
        return m_limit_w.at(key);
    }
    void set_limit(const std::string& key, double watts) {
        {
            std::lock_guard lock(m_mutex);
            if (refuse.count({key, watts}) != 0) {
                throw Error(ErrorCategory::kIo,
                            fmt::format("fake: set {} to {} W: refused", key, watts));
            }
            m_limit_w[key] = watts;
        }
        log.add(fmt::format("set {} {}", key, watts));
    }
    [[nodiscard]] double energy(const std::string& key) const {
        std::lock_guard lock(m_mutex);
        const auto it = m_energy_j.find(key);
        return it == m_energy_j.end() ? 0.0 : it->second;
    }
    void add_energy(const std::string& key, double joules) {
        std::lock_guard lock(m_mutex);
        m_energy_j[key] += joules;
    }
    /// How many times `run_id` was executed so far, this one included.
    int attempt(const std::string& run_id) {
        std::lock_guard lock(m_mutex);
        return ++m_attempts[run_id];
    }
    /// Whether `run_id` is the first run that asked (for "hang-first").
    bool first_run(const std::string& run_id) {
        std::lock_guard lock(m_mutex);
        if (m_first_run.empty()) m_first_run = run_id;
        return m_first_run == run_id;
    }
    /// "meet": returns once a second "meet" run has arrived too (true), or after 20 s (false).
    bool meet() {
        std::unique_lock lock(m_mutex);
        ++m_arrived;
        m_met.notify_all();
        return m_met.wait_for(lock, std::chrono::seconds(20), [&] { return m_arrived >= 2; });
    }

private:
    int m_gpus;
    mutable std::mutex m_mutex;
    std::map<std::string, double> m_limit_w;
    std::map<std::string, double> m_energy_j;
    std::map<std::string, int> m_attempts;
    int m_arrived = 0;
    std::string m_first_run;
    std::condition_variable m_met;
};

/// A sensor reading a counter of the fake machine.
class FakeSensor final : public Sensor {
public:
    FakeSensor(const FakeMachine& machine, std::string key, SensorInfo info)
        : m_machine(machine), m_key(std::move(key)), m_info(std::move(info)) {}
    [[nodiscard]] const SensorInfo& info() const override { return m_info; }
    std::optional<EnergySample> sample() noexcept override {
        return EnergySample{Clock::now(), Joules(m_machine.energy(m_key))};
    }
    [[nodiscard]] SensorHealth health() const override { return {}; }

private:
    const FakeMachine& m_machine;
    std::string m_key;
    SensorInfo m_info;
};

class FakeSensors final : public runner::SensorFactory {
public:
    explicit FakeSensors(const FakeMachine& machine) : m_machine(machine) {}
    SensorSet probe(std::optional<int> gpu) override {
        SensorSet set;
        for (int i = 0; i < m_machine.gpus(); ++i) {
            if (gpu && *gpu != i) continue;
            SensorInfo info;
            info.id = fmt::format("gpu{}", i);
            info.kind = DomainKind::kGpu;
            info.index = i;
            info.backend = "fake";
            info.name = "Fake GPU";
            set.sensors.push_back(
                std::make_unique<FakeSensor>(m_machine, FakeMachine::gpu_key(i), info));
        }
        SensorInfo cpu;
        cpu.id = "package0";
        cpu.kind = DomainKind::kPackage;
        cpu.index = 0;
        cpu.backend = "fake";
        cpu.name = "package-0";
        set.sensors.push_back(std::make_unique<FakeSensor>(m_machine, "package0", cpu));
        return set;
    }

private:
    const FakeMachine& m_machine;
};

/// A power capper of the fake machine: range 100..400 W for GPUs, 10..250 W for the package.
class FakeCapper final : public PowerCapper {
public:
    FakeCapper(FakeMachine& machine, CapDeviceInfo info, CapRange range)
        : m_machine(machine), m_info(std::move(info)), m_range(range) {}
    [[nodiscard]] const CapDeviceInfo& info() const override { return m_info; }
    [[nodiscard]] Watts current_limit() const override {
        return Watts(m_machine.limit(m_info.key));
    }
    [[nodiscard]] Watts enforced_limit() const override { return current_limit(); }
    [[nodiscard]] CapRange constraints() const override { return m_range; }
    [[nodiscard]] std::optional<Watts> default_limit() const noexcept override { return {}; }
    void set_limit(Watts limit) override { m_machine.set_limit(m_info.key, limit.value()); }
    [[nodiscard]] Watts tolerance() const override { return Watts(0.001); }

private:
    FakeMachine& m_machine;
    CapDeviceInfo m_info;
    CapRange m_range;
};

class FakeCappers final : public runner::CapperRegistry {
public:
    explicit FakeCappers(FakeMachine& machine) : m_machine(machine) {}
    std::vector<runner::GpuDevice> gpus(const std::optional<std::vector<int>>& indices) override {
        std::vector<runner::GpuDevice> out;
        const auto device = [](int i) {
            runner::GpuDevice d;  // an NVIDIA GPU, its vendor index its index
            d.index = i;
            d.name = "Fake GPU";
            d.uuid = FakeMachine::gpu_key(i);
            d.pci_bus_id = fmt::format("00000000:{:02x}:00.0", i + 1);
            return d;
        };
        if (!indices) {
            for (int i = 0; i < m_machine.gpus(); ++i) out.push_back(device(i));
            return out;
        }
        for (const int i : *indices) {
            if (i < 0 || i >= m_machine.gpus()) {
                throw Error(
                    ErrorCategory::kInvalidArgument,
                    fmt::format("GPU {} does not exist: {} GPU(s) here", i, m_machine.gpus()));
            }
            out.push_back(device(i));
        }
        return out;
    }
    std::string gpu_driver() override { return "fake-1.0"; }
    std::unique_ptr<PowerCapper> gpu_capper(const runner::GpuDevice& gpu) override {
        CapDeviceInfo info;
        info.target = CapTarget::kGpu;
        info.index = gpu.index;
        info.id = fmt::format("gpu{}", gpu.index);
        info.key = gpu.uuid;
        info.backend = "nvml";  // the journal knows only real backends' entries
        info.source = gpu.uuid;
        info.name = gpu.name;
        info.label = fmt::format("GPU {} (Fake GPU)", gpu.index);
        return std::make_unique<FakeCapper>(m_machine, info, CapRange{Watts(100), Watts(400)});
    }
    std::vector<std::unique_ptr<PowerCapper>> cpu_cappers(std::vector<std::string>&) override {
        CapDeviceInfo info;
        info.target = CapTarget::kCpuPackage;
        info.index = 0;
        info.id = "package0";
        info.key = "package0";
        info.backend = "powercap";
        info.source = "package0";
        info.name = "package-0";
        info.label = "CPU package 0";
        std::vector<std::unique_ptr<PowerCapper>> out;
        out.push_back(
            std::make_unique<FakeCapper>(m_machine, info, CapRange{Watts(10), Watts(250)}));
        return out;
    }
    [[nodiscard]] std::string cpu_cap_source() const override { return "(fake)"; }
    capping::RestoreReport restore_leftovers(const capping::CapJournal& journal) noexcept override {
        capping::RestoreReport report;
        try {
            std::vector<std::string> problems;
            for (const auto& e : journal.list(&problems)) {
                m_machine.set_limit(e.key, e.original().value());
                journal.remove(e);
                report.restored.push_back(e.label);
            }
            for (auto& p : problems) report.failed.push_back(std::move(p));
        } catch (const std::exception& e) {
            report.failed.push_back(e.what());
        }
        return report;
    }

private:
    FakeMachine& m_machine;
};

/// Runs the scripted workloads (see the top of this file).
class FakeEnvironment final : public environments::Environment {
public:
    FakeEnvironment(EnvironmentSpec spec, FakeMachine& machine)
        : m_spec(std::move(spec)), m_machine(machine) {}

    [[nodiscard]] const EnvironmentSpec& spec() const override { return m_spec; }
    void validate(const WorkloadSpec& workload) const override {
        if (workload.command.front() == "missing") {
            throw Error(ErrorCategory::kNotFound,
                        fmt::format("run: {}workload '{}': command 'missing' not found",
                                    to_string(workload.where), workload.name));
        }
    }
    void prepare() override { m_machine.log.add("prepare " + m_spec.name); }
    void begin_instance(const environments::WorkloadInstance& inst,
                        environments::PhaseRecorder& phases) override {
        phases.phase("fake-start", [&] { m_machine.log.add("begin " + inst.run_id); });
    }
    void end_instance(const environments::WorkloadInstance& inst,
                      environments::PhaseRecorder& phases,
                      std::vector<Warning>&) noexcept override {
        try {
            phases.phase("fake-stop", [&] { m_machine.log.add("end " + inst.run_id); });
        } catch (...) {
        }
    }
    environments::InstanceResult execute(const environments::WorkloadInstance& inst,
                                         environments::InstanceObserver*) override;
    void tear_down() noexcept override { m_machine.log.add("tear down " + m_spec.name); }

private:
    EnvironmentSpec m_spec;
    FakeMachine& m_machine;
};

class FakeEnvironments final : public runner::EnvironmentFactory {
public:
    explicit FakeEnvironments(FakeMachine& machine) : m_machine(machine) {}
    std::unique_ptr<environments::Environment> make(const EnvironmentSpec& spec) override {
        return std::make_unique<FakeEnvironment>(spec, m_machine);
    }

private:
    FakeMachine& m_machine;
};

/// Counts done() calls.
class FakeGuard final : public runner::CapGuard {
public:
    explicit FakeGuard(std::atomic<int>& done) : m_done(done) {}
    void done() noexcept override { ++m_done; }

private:
    std::atomic<int>& m_done;
};

inline environments::InstanceResult FakeEnvironment::execute(
    const environments::WorkloadInstance& inst, environments::InstanceObserver*) {
    using End = environments::InstanceResult::End;
    std::string gpu = "-";
    for (const auto& [name, value] : inst.env) {
        if (name == "CUDA_VISIBLE_DEVICES") gpu = value;
    }
    const int gpu_index = gpu == "-" ? 0 : std::stoi(gpu);
    const std::string key = FakeMachine::gpu_key(gpu_index);
    const std::string cap =
        m_machine.gpus() > gpu_index ? fmt::format("{}", m_machine.limit(key)) : std::string("-");
    environments::InstanceResult r;
    r.start_time = Clock::now();
    r.started_at = unix_now();
    m_machine.log.add(fmt::format("execute {} gpu={} cap={}", inst.run_id, gpu, cap));
    const std::string script = inst.command.front();
    const int attempt = m_machine.attempt(inst.key());
    if (m_machine.gpus() > gpu_index) {
        m_machine.add_energy(key, m_machine.gpu_joules_per_cap_watt > 0.0
                                      ? m_machine.gpu_joules_per_cap_watt * m_machine.limit(key)
                                      : m_machine.gpu_joules);
    }
    m_machine.add_energy("package0", m_machine.package_joules);
    r.cpu_user_s = 0.01;
    if (script == "fail" || (script == "fail-once" && attempt == 1)) {
        r.exit_code = 1;
    } else if (script == "hang" ||
               (script == "hang-first" && attempt == 1 && m_machine.first_run(inst.run_id))) {
        while (!inst.stop->load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        r.end = End::kInterrupted;
        r.exit_code = 128 + 15;
        r.signal = 15;
    } else if (script == "signalled-at-stop") {
        // A batch system signals the workload too: it dies of SIGTERM before the environment
        // ends it, so the environment reports an exit, not an interruption.
        while (!inst.stop->load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        r.exit_code = 128 + 15;
        r.signal = 15;
    } else if (script == "timeout") {
        r.end = End::kTimedOut;
        r.exit_code = 128 + 9;
        r.signal = 9;
    } else if (script == "meet") {
        m_machine.log.add(fmt::format("{} {}", m_machine.meet() ? "met" : "alone", inst.run_id));
    }
    r.end_time = Clock::now();
    m_machine.log.add(fmt::format("done {} gpu={}", inst.run_id, gpu));
    return r;
}

}  // namespace joulebench::test
