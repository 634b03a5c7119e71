#pragma once
// The QEMU command line of a `type = "vm"` guest (docs/vm.md), built as argv (QEMU is started
// directly, never through a shell), and the small host facts it needs: a free loopback port for
// the ssh forward, the disk image's format, whether /dev/kvm can be used.

#include <filesystem>
#include <string>
#include <vector>

#include "joulebench/experiment.hpp"

namespace joulebench::environments {

/// What one guest's command line is made of besides its spec.
struct QemuLaunch {
    std::filesystem::path image;    ///< the disk image, absolute
    std::string image_format;       ///< "qcow2" or "raw"
    std::filesystem::path kernel;   ///< absolute, or empty (boot from the disk)
    std::filesystem::path initrd;   ///< absolute, or empty
    int ssh_port = 0;               ///< host port on 127.0.0.1 forwarded to the guest's 22
    std::filesystem::path console;  ///< the serial console log
    std::string gpu;                ///< the PCI address of the slot's GPU ("" = none)
    /// Shared folders: host folder (absolute) and tag, one virtio-9p device each.
    std::vector<std::pair<std::filesystem::path, std::string>> shares;
    std::string marker;  ///< -name guest=MARKER: the session's mark, found in `ps` output
};

/// The argv: `QEMU -name guest=MARKER -machine q35 -accel kvm|tcg -cpu host|max -smp N -m MIB
/// -nodefaults -no-user-config -no-reboot -display none -serial file:CONSOLE -drive
/// file=IMAGE,format=F,if=virtio[,snapshot=on] [-kernel K [-initrd I] [-append A]] -netdev
/// user,id=n0,hostfwd=tcp:127.0.0.1:PORT-:22 -device virtio-net-pci,netdev=n0 -device
/// virtio-rng-pci [-device vfio-pci,host=BDF] [-virtfs
/// local,path=P,mount_tag=T,security_model=none,readonly=on]... QEMU_ARGS...`; snapshot=on (a
/// throw-away overlay QEMU deletes itself) unless persistent; -no-reboot: a guest that reboots or
/// panics ends QEMU, and so its runs.
[[nodiscard]] std::vector<std::string> qemu_argv(const EnvironmentSpec& spec,
                                                 const QemuLaunch& launch);

/// "qcow2" when the file starts with QEMU's qcow magic ("QFI\xfb"), else "raw". Throws Error
/// (kNotFound, kIo) naming the file when it cannot be read.
[[nodiscard]] std::string image_format(const std::filesystem::path& image);

/// A TCP port on 127.0.0.1 that was free a moment ago (bound with port 0, then closed). QEMU may
/// still lose it to another program: the caller retries when QEMU cannot set up the forward.
/// Throws Error (kIo) when no socket can be bound.
[[nodiscard]] int free_loopback_port();

/// "" when /dev/kvm can be opened for reading and writing, else why not ("/dev/kvm: No such
/// file or directory"). $JOULEBENCH_KVM_DEVICE replaces the path (for tests).
[[nodiscard]] std::string kvm_unusable_reason();

}  // namespace joulebench::environments
