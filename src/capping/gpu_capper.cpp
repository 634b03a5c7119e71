#include "capping/gpu_capper.hpp"

#include <fmt/format.h>

#include "capping/hwmon_capper.hpp"
#include "capping/nvml_capper.hpp"
#include "capping/rocm_capper.hpp"
#include "joulebench/error.hpp"

namespace joulebench::capping {

namespace {

// A backend's capper seen through the machine's GPU index: info().index is the global index
// (what --power-cap INDEX=W, the run's GPU and the GPU domains name), and the label says it where
// it differs from the backend's own number. Everything else is the backend's.
class IndexedCapper final : public PowerCapper {
public:
    IndexedCapper(std::unique_ptr<PowerCapper> inner, int index)
        : m_inner(std::move(inner)), m_info(m_inner->info()) {
        if (m_info.index != index) m_info.label = fmt::format("GPU {}: {}", index, m_info.label);
        m_info.index = index;
    }
    [[nodiscard]] const CapDeviceInfo& info() const override { return m_info; }
    [[nodiscard]] Watts current_limit() const override { return m_inner->current_limit(); }
    [[nodiscard]] Watts enforced_limit() const override { return m_inner->enforced_limit(); }
    [[nodiscard]] CapRange constraints() const override { return m_inner->constraints(); }
    [[nodiscard]] std::optional<Watts> default_limit() const noexcept override {
        return m_inner->default_limit();
    }
    void set_limit(Watts limit) override { m_inner->set_limit(limit); }
    [[nodiscard]] Watts tolerance() const override { return m_inner->tolerance(); }
    [[nodiscard]] std::vector<std::string> warnings() const noexcept override {
        return m_inner->warnings();
    }

private:
    std::unique_ptr<PowerCapper> m_inner;
    CapDeviceInfo m_info;
};

std::unique_ptr<PowerCapper> backend_capper(const GpuEntry& gpu) {
    if (gpu.nvml) return std::make_unique<NvmlCapper>(*gpu.nvml);
    if (gpu.rocm) return std::make_unique<RocmCapper>(*gpu.rocm);
    if (gpu.id.backend == "hwmon") return open_hwmon_gpu_capper(gpu.id.hwmon_dir);
    throw Error(ErrorCategory::kNotFound,
                fmt::format("caps: GPU {} ({}): no backend to cap it through", gpu.id.index,
                            gpu.id.name));
}

}  // namespace

std::unique_ptr<PowerCapper> open_gpu_capper(const GpuEntry& gpu) {
    return std::make_unique<IndexedCapper>(backend_capper(gpu), gpu.id.index);
}

}  // namespace joulebench::capping
