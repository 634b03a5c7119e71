#include "environments/vm_environment.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/sha256.hpp"
#include "common/strings.hpp"
#include "environments/gpu_visibility.hpp"
#include "environments/qemu_command.hpp"
#include "environments/qemu_process.hpp"
#include "environments/ssh_environment.hpp"
#include "environments/ssh_remote.hpp"
#include "images/command_output.hpp"
#include "joulebench/error.hpp"
#include "measure/process.hpp"

namespace joulebench::environments {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr std::size_t kConsoleTailBytes = 2048;
constexpr int kPortAttempts = 5;
// How long a freshly started QEMU is watched for an early exit (a port taken meanwhile).
constexpr milliseconds kStartupWatch{1500};
constexpr seconds kSshProbeTimeout{15};
constexpr seconds kCopyTimeout{300};

std::string file_tail_text(const fs::path& file, std::size_t bytes) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return {};
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::size_t>(std::max<std::streamoff>(in.tellg(), 0));
    in.seekg(static_cast<std::streamoff>(size > bytes ? size - bytes : 0));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The console has escape sequences and carriage returns: keep printable text and lines.
    std::string out;
    for (const char c : text) {
        if (c == '\n' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f)) out += c;
    }
    return out;
}

// -name guest=MARKER is a QEMU option list: keep the marker to letters, digits, '-' and '_'.
std::string marker_word(std::string_view text) {
    std::string out;
    for (const char c : text) {
        out += std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' ? c : '_';
    }
    return out;
}

std::string content_hash(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw system_error(fmt::format("vm: read {}", file.string()), errno);
    Sha256 hash;
    std::vector<char> buffer(1U << 20U);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        hash.update(std::string_view(buffer.data(), static_cast<std::size_t>(in.gcount())));
    }
    const auto digest = hash.finish();
    return to_hex(digest.data(), 8);
}

// "~/x" as ssh reads its -i argument: below $HOME. QEMU and access(2) do not expand it.
fs::path expand_home(const std::string& path) {
    const char* home = std::getenv("HOME");
    if (path.rfind("~/", 0) == 0 && home != nullptr && *home != '\0') {
        return fs::path(home) / path.substr(2);
    }
    return path;
}

images::CommandOutput run_check(const std::vector<std::string>& argv, milliseconds timeout) {
    images::CommandOptions options;
    options.timeout = timeout;
    options.kill_group = true;
    options.drain_after_exit = milliseconds(2000);
    options.max_output = 1U << 20U;
    return images::run_command(argv, options);
}

}  // namespace

struct VmEnvironment::Guest {
    std::unique_ptr<QemuProcess> qemu;
    std::unique_ptr<SshEnvironment> ssh;  ///< set once the guest answered and has joulebench
    EnvironmentSpec ssh_spec;
    fs::path console;
    fs::path qemu_log;
    std::string gpu;      ///< the PCI address passed through ("" = none)
    std::string failure;  ///< boot = "once": why the guest of this slot did not boot
};

VmEnvironment::VmEnvironment(EnvironmentSpec spec) : m_spec(std::move(spec)) {}

VmEnvironment::~VmEnvironment() {
    tear_down();
}

std::string VmEnvironment::where() const {
    return fmt::format("run: {}environment '{}'", to_string(m_spec.where), m_spec.name);
}

int VmEnvironment::slot_key(const WorkloadInstance& instance) const {
    return instance.gpu.value_or(-1);
}

void VmEnvironment::validate(const WorkloadSpec& workload) const {
    (void)workload;
    const auto& vm = m_spec.vm;
    try {
        (void)process::resolve_command(vm.qemu);
    } catch (const Error& e) {
        throw Error(e.category(), fmt::format("{}: QEMU: {}", where(), e.what()),
                    "install qemu-system-x86 (apt-get install qemu-system-x86), or set qemu = "
                    "\"/path/to/qemu-system-x86_64\"");
    }
    auto readable = [&](const std::string& path, std::string_view key) {
        if (path.empty()) return;
        if (::access(expand_home(path).c_str(), R_OK) != 0) {
            throw system_error(fmt::format("{}: {} {}", where(), key, path), errno,
                               "paths are relative to the folder joulebench runs in");
        }
    };
    readable(m_spec.image, "image");
    readable(vm.kernel, "kernel");
    readable(vm.initrd, "initrd");
    readable(m_spec.identity_file, "identity_file");
    for (const auto& s : vm.share) {
        if (!fs::is_directory(s)) {
            throw Error(ErrorCategory::kNotFound,
                        fmt::format("{}: share '{}' is not a folder here", where(), s));
        }
    }
    if (vm.accel == EnvironmentSpec::Vm::Accel::kKvm) {
        const std::string why = kvm_unusable_reason();
        if (!why.empty()) {
            throw Error(ErrorCategory::kNotSupported,
                        fmt::format("{}: accel \"kvm\" needs /dev/kvm, which cannot be used: {}",
                                    where(), why),
                        "load kvm_intel or kvm_amd and give this user /dev/kvm (group kvm; see "
                        "docs/kvm-host.md), or set accel = \"tcg\" (emulation, much slower)");
        }
    }
    for (const auto& gpu : vm.gpus) {
        std::error_code ec;
        const fs::path driver =
            fs::read_symlink(fs::path("/sys/bus/pci/devices") / gpu / "driver", ec);
        if (ec || driver.filename() != "vfio-pci") {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("{}: gpus: {} is not bound to vfio-pci (driver: {})", where(),
                                    gpu, ec ? ec.message() : driver.filename().string()),
                        "bind it to vfio-pci before the run: see docs/kvm-host.md");
        }
    }
}

void VmEnvironment::prepare() {
    const fs::path self = fs::read_symlink("/proc/self/exe");
    const std::string hash = content_hash(self);
    m_remote_path = ".joulebench/joulebench-" + hash;
    // A build with debug information is over 100 MB, slow to copy into an emulated guest: a
    // copy without it is made once (objcopy, binutils); without objcopy the binary goes whole.
    m_self = self;
    const fs::path stripped = fs::temp_directory_path() / ("joulebench-guest-" + hash);
    if (fs::exists(stripped)) {
        m_self = stripped;
        return;
    }
    const fs::path part = stripped.string() + fmt::format(".{}.part", ::getpid());
    try {
        const auto r =
            run_check({"objcopy", "--strip-debug", self.string(), part.string()}, kCopyTimeout);
        std::error_code ec;
        if (r.exit_code == 0) fs::rename(part, stripped, ec);
        if (r.exit_code == 0 && !ec) m_self = stripped;
        fs::remove(part, ec);
    } catch (const Error&) {  // no objcopy: the whole binary
    }
}

void VmEnvironment::assign_slots(const std::vector<std::optional<int>>& slots) {
    const auto& gpus = m_spec.vm.gpus;
    if (gpus.empty()) return;
    const bool all_gpu_slots =
        std::all_of(slots.begin(), slots.end(), [](const auto& s) { return s.has_value(); });
    if (!all_gpu_slots || slots.size() != gpus.size()) {
        const std::size_t gpu_slots = all_gpu_slots ? slots.size() : 0;
        throw Error(
            ErrorCategory::kInvalidArgument,
            fmt::format("run: {}environment '{}': gpus lists {} GPU(s), but the "
                        "experiment has {} GPU slot(s)",
                        to_string(m_spec.vm.gpus_where), m_spec.name, gpus.size(), gpu_slots),
            "give one PCI address per GPU of [gpus] devices, in the same order");
    }
    for (std::size_t i = 0; i < slots.size(); ++i) m_slot_gpu[*slots[i]] = gpus[i];
}

std::optional<pid_t> VmEnvironment::host_process(const WorkloadInstance& instance) const {
    std::lock_guard lock(m_mutex);
    const auto it = m_guests.find(slot_key(instance));
    if (it == m_guests.end() || !it->second->qemu) return std::nullopt;
    return it->second->qemu->pid();
}

std::string VmEnvironment::describe() const {
    const auto& vm = m_spec.vm;
    nlohmann::ordered_json d;
    d["type"] = "vm";
    d["image"] = m_spec.image;
    if (!vm.kernel.empty()) d["kernel"] = vm.kernel;
    d["accel"] = vm.accel == EnvironmentSpec::Vm::Accel::kKvm ? "kvm" : "tcg";
    d["cpus"] = vm.cpus;
    d["memory_mib"] = vm.memory_mib;
    d["boot"] = vm.boot == EnvironmentSpec::Vm::Boot::kOnce ? "once" : "per-run";
    d["persistent"] = vm.persistent;
    d["gpus"] = vm.gpus;
    return d.dump();
}

std::string VmEnvironment::boot_failure(const Guest& guest, const std::string& why) const {
    std::string tail = file_tail_text(guest.console, kConsoleTailBytes);
    while (!tail.empty() && tail.back() == '\n') tail.pop_back();
    return fmt::format("vm: environment '{}': {} (console log {}){}", m_spec.name, why,
                       guest.console.string(),
                       tail.empty() ? ": empty" : "; its last lines:\n" + tail);
}

void VmEnvironment::start_qemu(Guest& guest, const WorkloadInstance& instance,
                               const std::string& tag) {
    const fs::path logs = instance.stdout_file.parent_path();
    std::error_code ec;
    fs::create_directories(logs, ec);
    guest.console = logs / (tag + ".console.log");
    guest.qemu_log = logs / (tag + ".qemu.log");
    QemuLaunch launch;
    launch.image = fs::absolute(expand_home(m_spec.image));
    launch.image_format = image_format(launch.image);
    if (!m_spec.vm.kernel.empty()) launch.kernel = fs::absolute(expand_home(m_spec.vm.kernel));
    if (!m_spec.vm.initrd.empty()) launch.initrd = fs::absolute(expand_home(m_spec.vm.initrd));
    launch.console = guest.console;
    launch.gpu = guest.gpu;
    for (std::size_t i = 0; i < m_spec.vm.share.size(); ++i) {
        launch.shares.emplace_back(fs::absolute(m_spec.vm.share[i]), fmt::format("jb{}", i));
    }
    launch.marker = marker_word(tag);
    for (int attempt = 1;; ++attempt) {
        launch.ssh_port = free_loopback_port();
        guest.qemu = std::make_unique<QemuProcess>(qemu_argv(m_spec, launch), guest.qemu_log);
        if (!guest.qemu->wait_for(kStartupWatch)) break;  // still running: booting
        const std::string said = last_line(file_tail_text(guest.qemu_log, kConsoleTailBytes));
        const int status = guest.qemu->exit_status().value_or(-1);
        guest.qemu.reset();
        // Another program took the port between free_loopback_port() and QEMU's bind.
        if (said.find("host forwarding") != std::string::npos && attempt < kPortAttempts) continue;
        throw Error(ErrorCategory::kIo,
                    boot_failure(guest, fmt::format("QEMU exited with status {} while the guest "
                                                    "booted{}",
                                                    status, said.empty() ? "" : ": " + said)));
    }
    guest.ssh_spec = EnvironmentSpec{};
    guest.ssh_spec.name = m_spec.name;
    guest.ssh_spec.type = EnvironmentType::kSsh;
    guest.ssh_spec.where = m_spec.where;
    guest.ssh_spec.host = "127.0.0.1";
    guest.ssh_spec.port = launch.ssh_port;
    guest.ssh_spec.user = m_spec.user;
    guest.ssh_spec.identity_file = m_spec.identity_file;
    guest.ssh_spec.remote_joulebench = m_remote_path;
    // The guest's host key is new at every boot of a throw-away overlay, and its port is
    // this boot's: nothing to remember it by.
    guest.ssh_spec.ssh_options = {"StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
                                  "ConnectTimeout=5"};
}

void VmEnvironment::wait_for_ssh(Guest& guest, const WorkloadInstance& instance) {
    const auto deadline = Clock::now() + m_spec.vm.boot_timeout;
    const SshEnvironment probe(guest.ssh_spec);
    const std::vector<std::string> argv = probe.ssh_argv("true");
    for (;;) {
        if (instance.stop != nullptr && instance.stop->load()) {
            throw Error(ErrorCategory::kIo,
                        fmt::format("vm: environment '{}': interrupted while the guest booted",
                                    m_spec.name));
        }
        if (const auto status = guest.qemu->exit_status()) {
            const std::string said = last_line(file_tail_text(guest.qemu_log, kConsoleTailBytes));
            throw Error(ErrorCategory::kIo,
                        boot_failure(guest, fmt::format("QEMU exited with status {} while the "
                                                        "guest booted{}",
                                                        *status, said.empty() ? "" : ": " + said)));
        }
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        if (left <= milliseconds(0)) {
            throw Error(
                ErrorCategory::kIo,
                boot_failure(guest, fmt::format("the guest did not answer ssh on "
                                                "127.0.0.1:{} within boot_timeout {}",
                                                *guest.ssh_spec.port,
                                                format_duration_ms(m_spec.vm.boot_timeout))));
        }
        const auto r = run_check(argv, std::min<milliseconds>(left, kSshProbeTimeout));
        if (r.exit_code == 0) return;
        guest.qemu->wait_for(std::min<milliseconds>(left, seconds(1)));
    }
}

void VmEnvironment::install_joulebench(Guest& guest) const {
    const SshEnvironment ssh(guest.ssh_spec);
    const std::string path = ssh::shell_quote(m_remote_path);
    if (run_check(ssh.ssh_argv("test -x " + path), kSshProbeTimeout).exit_code == 0) return;
    auto fail = [&](const std::string& step, const images::CommandOutput& r) {
        throw Error(
            ErrorCategory::kIo,
            fmt::format("vm: environment '{}': copy {} into the guest: {}: {}", m_spec.name,
                        m_self.string(), step, r.timed_out ? "timed out" : last_line(r.err)));
    };
    auto r = run_check(ssh.ssh_argv("mkdir -p .joulebench"), kSshProbeTimeout);
    if (r.exit_code != 0) fail("mkdir .joulebench", r);
    // The legacy scp protocol (-O) needs only scp in the guest, not an SFTP server.
    std::vector<std::string> scp{"scp", "-O", "-q", "-o", "BatchMode=yes"};
    for (const auto& o : guest.ssh_spec.ssh_options) {
        scp.emplace_back("-o");
        scp.push_back(o);
    }
    scp.insert(scp.end(), {"-o", "LogLevel=ERROR", "-P", std::to_string(*guest.ssh_spec.port)});
    if (!m_spec.identity_file.empty()) scp.insert(scp.end(), {"-i", m_spec.identity_file});
    scp.push_back(m_self.string());
    scp.push_back(fmt::format("{}127.0.0.1:{}.part", m_spec.user.empty() ? "" : m_spec.user + "@",
                              m_remote_path));
    r = run_check(scp, kCopyTimeout);
    if (r.exit_code != 0) fail("scp", r);
    r = run_check(ssh.ssh_argv(fmt::format("chmod 755 {0}.part && mv {0}.part {0}", path)),
                  kSshProbeTimeout);
    if (r.exit_code != 0) fail("chmod", r);
}

void VmEnvironment::mount_shares(const Guest& guest) const {
    const auto& share = m_spec.vm.share;
    if (share.empty()) return;
    // Each folder at the same relative path below the user's home, where ssh commands (and so
    // the workloads) start.
    std::string script;
    for (std::size_t i = 0; i < share.size(); ++i) {
        const std::string dir = ssh::shell_quote(share[i]);
        script += fmt::format(
            "{2}mkdir -p {1} && sudo -n mount -t 9p -o trans=virtio,version=9p2000.L,ro jb{0} {1}",
            i, dir, i == 0 ? "" : " && ");
    }
    const SshEnvironment ssh(guest.ssh_spec);
    const auto r = run_check(ssh.ssh_argv(script), kSshProbeTimeout);
    if (r.exit_code != 0) {
        throw Error(ErrorCategory::kIo,
                    fmt::format("vm: environment '{}': mount the shared folders in the guest: {}",
                                m_spec.name, r.timed_out ? "timed out" : last_line(r.err)),
                    "the guest needs 9p (Debian's linux-image-amd64 has it, the cloud kernel "
                    "does not) and passwordless sudo for its user: see docs/vm.md, \"share\"");
    }
}

void VmEnvironment::boot(Guest& guest, const WorkloadInstance& instance) {
    unsigned number = 0;
    {
        std::lock_guard lock(m_mutex);
        number = ++m_boots;
    }
    const int key = slot_key(instance);
    const std::string tag = fmt::format("vm-{}-{}-slot{}-boot{}", marker_word(m_spec.name),
                                        ::getpid(), key < 0 ? "0" : std::to_string(key), number);
    const auto it = m_slot_gpu.find(key);
    guest.gpu = it == m_slot_gpu.end() ? "" : it->second;
    try {
        start_qemu(guest, instance, tag);
        wait_for_ssh(guest, instance);
        install_joulebench(guest);
        mount_shares(guest);
        auto ssh_spec = guest.ssh_spec;
        guest.ssh = std::make_unique<SshEnvironment>(std::move(ssh_spec));
    } catch (const Error&) {
        if (guest.qemu) guest.qemu->terminate(kTerminateGrace);
        guest.qemu.reset();
        throw;
    }
}

void VmEnvironment::begin_instance(const WorkloadInstance& instance, PhaseRecorder& phases) {
    Guest* guest = nullptr;
    {
        std::lock_guard lock(m_mutex);
        auto& slot = m_guests[slot_key(instance)];
        if (!slot) slot = std::make_unique<Guest>();
        guest = slot.get();
    }
    if (!guest->failure.empty()) throw Error(ErrorCategory::kIo, guest->failure);
    if (guest->ssh) return;  // boot = "once": booted by an earlier run of this slot
    try {
        phases.phase("vm-boot", [&] { boot(*guest, instance); });
    } catch (const Error& e) {
        const bool stopped = instance.stop != nullptr && instance.stop->load();
        if (m_spec.vm.boot == EnvironmentSpec::Vm::Boot::kOnce && !stopped) {
            guest->failure = e.what();
        }
        throw;
    }
}

void VmEnvironment::end_instance(const WorkloadInstance& instance, PhaseRecorder& phases,
                                 std::vector<Warning>& warnings) noexcept {
    if (m_spec.vm.boot != EnvironmentSpec::Vm::Boot::kPerRun) return;
    shut_down(slot_key(instance), phases, warnings);
}

void VmEnvironment::finish_slot(std::optional<int> gpu, PhaseRecorder& phases,
                                std::vector<Warning>& warnings) noexcept {
    shut_down(gpu.value_or(-1), phases, warnings);
}

void VmEnvironment::shut_down(int key, PhaseRecorder& phases,
                              std::vector<Warning>& warnings) noexcept {
    std::unique_ptr<Guest> guest;
    {
        std::lock_guard lock(m_mutex);
        const auto it = m_guests.find(key);
        if (it == m_guests.end()) return;
        guest = std::move(it->second);
        m_guests.erase(it);
    }
    if (!guest->qemu) return;
    try {
        phases.phase("vm-shutdown", [&] { stop(*guest); });
    } catch (const std::exception& e) {
        warnings.push_back(
            make_warning(warning_code::kOther, fmt::format("vm: stop the guest: {}", e.what())));
    }
}

InstanceResult VmEnvironment::execute(const WorkloadInstance& instance,
                                      InstanceObserver* observer) {
    (void)observer;  // the workload runs in the guest
    Guest* guest = nullptr;
    {
        std::lock_guard lock(m_mutex);
        const auto it = m_guests.find(slot_key(instance));
        if (it != m_guests.end()) guest = it->second.get();
    }
    if (guest == nullptr || !guest->ssh) {
        InstanceResult r;
        r.end = InstanceResult::End::kNotStarted;
        r.exit_code = 1;
        r.start_error = fmt::format("vm: environment '{}': the guest is not running", m_spec.name);
        r.started_at = unix_now();
        r.start_time = r.end_time = Clock::now();
        return r;
    }
    WorkloadInstance in = instance;
    // The guest sees the slot's GPU only, as its GPU 0.
    in.gpu = guest->gpu.empty() ? std::nullopt : std::optional<int>(0);
    // Its variables are those of the GPU's vendor (an AMD GPU passed through gets
    // ROCR/HIP_VISIBLE_DEVICES=0), as for a container (gpu_visibility.hpp).
    if (in.gpu) set_only_device_env(in.env, instance.gpu_device);
    in.gpu_device.reset();
    InstanceResult result = guest->ssh->execute(in, nullptr);
    // What the guest's joulebench measured, it measured inside the guest.
    if (result.measured) {
        for (auto& d : result.measured->domains) d.measured_on = Location::kGuest;
    }
    return result;
}

void VmEnvironment::stop(Guest& guest) noexcept {
    if (!guest.qemu) return;
    if (m_spec.vm.persistent && guest.ssh) {
        // Its disk is kept: let the guest shut down cleanly when its user may.
        try {
            (void)run_check(guest.ssh->ssh_argv("sudo -n poweroff"), kSshProbeTimeout);
        } catch (...) {
        }
        guest.qemu->wait_for(kPoweroffWait);
    }
    // A throw-away overlay is discarded: QEMU ends on SIGTERM without the guest's shutdown.
    guest.qemu->terminate(kTerminateGrace);
    guest.ssh.reset();
    guest.qemu.reset();
}

void VmEnvironment::tear_down() noexcept {
    std::map<int, std::unique_ptr<Guest>> guests;
    {
        std::lock_guard lock(m_mutex);
        guests.swap(m_guests);
    }
    for (auto& [key, guest] : guests) stop(*guest);
}

}  // namespace joulebench::environments
