// The experiment file (`joulebench run FILE`): parse_experiment_text, then the plan of what
// parsed (when it is small enough to expand quickly; the parser bounds it at kMaxPlannedRuns).

#include <algorithm>
#include <string>

#include "fuzz_support.hpp"
#include "joulebench/experiment.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    joulebench::fuzz::expect_clean([&] {
        const auto spec =
            joulebench::parse_experiment_text(joulebench::fuzz::as_text(data, size), "fuzz.toml");
        const std::size_t runs = spec.workloads.size() * spec.environments.size() *
                                 std::max<std::size_t>(1, spec.power_caps.gpu_w.size()) *
                                 std::max<std::size_t>(1, spec.power_caps.cpu_w.size()) *
                                 spec.repetitions;
        if (runs > 10000) return;
        const auto plan = joulebench::make_plan(spec);
        if (plan.runs.size() != runs) {
            joulebench::fuzz::finding("plan", "the plan's size is not the product of its factors");
        }
        if (plan.runs.size() >= 2) (void)joulebench::make_plan(spec, joulebench::Shard{2, 2});
    });
    return 0;
}
