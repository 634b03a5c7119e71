// The `vm` environment without booting anything: its keys parsed and validated (FILE:LINE
// errors), QEMU's argv (GPU passthrough with vfio-pci, the ssh forward, the throw-away overlay),
// the GPU slots check, the local checks of validate() (/dev/kvm, vfio-pci binding), the image
// format, and a QemuProcess that dies with the process that started it (SIGKILL).

#include "environments/vm_environment.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "environments/qemu_command.hpp"
#include "environments/qemu_process.hpp"
#include "fakes/test_support.hpp"
#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"

namespace joulebench {
namespace {

namespace fs = std::filesystem;
using environments::QemuLaunch;
using environments::VmEnvironment;
using ::testing::HasSubstr;

const std::string kVmHead =
    "[experiment]\nname = \"e\"\nrepetitions = 1\n[[workload]]\nname = \"w\"\n"
    "command = [\"true\"]\n";  // lines 1-6

EnvironmentSpec parse_vm(const std::string& keys) {
    const auto spec = parse_experiment_text(
        kVmHead + "[[environment]]\nname = \"g\"\ntype = \"vm\"\n" + keys, "exp.toml");
    return spec.environments.at(0);
}

// The Error of parsing `keys` in a vm environment (lines 10 onwards).
Error vm_error(const std::string& keys) {
    try {
        (void)parse_vm(keys);
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no error for:\n" << keys;
    return Error(ErrorCategory::kInternal, "none");
}

TEST(VmSpec, EveryKeyParses) {
    const EnvironmentSpec e = parse_vm(
        "image = \"vm/guest.qcow2\"\nkernel = \"vm/vmlinuz\"\ninitrd = \"vm/initrd.img\"\n"
        "append = \"root=/dev/vda console=ttyS0\"\naccel = \"tcg\"\ncpus = 8\nmemory = \"32G\"\n"
        "gpus = [\"0000:3B:00.0\", \"0000:5e:00.0\"]\nuser = \"bench\"\n"
        "identity_file = \"id\"\nshare = [\"workloads\"]\nboot = \"per-run\"\n"
        "boot_timeout = \"90s\"\npersistent = true\nqemu_args = [\"-s\"]\nqemu = \"/opt/q\"\n");
    EXPECT_EQ(e.type, EnvironmentType::kVm);
    EXPECT_EQ(e.image, "vm/guest.qcow2");
    EXPECT_EQ(e.vm.kernel, "vm/vmlinuz");
    EXPECT_EQ(e.vm.initrd, "vm/initrd.img");
    EXPECT_EQ(e.vm.append, "root=/dev/vda console=ttyS0");
    EXPECT_EQ(e.vm.accel, EnvironmentSpec::Vm::Accel::kTcg);
    EXPECT_EQ(e.vm.cpus, 8);
    EXPECT_EQ(e.vm.memory_mib, 32u * 1024u);
    EXPECT_EQ(e.vm.gpus, (std::vector<std::string>{"0000:3b:00.0", "0000:5e:00.0"}));
    EXPECT_EQ(e.vm.gpus_where.line, 17);
    EXPECT_EQ(e.user, "bench");
    EXPECT_EQ(e.identity_file, "id");
    EXPECT_EQ(e.vm.share, (std::vector<std::string>{"workloads"}));
    EXPECT_EQ(e.vm.boot, EnvironmentSpec::Vm::Boot::kPerRun);
    EXPECT_EQ(e.vm.boot_timeout, std::chrono::seconds(90));
    EXPECT_TRUE(e.vm.persistent);
    EXPECT_EQ(e.vm.qemu_args, (std::vector<std::string>{"-s"}));
    EXPECT_EQ(e.vm.qemu, "/opt/q");
}

TEST(VmSpec, DefaultsAreKvmOnceFiveMinutesOneGiB) {
    const EnvironmentSpec e = parse_vm("image = \"disk.raw\"\n");
    EXPECT_EQ(e.vm.accel, EnvironmentSpec::Vm::Accel::kKvm);
    EXPECT_EQ(e.vm.boot, EnvironmentSpec::Vm::Boot::kOnce);
    EXPECT_EQ(e.vm.boot_timeout, std::chrono::minutes(5));
    EXPECT_EQ(e.vm.cpus, 1);
    EXPECT_EQ(e.vm.memory_mib, 1024u);
    EXPECT_FALSE(e.vm.persistent);
    EXPECT_EQ(e.vm.qemu, "qemu-system-x86_64");
    EXPECT_EQ(parse_vm("image = \"d\"\nmemory = \"512M\"\n").vm.memory_mib, 512u);
    EXPECT_EQ(parse_vm("image = \"d\"\nmemory = \"2GiB\"\n").vm.memory_mib, 2048u);
}

struct VmErrorCase {
    const char* keys;
    int line;
    const char* message;
    const char* hint;
};

TEST(VmSpec, BadValuesNameFileLineAndProblem) {
    const VmErrorCase cases[] = {
        {"kernel = \"k\"\n", 7, "environment 'g' (type vm) has no 'image' (required)", ""},
        {"image = \"d\"\naccel = \"hvf\"\n", 11, "unknown accel 'hvf'", "\"tcg\""},
        {"image = \"d\"\nmemory = \"lots\"\n", 11, "memory 'lots' is not a size", "\"32G\""},
        {"image = \"d\"\nmemory = \"32X\"\n", 11, "memory '32X' is not a size", ""},
        {"image = \"d\"\ncpus = 0\n", 11, "cpus 0 is not in 1..1024", ""},
        {"image = \"d\"\ngpus = [\"3b:00.0\"]\n", 11, "gpus entry '3b:00.0' is not a PCI address",
         "0000:3b:00.0"},
        {"image = \"d\"\ngpus = [\"0000:3b:00.0\", \"0000:3B:00.0\"]\n", 11,
         "gpus entry '0000:3b:00.0' is listed twice", ""},
        {"image = \"d\"\ninitrd = \"i\"\n", 11, "initrd needs kernel", ""},
        {"image = \"d\"\nboot = \"per_run\"\n", 11, "unknown boot 'per_run'", "per-run"},
        {"image = \"d\"\nboot_timeout = \"5\"\n", 11, "boot_timeout", ""},
        {"image = \"d\"\nshare = [\"/etc\"]\n", 11, "share entry '/etc' is not a relative folder",
         ""},
        {"image = \"d\"\nshare = [\"a/../..\"]\n", 11, "is not a relative folder", ""},
        {"image = \"d\"\npersistent = \"yes\"\n", 11, "persistent must be true or false", ""},
        {"image = \"d\"\nlibvirt_domain = \"bench\"\n", 11, "libvirt_domain is not supported",
         "docs/vm.md"},
        {"image = \"d\"\nhost = \"h\"\n", 11, "key 'host' does not apply to environment type 'vm'",
         "host is for ssh"},
        {"image = \"d\"\nboot_timout = \"1m\"\n", 11, "unknown key 'boot_timout'",
         "did you mean 'boot_timeout'?"},
    };
    for (const auto& c : cases) {
        const Error e = vm_error(c.keys);
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument) << c.keys;
        EXPECT_THAT(e.what(), HasSubstr(fmt::format("experiment: exp.toml:{}: ", c.line)))
            << c.keys;
        EXPECT_THAT(e.what(), HasSubstr(c.message)) << c.keys;
        EXPECT_THAT(e.hint(), HasSubstr(c.hint)) << c.keys;
    }
}

TEST(VmSpec, VmKeysAreRefusedOnOtherTypes) {
    try {
        (void)parse_experiment_text(kVmHead +
                                        "[[environment]]\nname = \"s\"\ntype = \"ssh\"\n"
                                        "host = \"h\"\nkernel = \"k\"\n",
                                    "exp.toml");
        FAIL() << "kernel accepted on ssh";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("exp.toml:11: key 'kernel' does not apply to "
                                        "environment type 'ssh'"));
        EXPECT_THAT(e.hint(), HasSubstr("kernel is for vm"));
    }
}

QemuLaunch launch() {
    QemuLaunch l;
    l.image = "/img/guest,1.qcow2";
    l.image_format = "qcow2";
    l.kernel = "/img/vmlinuz";
    l.initrd = "/img/initrd.img";
    l.ssh_port = 40022;
    l.console = "/logs/console.log";
    l.marker = "vm-g-1-slot0-boot1";
    return l;
}

TEST(QemuArgv, TcgGuestWithKernelForwardAndThrowAwayOverlay) {
    EnvironmentSpec e = parse_vm(
        "image = \"d\"\nkernel = \"k\"\nappend = \"root=/dev/vda\"\naccel = \"tcg\"\ncpus = 2\n"
        "memory = \"1G\"\nqemu_args = [\"-smp\", \"sockets=1\"]\n");
    const std::vector<std::string> expected{
        "qemu-system-x86_64",
        "-name",
        "guest=vm-g-1-slot0-boot1",
        "-machine",
        "q35",
        "-accel",
        "tcg",
        "-cpu",
        "max",
        "-smp",
        "2",
        "-m",
        "1024",
        "-nodefaults",
        "-no-user-config",
        "-no-reboot",
        "-display",
        "none",
        "-serial",
        "file:/logs/console.log",
        "-drive",
        "file=/img/guest,,1.qcow2,format=qcow2,if=virtio,snapshot=on",
        "-kernel",
        "/img/vmlinuz",
        "-initrd",
        "/img/initrd.img",
        "-append",
        "root=/dev/vda",
        "-netdev",
        "user,id=n0,hostfwd=tcp:127.0.0.1:40022-:22",
        "-device",
        "virtio-net-pci,netdev=n0",
        "-device",
        "virtio-rng-pci",
        "-smp",
        "sockets=1",
    };
    EXPECT_EQ(environments::qemu_argv(e, launch()), expected);
}

TEST(QemuArgv, KvmPersistentWithVfioGpuAndShare) {
    EnvironmentSpec e = parse_vm("image = \"d\"\ngpus = [\"0000:3b:00.0\"]\npersistent = true\n");
    QemuLaunch l = launch();
    l.kernel.clear();
    l.gpu = "0000:3b:00.0";
    l.shares.emplace_back("/work/workloads", "jb0");
    const auto argv = environments::qemu_argv(e, l);
    const std::string joined = fmt::format("{}", fmt::join(argv, " "));
    EXPECT_THAT(joined, HasSubstr("-accel kvm -cpu host"));
    EXPECT_THAT(joined, HasSubstr("-drive file=/img/guest,,1.qcow2,format=qcow2,if=virtio "));
    EXPECT_THAT(joined, ::testing::Not(HasSubstr("snapshot")));
    EXPECT_THAT(joined, ::testing::Not(HasSubstr("-kernel")));
    EXPECT_THAT(joined, HasSubstr("-device vfio-pci,host=0000:3b:00.0"));
    EXPECT_THAT(joined, HasSubstr("-virtfs local,path=/work/workloads,mount_tag=jb0,"
                                  "security_model=none,readonly=on"));
}

TEST(VmEnvironment, GpusMustMatchTheSlotsInOrder) {
    VmEnvironment two(parse_vm("image = \"d\"\ngpus = [\"0000:3b:00.0\", \"0000:5e:00.0\"]\n"));
    try {
        two.assign_slots({3});
        FAIL() << "one slot accepted for two GPUs";
    } catch (const Error& e) {
        EXPECT_EQ(e.category(), ErrorCategory::kInvalidArgument);
        EXPECT_THAT(e.what(), HasSubstr("run: exp.toml:11: environment 'g': gpus lists 2 GPU(s), "
                                        "but the experiment has 1 GPU slot(s)"));
    }
    EXPECT_THROW(two.assign_slots({std::nullopt}), Error);
    EXPECT_NO_THROW(two.assign_slots({3, 1}));
    VmEnvironment none(parse_vm("image = \"d\"\n"));
    EXPECT_NO_THROW(none.assign_slots({0, 1, 2}));  // guests without GPUs, one per slot
}

TEST(VmEnvironment, ValidateNamesDevKvmAndUnboundGpus) {
    test::TempDir dir("jb-vm-validate");
    const fs::path image = dir.path() / "disk.raw";
    test::write_file(image, "raw");
    const std::string img = fmt::format("image = \"{}\"\n", image.string());
    WorkloadSpec w;
    w.name = "w";
    w.command = {"true"};
    {
        test::ScopedEnv kvm("JOULEBENCH_KVM_DEVICE", (dir.path() / "no-kvm").string());
        VmEnvironment env(parse_vm(img + "qemu = \"sh\"\n"));
        try {
            env.validate(w);
            FAIL() << "kvm accepted without a device";
        } catch (const Error& e) {
            EXPECT_THAT(e.what(), HasSubstr("run: exp.toml:7: environment 'g': accel \"kvm\" "
                                            "needs /dev/kvm, which cannot be used"));
            EXPECT_THAT(e.what(), HasSubstr("no-kvm: No such file or directory"));
            EXPECT_THAT(e.hint(), HasSubstr("accel = \"tcg\""));
        }
    }
    VmEnvironment gpu(
        parse_vm(img + "qemu = \"sh\"\naccel = \"tcg\"\ngpus = [\"0000:ff:1f.7\"]\n"));
    EXPECT_THAT([&] { gpu.validate(w); }, ::testing::ThrowsMessage<Error>(
                                              HasSubstr("0000:ff:1f.7 is not bound to vfio-pci")));
    VmEnvironment missing(parse_vm("image = \"/no/such/disk\"\naccel = \"tcg\"\nqemu = \"sh\"\n"));
    EXPECT_THAT([&] { missing.validate(w); },
                ::testing::ThrowsMessage<Error>(HasSubstr("image /no/such/disk")));
    VmEnvironment no_qemu(parse_vm(img + "accel = \"tcg\"\nqemu = \"no-such-qemu-xyz\"\n"));
    EXPECT_THAT([&] { no_qemu.validate(w); }, ::testing::ThrowsMessage<Error>(HasSubstr("QEMU")));
    VmEnvironment ok(parse_vm(img + "accel = \"tcg\"\nqemu = \"sh\"\n"));
    EXPECT_NO_THROW(ok.validate(w));
}

TEST(VmEnvironment, PathsStartingWithTildeAreBelowHome) {
    test::TempDir dir("jb-vm-home");
    test::write_file(dir.path() / "disk.raw", "raw");
    test::write_file(dir.path() / "key", "key");
    test::ScopedEnv home("HOME", dir.path().string());
    WorkloadSpec w;
    w.name = "w";
    w.command = {"true"};
    const std::string keys = "image = \"~/disk.raw\"\naccel = \"tcg\"\nqemu = \"sh\"\n";
    VmEnvironment found(parse_vm(keys + "identity_file = \"~/key\"\n"));
    EXPECT_NO_THROW(found.validate(w));
    VmEnvironment missing(parse_vm(keys + "identity_file = \"~/no-key\"\n"));
    EXPECT_THAT([&] { missing.validate(w); },
                ::testing::ThrowsMessage<Error>(HasSubstr("identity_file ~/no-key")));
}

TEST(QemuCommand, ImageFormatFromMagicAndFreePort) {
    test::TempDir dir("jb-vm-image");
    test::write_file(dir.path() / "a.qcow2", std::string("QFI\xfb\x00\x00\x00\x03", 8));
    test::write_file(dir.path() / "b.img", std::string(512, '\0'));
    EXPECT_EQ(environments::image_format(dir.path() / "a.qcow2"), "qcow2");
    EXPECT_EQ(environments::image_format(dir.path() / "b.img"), "raw");
    EXPECT_THROW((void)environments::image_format(dir.path() / "none"), Error);
    const int port = environments::free_loopback_port();
    EXPECT_GT(port, 0);
    EXPECT_LT(port, 65536);
}

TEST(QemuProcess, TerminateEndsItAndAMissingProgramIsNotFound) {
    test::TempDir dir("jb-vm-proc");
    environments::QemuProcess p({"sleep", "300"}, dir.path() / "out.log");
    EXPECT_GT(p.pid(), 0);
    EXPECT_FALSE(p.exit_status().has_value());
    p.terminate(std::chrono::seconds(10));
    EXPECT_EQ(p.exit_status(), 128 + SIGTERM);
    EXPECT_THROW(environments::QemuProcess({"no-such-program-xyz"}, dir.path() / "o2.log"), Error);
}

bool alive(pid_t pid) {
    std::ifstream stat(fmt::format("/proc/{}/stat", pid));
    std::string line;
    if (!std::getline(stat, line)) return false;
    const auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

// The lifetime guarantee: a process that started a QemuProcess and is then SIGKILLed takes
// the "QEMU" with it (PR_SET_PDEATHSIG from the waiting thread).
TEST(QemuProcess, DiesWithAParentKilledBySigkill) {
    test::TempDir dir("jb-vm-pdeath");
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        environments::QemuProcess p({"sleep", "300"}, dir.path() / "out.log");
        const pid_t pid = p.pid();
        [[maybe_unused]] const auto n = ::write(fds[1], &pid, sizeof(pid));
        ::pause();
        ::_exit(0);
    }
    ::close(fds[1]);
    pid_t sleeper = -1;
    ASSERT_EQ(::read(fds[0], &sleeper, sizeof(sleeper)), static_cast<ssize_t>(sizeof(sleeper)));
    ::close(fds[0]);
    ASSERT_TRUE(alive(sleeper));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    // The kernel signals at once; the generous bound only allows for a loaded machine.
    for (int i = 0; i < 200 && alive(sleeper); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_FALSE(alive(sleeper)) << "sleep " << sleeper << " outlived its SIGKILLed parent";
}

}  // namespace
}  // namespace joulebench
