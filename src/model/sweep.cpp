#include "model/sweep.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "common/strings.hpp"
#include "joulebench/error.hpp"

namespace joulebench {

namespace {

constexpr std::size_t kMaxCaps = 200;
constexpr std::string_view kCapsHint =
    "give --caps FROM:TO:STEP (e.g. 150:450:50, TO included when reached) or a comma list "
    "(150,200,250), in watts";

Error caps_error(const std::string& text, const std::string& problem) {
    return Error(ErrorCategory::kInvalidArgument,
                 fmt::format("sweep: parse --caps '{}': {}", text, problem), std::string(kCapsHint));
}

double parse_watts(const std::string& whole, std::string_view part) {
    double value = 0.0;
    const char* end = part.data() + part.size();
    const auto [ptr, ec] = std::from_chars(part.data(), end, value);
    if (part.empty() || ec != std::errc() || ptr != end) {
        throw caps_error(whole, fmt::format("'{}' is not a number", part));
    }
    if (!std::isfinite(value) || value <= 0.0) {
        throw caps_error(whole, fmt::format("{} is not a positive power", part));
    }
    return value;
}

}  // namespace

std::vector<double> parse_sweep_caps(const std::string& text) {
    std::vector<double> caps;
    if (text.find(':') != std::string::npos) {
        const auto parts = split(text, ':');
        if (parts.size() != 3) throw caps_error(text, "a range is FROM:TO:STEP (three values)");
        const double from = parse_watts(text, parts[0]);
        const double to = parse_watts(text, parts[1]);
        const double step = parse_watts(text, parts[2]);
        if (from > to) throw caps_error(text, fmt::format("FROM {} is above TO {}", parts[0], parts[1]));
        // Counted in steps from FROM (not by repeated addition) so that 0.1-watt steps do not
        // drift; the relative slack lets TO count as reached despite rounding.
        const double steps = std::floor((to - from) / step * (1.0 + 1e-12) + 1e-9);
        if (steps + 1.0 > static_cast<double>(kMaxCaps)) {
            throw caps_error(text, fmt::format("{} caps, at most {} allowed", steps + 1.0, kMaxCaps));
        }
        const auto count = static_cast<std::size_t>(steps) + 1;
        for (std::size_t i = 0; i < count; ++i) caps.push_back(from + static_cast<double>(i) * step);
        if (std::fabs(caps.back() - to) <= 1e-9 * to) caps.back() = to;
    } else {
        for (const auto part : split(text, ',')) caps.push_back(parse_watts(text, part));
        if (caps.size() > kMaxCaps) {
            throw caps_error(text, fmt::format("{} caps, at most {} allowed", caps.size(), kMaxCaps));
        }
    }
    // Drivers take limits in milliwatts; rounding there also keeps 0.1-watt steps from showing
    // as 100.30000000000001 in run ids and tables.
    for (double& w : caps) w = std::round(w * 1000.0) / 1000.0;
    std::sort(caps.begin(), caps.end());
    const auto dup = std::adjacent_find(caps.begin(), caps.end());
    if (dup != caps.end()) {
        throw caps_error(text, fmt::format("{} W is listed twice (caps are set in whole milliwatts)",
                                           format_watts(*dup)));
    }
    if (caps.front() <= 0.0) {
        throw caps_error(text, "a cap rounds to 0 mW (caps are set in whole milliwatts)");
    }
    return caps;
}

namespace {

// The text of the experiment file of a sweep. Written with toml++ so that any command argument
// (quotes, backslashes, control characters) is escaped correctly.
std::string sweep_experiment_toml(const SweepRequest& r) {
    const auto& [command, caps, repetitions, seed, gpus, name] = r;
    toml::table experiment{{"name", name},
                           {"repetitions", static_cast<std::int64_t>(repetitions)},
                           {"order", "shuffled"}};
    if (seed) experiment.insert("seed", static_cast<std::int64_t>(*seed));
    toml::array argv;
    for (const auto& a : command) argv.push_back(a);
    toml::array gpu_w;
    for (const double w : caps) gpu_w.push_back(w);
    toml::table doc{{"experiment", std::move(experiment)},
                    {"workload", toml::array{toml::table{{"name", name},
                                                         {"command", std::move(argv)}}}},
                    {"environment", toml::array{toml::table{{"name", kSweepEnvironment},
                                                            {"type", "bare"}}}},
                    {"power_caps", toml::table{{"gpu_w", std::move(gpu_w)}}}};
    if (!gpus.empty()) {
        if (gpus == "all") {
            doc.insert("gpus", toml::table{{"devices", "all"}});
        } else {
            toml::array devices;
            for (const auto part : split(gpus, ',')) {
                int index = -1;
                const char* end = part.data() + part.size();
                const auto [ptr, ec] = std::from_chars(part.data(), end, index);
                if (part.empty() || ec != std::errc() || ptr != end || index < 0) {
                    throw Error(ErrorCategory::kInvalidArgument,
                                fmt::format("{}: parse --gpus '{}': '{}' is not a GPU index",
                                            name, gpus, part),
                                "give all, or indices in PCI bus order: --gpus 0,1");
                }
                devices.push_back(index);
            }
            doc.insert("gpus", toml::table{{"devices", std::move(devices)}});
        }
    }
    std::ostringstream out;
    out << "# generated by joulebench " << name << "\n" << doc << "\n";
    return out.str();
}

}  // namespace

ExperimentSpec sweep_experiment(const SweepRequest& r) {
    const std::string text = sweep_experiment_toml(r);
    // Parsed without a file name: the runner's messages then name no location the user never
    // wrote; the store records the sweep's own name.
    ExperimentSpec spec = parse_experiment_text(text, "");
    spec.source_name = r.name == kSweepWorkload ? std::string(kSweepSourceName)
                                                : fmt::format("(joulebench {})", r.name);
    return spec;
}

}  // namespace joulebench
