// A store that is not what joulebench wrote (a damaged or foreign file, `analyze`, `report`,
// `export` and `merge` inputs): the input is written to a file, opened as those commands open it
// (Store::Mode::kReadUpgrade: an older schema is migrated first), and every read they make is
// made. SQLite's own refusals come back as joulebench::Error.

#include <algorithm>
#include <string>

#include "analysis/store_analysis.hpp"
#include "fuzz_support.hpp"
#include "joulebench/store.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static joulebench::fuzz::InputFile file(".db");
    const auto& path = file.write(data, size);
    joulebench::fuzz::expect_clean([&] {
        const joulebench::Store store(path, joulebench::Store::Mode::kReadUpgrade);
        (void)store.schema_version();
        (void)store.experiment();
        (void)store.sessions();
        (void)store.session_phases();
        (void)store.status_counts();
        (void)store.idle_baselines();
        (void)store.warnings();
        (void)store.observations();
        const auto runs = store.runs();
        for (std::size_t i = 0; i < std::min<std::size_t>(runs.size(), 4); ++i) {
            (void)store.domains(runs[i].run_id);
            (void)store.warnings(runs[i].run_id);
            (void)store.trace(runs[i].run_id);
        }
        (void)joulebench::export_csv(store);
        (void)joulebench::export_json(store);
        namespace analysis = joulebench::analysis;
        analysis::StoreAnalysisOptions options;
        options.analysis.bootstrap.resamples = 100;
        // Last: its refusals (no done run with the metric, ...) end the input cleanly.
        const auto result = analysis::analyse_store(store, options);
        (void)analysis::to_json(result).dump();
        (void)analysis::render(result, joulebench::TableFormat::kText);
    });
    return 0;
}
