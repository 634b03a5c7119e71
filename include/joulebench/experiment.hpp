#pragma once
/// The experiment file (TOML) of `joulebench run` and `joulebench plan`, parsed and validated, and
/// the plan expanded from it: workload x environment x power cap x repetition, each run with a
/// stable id and a place in the execution order. The format is documented in docs/experiment.md.
///
/// Everything here is pure: parsing never touches the machine. Checks that need it (images exist,
/// caps within each GPU's constraints, permissions, disk space) belong to the runner, which gets
/// what it needs from distinct_gpu_caps()/distinct_cpu_caps() and the SourceLocation of each value
/// so that its messages can still name the file and line.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace joulebench {

/// Where a value was written: file name (as given) and 1-based line/column; line 0 when unknown.
struct SourceLocation {
    std::string file;
    int line = 0;
    int column = 0;
};

/// "FILE:LINE: " (or "FILE: " when the line is unknown), the prefix of every validation message;
/// "" for a spec parsed without a file name (built in memory, as sweep's).
[[nodiscard]] std::string to_string(const SourceLocation& where);

/// Execution order of the runs (see make_plan).
enum class RunOrder {
    kShuffled,     ///< every repetition round in its own seeded random order (the default)
    kBlocked,      ///< all repetitions of one variant, then the next variant (biased: warned)
    kInterleaved,  ///< round robin over the variants, repetition by repetition, fixed order
};

enum class EnvironmentType { kBare, kDocker, kPodman, kSsh, kVm };

enum class MetricsFormat {
    kNone,      ///< the workload reports nothing
    kJsonLine,  ///< the last line of its stdout that is a JSON object holds its metrics
};

[[nodiscard]] std::string_view to_string(RunOrder order);
[[nodiscard]] std::string_view to_string(EnvironmentType type);
[[nodiscard]] std::string_view to_string(MetricsFormat format);
[[nodiscard]] std::optional<RunOrder> run_order_from_string(std::string_view text);
[[nodiscard]] std::optional<EnvironmentType> environment_type_from_string(std::string_view text);

/// Parses a duration: a non-negative number followed by a unit, `ms`, `s`, `m`/`min` or `h`
/// ("500ms", "60s", "1.5s", "30m", "2h"). Fractions below a millisecond are rounded to the
/// nearest millisecond. nullopt when the text is not such a duration (no unit, unknown unit,
/// negative, not a number, too large).
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

/// "1h 2m 3.5s"-style text of a duration (the inverse of parse_duration up to formatting).
[[nodiscard]] std::string format_duration_ms(std::chrono::milliseconds duration);

/// `warmup`: nothing, a wait, or a command run once before the first measured run.
struct WarmupSpec {
    enum class Kind { kNone, kDuration, kCommand };
    Kind kind = Kind::kNone;
    std::chrono::milliseconds duration{0};  ///< kDuration
    std::vector<std::string> command;       ///< kCommand: argv, never through a shell
    SourceLocation where;
};

/// `rest`: what happens between two runs on the same GPU slot.
struct RestSpec {
    enum class Kind {
        kNone,
        kDuration,  ///< wait this long
        kBaseline,  ///< wait until power and temperature are back near the idle baseline
    };
    Kind kind = Kind::kNone;
    std::chrono::milliseconds duration{0};  ///< kDuration
    SourceLocation where;
};

/// One [[workload]].
struct WorkloadSpec {
    std::string name;
    std::vector<std::string> command;  ///< argv, run directly (no shell unless written as sh -c)
    std::optional<std::chrono::milliseconds> timeout;
    std::vector<std::pair<std::string, std::string>> env;  ///< in file order
    MetricsFormat metrics = MetricsFormat::kNone;
    SourceLocation where;
};

/// One [[environment]]. Fields that do not apply to its type are empty.
struct EnvironmentSpec {
    std::string name;
    EnvironmentType type = EnvironmentType::kBare;
    std::string image;                  ///< docker, podman: the image (required)
    std::vector<std::string> run_args;  ///< docker, podman: extra `run` arguments, argv form
    std::string host;                   ///< ssh (required)
    std::string user;                   ///< ssh: empty = ssh's default
    std::optional<int> port;            ///< ssh: 1..65535
    std::string identity_file;          ///< ssh: private key file (`-i`)
    std::string remote_joulebench;      ///< ssh: joulebench on the remote host ("joulebench")
    /// ssh: extra client options, each "Name=value" as in ssh_config(5), passed as `-o` in file
    /// order (e.g. "ProxyJump=gateway", "UserKnownHostsFile=/path/known_hosts").
    std::vector<std::string> ssh_options;
    /// vm: how the guest is booted and reached (docs/vm.md). `image`, `user` and
    /// `identity_file` above are the guest's disk image, its ssh user and key.
    struct Vm {
        enum class Accel { kKvm, kTcg };
        enum class Boot {
            kOnce,    ///< one guest per slot, booted at its first run, stopped at tear-down
            kPerRun,  ///< a fresh guest for every run
        };
        std::string kernel;  ///< direct kernel boot (-kernel), with initrd and append
        std::string initrd;
        std::string append;
        Accel accel = Accel::kKvm;
        int cpus = 1;
        std::uint64_t memory_mib = 1024;
        /// PCI addresses ("0000:3b:00.0") of VFIO-bound GPUs, one per GPU slot, in slot order.
        std::vector<std::string> gpus;
        std::vector<std::string> share;  ///< host folders mounted in the guest (9p)
        Boot boot = Boot::kOnce;
        std::chrono::milliseconds boot_timeout{std::chrono::minutes(5)};
        bool persistent = false;  ///< write to the image itself, not a throw-away overlay
        std::vector<std::string> qemu_args;  ///< appended to QEMU's argv as given
        std::string qemu = "qemu-system-x86_64";  ///< the QEMU program (PATH or a path)
        SourceLocation gpus_where;
    };
    Vm vm;
    SourceLocation where;
};

/// [power_caps]. An empty list means "not capped" (the cap factor has a single level: none).
struct PowerCapsSpec {
    std::vector<double> gpu_w;  ///< watts, each > 0, distinct, in file order (ranges expanded)
    std::vector<double> cpu_w;  ///< watts, each > 0, distinct
    SourceLocation gpu_where;
    SourceLocation cpu_where;
};

/// [gpus] mode: how runs use the GPU slots.
enum class GpuMode {
    kSlots,  ///< each slot takes the next run of the plan (runs of different cells side by side)
    kGang,   ///< every run runs as one instance per slot, all started together
};

/// "slots", "gang".
[[nodiscard]] std::string_view to_string(GpuMode mode);

/// [gpus]: which GPUs get run slots. Without the table, no GPU slots (runs go one at a time).
struct GpuSelection {
    bool all = false;          ///< devices = "all": every GPU the runner finds
    std::vector<int> devices;  ///< indices in PCI bus order, distinct, >= 0
    GpuMode mode = GpuMode::kSlots;
    SourceLocation where;
    SourceLocation mode_where;  ///< of `mode`, when written
};

struct ExperimentSpec {
    std::string name;
    unsigned repetitions = 1;
    RunOrder order = RunOrder::kShuffled;
    std::uint64_t seed = 0;
    /// false: `seed` was not written and is derived from the experiment name (seed_from_name),
    /// so every machine and every resume computes the same order.
    bool seed_given = false;
    WarmupSpec warmup;
    RestSpec rest;
    std::vector<WorkloadSpec> workloads;
    std::vector<EnvironmentSpec> environments;
    PowerCapsSpec power_caps;
    std::optional<GpuSelection> gpus;

    std::string source_name;    ///< the file name as given (or the name passed with the text)
    std::string source_text;    ///< the whole file, byte for byte (recorded in the store)
    std::string source_sha256;  ///< lower-case hex SHA-256 of source_text
};

/// Reads and validates an experiment file. Throws Error (kNotFound, kIo) when it cannot be read,
/// and Error (kInvalidArgument) with "experiment: FILE:LINE: problem" for the first problem found
/// (TOML syntax, unknown keys with a did-you-mean suggestion, wrong types, duplicate names, empty
/// lists, values out of range, missing required keys).
[[nodiscard]] ExperimentSpec parse_experiment_file(const std::filesystem::path& path);

/// As parse_experiment_file, for text; `source_name` stands for the file name in messages.
[[nodiscard]] ExperimentSpec parse_experiment_text(std::string_view text, std::string source_name);

/// Whether two experiment files' texts are the same experiment: the same text, or the same TOML
/// document once parsed (comments, whitespace, key order and the spelling of a value, as `1e3`
/// for `1000.0`, do not count). A store keeps the results of one experiment; a file changed only
/// in those ways still resumes it. False when either text is not TOML.
[[nodiscard]] bool same_experiment_text(std::string_view a, std::string_view b);

/// The most runs an experiment's plan may have (workloads x environments x GPU caps x CPU caps x
/// repetitions); a file whose plan is larger is refused naming the count and this limit.
inline constexpr std::size_t kMaxPlannedRuns = 1000000;

/// The seed used when the file has none: the first 8 bytes of SHA-256("joulebench-seed\0" + name),
/// big-endian.
[[nodiscard]] std::uint64_t seed_from_name(std::string_view experiment_name);

/// Every distinct GPU / CPU cap of the experiment, ascending, for the runner to check against
/// each device's constraints before the first run.
[[nodiscard]] std::vector<double> distinct_gpu_caps(const ExperimentSpec& spec);
[[nodiscard]] std::vector<double> distinct_cpu_caps(const ExperimentSpec& spec);

/// A cap as text: "250" for whole watts, else the shortest decimal that round-trips ("137.5").
/// Used in run ids, so it never changes.
[[nodiscard]] std::string format_watts(double watts);

// ---------------------------------------------------------------------------------------------
// The plan

/// A part of the plan: shard `index` of `count`, 1-based (1/4 .. 4/4).
struct Shard {
    unsigned index = 1;
    unsigned count = 1;
};

/// Parses "I/N" with 1 <= I <= N. Throws Error (kInvalidArgument) naming the problem.
[[nodiscard]] Shard parse_shard(std::string_view text);

/// One measured run.
struct RunSpec {
    /// 16 lower-case hex digits: the first 8 bytes of SHA-256 over the experiment name and the
    /// factors (see run_id()). The same on every machine, compiler and resume.
    std::string run_id;
    std::size_t plan_index = 0;  ///< position in the whole ordered plan (0-based)
    std::size_t variant = 0;     ///< index of (workload, environment, caps) in declaration order
    std::string workload;
    std::string environment;
    std::optional<double> gpu_cap_w;  ///< nullopt: not capped
    std::optional<double> cpu_cap_w;
    unsigned repetition = 1;  ///< 1-based
};

struct Plan {
    std::vector<RunSpec> runs;   ///< in execution order; only this shard's runs when sharded
    std::size_t total_runs = 0;  ///< runs in the whole plan (all shards)
    std::size_t variants = 0;
    RunOrder order = RunOrder::kShuffled;
    std::uint64_t seed = 0;
    std::optional<Shard> shard;
    /// Texts to show before running (the blocked-order bias warning).
    std::vector<std::string> warnings;
};

/// The run id of a set of factors: hex of the first 8 bytes of
/// SHA-256("joulebench-run-v1\n" name "\n" workload "\n" environment "\n" gpu "\n" cpu "\n" rep),
/// where a missing cap is "-" and caps are written by format_watts.
[[nodiscard]] std::string run_id(std::string_view experiment_name, std::string_view workload,
                                 std::string_view environment, std::optional<double> gpu_cap_w,
                                 std::optional<double> cpu_cap_w, unsigned repetition);

/// The warning printed for order = "blocked".
[[nodiscard]] std::string blocked_order_warning();

/// Expands and orders the plan. Variants are enumerated workload-major in file order, then
/// environment, GPU cap, CPU cap. Orders:
/// - interleaved: for each repetition r = 1..R, every variant in declaration order;
/// - shuffled: as interleaved, but each round is permuted by a Fisher-Yates shuffle driven by
///   std::mt19937_64(seed) with an unbiased bounded draw written out here (std::shuffle and
///   std::uniform_int_distribution are implementation-defined), so the order is the same with
///   every compiler and standard library; rounds are shuffled in order r = 1..R;
/// - blocked: variant by variant, repetitions 1..R together (adds blocked_order_warning()).
/// With a shard I/N, keeps the runs of shard_of() I: shards partition the plan, differ in size by
/// one run at most, and each gets every variant in equal measure (within one run).
/// Throws Error (kInternal) in the (practically impossible) case of two runs with the same id.
[[nodiscard]] Plan make_plan(const ExperimentSpec& spec, std::optional<Shard> shard = std::nullopt);

/// The shard (1..count) of `run` among `count`: runs dealt round the shards in order variant x
/// repetition, i.e. (variant * repetitions + repetition - 1) mod count, plus one.
[[nodiscard]] unsigned shard_of(const RunSpec& run, unsigned repetitions, unsigned count);

}  // namespace joulebench
