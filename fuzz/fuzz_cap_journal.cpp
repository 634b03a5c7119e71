// A power-cap journal entry (<state dir>/caps/*.json), read at start-up and by `caps restore`:
// entry_from_json. An entry it accepts must hold exactly what the file says (every field
// entry_to_json writes back equals the file's), or a restore would write another limit, or
// judge another process alive.

#include <nlohmann/json.hpp>
#include <string>

#include "capping/cap_journal.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(joulebench::fuzz::as_text(data, size));
    joulebench::fuzz::expect_clean([&] {
        const auto entry = joulebench::capping::entry_from_json(text, "fuzz.json");
        const auto written = nlohmann::json::parse(joulebench::capping::entry_to_json(entry));
        const auto original = nlohmann::json::parse(text);
        for (const auto& [key, value] : written.items()) {
            const auto it = original.find(key);
            const bool same = it == original.end() ? value.is_null() : *it == value;
            if (!same) {
                const std::string message = key + ": the file says " +
                                            (it == original.end() ? "nothing" : it->dump()) +
                                            ", the entry read holds " + value.dump();
                joulebench::fuzz::finding("journal entry read differs", message.c_str());
            }
        }
        (void)joulebench::capping::entry_from_json(joulebench::capping::entry_to_json(entry),
                                                   "fuzz.json (written back)");
    });
    return 0;
}
