#include "runner/preflight.hpp"

#include <fmt/format.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "environments/bare_environment.hpp"
#include "joulebench/error.hpp"

namespace joulebench::runner {

namespace {

// The runs of `plan` named in `ids`, in that order. A name the plan lacks is a caller's error.
std::vector<RunSpec> select_runs(const std::vector<RunSpec>& plan, const std::vector<std::string>& ids) {
    std::vector<RunSpec> out;
    for (const auto& id : ids) {
        const auto it = std::find_if(plan.begin(), plan.end(), [&](const RunSpec& r) { return r.run_id == id; });
        if (it == plan.end()) {
            throw Error(ErrorCategory::kInternal, fmt::format("run: run {} is not in the plan", id));
        }
        out.push_back(*it);
    }
    return out;
}

namespace fs = std::filesystem;

// Free space below this refuses to start: traces and logs of a long experiment need room, and
// SQLite fails mid-transaction on a full disk.
constexpr std::uint64_t kMinFreeBytes = 64ULL << 20;

// A failed check of a value written in the experiment file: the file and line lead the message.
[[noreturn]] void rethrow_at(const Error& e, const SourceLocation& where, const std::string& what) {
    throw Error(e.category(), fmt::format("run: {}{}: {}", to_string(where), what, e.what()),
                e.hint());
}

// Every workload in every environment, and the warm-up command, can start.
void validate_workloads(const ExperimentSpec& spec, Preflight& out) {
    for (const auto& w : spec.workloads) {
        out.workloads[w.name] = &w;
        for (const auto& [name, env] : out.environments) env->validate(w);
    }
    if (spec.warmup.kind == WarmupSpec::Kind::kCommand) {
        WorkloadSpec warm;
        warm.name = "warm-up";
        warm.command = spec.warmup.command;
        warm.where = spec.warmup.where;
        environments::BareEnvironment(EnvironmentSpec{}).validate(warm);
    }
}

// The GPUs of the slots, and every GPU cap within every one's range.
void check_gpus(const ExperimentSpec& spec, CapperRegistry& cappers, Preflight& out) {
    if (out.all_remote && spec.gpus && spec.gpus->all) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("run: {}devices = \"all\": every environment runs on another host, "
                                "whose GPUs this machine cannot list",
                                to_string(spec.gpus->where)),
                    "list the remote GPUs' indices, e.g. devices = [0, 1]");
    }
    if (!out.all_remote && (spec.gpus || !out.gpu_caps.empty())) {
        const SourceLocation& where = spec.gpus ? spec.gpus->where : spec.power_caps.gpu_where;
        try {
            out.host_gpus = cappers.gpus(std::nullopt);
            out.gpu_driver = cappers.gpu_driver();
        } catch (const Error& e) {
            rethrow_at(e, where, spec.gpus ? "[gpus]" : "[power_caps] gpu_w");
        }
        try {
            out.slot_gpus = spec.gpus && !spec.gpus->all ? cappers.gpus(spec.gpus->devices)
                                                         : out.host_gpus;
        } catch (const Error& e) {
            rethrow_at(e, where, "[gpus] devices");
        }
        if (out.slot_gpus.empty()) {
            const std::string scope = cappers.gpu_scope();
            throw Error(ErrorCategory::kNotFound,
                        fmt::format("run: {}no GPU found: {}", to_string(where),
                                    scope.empty() ? "no GPU backend (NVML, ROCm SMI, hwmon) lists one" : scope),
                        scope.empty() ? "remove [gpus] and [power_caps] gpu_w to run without GPUs"
                                      : "ask Slurm for GPUs (--gres=gpu:N or --gpus=N), or remove "
                                        "[gpus] and [power_caps] gpu_w to run without GPUs");
        }
        for (const auto& gpu : out.slot_gpus) {
            const auto capper = cappers.gpu_capper(gpu);
            for (const double w : out.gpu_caps) {
                try {
                    check_cap_range(*capper, Watts(w));
                } catch (const Error& e) {
                    rethrow_at(e, spec.power_caps.gpu_where,
                               fmt::format("gpu_w {}", format_watts(w)));
                }
            }
        }
    }
    if (spec.gpus && out.all_remote) {
        for (const int d : spec.gpus->devices) out.slots.emplace_back(d);
    } else if (spec.gpus) {
        for (const auto& d : out.slot_gpus) out.slots.emplace_back(d.index);
    } else {
        out.slots.emplace_back(std::nullopt);
    }
}

// Every CPU cap within every package's range; machine-wide, so one slot only.
void check_cpu_caps(const ExperimentSpec& spec, CapperRegistry& cappers, const Preflight& pf) {
    if (pf.cpu_caps.empty() || pf.all_remote) return;
    if (pf.slots.size() > 1) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("run: {}cpu_w: CPU caps are machine-wide and cannot differ "
                                "between GPU slots that "
                                "run at the same time",
                                to_string(spec.power_caps.cpu_where)),
                    "use one GPU in [gpus], or drop cpu_w");
    }
    std::vector<std::string> skipped;
    const auto packages = cappers.cpu_cappers(skipped);
    if (packages.empty()) {
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("run: {}cpu_w: no CPU package can be capped under {}{}",
                                to_string(spec.power_caps.cpu_where), cappers.cpu_cap_source(),
                                skipped.empty() ? "" : ": " + skipped.front()));
    }
    for (const auto& c : packages) {
        for (const double w : pf.cpu_caps) {
            try {
                check_cap_range(*c, Watts(w));
            } catch (const Error& e) {
                rethrow_at(e, spec.power_caps.cpu_where, fmt::format("cpu_w {}", format_watts(w)));
            }
        }
    }
}

// The store's folder is writable and has room.
void check_store_location(const fs::path& db) {
    const fs::path dir = db.parent_path().empty() ? fs::path(".") : db.parent_path();
    if (::access(dir.c_str(), W_OK) != 0 ||
        (fs::exists(db) && ::access(db.c_str(), W_OK) != 0)) {
        throw system_error(fmt::format("run: write the store {}", db.string()), errno);
    }
    struct statvfs vfs {};
    if (::statvfs(dir.c_str(), &vfs) == 0) {
        const std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
        if (free_bytes < kMinFreeBytes) {
            throw Error(
                ErrorCategory::kIo,
                fmt::format(
                    "run: check disk space for {}: only {} MiB free (at least {} MiB needed)",
                    db.string(), free_bytes >> 20, kMinFreeBytes >> 20),
                "free some space or put the store elsewhere with --db");
        }
    }
}

}  // namespace

Preflight preflight(const ExperimentSpec& spec, const RunnerOptions& options,
                    RunnerDependencies& deps) {
    Preflight out;
    out.plan = make_plan(spec, options.shard);
    if (options.only_runs) out.plan.runs = select_runs(out.plan.runs, *options.only_runs);
    for (const auto& e : spec.environments) out.environments[e.name] = deps.environments->make(e);
    // Environments that measure their runs themselves (ssh) set their caps where the workload
    // runs; the local GPUs are needed only when some environment runs here.
    out.all_remote = std::all_of(out.environments.begin(), out.environments.end(),
                                 [](const auto& kv) { return kv.second->measures_itself(); });
    validate_workloads(spec, out);
    out.gpu_caps = distinct_gpu_caps(spec);
    out.cpu_caps = distinct_cpu_caps(spec);
    check_gpus(spec, *deps.cappers, out);
    check_cpu_caps(spec, *deps.cappers, out);
    for (const auto& [name, env] : out.environments) env->assign_slots(out.slots);
    out.capping = !out.all_remote && (!out.gpu_caps.empty() || !out.cpu_caps.empty());
    if (out.capping) out.journal.emplace(deps.journal());  // throws naming the folder
    check_store_location(options.db);
    out.logs_dir = options.logs_dir.value_or(fs::path(options.db.string() + ".logs"));
    return out;
}

}  // namespace joulebench::runner
