#pragma once
// The orders a study's results are shown in, shared by `analyze DB` and the report (which builds
// on it): names as the experiment file declares them, caps from uncapped up.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace joulebench::analysis {

/// Names in declared order (the experiment file), then any others in order of first appearance.
class NameOrder {
public:
    /// The position of `name`, appending it first when it is new.
    std::size_t rank(const std::string& name);
    /// Appends `name` when it is new.
    void add(const std::string& name) { (void)rank(name); }
    /// Every name, in order.
    [[nodiscard]] const std::vector<std::string>& names() const { return m_names; }

private:
    std::vector<std::string> m_names;
};

/// Caps compare as optional watts: "uncapped" (nullopt) first, then ascending.
[[nodiscard]] bool cap_less(const std::optional<double>& a, const std::optional<double>& b);

}  // namespace joulebench::analysis
