#pragma once
// Quoting words for a POSIX shell: the ssh environment's remote command and the Slurm batch
// scripts of `submit --slurm` both write paths and arguments into shell text.

#include <string>
#include <string_view>
#include <vector>

namespace joulebench {

/// `word` quoted for a POSIX shell: enclosed in single quotes, each `'` written as `'\''`. Every
/// byte but NUL (which no argv word can hold) comes through unchanged; "" becomes ''.
[[nodiscard]] std::string shell_quote(std::string_view word);

/// Each word quoted with shell_quote, separated by single spaces.
[[nodiscard]] std::string shell_join(const std::vector<std::string>& words);

/// `word` as a person would type it: unchanged when every byte is one a shell leaves alone
/// (letters, digits and `@%+=:,./_-`), else shell_quote(word). For commands shown in hints and
/// messages, to be pasted into a shell.
[[nodiscard]] std::string shell_word(std::string_view word);

/// Each word as shell_word, separated by single spaces.
[[nodiscard]] std::string shell_line(const std::vector<std::string>& words);

}  // namespace joulebench
