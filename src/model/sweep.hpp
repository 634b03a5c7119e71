#pragma once
// `joulebench sweep` as an experiment: one workload ("sweep") in one bare environment ("bare")
// under a list of GPU caps, built in memory (no file) and run by the same runner as `run`. The
// spec keeps the text of an experiment file that parses to it, so the store records it as any
// other (analyze and report read it back).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "joulebench/experiment.hpp"

namespace joulebench {

/// The names the sweep's workload and environment have in its store.
inline constexpr std::string_view kSweepWorkload = "sweep";
inline constexpr std::string_view kSweepEnvironment = "bare";
/// What the store records as the experiment file's name (there is no file).
inline constexpr std::string_view kSweepSourceName = "(joulebench sweep)";

struct SweepRequest {
    std::vector<std::string> command;  ///< argv, never through a shell
    std::vector<double> caps_w;        ///< ascending, distinct (parse_sweep_caps)
    unsigned repetitions = 3;
    std::optional<std::uint64_t> seed;
    /// --gpus: "" (no GPU slots: one run at a time, every GPU capped), "all", or "0,1".
    std::string gpus;
    /// The experiment's and the workload's name; the store's source is "(joulebench NAME)".
    /// `tune` builds its experiment here too, named "tune".
    std::string name = std::string(kSweepWorkload);
};

/// Parses --caps: "FROM:TO:STEP" (FROM, FROM+STEP, ... up to TO, TO included when reached) or a
/// comma list "150,200,250". Watts, rounded to milliwatts, ascending. Throws Error
/// (kInvalidArgument, "sweep: parse --caps 'TEXT': problem" with a hint) on a value that is not
/// a positive number, FROM > TO, duplicates, or more than 200 caps.
[[nodiscard]] std::vector<double> parse_sweep_caps(const std::string& text);

/// The experiment of a sweep, shuffled, validated by the experiment parser. Its values have no
/// file location (messages name none). Throws Error (kInvalidArgument) for --gpus that is not
/// "all" or a list of GPU indices.
[[nodiscard]] ExperimentSpec sweep_experiment(const SweepRequest& request);

}  // namespace joulebench
