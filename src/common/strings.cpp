#include "common/strings.hpp"

namespace joulebench {

std::string join(const std::vector<std::string>& items, std::string_view separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (;;) {
        const std::size_t at = text.find(separator, start);
        parts.push_back(text.substr(start, at == std::string_view::npos ? at : at - start));
        if (at == std::string_view::npos) return parts;
        start = at + 1;
    }
}

std::string trim(std::string_view text) {
    const auto begin = text.find_first_not_of(" \t");
    if (begin == std::string_view::npos) return {};
    const auto end = text.find_last_not_of(" \t");
    return std::string(text.substr(begin, end - begin + 1));
}

std::string last_line(std::string_view text) {
    constexpr std::string_view kBlank = " \t\r";
    std::size_t end = text.size();
    while (end > 0) {
        const std::size_t nl = text.rfind('\n', end - 1);
        const std::size_t from = nl == std::string_view::npos ? 0 : nl + 1;
        const std::string_view line = text.substr(from, end - from);
        const auto first = line.find_first_not_of(kBlank);
        if (first != std::string_view::npos) {
            const auto last = line.find_last_not_of(kBlank);
            return std::string(line.substr(first, last - first + 1));
        }
        if (nl == std::string_view::npos) break;
        end = nl;
    }
    return {};
}

}  // namespace joulebench
