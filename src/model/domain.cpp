#include "joulebench/domain.hpp"

#include <array>
#include <utility>

namespace joulebench {

namespace {
constexpr std::array<std::pair<DomainKind, std::string_view>, 8> kKindNames{{
    {DomainKind::kGpu, "gpu"},
    {DomainKind::kPackage, "package"},
    {DomainKind::kCore, "core"},
    {DomainKind::kUncore, "uncore"},
    {DomainKind::kDram, "dram"},
    {DomainKind::kPsys, "psys"},
    {DomainKind::kEstimatedCpu, "estimated-cpu"},
    {DomainKind::kPlatform, "platform"},
}};
}  // namespace

std::string_view to_string(DomainKind kind) {
    for (const auto& [k, name] : kKindNames) {
        if (k == kind) return name;
    }
    return "unknown";
}

std::optional<DomainKind> domain_kind_from_string(std::string_view text) {
    for (const auto& [k, name] : kKindNames) {
        if (name == text) return k;
    }
    return std::nullopt;
}

std::string_view to_string(Method method) {
    switch (method) {
        case Method::kCounter: return "counter";
        case Method::kIntegrated: return "integrated";
        case Method::kEstimated: return "estimated";
    }
    return "unknown";
}

std::string_view to_string(Sharing sharing) {
    switch (sharing) {
        case Sharing::kAlone: return "alone";
        case Sharing::kAttributed: return "attributed";
        case Sharing::kShared: return "shared";
    }
    return "unknown";
}

std::optional<Method> method_from_string(std::string_view text) {
    for (const Method m : {Method::kCounter, Method::kIntegrated, Method::kEstimated}) {
        if (to_string(m) == text) return m;
    }
    return std::nullopt;
}

std::string_view to_string(Location location) {
    switch (location) {
        case Location::kHost: return "host";
        case Location::kGuest: return "guest";
        case Location::kRemote: return "remote";
    }
    return "unknown";
}

std::optional<Location> location_from_string(std::string_view text) {
    for (const Location l : {Location::kHost, Location::kGuest, Location::kRemote}) {
        if (to_string(l) == text) return l;
    }
    return std::nullopt;
}

std::optional<Sharing> sharing_from_string(std::string_view text) {
    for (const Sharing s : {Sharing::kAlone, Sharing::kAttributed, Sharing::kShared}) {
        if (to_string(s) == text) return s;
    }
    return std::nullopt;
}

bool counts_in_total(DomainKind kind) {
    switch (kind) {
        case DomainKind::kGpu:
        case DomainKind::kPackage:
        case DomainKind::kDram:
        case DomainKind::kEstimatedCpu: return true;
        case DomainKind::kCore:
        case DomainKind::kUncore:
        case DomainKind::kPsys:
        case DomainKind::kPlatform: return false;
    }
    return false;
}

}  // namespace joulebench
