#pragma once
// The `vm` environment (docs/vm.md): joulebench boots a QEMU guest per GPU slot (boot = "once")
// or per run (boot = "per-run"), runs the workload in it over ssh exactly as the ssh environment
// does (an SshEnvironment pointed at the guest's forwarded port, the run measured by
// `joulebench measure --json -` inside the guest), and stops it. Boot and shutdown are phases of
// their own ("vm-boot", "vm-shutdown"), never inside a run. joulebench copies its own binary into
// the guest, so a guest needs only glibc and sshd. The host's CPU package and DRAM are measured
// by the runner (host_measures_cpu()), the guest's QEMU process given for CPU-time sharing.
// QEMU is started directly (argv), cannot outlive joulebench (qemu_process.hpp), and its serial
// console is kept beside the run's logs.

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "environments/environment.hpp"

namespace joulebench::environments {

class QemuProcess;
class SshEnvironment;

class VmEnvironment final : public Environment {
public:
    explicit VmEnvironment(EnvironmentSpec spec);
    ~VmEnvironment() override;

    [[nodiscard]] const EnvironmentSpec& spec() const override { return m_spec; }

    /// Checks, on this machine, what a boot needs: QEMU on PATH, the image, kernel, initrd,
    /// identity file and shared folders readable, /dev/kvm usable when accel = "kvm". Throws
    /// Error "run: FILE:LINE: environment 'E': ..." (the guest is not booted here: a workload
    /// missing in the guest is a failed run).
    void validate(const WorkloadSpec& workload) const override;
    /// Finds this joulebench's own binary and its content hash (the name of its copy in guests),
    /// and makes a copy without debug information to send (objcopy --strip-debug) when it can.
    void prepare() override;
    [[nodiscard]] bool measures_itself() const override { return true; }
    [[nodiscard]] bool host_measures_cpu() const override { return true; }
    [[nodiscard]] std::optional<pid_t> host_process(
        const WorkloadInstance& instance) const override;
    /// One address of `gpus` per slot, in slot order; none when `gpus` is empty.
    void assign_slots(const std::vector<std::optional<int>>& slots) override;
    /// {"type":"vm","image":..,"accel":..,"cpus":..,"memory_mib":..,"boot":..,"gpus":[..]}
    [[nodiscard]] std::string describe() const override;

    /// Boots the slot's guest as phase "vm-boot" when it has none (boot = "once": its first
    /// run; "per-run": every run). A guest that does not answer ssh within boot_timeout is
    /// killed and the Error names it with the tail of its console log; with boot = "once" the
    /// slot's later runs fail at once with the same message.
    void begin_instance(const WorkloadInstance& instance, PhaseRecorder& phases) override;
    /// boot = "per-run": stops the guest as phase "vm-shutdown".
    void end_instance(const WorkloadInstance& instance, PhaseRecorder& phases,
                      std::vector<Warning>& warnings) noexcept override;
    void finish_slot(std::optional<int> gpu, PhaseRecorder& phases,
                     std::vector<Warning>& warnings) noexcept override;
    /// Runs the instance in the slot's guest over ssh. The guest sees its one GPU as GPU 0
    /// (`--gpus 0`, CUDA_VISIBLE_DEVICES=0), or none without `gpus`.
    InstanceResult execute(const WorkloadInstance& instance, InstanceObserver* observer) override;
    /// Stops every guest still running (boot = "once"): not a phase of any run.
    void tear_down() noexcept override;

    /// How long a guest is given to stop by itself (persistent: `sudo -n poweroff` in the
    /// guest) before QEMU gets SIGTERM, and SIGTERM before SIGKILL.
    static constexpr std::chrono::seconds kPoweroffWait{60};
    static constexpr std::chrono::seconds kTerminateGrace{10};

private:
    struct Guest;
    [[nodiscard]] std::string where() const;
    [[nodiscard]] int slot_key(const WorkloadInstance& instance) const;
    void boot(Guest& guest, const WorkloadInstance& instance);
    void start_qemu(Guest& guest, const WorkloadInstance& instance, const std::string& tag);
    void wait_for_ssh(Guest& guest, const WorkloadInstance& instance);
    void install_joulebench(Guest& guest) const;
    void mount_shares(const Guest& guest) const;
    void stop(Guest& guest) noexcept;
    /// Shuts the guest of slot `key` down (if it runs) as the phase "vm-shutdown".
    void shut_down(int key, PhaseRecorder& phases, std::vector<Warning>& warnings) noexcept;
    [[nodiscard]] std::string boot_failure(const Guest& guest, const std::string& why) const;

    EnvironmentSpec m_spec;
    std::filesystem::path m_self;           ///< this joulebench binary, copied into guests
    std::string m_remote_path;              ///< where it is copied: ~/.joulebench/joulebench-HASH
    std::map<int, std::string> m_slot_gpu;  ///< slot's GPU index (-1: none) -> PCI address
    mutable std::mutex m_mutex;
    std::map<int, std::unique_ptr<Guest>> m_guests;  ///< by slot_key
    unsigned m_boots = 0;
};

}  // namespace joulebench::environments
