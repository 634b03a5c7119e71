// The runner's dependencies on a real machine (dependencies.hpp): the environments of
// src/environments, every vendor's GPUs (sensors/gpu_inventory.hpp) and powercap packages, probe_all, the journal in the state folder and
// the guardian process.

#include <fmt/format.h>
#include <unistd.h>

#include <mutex>
#include <optional>

#include "capping/gpu_capper.hpp"
#include "capping/guardian.hpp"
#include "capping/powercap_capper.hpp"
#include "environments/factory.hpp"
#include "joulebench/error.hpp"
#include "runner/dependencies.hpp"
#include "runner/runner.hpp"
#include "sensors/gpu_inventory.hpp"

namespace joulebench::runner {

namespace {

namespace fs = std::filesystem;

class MachineEnvironments final : public EnvironmentFactory {
public:
    std::unique_ptr<environments::Environment> make(const EnvironmentSpec& spec) override {
        return environments::make_environment(spec);
    }
};

// The GPU backends (NVML, ROCm SMI, hwmon) are opened on the first question about GPUs, once;
// powercap zones are read when asked.
class MachineCappers final : public CapperRegistry {
public:
    explicit MachineCappers(fs::path powercap_root) : m_powercap_root(std::move(powercap_root)) {}

    std::vector<GpuDevice> gpus(const std::optional<std::vector<int>>& indices) override {
        const GpuMachine& machine = gpu_machine();
        if (machine.gpus().empty()) {
            throw Error(ErrorCategory::kNotFound,
                        fmt::format("run: no GPU found here: {}; {}", machine.nvml_failure().empty()
                                                                          ? "nvml: no GPUs"
                                                                          : machine.nvml_failure(),
                                    machine.rocm_failure().empty() ? "rocm: no GPUs"
                                                                   : machine.rocm_failure()),
                        machine.nvml_error() && !machine.nvml_error()->hint().empty()
                            ? machine.nvml_error()->hint()
                            : std::string("`joulebench sensors -v` says why"));
        }
        std::vector<GpuDevice> out;
        for (const auto& e : machine.select(indices ? nvml::GpuSelection::list(*indices)
                                                    : nvml::GpuSelection::all())) {
            out.push_back(e.id);
        }
        return out;
    }

    std::string gpu_driver() override {
        std::lock_guard lock(m_mutex);
        return m_machine && m_machine->nvml() ? m_machine->nvml()->driver_version() : std::string();
    }

    std::string gpu_scope() override {
        const auto& nvml = gpu_machine().nvml();
        const auto& a = nvml ? nvml->allocation() : std::nullopt;
        return a ? fmt::format("{} holds {}", a->job, a->describe()) : std::string();
    }

    std::unique_ptr<PowerCapper> gpu_capper(const GpuDevice& gpu) override {
        const GpuMachine& machine = gpu_machine();
        for (const auto& e : machine.gpus()) {
            if (e.id.index != gpu.index) continue;
            if (e.nvml && machine.nvml()) {
                machine.nvml()->check_held(e.nvml->index(), fmt::format("cap GPU {}", gpu.index));
            }
            return capping::open_gpu_capper(e);
        }
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("run: cap GPU {}: no such GPU here", gpu.index));
    }

    std::vector<std::unique_ptr<PowerCapper>> cpu_cappers(std::vector<std::string>& skipped) override {
        std::vector<std::unique_ptr<PowerCapper>> out;
        for (auto& c : capping::powercap_package_cappers(m_powercap_root, skipped)) {
            out.push_back(std::move(c));
        }
        return out;
    }

    [[nodiscard]] std::string cpu_cap_source() const override { return m_powercap_root.string(); }

    capping::RestoreReport restore_leftovers(const capping::CapJournal& journal) noexcept override {
        capping::CapperFactory factory;
        return capping::restore_journal(journal, factory, {});
    }

private:
    const GpuMachine& gpu_machine() {
        std::lock_guard lock(m_mutex);
        if (!m_machine) {
            GpuMachineOptions options;
            options.hwmon_root = ProbeOptions::default_hwmon_root();
            m_machine.emplace(GpuMachine::open(options));
        }
        return *m_machine;
    }

    fs::path m_powercap_root;
    std::mutex m_mutex;  // guards the first open of the GPU backends (slots ask from their threads)
    std::optional<GpuMachine> m_machine;
};

class MachineSensors final : public SensorFactory {
public:
    explicit MachineSensors(fs::path powercap_root) : m_powercap_root(std::move(powercap_root)) {}

    SensorSet probe(std::optional<int> gpu) override {
        ProbeOptions probe;
        probe.powercap_root = m_powercap_root;
        probe.nvml.gpus = gpu ? nvml::GpuSelection::list({*gpu}) : nvml::GpuSelection::all();
        return probe_all(probe);
    }

private:
    fs::path m_powercap_root;
};

class Guardian final : public CapGuard {
public:
    explicit Guardian(capping::GuardianHandle handle) : m_handle(std::move(handle)) {}
    void done() noexcept override { m_handle.done(); }

private:
    capping::GuardianHandle m_handle;
};

}  // namespace

RunnerDependencies production_dependencies() {
    const fs::path powercap_root = ProbeOptions::default_powercap_root();
    RunnerDependencies d;
    d.environments = std::make_shared<MachineEnvironments>();
    d.cappers = std::make_shared<MachineCappers>(powercap_root);
    d.sensors = std::make_shared<MachineSensors>(powercap_root);
    d.journal = [] { return capping::CapJournal::open_default(); };  // throws naming the folder
    d.guard = [](bool gpu_caps) -> std::unique_ptr<CapGuard> {
        capping::GuardianOptions options;
        options.executable = capping::self_executable();
        options.nvml = gpu_caps;
        return std::make_unique<Guardian>(capping::GuardianHandle::spawn(options));
    };
    d.stop = &stop_requested();
    d.stop_signal = [] { return stop_signal(); };
    d.arm_stop = [] { install_stop_handlers(); };
    d.progress = stderr;
    d.terminal = ::isatty(STDERR_FILENO) == 1;
    d.slurm_job = current_slurm_job();
    return d;
}

}  // namespace joulebench::runner
