#include "capping/cap_session.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>

#include <fmt/format.h>

#include "capping/gpu_capper.hpp"
#include "capping/hwmon_capper.hpp"
#include "capping/nvml_capper.hpp"
#include "capping/powercap_capper.hpp"
#include "capping/rocm_capper.hpp"
#include "common/strings.hpp"
#include "common/sysfs.hpp"
#include "joulebench/error.hpp"
#include "sensors/registry.hpp"

namespace joulebench::capping {

namespace fs = std::filesystem;

namespace {

Error bad_cap(const std::string& text, const std::string& why) {
    return {ErrorCategory::kInvalidArgument, fmt::format("caps: parse --power-cap '{}': {}", text, why),
            "use --power-cap W for every selected GPU, or INDEX=W pairs such as --power-cap 0=250,1=300"};
}

std::optional<double> parse_number(std::string_view s) {
    double value = 0.0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size() || !std::isfinite(value)) return std::nullopt;
    return value;
}

}  // namespace

void CapRequest::parse_gpu_caps(const std::string& text, CapRequest& into) {
    if (text.find('=') == std::string::npos) {
        const auto w = parse_number(text);
        if (!w) throw bad_cap(text, "not a number of watts");
        if (*w <= 0) throw bad_cap(text, "a power limit must be positive");
        into.all_gpus = Watts(*w);
        return;
    }
    std::string_view rest(text);
    while (true) {
        const auto comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        const auto eq = item.find('=');
        if (eq == std::string_view::npos) throw bad_cap(text, fmt::format("'{}' is not INDEX=W", item));
        int index = -1;
        const std::string_view index_text = item.substr(0, eq);
        const auto [ptr, ec] = std::from_chars(index_text.data(), index_text.data() + index_text.size(), index);
        if (index_text.empty() || ec != std::errc{} || ptr != index_text.data() + index_text.size() || index < 0) {
            throw bad_cap(text, fmt::format("'{}' is not a GPU index", index_text));
        }
        const auto w = parse_number(item.substr(eq + 1));
        if (!w) throw bad_cap(text, fmt::format("'{}' is not a number of watts", item.substr(eq + 1)));
        if (*w <= 0) throw bad_cap(text, fmt::format("GPU {}: a power limit must be positive", index));
        for (const auto& [i, _] : into.per_gpu) {
            if (i == index) throw bad_cap(text, fmt::format("GPU {} is given twice", index));
        }
        into.per_gpu.emplace_back(index, Watts(*w));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
}

const nvml::NvmlSystem& CapperFactory::nvml_system() {
    if (!m_nvml) m_nvml.emplace(nvml::NvmlSystem::open(m_options));
    return *m_nvml;
}

std::unique_ptr<PowerCapper> CapperFactory::open(const JournalEntry& entry) {
    if (entry.backend == "nvml") {
        const auto& system = nvml_system();
        for (const auto& device : system.devices()) {
            if (device.uuid() == entry.source) return std::make_unique<NvmlCapper>(device);
        }
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("caps: find {}: no GPU with UUID {} among the {} GPUs NVML reports", entry.label,
                                entry.source, system.devices().size()),
                    "the journal entry stays until the GPU is back; delete it by hand if it is gone for good");
    }
    if (entry.backend == "rocm") {
        // The AMD GPU whose journal key (unique id, else PCI bus id) the entry names.
        const auto library = rocm::RocmLibrary::load(m_rocm_options);
        std::vector<std::string> notes;
        const auto devices = rocm::RocmDevice::enumerate(library, notes);
        for (const auto& device : devices) {
            if (RocmCapper::key_of(device) == entry.source) return std::make_unique<RocmCapper>(device);
        }
        throw Error(ErrorCategory::kNotFound,
                    fmt::format("caps: find {}: no AMD GPU with key {} among the {} GPUs ROCm SMI reports",
                                entry.label, entry.source, devices.size()),
                    "the journal entry stays until the GPU is back; delete it by hand if it is gone for good");
    }
    if (entry.backend == "hwmon") {
        // By PCI bus id: hwmonN is numbered in probe order and can differ after a reboot.
        const fs::path root = m_hwmon_root.empty() ? ProbeOptions::default_hwmon_root() : m_hwmon_root;
        try {
            return open_hwmon_gpu_capper(find_hwmon_dir_by_pci(root, entry.source));
        } catch (const Error& e) {
            throw Error(e.category(), fmt::format("caps: find {}: {}", entry.label, e.what()),
                        "the journal entry stays until the GPU is back; delete it by hand if it is gone for good");
        }
    }
    if (entry.backend == "powercap") {
        rapl::ZoneDescription zone;
        zone.path = entry.source;
        zone.zone = zone.path.filename().string();
        zone.kind = DomainKind::kPackage;
        zone.package_index = entry.index;
        const auto name = sysfs::read_text(zone.path / "name");
        if (!name || *name != entry.name) {
            throw Error(ErrorCategory::kNotFound,
                        fmt::format("caps: find {}: {} {}", entry.label, (zone.path / "name").string(),
                                    name ? fmt::format("names '{}', not '{}'", *name, entry.name)
                                         : std::string("cannot be read")),
                        "the powercap zone is gone (driver unloaded?); the journal entry stays");
        }
        zone.name = *name;
        return std::make_unique<PowercapCapper>(zone);
    }
    throw Error(ErrorCategory::kInternal, fmt::format("caps: unknown backend '{}' in {}", entry.backend, entry.path.string()));
}

namespace {

// An entry is written back only when the file it is in, the key it was filed under and the device
// found all name the same device: an entry filed under GPU 0's key whose source names GPU 1 would
// otherwise restore GPU 1 and report GPU 0 restored (issue 13, defect 3). A mismatch is an error,
// and the entry is kept for a person to look at.
void check_entry_matches(const CapJournal& journal, const JournalEntry& e, const CapDeviceInfo& found) {
    const auto mismatch = [&](const std::string& what) {
        return Error(ErrorCategory::kIo, fmt::format("caps: journal {} does not agree with itself: {}; nothing written",
                                                     e.path.string(), what),
                     "look at the entry: write its original limit back by hand (nvidia-smi -i N -pl W, or the hwmon power1_cap file) and delete the entry");
    };
    if (!e.path.empty() && e.path.filename() != journal.path_for(e.backend, e.key).filename()) {
        throw mismatch(fmt::format("the file's name is not {} (backend '{}', key '{}')",
                                   journal.path_for(e.backend, e.key).filename().string(), e.backend, e.key));
    }
    if (found.backend != e.backend || found.key != e.key || found.source != e.source) {
        throw mismatch(fmt::format("it is filed under key '{}' but its source '{}' is the device with key '{}'",
                                   e.key, e.source, found.key));
    }
}

}  // namespace

RestoreReport restore_journal(const CapJournal& journal, CapperFactory& factory, const RestoreFilter& filter) noexcept {
    RestoreReport report;
    try {
        std::vector<std::string> problems;
        // Look before locking: a command that finds nothing creates nothing.
        if (journal.list(&problems).empty() && problems.empty()) return report;
        problems.clear();
        const CapJournal::Lock lock(journal);
        const auto entries = journal.list(&problems);
        for (auto& p : problems) report.failed.push_back(std::move(p));
        for (const auto& e : entries) {
            switch (filter.mode) {
                case RestoreFilter::Mode::kLeftovers:
                    if (e.owner.alive()) {
                        report.skipped.push_back(fmt::format(
                            "{}: capped to {} by a running joulebench (pid {}, since {}): left alone", e.label,
                            format_watts(e.requested()), e.owner.pid, e.created_at));
                        continue;
                    }
                    break;
                case RestoreFilter::Mode::kOwner:
                    if (e.owner.pid != filter.owner.pid ||
                        (filter.owner.start_ticks != 0 && e.owner.start_ticks != filter.owner.start_ticks)) {
                        continue;
                    }
                    break;
                case RestoreFilter::Mode::kAll: break;
            }
            try {
                const auto capper = factory.open(e);
                check_entry_matches(journal, e, capper->info());
                capper->set_limit(e.original());
                (void)verify_cap(*capper, e.original());
                journal.remove(e);
                report.restored.push_back(fmt::format("{}: restored to {} (journalled by pid {} at {})", e.label,
                                                      format_watts(e.original()), e.owner.pid, e.created_at));
            } catch (const std::exception& ex) {
                report.failed.push_back(fmt::format("{}: restore to {}: {} (journal {} kept)", e.label,
                                                    format_watts(e.original()), ex.what(), e.path.string()));
            }
        }
    } catch (const std::exception& e) {
        try {
            report.failed.emplace_back(e.what());
        } catch (...) {
        }
    } catch (...) {
    }
    return report;
}

namespace {

// Every GPU of the machine's one index space (sensors/gpu_inventory.hpp) a request caps, with the
// capper of its vendor (gpu_capper.hpp).
void add_gpu_targets(const CapRequest& request, const CapEnvironment& env,
                     std::vector<std::pair<std::unique_ptr<PowerCapper>, Watts>>& out) {
    const GpuMachine machine = GpuMachine::open({env.nvml, env.rocm, env.hwmon_root});
    if (machine.gpus().empty()) {
        const auto& error = machine.nvml_error();
        throw Error(error && error->category() != ErrorCategory::kInvalidArgument ? error->category()
                                                                                  : ErrorCategory::kNotFound,
                    fmt::format("caps: --power-cap: no GPU to cap: {}{}{}",
                                machine.nvml_failure().empty() ? "nvml: no GPUs" : machine.nvml_failure(),
                                machine.rocm_failure().empty() ? "" : "; ", machine.rocm_failure()),
                    error ? error->hint() : std::string());
    }
    const auto selected = machine.select(env.gpus);
    if (request.all_gpus) {
        const auto& nvml = machine.nvml();
        if (selected.empty() && nvml && nvml->allocation()) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("caps: --power-cap: no GPU to cap: {} holds {}", nvml->allocation()->job,
                                    nvml->allocation()->describe()),
                        "ask Slurm for GPUs (--gres=gpu:N or --gpus=N)");
        }
        if (selected.empty()) {
            throw Error(ErrorCategory::kInvalidArgument, "caps: --power-cap: no GPU selected (--gpus none)",
                        "select GPUs with --gpus");
        }
        for (const auto& gpu : selected) out.emplace_back(open_gpu_capper(gpu), *request.all_gpus);
    }
    for (const auto& [index, limit] : request.per_gpu) {
        // Names the valid indices when the GPU does not exist.
        const GpuEntry device = machine.select(nvml::GpuSelection::list({index})).at(0);
        // The index captured by copy: clang 14 cannot capture a structured binding.
        const bool measured = std::any_of(selected.begin(), selected.end(),
                                          [gpu = index](const GpuEntry& e) { return e.id.index == gpu; });
        if (!measured) {
            throw Error(ErrorCategory::kInvalidArgument,
                        fmt::format("caps: --power-cap {}={:g}: GPU {} is not measured (see --gpus)", index,
                                    limit.value(), index),
                        "add it to --gpus, or drop its cap");
        }
        out.emplace_back(open_gpu_capper(device), limit);
    }
}

}  // namespace

std::vector<std::pair<std::unique_ptr<PowerCapper>, Watts>> resolve_request(const CapRequest& request,
                                                                            const CapEnvironment& env) {
    std::vector<std::pair<std::unique_ptr<PowerCapper>, Watts>> out;
    if (request.all_gpus || !request.per_gpu.empty()) add_gpu_targets(request, env, out);
    if (request.cpu_packages) {
        std::vector<std::string> skipped;
        auto cappers = powercap_package_cappers(env.powercap_root, skipped);
        if (cappers.empty()) {
            throw Error(ErrorCategory::kNotSupported,
                        fmt::format("caps: --cpu-power-cap: no CPU package can be capped under {}{}{}",
                                    env.powercap_root.string(), skipped.empty() ? "" : ": ", join(skipped, "; ")),
                        "CPU caps need the intel_rapl (or AMD RAPL) powercap driver");
        }
        for (auto& c : cappers) out.emplace_back(std::move(c), *request.cpu_packages);
    }
    return out;
}

CapSession::CapSession(std::vector<std::pair<std::unique_ptr<PowerCapper>, Watts>> targets, const CapJournal& journal,
                       const std::optional<GuardianOptions>& guardian) {
    // Everything that can be checked is checked before the first write.
    for (const auto& [capper, limit] : targets) check_cap_range(*capper, limit);
    for (const auto& [capper, limit] : targets) {
        capper->check_writable();
        for (auto& w : capper->warnings()) m_warnings.push_back(std::move(w));
    }
    if (guardian) m_guardian.emplace(GuardianHandle::spawn(*guardian));
    try {
        for (auto& [capper, limit] : targets) {
            m_caps.push_back(std::make_unique<ScopedCap>(std::move(capper), limit, journal));
        }
    } catch (...) {
        (void)restore_all();
        throw;
    }
}

CapSession::~CapSession() { (void)restore_all(); }

bool CapSession::restore_all() noexcept {
    if (m_restored) {
        return std::all_of(m_caps.begin(), m_caps.end(), [](const auto& c) { return c->outcome().restored; });
    }
    m_restored = true;
    bool ok = true;
    for (auto it = m_caps.rbegin(); it != m_caps.rend(); ++it) ok = (*it)->restore() && ok;
    // Only when every original holds again is the guardian released; otherwise it tries once more
    // when this process ends, and the journal keeps what is left for `caps restore`.
    if (ok && m_guardian) m_guardian->done();
    return ok;
}

std::vector<CapOutcome> CapSession::outcomes() const {
    std::vector<CapOutcome> out;
    out.reserve(m_caps.size());
    for (const auto& c : m_caps) out.push_back(c->outcome());
    return out;
}

std::vector<PowerCapResult> power_cap_results(const std::vector<CapOutcome>& outcomes,
                                              const std::vector<GpuResult>& gpus) {
    // nvmlClocksEventReasonSwPowerCap (nvml.h): clocks lowered to hold the software power limit.
    constexpr std::uint64_t kSwPowerCap = 0x4;
    std::vector<PowerCapResult> out;
    for (const auto& o : outcomes) {
        PowerCapResult r;
        r.id = o.device.id;
        r.kind = o.device.target == CapTarget::kGpu ? "gpu" : "package";
        r.index = o.device.index;
        r.label = o.device.label;
        r.key = o.device.key;
        r.requested_w = o.requested.value();
        if (o.enforced) r.enforced_w = o.enforced->value();
        r.original_w = o.original.value();
        if (o.default_limit) r.default_w = o.default_limit->value();
        r.restored = o.restored;
        r.restore_error = o.restore_error;
        if (o.device.target == CapTarget::kGpu) {
            for (const auto& g : gpus) {
                if (g.index == o.device.index) r.throttled = (g.throttle_mask & kSwPowerCap) != 0;
            }
        }
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace joulebench::capping
