#include "sensors/estimate/cpu_estimate.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <sstream>

#include "common/sysfs.hpp"

namespace joulebench::estimate {

namespace {

// TDP (W) and logical CPUs of common parts, from the vendors' product pages. Longer, more
// specific substrings come first so "8380H" is not taken for "8380".
constexpr std::array<TdpEntry, 18> kTdpTable{{
    {"EPYC 9654", 360.0, 192},
    {"EPYC 9554", 360.0, 128},
    {"EPYC 7763", 280.0, 128},
    {"EPYC 7742", 225.0, 128},
    {"EPYC 7543", 225.0, 64},
    {"EPYC 7402", 180.0, 48},
    {"Xeon(R) Platinum 8480", 350.0, 112},
    {"Xeon(R) Platinum 8380", 270.0, 80},
    {"Xeon(R) Platinum 8280", 205.0, 56},
    {"Xeon(R) Gold 6348", 235.0, 56},
    {"Xeon(R) Gold 6248", 150.0, 40},
    {"Xeon(R) Gold 6148", 150.0, 40},
    {"Xeon(R) Silver 4214", 85.0, 24},
    {"Core(TM) i9-9900K", 95.0, 16},
    {"Core(TM) i7-8700", 65.0, 12},
    {"Core(TM) i7-7700", 65.0, 8},
    {"Core(TM) i5-8250U", 15.0, 8},
    {"Ryzen 9 5950X", 105.0, 32},
}};

std::string cpuinfo_field(const std::string& text, const std::string& key) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key, 0) != 0) continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(value.begin());
        return value;
    }
    return {};
}

}  // namespace

const TdpEntry* tdp_table(std::size_t& size) {
    size = kTdpTable.size();
    return kTdpTable.data();
}

CpuPowerModel make_cpu_power_model(const std::string& cpuinfo_text, std::optional<double> tdp_override) {
    CpuPowerModel model;
    model.cpu_model = cpuinfo_field(cpuinfo_text, "model name");
    const TdpEntry* match = nullptr;
    for (const auto& entry : kTdpTable) {
        if (model.cpu_model.find(entry.model_substring) != std::string::npos) {
            match = &entry;
            break;
        }
    }
    unsigned threads = 0;
    if (match != nullptr) {
        threads = match->threads;
    } else if (auto siblings = cpuinfo_field(cpuinfo_text, "siblings"); !siblings.empty()) {
        if (auto v = sysfs::parse_u64(siblings.data(), siblings.data() + siblings.size()); v && *v > 0) {
            threads = static_cast<unsigned>(*v);
        }
    }
    const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
    model.cpus = online > 0 ? static_cast<unsigned>(online) : 1U;
    model.threads_per_package = threads == 0 ? model.cpus : threads;
    if (tdp_override) {
        model.tdp_w = *tdp_override;
        model.source = "--cpu-tdp";
    } else if (match != nullptr) {
        model.tdp_w = match->tdp_w;
        model.source = "table";
    } else {
        model.tdp_w = kDefaultTdpW;
        model.source = "default";
    }
    return model;
}

CpuEstimateSensor::CpuEstimateSensor(std::shared_ptr<ProcessTreeCpuClock> clock, CpuPowerModel model)
    : m_clock(std::move(clock)), m_model(std::move(model)) {
    m_info.id = "cpu-estimated";
    m_info.kind = DomainKind::kEstimatedCpu;
    m_info.index = -1;
    m_info.method = Method::kEstimated;
    m_info.backend = "estimate";
    m_info.name = m_model.cpu_model.empty() ? "CPU" : m_model.cpu_model;
    m_info.source = "/proc (process-tree CPU time)";
    const long hz = ::sysconf(_SC_CLK_TCK);
    m_info.update_period = std::chrono::microseconds(1'000'000 / (hz > 0 ? hz : 100));
    m_info.notes.push_back(fmt::format(
        "estimated: CPU time x {:.2f} W per busy logical CPU (TDP {:.0f} W from {} / {} logical CPUs)",
        m_model.watts_per_cpu(), m_model.tdp_w, m_model.source, m_model.threads_per_package));
}

std::optional<EnergySample> CpuEstimateSensor::sample() noexcept {
    const auto now = Clock::now();
    // Reading faster than a clock tick (10 ms at USER_HZ=100) only costs; a reap brings the
    // exact rusage, which the next reading must hold.
    const std::uint64_t reaps = m_clock->reaps();
    if (now - m_last_read >= m_info.update_period || reaps != m_last_reaps) {
        m_last_seconds = m_clock->cpu_seconds();
        m_last_read = now;
        m_last_reaps = reaps;
    }
    Joules energy(m_last_seconds * m_model.watts_per_cpu());
    if (m_last_sample) {
        const Seconds dt(std::max(seconds_between(m_last_sample->time, now), 0.0));
        energy = std::min(energy, m_last_sample->energy + Watts(m_model.max_power_w()) * dt);
    }
    m_last_sample = EnergySample{now, energy};
    return m_last_sample;
}

BackendProbe probe_estimate(std::shared_ptr<ProcessTreeCpuClock> clock, std::optional<double> tdp_override) noexcept {
    BackendProbe probe;
    probe.backend = "estimate";
    try {
        const std::string cpuinfo = sysfs::read_text("/proc/cpuinfo").value_or("");
        auto model = make_cpu_power_model(cpuinfo, tdp_override);
        if (model.source == "default") {
            probe.notes.push_back(fmt::format(
                "estimate: CPU model '{}' is not in the TDP table: assuming {:.0f} W; give --cpu-tdp W for a better estimate",
                model.cpu_model, kDefaultTdpW));
        }
        probe.sensors.push_back(std::make_unique<CpuEstimateSensor>(std::move(clock), std::move(model)));
    } catch (const std::exception& e) {
        probe.skipped.push_back(std::string("estimate: ") + e.what());
    }
    return probe;
}

}  // namespace joulebench::estimate
