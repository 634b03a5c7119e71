#include "analysis/phase_runs.hpp"

#include <fmt/format.h>

#include <optional>

namespace joulebench::analysis {

namespace {

// One record's phase: sums over its occurrences.
struct Sums {
    std::size_t occurrences = 0;
    std::size_t unended = 0;
    double wall_s = 0.0;
    std::optional<double> energy_j = 0.0;
    double gpu_j = 0.0;
    double cpu_j = 0.0;
    bool estimated = false;
};

bool is_cpu(const std::string& kind) {
    return kind == "package" || kind == "dram" || kind == "estimated-cpu";
}

void add(Sums& s, const MarkedPhase& p, const std::map<std::string, std::string>* kinds) {
    ++s.occurrences;
    s.unended += p.ended_by_run ? 1U : 0U;
    s.wall_s += p.wall_s;
    if (!s.energy_j || !p.energy_j) {
        s.energy_j.reset();
        return;
    }
    *s.energy_j += *p.energy_j;
    for (const auto& d : p.domains) {
        if (!d.counts_in_total || !d.energy_j) continue;
        std::string kind;
        if (kinds != nullptr) {
            if (const auto k = kinds->find(d.id); k != kinds->end()) kind = k->second;
        }
        if (kind == "gpu") s.gpu_j += *d.energy_j;
        if (is_cpu(kind)) s.cpu_j += *d.energy_j;
        s.estimated = s.estimated || kind == "estimated-cpu";
    }
}

std::string runs_word(std::size_t n) { return n == 1 ? "run" : "runs"; }

}  // namespace

PhaseRuns phase_runs(std::span<const RunRecord> runs, std::span<const MarkedPhaseRecord> phases,
                     const DomainKinds& kinds, std::string_view name) {
    std::map<std::pair<std::string, int>, Sums> sums;
    for (const auto& p : phases) {
        if (p.phase.name != name) continue;
        const auto key = std::make_pair(p.run_id, p.instance);
        const auto k = kinds.find(key);
        add(sums[key], p.phase, k != kinds.end() ? &k->second : nullptr);
    }
    PhaseRuns out;
    out.runs.reserve(runs.size());
    for (const RunRecord& r : runs) {
        RunRecord v = r;
        if (r.status != RunStatus::kDone) {
            out.runs.push_back(std::move(v));
            continue;
        }
        v.wall_s.reset();
        v.energy_j.reset();
        v.gpu_energy_j.reset();
        v.cpu_energy_j.reset();
        v.edp_js.reset();
        v.ed2p_js2.reset();
        v.net_energy_j.reset();
        const auto it = sums.find({r.run_id, r.instance});
        if (it == sums.end()) {
            ++out.unmarked;
            out.runs.push_back(std::move(v));
            continue;
        }
        const Sums& s = it->second;
        ++out.marked;
        out.repeated += s.occurrences > 1 ? 1U : 0U;
        out.unended += s.unended;
        v.wall_s = s.wall_s;
        if (s.energy_j) {
            const double e = *s.energy_j;
            v.energy_j = e;
            v.gpu_energy_j = s.gpu_j;
            v.cpu_energy_j = s.cpu_j;
            v.edp_js = e * s.wall_s;
            v.ed2p_js2 = e * s.wall_s * s.wall_s;
        } else {
            ++out.unread;
        }
        v.total_includes_estimate = s.estimated;
        v.cpu_shared = r.cpu_shared || r.cpu_attributed;
        v.cpu_attributed = false;
        out.runs.push_back(std::move(v));
    }
    const std::string q = fmt::format("'{}'", name);
    if (out.unmarked > 0 && out.marked > 0) {
        out.warnings.push_back(fmt::format("phase {}: {} done {} did not mark it and are left out",
                                           q, out.unmarked, runs_word(out.unmarked)));
    }
    if (out.repeated > 0) {
        out.warnings.push_back(fmt::format(
            "phase {}: marked more than once in {} {}: their times and energies are summed", q,
            out.repeated, runs_word(out.repeated)));
    }
    if (out.unended > 0) {
        out.warnings.push_back(fmt::format(
            "phase {}: {} {} never ended: {} with the run", q, out.unended,
            out.unended == 1 ? "occurrence" : "occurrences", out.unended == 1 ? "it ends" : "they end"));
    }
    if (out.unread > 0) {
        out.warnings.push_back(fmt::format(
            "phase {}: its energy is unknown in {} {} (a domain was not read at a mark): E and "
            "EDP leave them out",
            q, out.unread, runs_word(out.unread)));
    }
    return out;
}

}  // namespace joulebench::analysis
