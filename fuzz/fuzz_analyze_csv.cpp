// `joulebench analyze --csv FILE --group group --value value`: read_groups_csv, then the
// statistics and their renderings, as cmd_analyze does (fewer bootstrap resamples, for speed).

#include <nlohmann/json.hpp>
#include <string>

#include "analysis/csv_groups.hpp"
#include "fuzz_support.hpp"
#include "joulebench/stats.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace stats = joulebench::stats;
    static joulebench::fuzz::InputFile file(".csv");
    const auto& path = file.write(data, size);
    joulebench::fuzz::expect_clean([&] {
        const auto groups = joulebench::analysis::read_groups_csv(path, "group", "value");
        stats::AnalysisOptions options;
        options.bootstrap.resamples = 100;
        options.metric = "value";
        if (!groups.empty()) options.baseline = groups.front().name;
        const stats::Analysis analysis = stats::analyse_groups(groups, options);
        // As `analyze --json` writes it (cli/cmd_analyze.cpp).
        (void)stats::to_json(analysis).dump(2, ' ', false,
                                            nlohmann::json::error_handler_t::replace);
        (void)stats::render(analysis, stats::TableFormat::kText);
    });
    return 0;
}
