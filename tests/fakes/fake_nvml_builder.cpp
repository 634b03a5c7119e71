#include "fakes/fake_nvml_builder.hpp"

#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "fakes/fake_nvml_power.hpp"

namespace joulebench::test {

using nlohmann::json;

namespace {

double counter_now_mj(const json& gpu) {
    return fake_nvml::energy_at_mj(gpu, FakeNvmlState::monotonic_ns(), 0);
}

json default_gpu(unsigned index) {
    const FakeNvmlLimits limits;
    return json{
        {"name", "NVIDIA A100-SXM4-40GB"},
        {"uuid", fmt::format("GPU-fa4e0000-0000-4000-8000-{:012x}", index)},
        {"pci_bus_id", fmt::format("00000000:{:02X}:00.0", (index + 1) * 0x10 + 7)},
        {"power_mw", 100000},
        {"energy_mj", 1000000.0},
        {"energy_anchor_ns", FakeNvmlState::monotonic_ns()},
        {"temperature_c", 45},
        {"sm_clock_mhz", 1410},
        {"utilization_gpu", 0},
        {"utilization_memory", 0},
        {"clocks_event_reasons", 0},
        {"limits",
         {{"current_mw", limits.current_mw},
          {"enforced_mw", limits.enforced_mw},
          {"min_mw", limits.min_mw},
          {"max_mw", limits.max_mw},
          {"default_mw", limits.default_mw}}},
        {"persistence_mode", true},
        {"supported", json::object()},
        {"errors", json::object()},
    };
}

}  // namespace

std::int64_t FakeNvmlState::monotonic_ns() { return fake_nvml::monotonic_ns(); }

FakeNvmlState::FakeNvmlState(std::filesystem::path path, unsigned gpu_count)
    : m_path(std::move(path)) {
    json doc{{"driver_version", "550.54.15"},
             {"errors", json::object()},
             {"gpus", json::array()},
             {"calls", json::array()}};
    for (unsigned i = 0; i < gpu_count; ++i) doc["gpus"].push_back(default_gpu(i));
    try {
        const fake_nvml::StateFileLock lock(m_path.string());
        if (!lock.ok()) throw std::runtime_error(lock.error());
        fake_nvml::write_state_atomically(m_path, doc, "builder");
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("fake nvml builder: ") + e.what());
    }
}

json FakeNvmlState::read() const {
    try {
        return fake_nvml::read_state(m_path);
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(std::string("fake nvml builder: ") + e.what());
    }
}

void FakeNvmlState::update(const std::function<void(json&)>& change) const {
    const fake_nvml::StateFileLock lock(m_path.string());
    if (!lock.ok()) throw std::runtime_error("fake nvml builder: " + lock.error());
    json doc = read();
    change(doc);
    try {
        fake_nvml::write_state_atomically(m_path, doc, "builder");
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(std::string("fake nvml builder: ") + e.what());
    }
}

void FakeNvmlState::update_gpu(unsigned gpu, const std::function<void(json&)>& change) const {
    update([&](json& doc) {
        if (gpu >= doc.at("gpus").size()) {
            throw std::out_of_range(fmt::format("fake nvml builder: no GPU {} in {}", gpu,
                                                m_path.string()));
        }
        change(doc["gpus"][gpu]);
    });
}

const FakeNvmlState& FakeNvmlState::add_gpu() const {
    update([](json& doc) {
        doc["gpus"].push_back(default_gpu(static_cast<unsigned>(doc["gpus"].size())));
    });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_driver_version(const std::string& version) const {
    update([&](json& doc) { doc["driver_version"] = version; });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_name(unsigned gpu, const std::string& name) const {
    update_gpu(gpu, [&](json& g) { g["name"] = name; });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_uuid(unsigned gpu, const std::string& uuid) const {
    update_gpu(gpu, [&](json& g) { g["uuid"] = uuid; });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_pci_bus_id(unsigned gpu, const std::string& bus_id) const {
    update_gpu(gpu, [&](json& g) { g["pci_bus_id"] = bus_id; });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_minor_number(unsigned gpu, unsigned minor) const {
    update_gpu(gpu, [&](json& g) { g["minor"] = minor; });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_power_mw(unsigned gpu, unsigned power_mw) const {
    update_gpu(gpu, [&](json& g) {
        // Fold the energy accrued at the old power into the anchor, then change the power.
        fake_nvml::fold_energy(g, monotonic_ns(), 0);
        g["power_mw"] = power_mw;
    });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_demand_mw(unsigned gpu,
                                                 std::optional<unsigned> demand_mw) const {
    update_gpu(gpu, [&](json& g) {
        fake_nvml::fold_energy(g, monotonic_ns(), 0);
        if (demand_mw) {
            g["demand_mw"] = *demand_mw;
        } else {
            g.erase("demand_mw");
        }
    });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_energy_mj(unsigned gpu, double energy_mj) const {
    update_gpu(gpu, [&](json& g) {
        g["energy_mj"] = energy_mj;
        g["energy_anchor_ns"] = monotonic_ns();
    });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_temperature_c(unsigned gpu, unsigned celsius) const {
    update_gpu(gpu, [&](json& g) { g["temperature_c"] = celsius; });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_sm_clock_mhz(unsigned gpu, unsigned mhz) const {
    update_gpu(gpu, [&](json& g) { g["sm_clock_mhz"] = mhz; });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_utilisation(unsigned gpu, unsigned gpu_pct,
                                                    unsigned memory_pct) const {
    update_gpu(gpu, [&](json& g) {
        g["utilization_gpu"] = gpu_pct;
        g["utilization_memory"] = memory_pct;
    });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_clocks_event_reasons(unsigned gpu, std::uint64_t mask) const {
    update_gpu(gpu, [&](json& g) { g["clocks_event_reasons"] = mask; });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_limits(unsigned gpu, const FakeNvmlLimits& limits) const {
    update_gpu(gpu, [&](json& g) {
        if (fake_nvml::has_demand(g)) fake_nvml::fold_energy(g, monotonic_ns(), 0);
        g["limits"] = {{"current_mw", limits.current_mw},
                       {"enforced_mw", limits.enforced_mw},
                       {"min_mw", limits.min_mw},
                       {"max_mw", limits.max_mw},
                       {"default_mw", limits.default_mw}};
    });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_persistence_mode(unsigned gpu, bool enabled) const {
    update_gpu(gpu, [&](json& g) { g["persistence_mode"] = enabled; });
    return *this;
}

const FakeNvmlState& FakeNvmlState::set_supported(unsigned gpu, const std::string& function,
                                                  bool supported) const {
    update_gpu(gpu, [&](json& g) { g["supported"][function] = supported; });
    return *this;
}

const FakeNvmlState& FakeNvmlState::inject_error(const std::string& function, int code) const {
    update([&](json& doc) {
        if (code == 0) {
            doc["errors"].erase(function);
        } else {
            doc["errors"][function] = code;
        }
    });
    return *this;
}

const FakeNvmlState& FakeNvmlState::inject_error(unsigned gpu, const std::string& function,
                                                 int code) const {
    update_gpu(gpu, [&](json& g) {
        if (code == 0) {
            g["errors"].erase(function);
        } else {
            g["errors"][function] = code;
        }
    });
    return *this;
}

double FakeNvmlState::energy_mj(unsigned gpu) const { return counter_now_mj(read().at("gpus").at(gpu)); }

double FakeNvmlState::power_mw(unsigned gpu) const {
    return fake_nvml::power_now_mw(read().at("gpus").at(gpu));
}

FakeNvmlLimits FakeNvmlState::limits(unsigned gpu) const {
    const json limits = read().at("gpus").at(gpu).at("limits");
    return {limits.at("current_mw").get<unsigned>(), limits.at("enforced_mw").get<unsigned>(),
            limits.at("min_mw").get<unsigned>(), limits.at("max_mw").get<unsigned>(),
            limits.at("default_mw").get<unsigned>()};
}

std::vector<FakeNvmlCall> FakeNvmlState::calls() const {
    std::vector<FakeNvmlCall> out;
    const json doc = read();
    for (const auto& call : doc.value("calls", json::array())) {
        out.push_back({call.at("function").get<std::string>(), call.at("gpu").get<unsigned>(),
                       call.at("value").get<std::uint64_t>(), call.at("result").get<int>(),
                       call.at("monotonic_ns").get<std::int64_t>()});
    }
    return out;
}

FakeNvmlEnvironment::FakeNvmlEnvironment(const std::filesystem::path& state_file)
    : m_library("JOULEBENCH_NVML_LIBRARY", library_path()),
      m_state("JOULEBENCH_FAKE_NVML_STATE", state_file.string()) {}

std::string FakeNvmlEnvironment::library_path() { return JOULEBENCH_FAKE_NVML_PATH; }

}  // namespace joulebench::test
