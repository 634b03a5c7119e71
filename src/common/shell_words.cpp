#include "common/shell_words.hpp"

#include <algorithm>
#include <cctype>

namespace joulebench {

namespace {

// The words, each as `quote` writes it, separated by single spaces.
std::string join_words(const std::vector<std::string>& words, std::string (*quote)(std::string_view)) {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty()) out += ' ';
        out += quote(w);
    }
    return out;
}

}  // namespace

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

std::string shell_join(const std::vector<std::string>& words) { return join_words(words, shell_quote); }

std::string shell_word(std::string_view word) {
    const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("@%+=:,./_-").find(c) != std::string_view::npos;
    });
    return plain ? std::string(word) : shell_quote(word);
}

std::string shell_line(const std::vector<std::string>& words) { return join_words(words, shell_word); }

}  // namespace joulebench
