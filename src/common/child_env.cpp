#include "common/child_env.hpp"

#include <algorithm>
#include <cctype>
#include <map>

extern char** environ;

namespace joulebench {

std::vector<std::string> child_environment(
    const std::vector<std::pair<std::string, std::string>>& set) {
    std::map<std::string, std::string> overrides;
    for (const auto& [k, v] : set) overrides[k] = v;  // later entries win
    std::vector<std::string> out;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string entry = *e;
        const auto eq = entry.find('=');
        if (eq != std::string::npos && overrides.count(entry.substr(0, eq)) != 0) continue;
        out.push_back(entry);
    }
    for (const auto& [k, v] : overrides) out.push_back(k + "=" + v);
    return out;
}

std::vector<char*> environment_pointers(std::vector<std::string>& storage) {
    std::vector<char*> out;
    out.reserve(storage.size() + 1);
    for (auto& e : storage) out.push_back(e.data());
    out.push_back(nullptr);
    return out;
}

bool is_env_var_name(std::string_view name) {
    if (name.empty() || (std::isalpha(static_cast<unsigned char>(name[0])) == 0 && name[0] != '_')) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; });
}

}  // namespace joulebench
