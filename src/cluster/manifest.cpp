#include "cluster/manifest.hpp"

#include <fmt/core.h>

#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/atomic_file.hpp"
#include "joulebench/error.hpp"

namespace joulebench::cluster {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::string_view kFormat = "joulebench-slurm-submission";

json job_to_json(const SubmittedJob& job) {
    json j{{"kind", job.kind},
           {"job_id", job.job_id},
           {"script", job.script},
           {"submitted_at", job.submitted_at}};
    if (job.kind == "shards") j["tasks"] = job.tasks;
    if (job.kind == "merge") j["after"] = job.after;
    return j;
}

// The value of `key`, of the type asked, else an error naming the file and the key.
template <class T>
T get(const json& object, const std::string& key, const std::string& source) {
    if (!object.is_object() || !object.contains(key)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("slurm: read {}: missing \"{}\"", source, key));
    }
    try {
        return object.at(key).get<T>();
    } catch (const json::exception&) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("slurm: read {}: \"{}\" has the wrong type", source, key));
    }
}

SubmittedJob job_from_json(const json& j, const std::string& source) {
    SubmittedJob job;
    job.kind = get<std::string>(j, "kind", source);
    if (job.kind != "shards" && job.kind != "merge") {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("slurm: read {}: unknown job kind \"{}\"", source, job.kind));
    }
    job.job_id = get<std::string>(j, "job_id", source);
    job.script = get<std::string>(j, "script", source);
    job.submitted_at = get<std::string>(j, "submitted_at", source);
    if (job.kind == "shards") job.tasks = get<std::vector<unsigned>>(j, "tasks", source);
    if (job.kind == "merge") job.after = get<std::vector<std::string>>(j, "after", source);
    return job;
}

}  // namespace

const SubmittedJob* Manifest::latest_shard_job(unsigned index) const {
    for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) {
        if (it->kind != "shards") continue;
        for (const unsigned t : it->tasks) {
            if (t == index) return &*it;
        }
    }
    return nullptr;
}

const SubmittedJob* Manifest::latest_merge_job() const {
    for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) {
        if (it->kind == "merge") return &*it;
    }
    return nullptr;
}

fs::path manifest_path(const fs::path& dir) {
    return dir / "submission.json";
}

json to_json(const Manifest& m) {
    json jobs = json::array();
    for (const auto& job : m.jobs) jobs.push_back(job_to_json(job));
    return json{{"format", kFormat},
                {"version", Manifest::kVersion},
                {"experiment",
                 {{"file", m.experiment_file.string()},
                  {"sha256", m.experiment_sha256},
                  {"name", m.experiment_name}}},
                {"joulebench", m.joulebench.string()},
                {"shards", m.options.shards},
                {"options",
                 {{"partition", m.options.partition},
                  {"account", m.options.account},
                  {"time", m.options.time},
                  {"gpus_per_shard", m.options.gpus_per_shard},
                  {"sbatch_args", m.options.sbatch_args}}},
                {"jobs", jobs}};
}

Manifest manifest_from_json(const json& j, const std::string& source) {
    if (!j.is_object() || j.value("format", "") != kFormat) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("slurm: read {}: not a joulebench submission manifest", source));
    }
    if (const int version = get<int>(j, "version", source); version != Manifest::kVersion) {
        throw Error(ErrorCategory::kNotSupported,
                    fmt::format("slurm: read {}: manifest version {} (this joulebench reads {})",
                                source, version, Manifest::kVersion));
    }
    Manifest m;
    const json experiment = get<json>(j, "experiment", source);
    m.experiment_file = get<std::string>(experiment, "file", source);
    m.experiment_sha256 = get<std::string>(experiment, "sha256", source);
    m.experiment_name = get<std::string>(experiment, "name", source);
    m.joulebench = get<std::string>(j, "joulebench", source);
    m.options.shards = get<unsigned>(j, "shards", source);
    const json options = get<json>(j, "options", source);
    m.options.partition = get<std::string>(options, "partition", source);
    m.options.account = get<std::string>(options, "account", source);
    m.options.time = get<std::string>(options, "time", source);
    m.options.gpus_per_shard = get<unsigned>(options, "gpus_per_shard", source);
    m.options.sbatch_args = get<std::vector<std::string>>(options, "sbatch_args", source);
    for (const auto& job : get<json>(j, "jobs", source))
        m.jobs.push_back(job_from_json(job, source));
    return m;
}

Manifest read_manifest(const fs::path& dir) {
    const fs::path path = manifest_path(dir);
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::error_code ec;
        if (!fs::exists(path, ec)) {
            throw Error(
                ErrorCategory::kNotFound,
                fmt::format("slurm: read {}: no submission in {}", path.string(), dir.string()),
                "give the folder that `joulebench submit FILE --slurm --out DIR` wrote");
        }
        throw Error(ErrorCategory::kIo, fmt::format("slurm: read {}: cannot open", path.string()));
    }
    std::ostringstream text;
    text << in.rdbuf();
    json j;
    try {
        j = json::parse(text.str());
    } catch (const json::parse_error& e) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("slurm: read {}: not JSON: {}", path.string(), e.what()));
    }
    return manifest_from_json(j, path.string());
}

void write_manifest(const fs::path& dir, const Manifest& manifest) {
    write_output(manifest_path(dir), to_json(manifest).dump(2) + "\n");
}

void check_matches(const Manifest& manifest, const std::string& experiment_sha256,
                   std::optional<unsigned> shards) {
    if (manifest.experiment_sha256 != experiment_sha256) {
        throw Error(
            ErrorCategory::kInvalidArgument,
            fmt::format("slurm: {} changed since it was submitted (SHA-256 {} then, {} "
                        "now): its shard stores belong to the old file",
                        manifest.experiment_file.string(), manifest.experiment_sha256.substr(0, 12),
                        experiment_sha256.substr(0, 12)),
            "restore the submitted file, or submit the new one into another --out folder");
    }
    if (shards && *shards != manifest.options.shards) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("slurm: --shards {} differs from the submission's {} shards",
                                *shards, manifest.options.shards),
                    "a submission keeps its shard count: leave --shards out with --resume");
    }
}

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return "";
    return buf;
}

}  // namespace joulebench::cluster
