// The plan: workload x environment x cap x repetition, with stable run ids and a reproducible
// order. Nothing here depends on the machine, the compiler's standard library or the time.

#include <fmt/core.h>

#include <charconv>
#include <random>
#include <set>

#include "joulebench/error.hpp"
#include "joulebench/experiment.hpp"
#include "common/sha256.hpp"

namespace joulebench {
namespace {

struct Variant {
    const WorkloadSpec* workload;
    const EnvironmentSpec* environment;
    std::optional<double> gpu_cap_w;
    std::optional<double> cpu_cap_w;
};

/// A uniform integer in [0, bound) from the generator, by rejection (no modulo bias). Written out
/// because std::uniform_int_distribution's algorithm differs between standard libraries, and the
/// order of a seeded plan must be the same everywhere.
std::uint64_t bounded(std::mt19937_64& rng, std::uint64_t bound) {
    // Values below `threshold` would make some results more likely: 2^64 mod bound of them.
    const std::uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        const std::uint64_t r = rng();
        if (r >= threshold) return r % bound;
    }
}

/// Fisher-Yates (Durstenfeld): for i from n-1 down to 1, swap element i with a uniform j <= i.
template <class T>
void shuffle(std::vector<T>& items, std::mt19937_64& rng) {
    for (std::size_t i = items.size(); i > 1; --i) {
        const std::size_t j = static_cast<std::size_t>(bounded(rng, i));
        std::swap(items[i - 1], items[j]);
    }
}

}  // namespace

std::string run_id(std::string_view experiment_name, std::string_view workload,
                   std::string_view environment, std::optional<double> gpu_cap_w,
                   std::optional<double> cpu_cap_w, unsigned repetition) {
    // Names cannot hold control characters (the parser refuses them), so "\n" separates fields
    // unambiguously.
    Sha256 hash;
    hash.update("joulebench-run-v1\n");
    hash.update(experiment_name);
    hash.update("\n");
    hash.update(workload);
    hash.update("\n");
    hash.update(environment);
    hash.update("\n");
    hash.update(gpu_cap_w ? format_watts(*gpu_cap_w) : std::string("-"));
    hash.update("\n");
    hash.update(cpu_cap_w ? format_watts(*cpu_cap_w) : std::string("-"));
    hash.update("\n");
    hash.update(std::to_string(repetition));
    const auto digest = hash.finish();
    return to_hex(digest.data(), 8);
}

std::string blocked_order_warning() {
    return "order = \"blocked\" runs all repetitions of one variant before the next, so every "
           "difference that drifts with time (GPU and room temperature, background load, thermal "
           "paste settling, a driver or firmware update, another day) is confounded with the "
           "difference between variants and cannot be told apart from it; use the default "
           "order = \"shuffled\" (or \"interleaved\") unless a variant truly cannot be switched "
           "between runs.";
}

Shard parse_shard(std::string_view text) {
    const auto bad = [&](const std::string& why) {
        return Error(ErrorCategory::kInvalidArgument,
                     fmt::format("plan: parse shard '{}': {}", text, why),
                     "write I/N with 1 <= I <= N, e.g. --shard 2/4 for the second of four parts");
    };
    const std::size_t slash = text.find('/');
    if (slash == std::string_view::npos) throw bad("no '/'");
    const auto parse = [&](std::string_view part, const char* what) {
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (part.empty() || ec != std::errc{} || end != part.data() + part.size()) {
            throw bad(fmt::format("{} '{}' is not a whole number", what, part));
        }
        return value;
    };
    Shard shard;
    shard.index = parse(text.substr(0, slash), "shard index");
    shard.count = parse(text.substr(slash + 1), "shard count");
    if (shard.count == 0) throw bad("the shard count must be at least 1");
    if (shard.index < 1 || shard.index > shard.count) {
        throw bad(fmt::format("the shard index must be between 1 and {}", shard.count));
    }
    return shard;
}

unsigned shard_of(const RunSpec& run, unsigned repetitions, unsigned count) {
    const std::size_t dealt = run.variant * repetitions + (run.repetition - 1);
    return static_cast<unsigned>(dealt % count) + 1;
}

Plan make_plan(const ExperimentSpec& spec, std::optional<Shard> shard) {
    if (shard && (shard->count == 0 || shard->index < 1 || shard->index > shard->count)) {
        throw Error(ErrorCategory::kInvalidArgument,
                    fmt::format("plan: shard {}/{} is not valid", shard->index, shard->count));
    }
    std::vector<std::optional<double>> gpu_caps;
    for (const double c : spec.power_caps.gpu_w) gpu_caps.emplace_back(c);
    if (gpu_caps.empty()) gpu_caps.emplace_back(std::nullopt);
    std::vector<std::optional<double>> cpu_caps;
    for (const double c : spec.power_caps.cpu_w) cpu_caps.emplace_back(c);
    if (cpu_caps.empty()) cpu_caps.emplace_back(std::nullopt);

    std::vector<Variant> variants;
    for (const auto& w : spec.workloads) {
        for (const auto& e : spec.environments) {
            for (const auto& g : gpu_caps) {
                for (const auto& c : cpu_caps) variants.push_back(Variant{&w, &e, g, c});
            }
        }
    }

    const auto make_run = [&](std::size_t v, unsigned repetition) {
        const Variant& variant = variants[v];
        RunSpec run;
        run.variant = v;
        run.workload = variant.workload->name;
        run.environment = variant.environment->name;
        run.gpu_cap_w = variant.gpu_cap_w;
        run.cpu_cap_w = variant.cpu_cap_w;
        run.repetition = repetition;
        run.run_id = run_id(spec.name, run.workload, run.environment, run.gpu_cap_w, run.cpu_cap_w,
                            repetition);
        return run;
    };

    Plan plan;
    plan.order = spec.order;
    plan.seed = spec.seed;
    plan.variants = variants.size();
    plan.shard = shard;
    std::vector<RunSpec> runs;
    runs.reserve(variants.size() * spec.repetitions);
    switch (spec.order) {
        case RunOrder::kBlocked:
            for (std::size_t v = 0; v < variants.size(); ++v) {
                for (unsigned r = 1; r <= spec.repetitions; ++r) runs.push_back(make_run(v, r));
            }
            plan.warnings.push_back(blocked_order_warning());
            break;
        case RunOrder::kInterleaved:
            for (unsigned r = 1; r <= spec.repetitions; ++r) {
                for (std::size_t v = 0; v < variants.size(); ++v) runs.push_back(make_run(v, r));
            }
            break;
        case RunOrder::kShuffled: {
            // Randomised complete blocks: each round holds every variant once, in its own random
            // order. Drift over hours or days then hits every variant alike, and no variant has a
            // fixed position (always first after a rest, always last before a break).
            std::mt19937_64 rng(spec.seed);
            std::vector<std::size_t> order(variants.size());
            for (unsigned r = 1; r <= spec.repetitions; ++r) {
                for (std::size_t v = 0; v < order.size(); ++v) order[v] = v;
                shuffle(order, rng);
                for (const std::size_t v : order) runs.push_back(make_run(v, r));
            }
            break;
        }
    }
    std::set<std::string> ids;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        runs[i].plan_index = i;
        if (!ids.insert(runs[i].run_id).second) {
            throw Error(
                ErrorCategory::kInternal,
                fmt::format("plan: expand {}: two runs share the id {}", spec.name, runs[i].run_id),
                "rename a workload or environment; this is a 64-bit hash collision");
        }
    }
    plan.total_runs = runs.size();
    if (shard && shard->count > 1) {
        // The runs are dealt round the shards like cards, variant by variant (repetitions of a
        // variant one after another): every shard gets every cell in equal measure (within one),
        // so a node's hardware does not stand in for a factor, and shards differ by one run at
        // most. Each shard keeps the plan's order.
        for (auto& run : runs) {
            if (shard_of(run, spec.repetitions, shard->count) == shard->index)
                plan.runs.push_back(std::move(run));
        }
    } else {
        plan.runs = std::move(runs);
    }
    return plan;
}

}  // namespace joulebench
