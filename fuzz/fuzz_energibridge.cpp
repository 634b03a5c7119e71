// `joulebench import energibridge FILE`: energibridge::parse_trace, then the JSON and the table
// of what it read.

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "joulebench/energibridge.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace eb = joulebench::energibridge;
    joulebench::fuzz::expect_clean([&] {
        eb::ImportResult result;
        result.file = "fuzz.csv";
        result.summary = eb::parse_trace(joulebench::fuzz::as_text(data, size), "fuzz.csv");
        const std::vector<eb::ImportResult> results{result};
        // As `import energibridge --json` writes it (cli/cmd_import.cpp).
        (void)eb::to_json(results).dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
        (void)eb::format_table(results);
    });
    return 0;
}
