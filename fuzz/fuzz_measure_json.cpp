// The JSON of a measurement (`measure --json`, what an ssh environment brings back, the store's
// measure_json column): measure_from_json. Text that is not JSON is refused by nlohmann's parser
// (its exception is the clean refusal there: every caller catches it); a JSON document must be read
// or refused with a joulebench::Error. What was read must write back (measure_to_json) to a
// document that reads again to the same document.

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "model/measure_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    nlohmann::ordered_json document;
    try {
        document = nlohmann::ordered_json::parse(joulebench::fuzz::as_text(data, size));
    } catch (const nlohmann::ordered_json::exception&) {
        return 0;  // not JSON (parse_error), or a number beyond a double (out_of_range 406)
    }
    joulebench::fuzz::expect_clean([&] {
        const joulebench::MeasureResult result = joulebench::measure_from_json(document);
        const nlohmann::ordered_json written = joulebench::measure_to_json(result);
        nlohmann::ordered_json again;
        try {
            again = joulebench::measure_to_json(joulebench::measure_from_json(written));
        } catch (const std::exception& e) {
            joulebench::fuzz::finding("measure_to_json wrote a document it cannot read", e.what());
        }
        if (again != written) {
            joulebench::fuzz::finding("round trip",
                                      "measure_to_json(measure_from_json(doc)) differs");
        }
        (void)written.dump();
    });
    return 0;
}
