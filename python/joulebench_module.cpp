// The C++ half of the Python package `joulebench` (python/joulebench/__init__.py, docs/python.md):
// a thin pybind11 layer over the library's own parts, no second implementation. Windows are a
// WindowMonitor (src/measure), caps a CapSession with its journal and guardian (src/capping), the
// store is read through Store (src/store), the statistics are analysis/stats' own. Results cross
// as JSON text (measure_to_json, to_json), which the Python side parses.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analysis/store_analysis.hpp"
#include "capping/cap_journal.hpp"
#include "capping/cap_session.hpp"
#include "joulebench/error.hpp"
#include "joulebench/stats.hpp"
#include "joulebench/store.hpp"
#include "measure/window_monitor.hpp"
#include "model/measure_json.hpp"
#include "store/store_table.hpp"

namespace py = pybind11;

namespace joulebench::python {

namespace {

ProbeOptions probe_options(const std::string& gpus) {
    ProbeOptions probe;
    probe.nvml.gpus = nvml::GpuSelection::parse(gpus);
    return probe;
}

class Monitor {
public:
    Monitor(const std::string& gpus, int interval_ms)
        : m_monitor(probe_options(gpus), std::chrono::milliseconds(interval_ms), gpus) {}
    void begin(const std::string& name) {
        const py::gil_scoped_release release;
        m_monitor.begin(name);
    }
    std::string end(const std::string& name) {
        MeasureResult result;
        {
            const py::gil_scoped_release release;
            result = m_monitor.end(name);
        }
        return measure_to_json(result).dump();
    }
    std::vector<std::string> open_windows() const { return m_monitor.open_windows(); }
    void close() { m_monitor.close(); }
    std::vector<std::string> domains() const {
        std::vector<std::string> ids;
        for (const auto& s : m_monitor.sensors().sensors) ids.push_back(s->info().id);
        return ids;
    }
    double poll_interval_ms() const {
        return std::chrono::duration<double, std::milli>(m_monitor.poll_period()).count();
    }

private:
    WindowMonitor m_monitor;
};

// The caps of one `with power_cap(...)` block: the journal's leftovers of dead processes are
// restored first (as `measure` does), then CapSession checks, starts the guardian and caps.
class CapBlock {
public:
    CapBlock(std::optional<int> gpu, std::optional<double> gpu_watts, std::optional<double> cpu_watts,
             const std::string& gpus, const std::string& executable)
        : m_journal(capping::CapJournal::open_default()) {
        capping::CapRequest request;
        if (gpu_watts) {
            if (gpu) {
                request.per_gpu.emplace_back(*gpu, Watts(*gpu_watts));
            } else {
                request.all_gpus = Watts(*gpu_watts);
            }
        }
        if (cpu_watts) request.cpu_packages = Watts(*cpu_watts);
        if (request.empty()) {
            throw Error(ErrorCategory::kInvalidArgument,
                        "power_cap: give watts= (GPU) or cpu_watts= (CPU packages)");
        }
        capping::CapperFactory factory;
        const auto replay = capping::restore_journal(m_journal, factory, {});
        m_notes = replay.restored;
        for (const auto& f : replay.failed) m_notes.push_back("restore failed: " + f);
        capping::CapEnvironment env;
        env.gpus = nvml::GpuSelection::parse(gpus);
        env.powercap_root = ProbeOptions::default_powercap_root();
        capping::GuardianOptions guardian;
        guardian.executable = executable;
        guardian.nvml = gpu_watts.has_value();
        m_session = std::make_unique<capping::CapSession>(capping::resolve_request(request, env),
                                                          m_journal, guardian);
    }
    bool restore() { return m_session->restore_all(); }
    std::string outcomes() const {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& c : m_session->outcomes()) {
            out.push_back({{"device", c.device.label},
                           {"requested_w", c.requested.value()},
                           {"original_w", c.original.value()},
                           {"enforced_w", c.enforced ? nlohmann::json(c.enforced->value()) : nlohmann::json()},
                           {"restored", c.restored},
                           {"restore_error", c.restore_error},
                           {"journal_file", c.journal_file.string()}});
        }
        return out.dump();
    }
    std::vector<std::string> warnings() const {
        auto w = m_notes;
        for (const auto& s : m_session->warnings()) w.push_back(s);
        return w;
    }
    int guardian_pid() const { return m_session->guardian_pid(); }

private:
    capping::CapJournal m_journal;
    std::unique_ptr<capping::CapSession> m_session;
    std::vector<std::string> m_notes;
};

template <class T>
nlohmann::json opt(const std::optional<T>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json();
}

nlohmann::json run_json(const RunRecord& r) {
    return {{"run_id", r.run_id},           {"plan_index", r.plan_index},
            {"workload", r.workload},       {"environment", r.environment},
            {"gpu_cap_w", opt(r.gpu_cap_w)}, {"cpu_cap_w", opt(r.cpu_cap_w)},
            {"repetition", r.repetition},   {"status", std::string(to_string(r.status))},
            {"attempt", r.attempt},         {"gpu", opt(r.gpu)},
            {"session_id", opt(r.session_id)}, {"started_at", opt(r.started_at)},
            {"ended_at", opt(r.ended_at)},  {"exit_code", opt(r.exit_code)},
            {"signal", opt(r.signal)},      {"wall_s", opt(r.wall_s)},
            {"energy_j", opt(r.energy_j)},  {"gpu_energy_j", opt(r.gpu_energy_j)},
            {"cpu_energy_j", opt(r.cpu_energy_j)}, {"edp_js", opt(r.edp_js)},
            {"ed2p_js2", opt(r.ed2p_js2)},  {"idle_power_w", opt(r.idle_power_w)},
            {"net_energy_j", opt(r.net_energy_j)},
            {"total_includes_estimate", r.total_includes_estimate},
            {"cpu_attributed", r.cpu_attributed}, {"cpu_shared", r.cpu_shared},
            {"instances", r.instances},     {"start_skew_s", opt(r.start_skew_s)}};
}

nlohmann::json domain_json(const DomainRecord& d) {
    return {{"run_id", d.run_id},         {"domain_index", d.domain_index},
            {"domain", d.domain},         {"kind", d.kind},
            {"method", d.method},         {"energy_j", d.energy_j},
            {"avg_power_w", d.avg_power_w}, {"peak_power_w", opt(d.peak_power_w)},
            {"counts_in_total", d.counts_in_total}, {"idle_power_w", opt(d.idle_power_w)},
            {"net_energy_j", opt(d.net_energy_j)}, {"sharing", std::string(to_string(d.sharing))},
            {"cpu_time_share", opt(d.cpu_time_share)},
            {"measured_energy_j", opt(d.measured_energy_j)},
            {"measured_on", std::string(to_string(d.measured_on))}, {"instance", d.instance}};
}

nlohmann::json table_json(const std::optional<StoreTable>& table) {
    nlohmann::json out = {{"columns", nlohmann::json::array()}, {"rows", nlohmann::json::array()}};
    if (!table) return out;
    out["columns"] = table->columns;
    for (const auto& row : table->rows) {
        nlohmann::json cells = nlohmann::json::array();
        for (const auto& cell : row) {
            std::visit([&](const auto& v) {
                using V = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<V, std::monostate>) {
                    cells.push_back(nullptr);
                } else {
                    cells.push_back(v);
                }
            }, cell);
        }
        out["rows"].push_back(std::move(cells));
    }
    return out;
}

// runs, domains (every run's, in plan order) and the marked phases (README "Markers": the
// `run_marked_phases` table as stored; empty for a store older than schema 6).
std::string read_store(const std::string& path) {
    const Store store(path, Store::Mode::kReadUpgrade);
    nlohmann::json out;
    out["runs"] = nlohmann::json::array();
    out["domains"] = nlohmann::json::array();
    for (const auto& r : store.runs()) {
        out["runs"].push_back(run_json(r));
        for (const auto& d : store.domains(r.run_id)) out["domains"].push_back(domain_json(d));
    }
    out["phases"] = table_json(read_store_table(store, "run_marked_phases"));
    return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

stats::AnalysisOptions analysis_options(const std::optional<std::string>& baseline, double alpha,
                                        const std::string& p_adjust, std::size_t resamples,
                                        std::uint64_t seed) {
    stats::AnalysisOptions options;
    options.p_adjust = stats::p_adjust_from_string(p_adjust);
    options.alpha = alpha;
    options.bootstrap.resamples = resamples;
    options.bootstrap.seed = seed;
    options.baseline = baseline;
    return options;
}

// analyze --csv's path: named groups in order of first appearance.
std::string analyze_groups(const std::vector<std::pair<std::string, std::vector<double>>>& groups,
                           const std::string& metric, const std::optional<std::string>& baseline,
                           double alpha, const std::string& p_adjust, std::size_t resamples,
                           std::uint64_t seed) {
    std::vector<stats::NamedGroup> named;
    for (const auto& [name, values] : groups) named.push_back({name, values});
    auto options = analysis_options(baseline, alpha, p_adjust, resamples, seed);
    options.metric = metric;
    return stats::to_json(stats::analyse_groups(named, options)).dump();
}

// analyze DB's path.
std::string analyze_store(const std::string& path, const std::string& metric,
                          const std::optional<std::string>& by,
                          const std::optional<std::string>& baseline, double alpha,
                          const std::string& p_adjust, std::size_t resamples, std::uint64_t seed) {
    const Store store(path, Store::Mode::kReadUpgrade);
    analysis::StoreAnalysisOptions options;
    options.metric = metric;
    if (by) {
        options.by = analysis::store_factor_from_string(*by);
    } else {
        options.by_what_varies = true;
    }
    options.baseline = baseline;
    options.analysis = analysis_options(std::nullopt, alpha, p_adjust, resamples, seed);
    return analysis::to_json(analysis::analyse_store(store, options)).dump();
}

}  // namespace

}  // namespace joulebench::python

PYBIND11_MODULE(_joulebench, m) {
    using namespace joulebench;
    using namespace joulebench::python;
    m.doc() = "joulebench's C++ core (use the joulebench package, docs/python.md)";
    static py::exception<Error> base(m, "Error", PyExc_RuntimeError);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const Error& e) {
            std::string text = e.what();
            if (!e.hint().empty()) text += " (hint: " + e.hint() + ")";
            switch (e.category()) {
                case ErrorCategory::kInvalidArgument: PyErr_SetString(PyExc_ValueError, text.c_str()); break;
                case ErrorCategory::kNotFound: PyErr_SetString(PyExc_FileNotFoundError, text.c_str()); break;
                case ErrorCategory::kNoPermission: PyErr_SetString(PyExc_PermissionError, text.c_str()); break;
                default: base(text.c_str()); break;
            }
        }
    });
    py::class_<Monitor>(m, "Monitor")
        .def(py::init<const std::string&, int>(), py::arg("gpus"), py::arg("interval_ms"))
        .def("begin", &Monitor::begin)
        .def("end", &Monitor::end)
        .def("open_windows", &Monitor::open_windows)
        .def("close", &Monitor::close)
        .def("domains", &Monitor::domains)
        .def("poll_interval_ms", &Monitor::poll_interval_ms);
    py::class_<CapBlock>(m, "CapBlock")
        .def(py::init<std::optional<int>, std::optional<double>, std::optional<double>,
                      const std::string&, const std::string&>(),
             py::arg("gpu"), py::arg("watts"), py::arg("cpu_watts"), py::arg("gpus"),
             py::arg("executable"))
        .def("restore", &CapBlock::restore)
        .def("outcomes", &CapBlock::outcomes)
        .def("warnings", &CapBlock::warnings)
        .def("guardian_pid", &CapBlock::guardian_pid);
    m.def("read_store", &read_store, py::arg("path"));
    m.def("analyze_groups", &analyze_groups, py::arg("groups"), py::arg("metric"),
          py::arg("baseline"), py::arg("alpha"), py::arg("p_adjust"), py::arg("resamples"),
          py::arg("seed"));
    m.def("analyze_store", &analyze_store, py::arg("path"), py::arg("metric"), py::arg("by"),
          py::arg("baseline"), py::arg("alpha"), py::arg("p_adjust"), py::arg("resamples"),
          py::arg("seed"));
}
