#include "common/slurm_job.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace joulebench {

namespace {

std::optional<std::string> text(const std::function<const char*(const char*)>& getenv,
                                const char* name) {
    const char* value = getenv(name);
    if (value == nullptr || *value == 0) return std::nullopt;
    return std::string(value);
}

std::vector<std::string> split(std::string_view list) {
    std::vector<std::string> out;
    while (!list.empty()) {
        const auto comma = list.find(',');
        out.emplace_back(list.substr(0, comma));
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return out;
}

std::optional<unsigned> number(std::string_view s) {
    unsigned value = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
    return value;
}

}  // namespace

std::string SlurmJob::label() const {
    if (array_job_id && array_task_id)
        return fmt::format("Slurm job {} (array task {}_{})", job_id, *array_job_id, *array_task_id);
    return "Slurm job " + job_id;
}

std::string SlurmJob::display_id() const {
    if (array_job_id && array_task_id) return *array_job_id + "_" + *array_task_id;
    return job_id;
}

std::optional<SlurmJob> slurm_job_from(const std::function<const char*(const char*)>& getenv) {
    auto job_id = text(getenv, "SLURM_JOB_ID");
    if (!job_id) job_id = text(getenv, "SLURM_JOBID");
    if (!job_id) return std::nullopt;
    SlurmJob job;
    job.job_id = *job_id;
    job.array_job_id = text(getenv, "SLURM_ARRAY_JOB_ID");
    job.array_task_id = text(getenv, "SLURM_ARRAY_TASK_ID");
    job.step_id = text(getenv, "SLURM_STEP_ID");
    job.node = text(getenv, "SLURMD_NODENAME").value_or("");
    if (const auto cpus = text(getenv, "SLURM_CPUS_ON_NODE")) job.cpus_on_node = number(*cpus);
    // Inside a step, the step's GPUs; else the job's. Slurm sets the variable (possibly empty)
    // only when the job was given GPUs as generic resources.
    for (const char* name : {"SLURM_STEP_GPUS", "SLURM_JOB_GPUS"}) {
        const char* raw = getenv(name);
        if (raw == nullptr) continue;
        job.gpu_source = fmt::format("{}={}", name, raw);
        std::vector<unsigned> minors;
        bool ok = true;
        for (const auto& item : split(raw)) {
            const auto n = number(item);
            ok = ok && n.has_value();
            if (n) minors.push_back(*n);
        }
        if (ok) {
            job.gpu_minors = std::move(minors);
        } else {
            job.gpu_source += " (not a list of GPU numbers: ignored)";
        }
        break;
    }
    if (const char* raw = getenv("CUDA_VISIBLE_DEVICES"); raw != nullptr) {
        job.visible_devices = *raw == 0 ? std::vector<std::string>{} : split(raw);
    }
    return job;
}

std::optional<SlurmJob> current_slurm_job() {
    return slurm_job_from([](const char* name) { return std::getenv(name); });
}

}  // namespace joulebench
