// The keys of a `type = "vm"` [[environment]] (docs/vm.md): the disk image, direct kernel boot,
// accelerator, size, passed-through GPUs, shared folders, boot policy and extra QEMU arguments.

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "model/did_you_mean.hpp"
#include "model/experiment_parser.hpp"

namespace joulebench {

namespace {

// "32G", "512M", "1T", "1024" (MiB): the guest's memory in MiB; nullopt when not such a size.
std::optional<std::uint64_t> parse_memory_mib(std::string_view text) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data() || value == 0) return std::nullopt;
    std::string unit(end, text.data() + text.size());
    std::transform(unit.begin(), unit.end(), unit.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (!unit.empty() && unit.back() == 'B') unit.pop_back();  // "32GB", "32GiB"
    if (unit.size() == 2 && unit.back() == 'I') unit.pop_back();
    std::uint64_t factor = 0;
    if (unit.empty() || unit == "M") {
        factor = 1;
    } else if (unit == "G") {
        factor = 1024;
    } else if (unit == "T") {
        factor = 1024 * 1024;
    } else {
        return std::nullopt;
    }
    if (value > (std::uint64_t{1} << 40) / factor) return std::nullopt;
    return value * factor;
}

// A PCI address as lspci -D and sysfs write it: DDDD:BB:DD.F in hexadecimal.
bool is_pci_address(std::string_view a) {
    if (a.size() != 12 || a[4] != ':' || a[7] != ':' || a[10] != '.') return false;
    for (const std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
        if (std::isxdigit(static_cast<unsigned char>(a[i])) == 0) return false;
    }
    return a[11] >= '0' && a[11] <= '7';
}

// A shared folder: relative, inside the working folder (no "..", no leading "/").
bool is_relative_inside(std::string_view p) {
    if (p.empty() || p.front() == '/') return false;
    std::size_t start = 0;
    while (start <= p.size()) {
        const std::size_t slash = std::min(p.find('/', start), p.size());
        if (p.substr(start, slash - start) == "..") return false;
        start = slash + 1;
    }
    return true;
}

}  // namespace

void ExperimentParser::parse_vm_keys(const toml::table& t, const std::string& where_name,
                                     EnvironmentSpec& e) const {
    if (const toml::node* domain = t.get("libvirt_domain")) {
        fail(at(*domain), "libvirt_domain is not supported by this joulebench",
             "joulebench starts QEMU itself (image, kernel, ...): see docs/vm.md, \"libvirt\"");
    }
    auto& vm = e.vm;
    e.image = name_value(require(t, "image", where_name + " (type vm)", e.where), "image");
    if (const toml::node* n = t.get("kernel")) vm.kernel = name_value(*n, "kernel");
    if (const toml::node* n = t.get("initrd")) vm.initrd = name_value(*n, "initrd");
    if (const toml::node* n = t.get("append")) vm.append = string_value(*n, "append");
    if (vm.kernel.empty()) {
        for (const char* key : {"initrd", "append"}) {
            if (const toml::node* n = t.get(key)) {
                fail(at(*n), fmt::format("{} needs kernel (direct kernel boot)", key),
                     "add kernel = \"path/to/vmlinuz\", or remove " + std::string(key));
            }
        }
    }
    if (const toml::node* n = t.get("accel")) {
        const std::string a = string_value(*n, "accel");
        if (a == "kvm") {
            vm.accel = EnvironmentSpec::Vm::Accel::kKvm;
        } else if (a == "tcg") {
            vm.accel = EnvironmentSpec::Vm::Accel::kTcg;
        } else {
            fail(at(*n), fmt::format("unknown accel '{}'", a),
                 "use \"kvm\" (hardware virtualisation, the default) or \"tcg\" (emulation)");
        }
    }
    if (const toml::node* n = t.get("cpus")) {
        const std::int64_t c = integer_value(*n, "cpus");
        if (c < 1 || c > 1024) fail(at(*n), fmt::format("cpus {} is not in 1..1024", c));
        vm.cpus = static_cast<int>(c);
    }
    if (const toml::node* n = t.get("memory")) {
        const std::string m = string_value(*n, "memory");
        const auto mib = parse_memory_mib(m);
        if (!mib) {
            fail(at(*n), fmt::format("memory '{}' is not a size", m),
                 "write a size with a unit, e.g. \"512M\", \"32G\" (M = MiB, G = GiB, T = TiB)");
        }
        vm.memory_mib = *mib;
    }
    if (const toml::node* n = t.get("user")) e.user = name_value(*n, "user");
    if (const toml::node* n = t.get("identity_file")) {
        e.identity_file = name_value(*n, "identity_file");
    }
    if (const toml::node* n = t.get("boot")) {
        const std::string b = string_value(*n, "boot");
        if (b == "once") {
            vm.boot = EnvironmentSpec::Vm::Boot::kOnce;
        } else if (b == "per-run") {
            vm.boot = EnvironmentSpec::Vm::Boot::kPerRun;
        } else {
            fail(at(*n), fmt::format("unknown boot '{}'", b),
                 did_you_mean(b, {"once", "per-run"},
                              "use \"once\" (one guest per slot) or \"per-run\""));
        }
    }
    if (const toml::node* n = t.get("boot_timeout")) {
        vm.boot_timeout = duration_value(*n, "boot_timeout");
    }
    if (const toml::node* n = t.get("persistent")) {
        const auto* b = n->as_boolean();
        if (b == nullptr) {
            fail(at(*n),
                 fmt::format("persistent must be true or false, not {}", toml_type_name(*n)));
        }
        vm.persistent = b->get();
    }
    if (const toml::node* n = t.get("qemu")) vm.qemu = name_value(*n, "qemu");
    parse_vm_lists(t, e);
}

void ExperimentParser::parse_vm_lists(const toml::table& t, EnvironmentSpec& e) const {
    auto& vm = e.vm;
    if (const toml::node* n = t.get("gpus")) {
        vm.gpus = string_array(*n, "gpus");
        vm.gpus_where = at(*n);
        std::set<std::string> seen;
        for (auto& g : vm.gpus) {
            std::transform(g.begin(), g.end(), g.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            if (!is_pci_address(g)) {
                fail(at(*n), fmt::format("gpus entry '{}' is not a PCI address", g),
                     "write the full address as lspci -D shows it, e.g. \"0000:3b:00.0\"");
            }
            if (!seen.insert(g).second) {
                fail(at(*n), fmt::format("gpus entry '{}' is listed twice", g),
                     "a GPU can be passed to one guest slot only");
            }
        }
    }
    if (const toml::node* n = t.get("share")) {
        vm.share = string_array(*n, "share");
        for (const auto& s : vm.share) {
            if (!is_relative_inside(s)) {
                fail(at(*n), fmt::format("share entry '{}' is not a relative folder", s),
                     "name a folder below the folder joulebench runs in, e.g. \"workloads\"; the "
                     "guest sees it at the same path below its user's home");
            }
        }
    }
    if (const toml::node* n = t.get("qemu_args")) vm.qemu_args = string_array(*n, "qemu_args");
}

}  // namespace joulebench
