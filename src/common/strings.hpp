#pragma once
// Small string helpers used across parts (so that none keeps a private copy).

#include <string>
#include <string_view>
#include <vector>

namespace joulebench {

/// The items with `separator` between them ("" for none).
[[nodiscard]] std::string join(const std::vector<std::string>& items, std::string_view separator);

/// The parts of `text` between `separator`s, empty parts kept ("a,,b" -> "a", "", "b"; "" -> "").
[[nodiscard]] std::vector<std::string_view> split(std::string_view text, char separator);

/// `text` without leading and trailing spaces and tabs.
[[nodiscard]] std::string trim(std::string_view text);

/// The last line of `text` that holds something other than spaces, tabs and line ends, without
/// the spaces, tabs and carriage returns around it ("" when there is none).
[[nodiscard]] std::string last_line(std::string_view text);

}  // namespace joulebench
