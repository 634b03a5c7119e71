#include "environments/qemu_command.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "common/unique_fd.hpp"
#include "joulebench/error.hpp"

namespace joulebench::environments {

std::vector<std::string> qemu_argv(const EnvironmentSpec& spec, const QemuLaunch& launch) {
    const auto& vm = spec.vm;
    const bool kvm = vm.accel == EnvironmentSpec::Vm::Accel::kKvm;
    std::vector<std::string> argv{vm.qemu,
                                  "-name",
                                  "guest=" + launch.marker,
                                  "-machine",
                                  "q35",
                                  "-accel",
                                  kvm ? "kvm" : "tcg",
                                  "-cpu",
                                  kvm ? "host" : "max",
                                  "-smp",
                                  std::to_string(vm.cpus),
                                  "-m",
                                  std::to_string(vm.memory_mib),
                                  "-nodefaults",
                                  "-no-user-config",
                                  "-no-reboot",
                                  "-display",
                                  "none",
                                  "-serial",
                                  "file:" + launch.console.string()};
    // QEMU's -drive option is a comma-separated list: a comma in the path is written twice.
    std::string image = launch.image.string();
    for (std::size_t at = image.find(','); at != std::string::npos; at = image.find(',', at + 2)) {
        image.insert(at, ",");
    }
    argv.emplace_back("-drive");
    argv.push_back(fmt::format("file={},format={},if=virtio{}", image, launch.image_format,
                               vm.persistent ? "" : ",snapshot=on"));
    if (!launch.kernel.empty()) {
        argv.emplace_back("-kernel");
        argv.push_back(launch.kernel.string());
        if (!launch.initrd.empty()) {
            argv.emplace_back("-initrd");
            argv.push_back(launch.initrd.string());
        }
        if (!vm.append.empty()) {
            argv.emplace_back("-append");
            argv.push_back(vm.append);
        }
    }
    argv.emplace_back("-netdev");
    argv.push_back(fmt::format("user,id=n0,hostfwd=tcp:127.0.0.1:{}-:22", launch.ssh_port));
    argv.emplace_back("-device");
    argv.emplace_back("virtio-net-pci,netdev=n0");
    // Entropy from the host: without it sshd can wait minutes for the guest's random pool.
    argv.emplace_back("-device");
    argv.emplace_back("virtio-rng-pci");
    if (!launch.gpu.empty()) {
        argv.emplace_back("-device");
        argv.push_back("vfio-pci,host=" + launch.gpu);
    }
    for (const auto& [path, tag] : launch.shares) {
        argv.emplace_back("-virtfs");
        argv.push_back(fmt::format("local,path={},mount_tag={},security_model=none,readonly=on",
                                   path.string(), tag));
    }
    argv.insert(argv.end(), vm.qemu_args.begin(), vm.qemu_args.end());
    return argv;
}

std::string image_format(const std::filesystem::path& image) {
    std::ifstream in(image, std::ios::binary);
    if (!in) {
        throw system_error(fmt::format("vm: open the disk image {}", image.string()), errno);
    }
    std::array<char, 4> magic{};
    in.read(magic.data(), magic.size());
    const bool qcow = in.gcount() == 4 && magic[0] == 'Q' && magic[1] == 'F' && magic[2] == 'I' &&
                      static_cast<unsigned char>(magic[3]) == 0xfb;
    return qcow ? "qcow2" : "raw";
}

int free_loopback_port() {
    const UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.open()) throw system_error("vm: find a free port: socket", errno);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    if (::bind(fd.get(), sa, sizeof(addr)) != 0 || ::getsockname(fd.get(), sa, &len) != 0) {
        throw system_error("vm: find a free port on 127.0.0.1", errno);
    }
    return ntohs(addr.sin_port);
}

std::string kvm_unusable_reason() {
    // Tests point this at a missing file: the machines they run on may have /dev/kvm.
    const char* test_device = std::getenv("JOULEBENCH_KVM_DEVICE");
    const std::string device =
        test_device != nullptr && *test_device != '\0' ? test_device : "/dev/kvm";
    const UniqueFd fd(::open(device.c_str(), O_RDWR | O_CLOEXEC));
    if (fd.open()) return {};
    return fmt::format("{}: {}", device, std::strerror(errno));
}

}  // namespace joulebench::environments
