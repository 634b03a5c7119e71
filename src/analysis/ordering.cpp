#include "analysis/ordering.hpp"

#include <algorithm>

namespace joulebench::analysis {

std::size_t NameOrder::rank(const std::string& name) {
    const auto it = std::find(m_names.begin(), m_names.end(), name);
    if (it != m_names.end()) return static_cast<std::size_t>(it - m_names.begin());
    m_names.push_back(name);
    return m_names.size() - 1;
}

bool cap_less(const std::optional<double>& a, const std::optional<double>& b) {
    if (!a) return static_cast<bool>(b);
    if (!b) return false;
    return *a < *b;
}

}  // namespace joulebench::analysis
