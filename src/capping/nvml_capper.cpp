#include "capping/nvml_capper.hpp"

#include <fmt/format.h>

#include <utility>

#include "joulebench/error.hpp"

namespace joulebench::capping {

NvmlCapper::NvmlCapper(nvml::NvmlDevice device) : m_device(std::move(device)) {
    m_info.target = CapTarget::kGpu;
    m_info.index = m_device.index();
    m_info.id = fmt::format("gpu{}", m_device.index());
    m_info.key = m_device.uuid();
    m_info.backend = "nvml";
    m_info.source = m_device.uuid();
    m_info.name = m_device.name();
    m_info.label = m_device.label();
}

CapRange NvmlCapper::constraints() const {
    const auto range = m_device.power_limit_constraints();
    return {range.min, range.max};
}

std::optional<Watts> NvmlCapper::default_limit() const noexcept {
    try {
        return m_device.default_power_limit();
    } catch (...) {
        return std::nullopt;
    }
}

std::vector<std::string> NvmlCapper::warnings() const noexcept {
    std::vector<std::string> out;
    try {
        if (!m_device.persistence_mode()) {
            out.push_back(fmt::format(
                "{}: persistence mode is off: the driver forgets the power limit when no process "
                "holds the GPU (enable it with `nvidia-smi -pm 1`)",
                m_info.label));
        }
    } catch (const Error&) {
        // Persistence mode cannot be read (not supported, e.g. on Windows drivers): nothing to say.
    } catch (...) {
    }
    return out;
}

}  // namespace joulebench::capping
