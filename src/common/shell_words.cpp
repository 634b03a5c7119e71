#include "common/shell_words.hpp"

namespace joulebench {

std::string shell_quote(std::string_view word) {
    std::string out;
    out.reserve(word.size() + 2);
    out += '\'';
    for (const char c : word) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    out += '\'';
    return out;
}

std::string shell_join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty()) out += ' ';
        out += shell_quote(w);
    }
    return out;
}

}  // namespace joulebench
